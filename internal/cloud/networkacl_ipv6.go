package cloud

import (
	"net/netip"

	"strato/internal/store"
)

// A VPC's network ACLs follow its IPv6 blocks, as the VPC User Guide ("Default
// network ACL") describes: when the VPC gets its first IPv6 block, every ACL of
// the VPC shows the fixed IPv6 deny rule, and the default ACL gets rule 101
// allowing all IPv6 traffic in each direction whose rules are still the ones it
// came with (AWS does not add it to a direction the owner has changed). When the
// last IPv6 block goes, the fixed IPv6 rule goes; numbered rules stay, being the
// owner's to keep or delete.
func init() {
	vpcBlockAdded = append(vpcBlockAdded, func(tx store.Tx, s Scope, v *VPC, block netip.Prefix) error {
		if !block.Addr().Is6() {
			return nil
		}
		return setACLsIPv6(tx, s, v.ID, true)
	})
	vpcBlockRemoved = append(vpcBlockRemoved, func(tx store.Tx, s Scope, v *VPC, block netip.Prefix) error {
		if !block.Addr().Is6() || len(v.IPv6Blocks) > 0 {
			return nil
		}
		return setACLsIPv6(tx, s, v.ID, false)
	})
}

// defaultACLRule is rule 100 of a default ACL: all IPv4 traffic allowed.
func defaultACLRule(egress bool) ACLEntry {
	return ACLEntry{RuleNumber: 100, Egress: egress, Protocol: aclProtocolAll, RuleAction: "allow", CIDR: "0.0.0.0/0"}
}

// defaultACLIPv6Rule is rule 101 of a default ACL in a VPC with IPv6.
func defaultACLIPv6Rule(egress bool) ACLEntry {
	return ACLEntry{RuleNumber: 101, Egress: egress, Protocol: aclProtocolAll, RuleAction: "allow", IPv6CIDR: "::/0"}
}

// setACLsIPv6 turns the fixed IPv6 rule of a VPC's ACLs on or off; turning it on
// also gives the default ACL its IPv6 allow rules where AWS adds them.
func setACLsIPv6(tx store.Tx, s Scope, vpcID string, on bool) error {
	acls, err := networkACLs.children(tx, s, vpcID)
	if err != nil {
		return err
	}
	for _, acl := range acls {
		if acl.IPv6 == on {
			continue
		}
		acl.IPv6 = on
		if on && acl.IsDefault {
			for _, egress := range []bool{true, false} {
				if aclDirectionAsCreated(&acl, egress) {
					acl.Rules = append(acl.Rules, defaultACLIPv6Rule(egress))
				}
			}
		}
		if err := networkACLs.update(tx, s, &acl); err != nil {
			return err
		}
	}
	return nil
}

// aclDirectionAsCreated reports whether a default ACL's rules of one direction
// are still only the rule 100 it was created with.
func aclDirectionAsCreated(acl *NetworkACL, egress bool) bool {
	var same []ACLEntry
	for _, r := range acl.Rules {
		if r.Egress == egress {
			same = append(same, r)
		}
	}
	return len(same) == 1 && same[0] == defaultACLRule(egress)
}
