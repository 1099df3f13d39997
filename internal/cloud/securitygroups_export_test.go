package cloud

import (
	"context"
	"testing"

	"strato/internal/store"
)

// Seams the security group tests replace: kinds that other files own (prefix lists,
// peering, the default VPC, network interfaces) are stood in for.

func replace[T any](t testing.TB, v *T, with T) {
	old := *v
	*v = with
	t.Cleanup(func() { *v = old })
}

// StubPrefixLists makes lookupPrefixList find the given lists.
func StubPrefixLists(t testing.TB, lists ...PrefixListInfo) {
	replace(t, &lookupPrefixList, func(tx store.Tx, s Scope, id string) (PrefixListInfo, error) {
		for _, pl := range lists {
			if pl.ID == id {
				return pl, nil
			}
		}
		return PrefixListInfo{}, &NotFoundError{Kind: KindPrefixList, ID: id}
	})
}

// StubPeering makes vpcPeered report the pair as peered.
func StubPeering(t testing.TB, vpcA, vpcB string) {
	replace(t, &vpcPeered, func(tx store.Tx, s Scope, a, b string) (bool, error) {
		return a == vpcA && b == vpcB || a == vpcB && b == vpcA, nil
	})
}

// StubDefaultVPC makes vpcID the default VPC.
func StubDefaultVPC(t testing.TB, vpcID string) {
	replace(t, &defaultVPC, func(tx store.Tx, s Scope) (string, error) { return vpcID, nil })
}

// StubGroupUser adds a securityGroupUsers check that finds the group in use.
func StubGroupUser(t testing.TB, groupID string) {
	replace(t, &securityGroupUsers, append(securityGroupUsers[:len(securityGroupUsers):len(securityGroupUsers)], func(tx store.Tx, s Scope, id string) (bool, error) {
		return id == groupID, nil
	}))
}

// GroupsForInterface runs securityGroupsFor as a network interface would.
func GroupsForInterface(ctx context.Context, c *Cloud, s Scope, vpcID string, ids []string) (out []string, err error) {
	err = c.view(ctx, func(tx store.Tx) error {
		out, err = securityGroupsFor(tx, s, vpcID, ids)
		return err
	})
	return out, err
}
