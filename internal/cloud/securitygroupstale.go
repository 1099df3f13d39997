package cloud

import (
	"context"

	"strato/internal/store"
)

// StaleSecurityGroups lists the groups of a VPC with stale rules
// (DescribeStaleSecurityGroups): rules that refer to a group in a peer VPC whose
// peering connection is no longer active, or that no longer exists. Each group
// comes with only its stale rules in Ingress and Egress; ordered by ID and
// paginated (MaxResults 5..255).
func (c *Cloud) StaleSecurityGroups(ctx context.Context, s Scope, vpcID string, page Page) ([]SecurityGroup, string, error) {
	var out []SecurityGroup
	err := c.view(ctx, func(tx store.Tx) error {
		if _, err := vpcs.get(tx, s, vpcID); err != nil {
			return err
		}
		groups, err := securityGroups.children(tx, s, vpcID)
		if err != nil {
			return err
		}
		for _, g := range groups {
			rules, err := rulesOf(tx, s, g.ID)
			if err != nil {
				return err
			}
			for _, r := range rules {
				stale, err := staleRule(tx, s, vpcID, &r)
				if err != nil {
					return err
				}
				switch {
				case !stale:
				case r.Egress:
					g.Egress = append(g.Egress, r)
				default:
					g.Ingress = append(g.Ingress, r)
				}
			}
			if len(g.Ingress)+len(g.Egress) > 0 {
				out = append(out, g)
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	sortByUniqueKey(out, func(g SecurityGroup) string { return g.ID })
	return PageOf(c, s, "DescribeStaleSecurityGroups", nil, page, 5, 255, out, func(g SecurityGroup) string { return g.ID })
}

// staleRule reports whether a rule of a group of vpcID refers to a group across
// a peering that is gone, or to a peer group that is gone.
func staleRule(tx store.Tx, s Scope, vpcID string, r *SecurityGroupRule) (bool, error) {
	if r.Ref == nil || r.Ref.VpcID == "" {
		return false, nil
	}
	peered, err := vpcPeered(tx, s, vpcID, r.Ref.VpcID)
	if err != nil || !peered {
		return !peered, err
	}
	_, err = securityGroups.get(tx, Scope{Account: r.Ref.UserID, Region: s.Region}, r.Ref.GroupID)
	if isNotFound(err) {
		return true, nil
	}
	return false, err
}
