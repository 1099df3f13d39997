package cloud

import (
	"context"
	"strconv"
	"time"

	"strato/internal/cloud/filter"
	"strato/internal/store"
)

// NetworkACL is a stateless packet filter for the subnets associated with it. Every
// subnet is associated with exactly one ACL of its VPC: the VPC's default ACL until
// ReplaceNetworkAclAssociation moves it.
type NetworkACL struct {
	ID        string `json:"id"`
	VpcID     string `json:"vpcId"`
	OwnerID   string `json:"ownerId"`
	IsDefault bool   `json:"isDefault"`
	// IPv6 says the VPC has an IPv6 block: each direction then also ends with
	// the fixed IPv6 deny-all rule.
	IPv6 bool `json:"ipv6,omitempty"`
	// Rules are the numbered rules the owner controls; the final deny-all rules
	// (32767, and 32768 for IPv6) of each direction are implied and added by Entries.
	Rules        []ACLEntry       `json:"rules"`
	Associations []ACLAssociation `json:"associations"`
	CreatedAt    time.Time        `json:"createdAt"`
	// Tags is filled when read.
	Tags map[string]string `json:"-"`
}

// ACLAssociation ties one subnet to the ACL.
type ACLAssociation struct {
	ID       string `json:"id"`
	SubnetID string `json:"subnetId"`
}

// ACLDefaultRuleNumber is the rule that ends each direction of every ACL: it denies
// whatever no other rule matched, and cannot be changed or removed. In a VPC with
// IPv6, ACLIPv6DefaultRuleNumber does the same for IPv6 (the console shows both as
// "*"; the API numbers them so).
const (
	ACLDefaultRuleNumber     = 32767
	ACLIPv6DefaultRuleNumber = 32768
)

// Entries are the ACL's rules as DescribeNetworkAcls lists them: egress rules first,
// then ingress, each by rule number, each direction ending with the deny-all rule.
func (a *NetworkACL) Entries() []ACLEntry {
	out := make([]ACLEntry, 0, len(a.Rules)+2)
	for _, egress := range []bool{true, false} {
		for _, r := range sortedACLRules(a.Rules) {
			if r.Egress == egress {
				out = append(out, r)
			}
		}
		out = append(out, ACLEntry{RuleNumber: ACLDefaultRuleNumber, Egress: egress, Protocol: "-1", RuleAction: "deny", CIDR: "0.0.0.0/0"})
		if a.IPv6 {
			out = append(out, ACLEntry{RuleNumber: ACLIPv6DefaultRuleNumber, Egress: egress, Protocol: "-1", RuleAction: "deny", IPv6CIDR: "::/0"})
		}
	}
	return out
}

var networkACLs = docKind[NetworkACL]{
	kind:   KindNetworkACL,
	id:     func(a *NetworkACL) string { return a.ID },
	parent: func(a *NetworkACL) string { return a.VpcID },
	tags:   func(a *NetworkACL) *map[string]string { return &a.Tags },
}

// Quota names for network ACLs.
const (
	QuotaNetworkACLs = "network-acls-per-vpc"
	QuotaACLRules    = "rules-per-network-acl"
)

func init() {
	quotaDefs[QuotaNetworkACLs] = QuotaDef{
		Name:        QuotaNetworkACLs,
		Description: "Network ACLs per VPC",
		Default:     200,
		Code:        "NetworkAclLimitExceeded",
		Message:     "You have reached the limit of %d network ACLs for this VPC.",
	}
	quotaDefs[QuotaACLRules] = QuotaDef{
		Name:        QuotaACLRules,
		Description: "Rules per network ACL",
		Default:     20,
		Code:        "NetworkAclEntryLimitExceeded",
		Message:     "You have reached the limit of %d rules in this direction for this network ACL (the default deny rule counts).",
	}
	vpcCreated = append(vpcCreated, createDefaultNetworkACL)
	vpcDependents = append(vpcDependents, func(tx store.Tx, s Scope, vpcID string) (bool, error) {
		acls, err := networkACLs.children(tx, s, vpcID)
		for _, a := range acls {
			if !a.IsDefault {
				return true, err
			}
		}
		return false, err
	})
	vpcDeleted = append(vpcDeleted, func(tx store.Tx, s Scope, v *VPC) error {
		acl, err := defaultNetworkACL(tx, s, v.ID)
		if err != nil {
			return err
		}
		return networkACLs.remove(tx, s, acl.ID)
	})
	subnetCreated = append(subnetCreated, func(tx store.Tx, s Scope, sn *Subnet) error {
		acl, err := defaultNetworkACL(tx, s, sn.VpcID)
		if err != nil {
			return err
		}
		acl.Associations = append(acl.Associations, ACLAssociation{ID: NewID("aclassoc"), SubnetID: sn.ID})
		return networkACLs.update(tx, s, &acl)
	})
	subnetDeleted = append(subnetDeleted, func(tx store.Tx, s Scope, sn *Subnet) error {
		acl, i, err := networkACLOfSubnet(tx, s, sn.VpcID, sn.ID)
		if err != nil || acl == nil {
			return err
		}
		acl.Associations = append(acl.Associations[:i], acl.Associations[i+1:]...)
		return networkACLs.update(tx, s, acl)
	})
}

// createDefaultNetworkACL gives a new VPC its default ACL, which allows all traffic
// both ways, as on AWS.
func createDefaultNetworkACL(tx store.Tx, s Scope, v *VPC) error {
	acl := NetworkACL{
		ID: NewID("acl"), VpcID: v.ID, OwnerID: s.Account, IsDefault: true, CreatedAt: v.CreatedAt,
		Rules:        []ACLEntry{defaultACLRule(true), defaultACLRule(false)},
		Associations: []ACLAssociation{},
	}
	if len(v.IPv6Blocks) > 0 {
		acl.IPv6 = true
		acl.Rules = append(acl.Rules, defaultACLIPv6Rule(true), defaultACLIPv6Rule(false))
	}
	return networkACLs.insert(tx, s, &acl, acl.CreatedAt, nil)
}

// defaultNetworkACL returns a VPC's default ACL.
func defaultNetworkACL(tx store.Tx, s Scope, vpcID string) (NetworkACL, error) {
	acls, err := networkACLs.children(tx, s, vpcID)
	if err != nil {
		return NetworkACL{}, err
	}
	for _, a := range acls {
		if a.IsDefault {
			return a, nil
		}
	}
	return NetworkACL{}, &NotFoundError{Kind: KindNetworkACL, ID: "default ACL of " + vpcID}
}

// networkACLOfSubnet returns the ACL a subnet is associated with and the index of
// the association, or nil when there is none.
func networkACLOfSubnet(tx store.Tx, s Scope, vpcID, subnetID string) (*NetworkACL, int, error) {
	acls, err := networkACLs.children(tx, s, vpcID)
	if err != nil {
		return nil, 0, err
	}
	for _, a := range acls {
		for i, assoc := range a.Associations {
			if assoc.SubnetID == subnetID {
				return &a, i, nil
			}
		}
	}
	return nil, 0, nil
}

// NetworkACLOfSubnet returns the ACL that filters a subnet's traffic.
func (c *Cloud) NetworkACLOfSubnet(ctx context.Context, s Scope, subnetID string) (NetworkACL, error) {
	var out NetworkACL
	err := c.view(ctx, func(tx store.Tx) error {
		sn, err := subnets.get(tx, s, subnetID)
		if err != nil {
			return err
		}
		acl, _, err := networkACLOfSubnet(tx, s, sn.VpcID, sn.ID)
		if err == nil && acl == nil {
			err = &NotFoundError{Kind: KindNetworkACL, ID: "ACL of " + subnetID}
		}
		if acl != nil {
			out = *acl
		}
		return err
	})
	return out, err
}

// CreateNetworkACL makes a custom ACL in a VPC; it denies everything until rules
// are added.
func (c *Cloud) CreateNetworkACL(ctx context.Context, s Scope, vpcID string, tags []Tag, clientToken string) (NetworkACL, error) {
	if err := ValidateTags(tags); err != nil {
		return NetworkACL{}, err
	}
	params := struct {
		VpcID string
		Tags  []Tag
	}{vpcID, tags}
	acl, err := Idempotent(ctx, c, s, "CreateNetworkAcl", clientToken, params, func(tx store.Tx) (NetworkACL, error) {
		vpc, err := vpcs.get(tx, s, vpcID)
		if err != nil {
			return NetworkACL{}, err
		}
		existing, err := networkACLs.children(tx, s, vpcID)
		if err != nil {
			return NetworkACL{}, err
		}
		if err := checkQuota(tx, s.Account, QuotaNetworkACLs, len(existing)); err != nil {
			return NetworkACL{}, err
		}
		acl := NetworkACL{ID: NewID("acl"), VpcID: vpcID, OwnerID: s.Account, IPv6: len(vpc.IPv6Blocks) > 0, Rules: []ACLEntry{}, Associations: []ACLAssociation{}, CreatedAt: c.clock.Now()}
		return acl, networkACLs.insert(tx, s, &acl, acl.CreatedAt, tags)
	})
	acl.Tags = tagMap(tags)
	if err == nil {
		c.networkChanged(s, acl.VpcID)
	}
	return acl, err
}

// DeleteNetworkACL deletes a custom ACL that no subnet is associated with.
func (c *Cloud) DeleteNetworkACL(ctx context.Context, s Scope, id string) error {
	var vpcID string
	err := c.update(ctx, func(tx store.Tx) error {
		acl, err := networkACLs.get(tx, s, id)
		if err != nil {
			return err
		}
		vpcID = acl.VpcID
		if acl.IsDefault {
			return errorf("InvalidParameterValue", "cannot delete default network ACL %s", id)
		}
		if len(acl.Associations) > 0 {
			return errorf("DependencyViolation", "The networkAcl '%s' has dependencies and cannot be deleted.", id)
		}
		return networkACLs.remove(tx, s, id)
	})
	if err == nil {
		c.networkChanged(s, vpcID)
	}
	return err
}

// ReplaceNetworkACLAssociation moves the subnet of an association to another ACL
// of the same VPC and returns the new association's ID.
func (c *Cloud) ReplaceNetworkACLAssociation(ctx context.Context, s Scope, associationID, aclID string) (string, error) {
	newID := NewID("aclassoc")
	var vpcID string
	err := c.update(ctx, func(tx store.Tx) error {
		all, err := tx.ListResources(s, KindNetworkACL)
		if err != nil {
			return err
		}
		var from *NetworkACL
		var subnetID string
		for _, r := range all {
			acl, err := networkACLs.decode(r)
			if err != nil {
				return err
			}
			for i, assoc := range acl.Associations {
				if assoc.ID == associationID {
					subnetID = assoc.SubnetID
					acl.Associations = append(acl.Associations[:i], acl.Associations[i+1:]...)
					from = &acl
					break
				}
			}
			if from != nil {
				break
			}
		}
		if from == nil {
			return errorf("InvalidAssociationID.NotFound", "The association ID '%s' does not exist", associationID)
		}
		to, err := networkACLs.get(tx, s, aclID)
		if err != nil {
			return err
		}
		if to.VpcID != from.VpcID {
			return errorf("InvalidParameterValue", "Network ACL %s and subnet %s belong to different networks.", aclID, subnetID)
		}
		vpcID = to.VpcID
		if to.ID == from.ID {
			to = *from
		} else if err := networkACLs.update(tx, s, from); err != nil {
			return err
		}
		to.Associations = append(to.Associations, ACLAssociation{ID: newID, SubnetID: subnetID})
		return networkACLs.update(tx, s, &to)
	})
	if err == nil {
		c.networkChanged(s, vpcID)
	}
	return newID, err
}

var networkACLFields = filter.Fields[NetworkACL]{
	"association.association-id": func(a NetworkACL) []string {
		return aclAssociationValues(a, func(x ACLAssociation) string { return x.ID })
	},
	"association.network-acl-id": func(a NetworkACL) []string {
		return aclAssociationValues(a, func(ACLAssociation) string { return a.ID })
	},
	"association.subnet-id": func(a NetworkACL) []string {
		return aclAssociationValues(a, func(x ACLAssociation) string { return x.SubnetID })
	},
	"default": func(a NetworkACL) []string { return boolValue(a.IsDefault) },
	"entry.cidr": func(a NetworkACL) []string {
		return aclEntryValues(a, func(e ACLEntry) []string { return stringValue(e.CIDR) })
	},
	"entry.icmp.code": func(a NetworkACL) []string {
		return aclEntryValues(a, func(e ACLEntry) []string {
			if e.ICMP == nil {
				return nil
			}
			return []string{strconv.Itoa(int(e.ICMP.Code))}
		})
	},
	"entry.icmp.type": func(a NetworkACL) []string {
		return aclEntryValues(a, func(e ACLEntry) []string {
			if e.ICMP == nil {
				return nil
			}
			return []string{strconv.Itoa(int(e.ICMP.Type))}
		})
	},
	"entry.ipv6-cidr": func(a NetworkACL) []string {
		return aclEntryValues(a, func(e ACLEntry) []string { return stringValue(e.IPv6CIDR) })
	},
	"entry.port-range.from": func(a NetworkACL) []string {
		return aclEntryValues(a, func(e ACLEntry) []string {
			if e.PortRange == nil {
				return nil
			}
			return []string{strconv.Itoa(int(e.PortRange.From))}
		})
	},
	"entry.port-range.to": func(a NetworkACL) []string {
		return aclEntryValues(a, func(e ACLEntry) []string {
			if e.PortRange == nil {
				return nil
			}
			return []string{strconv.Itoa(int(e.PortRange.To))}
		})
	},
	// The protocol matches by number and, for the named ones, by name.
	"entry.protocol": func(a NetworkACL) []string {
		return aclEntryValues(a, func(e ACLEntry) []string {
			out := []string{e.Protocol}
			if name := aclProtocolNames[e.Protocol]; name != "" {
				out = append(out, name)
			}
			return out
		})
	},
	"entry.rule-action": func(a NetworkACL) []string {
		return aclEntryValues(a, func(e ACLEntry) []string { return []string{e.RuleAction} })
	},
	"entry.rule-number": func(a NetworkACL) []string {
		return aclEntryValues(a, func(e ACLEntry) []string { return []string{strconv.Itoa(int(e.RuleNumber))} })
	},
	"entry.egress": func(a NetworkACL) []string {
		return aclEntryValues(a, func(e ACLEntry) []string { return boolValue(e.Egress) })
	},
	"network-acl-id": func(a NetworkACL) []string { return []string{a.ID} },
	"owner-id":       func(a NetworkACL) []string { return []string{a.OwnerID} },
	"vpc-id":         func(a NetworkACL) []string { return []string{a.VpcID} },
}

func aclAssociationValues(a NetworkACL, field func(ACLAssociation) string) []string {
	out := make([]string, len(a.Associations))
	for i, x := range a.Associations {
		out[i] = field(x)
	}
	return out
}

func aclEntryValues(a NetworkACL, field func(ACLEntry) []string) []string {
	var out []string
	for _, e := range a.Entries() {
		out = append(out, field(e)...)
	}
	return out
}

// DescribeNetworkACLs lists ACLs by ID (each must exist) or all of them, filtered
// and paginated (MaxResults 5..1000), ordered by ID.
func (c *Cloud) DescribeNetworkACLs(ctx context.Context, s Scope, ids []string, filters []filter.Filter, page Page) ([]NetworkACL, string, error) {
	return describe(ctx, c, s, networkACLs, "DescribeNetworkAcls", networkACLFields, ids, filters, page, 5, 1000)
}
