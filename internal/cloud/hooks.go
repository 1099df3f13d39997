package cloud

import (
	"errors"

	"strato/internal/store"
)

// The hooks below are how resource kinds that belong to others take part in their
// owners' life without the owners knowing every kind: each kind's file adds its
// functions in init. They run inside the owner's transaction, so a failing hook
// undoes the whole change.

// hook is a step run inside another resource's create or delete.
type hook[T any] func(tx store.Tx, s Scope, v *T) error

func runHooks[T any](hooks []hook[T], tx store.Tx, s Scope, v *T) error {
	for _, h := range hooks {
		if err := h(tx, s, v); err != nil {
			return err
		}
	}
	return nil
}

// inUseCheck reports whether something still depends on the resource with the ID.
type inUseCheck func(tx store.Tx, s Scope, id string) (bool, error)

// anyInUse runs checks in order and stops at the first that finds a dependent.
func anyInUse(checks []inUseCheck, tx store.Tx, s Scope, id string) (bool, error) {
	for _, inUse := range checks {
		busy, err := inUse(tx, s, id)
		if err != nil || busy {
			return busy, err
		}
	}
	return false, nil
}

var (
	// vpcCreated makes what every VPC comes with (its main route table, default
	// network ACL and default security group).
	vpcCreated []hook[VPC]
	// vpcDependents keep a VPC from being deleted (DependencyViolation): subnets,
	// an attached internet gateway, non-default groups, tables and ACLs …
	vpcDependents []inUseCheck
	// vpcDeleted removes what a VPC came with, once nothing else depends on it.
	vpcDeleted []hook[VPC]

	// subnetCreated associates a new subnet implicitly (its VPC's default ACL).
	subnetCreated []hook[Subnet]
	// subnetDeleted drops a deleted subnet's associations.
	subnetDeleted []hook[Subnet]

	// securityGroupUsers keep a security group from being deleted: network
	// interfaces (and, through them, instances) using it, and other groups' rules
	// referring to it.
	securityGroupUsers []inUseCheck

	// publicAddressUsers keep an internet gateway from being detached from a VPC
	// (DependencyViolation) while public or Elastic IP addresses are mapped to
	// network interfaces in that VPC; the check gets the VPC's ID.
	publicAddressUsers []inUseCheck
)

// RouteTarget is what a route table needs to know about the target of a route.
type RouteTarget struct {
	// VpcIDs are the VPCs the target serves (a peering connection serves two);
	// a route may only point at a target of its own VPC.
	VpcIDs []string
	// Active is false when the target exists but cannot carry traffic (a detached
	// gateway, a peering that is not active, a deleted NAT gateway): the route is
	// then a blackhole, as when the target is gone.
	Active bool
}

// routeTargets gives, per kind of route target, how to look one up; a kind that
// can be a route's target registers itself. NotFoundError means it is gone.
var routeTargets = map[string]func(tx store.Tx, s Scope, id string) (RouteTarget, error){}

// lookupRouteTarget finds the target with the ID, by the kind its prefix names.
// found is false when it does not exist (a route to it is a blackhole).
func lookupRouteTarget(tx store.Tx, s Scope, id string) (t RouteTarget, found bool, err error) {
	lookup, ok := routeTargets[kindOfID(id)]
	if !ok {
		return RouteTarget{}, false, nil
	}
	t, err = lookup(tx, s, id)
	var nf *NotFoundError
	if errors.As(err, &nf) {
		return RouteTarget{}, false, nil
	}
	return t, err == nil, err
}

// vpcPeered reports whether an active peering connection joins VPC vpcA of the
// caller's scope with vpcB (which may belong to another account of the same
// Region); security group rules may then refer to groups of the peer VPC. The
// peering connections' file replaces it.
var vpcPeered = func(tx store.Tx, s Scope, vpcA, vpcB string) (bool, error) { return false, nil }

// securityGroupsFor checks the security groups a network interface (or anything
// that takes groups) is given in a VPC and returns the ones to use: the VPC's
// default group when none is given. The security groups' file replaces it; until
// then groups are taken as given.
var securityGroupsFor = func(tx store.Tx, s Scope, vpcID string, groupIDs []string) ([]string, error) {
	return groupIDs, nil
}

// PrefixListInfo is what other kinds need to know about a prefix list.
type PrefixListInfo struct {
	ID         string
	Name       string
	MaxEntries int      // a route or rule referring to the list counts this many
	CIDRs      []string // its current entries
}

// lookupPrefixList finds an AWS-managed or customer-managed prefix list visible to
// the scope (NotFoundError when there is none). The prefix lists' file replaces it.
var lookupPrefixList = func(tx store.Tx, s Scope, id string) (PrefixListInfo, error) {
	return PrefixListInfo{}, &NotFoundError{Kind: KindPrefixList, ID: id}
}
