package cloud

import (
	"net/netip"

	"strato/internal/store"
)

// Security groups and a VPC's IPv6 blocks. As on AWS, a group starts with an
// outbound rule to all IPv4 addresses and, in a VPC with IPv6, one to all IPv6
// addresses (::/0). When a VPC gets its first IPv6 block later, only its default
// group gains the ::/0 rule ("added only if your VPC has an associated IPv6 CIDR
// block", VPC User Guide, "Default security groups"); groups created before keep
// their rules, which are their owner's.
func init() {
	vpcBlockAdded = append(vpcBlockAdded, func(tx store.Tx, s Scope, v *VPC, block netip.Prefix) error {
		if !block.Addr().Is6() || len(v.IPv6Blocks) != 1 {
			return nil
		}
		g, err := defaultGroupOf(tx, s, v.ID)
		if err != nil {
			return err
		}
		rule := allIPv6Out(&g)
		existing, err := rulesOf(tx, s, g.ID)
		if err != nil {
			return err
		}
		for _, r := range existing {
			if r.key() == rule.key() {
				return nil
			}
		}
		return insertRule(tx, s, g.VpcID, &rule, txNow(tx), nil)
	})
}

// allTrafficOut is the outbound rules a new group of the VPC starts with.
func allTrafficOut(g *SecurityGroup, v *VPC) []SecurityGroupRule {
	out := []SecurityGroupRule{{ID: NewID("sgr"), GroupID: g.ID, GroupOwnerID: g.OwnerID, Egress: true, Protocol: "-1", FromPort: -1, ToPort: -1, CIDRv4: "0.0.0.0/0"}}
	if len(v.IPv6Blocks) > 0 {
		out = append(out, allIPv6Out(g))
	}
	return out
}

func allIPv6Out(g *SecurityGroup) SecurityGroupRule {
	return SecurityGroupRule{ID: NewID("sgr"), GroupID: g.ID, GroupOwnerID: g.OwnerID, Egress: true, Protocol: "-1", FromPort: -1, ToPort: -1, CIDRv6: "::/0"}
}
