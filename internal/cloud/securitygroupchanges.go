package cloud

import (
	"context"

	"strato/internal/store"
)

// RuleRequest is what AuthorizeSecurityGroupIngress/Egress and
// RevokeSecurityGroupIngress/Egress ask for.
type RuleRequest struct {
	Group       GroupSelector
	Egress      bool
	Permissions []Permission
	// RuleIDs name rules to revoke.
	RuleIDs []string
	// Tags go on every rule an authorization adds.
	Tags []Tag
}

// AuthorizeSecurityGroupRules adds rules to a group and returns them.
func (c *Cloud) AuthorizeSecurityGroupRules(ctx context.Context, s Scope, req RuleRequest) ([]SecurityGroupRule, error) {
	if err := ValidateTags(req.Tags); err != nil {
		return nil, err
	}
	if len(req.Permissions) == 0 {
		return nil, errorf("MissingParameter", "The request must contain the parameter ipPermissions")
	}
	var added []SecurityGroupRule
	var vpcID string
	err := c.update(ctx, func(tx store.Tx) error {
		g, err := resolveGroup(tx, s, req.Group)
		if err != nil {
			return err
		}
		vpcID = g.VpcID
		added, err = ruleResolver{tx: tx, s: s, group: g, egress: req.Egress, lookup: true}.rules(req.Permissions)
		if err != nil {
			return err
		}
		existing, err := rulesOf(tx, s, g.ID)
		if err != nil {
			return err
		}
		same := directionOf(existing, req.Egress)
		taken := map[string]bool{}
		for _, r := range same {
			taken[r.key()] = true
		}
		for i := range added {
			r := &added[i]
			if taken[r.key()] {
				return errorf("InvalidPermission.Duplicate", "the specified rule \"%s\" already exists", r.describeRule())
			}
			taken[r.key()] = true
			r.ID = NewID("sgr")
		}
		if err := checkRuleQuota(tx, s, append(same, added...)); err != nil {
			return err
		}
		now := c.clock.Now()
		for i := range added {
			if err := insertRule(tx, s, g.VpcID, &added[i], now, req.Tags); err != nil {
				return err
			}
			added[i].Tags = tagMap(req.Tags)
		}
		return nil
	})
	if err == nil {
		c.networkChanged(s, vpcID)
	}
	return added, err
}

// RevokeResult is what a revoke did: the rules removed and, in a default VPC, the
// rules asked for by their properties that the group does not have.
type RevokeResult struct {
	Revoked []SecurityGroupRule
	Unknown []SecurityGroupRule
}

// RevokeSecurityGroupRules removes rules named by their properties or IDs. As on
// AWS, a rule named by its properties that the group does not have is, in a
// non-default VPC, an error (InvalidPermission.NotFound) that revokes nothing; in
// the default VPC it is no error: the others are revoked and it is returned as
// unknown. A rule ID that does not exist is always an error.
func (c *Cloud) RevokeSecurityGroupRules(ctx context.Context, s Scope, req RuleRequest) (RevokeResult, error) {
	if len(req.Permissions) == 0 && len(req.RuleIDs) == 0 {
		return RevokeResult{}, errorf("MissingParameter", "Either 'ipPermissions' or 'securityGroupRuleIds' should be provided.")
	}
	var revoked, unknown []SecurityGroupRule
	var vpcID string
	err := c.update(ctx, func(tx store.Tx) error {
		revoked, unknown = nil, nil
		g, err := resolveGroup(tx, s, req.Group)
		if err != nil {
			return err
		}
		vpcID = g.VpcID
		vpc, err := vpcs.get(tx, s, g.VpcID)
		if err != nil {
			return err
		}
		specs, err := ruleResolver{tx: tx, s: s, group: g, egress: req.Egress}.rules(req.Permissions)
		if err != nil {
			return err
		}
		existing, err := rulesOf(tx, s, g.ID)
		if err != nil {
			return err
		}
		byKey, byID := map[string]SecurityGroupRule{}, map[string]SecurityGroupRule{}
		for _, r := range directionOf(existing, req.Egress) {
			byKey[r.key()], byID[r.ID] = r, r
		}
		chosen := map[string]bool{}
		pick := func(r SecurityGroupRule) {
			if !chosen[r.ID] {
				chosen[r.ID] = true
				revoked = append(revoked, r)
			}
		}
		for _, spec := range specs {
			r, ok := byKey[spec.key()]
			switch {
			case ok:
				pick(r)
			case vpc.IsDefault:
				unknown = append(unknown, spec)
			default:
				return errorf("InvalidPermission.NotFound", "The specified rule does not exist in this security group.")
			}
		}
		for _, id := range req.RuleIDs {
			r, ok := byID[id]
			if !ok {
				return &NotFoundError{Kind: KindSecurityGroupRule, ID: id}
			}
			pick(r)
		}
		for i := range revoked {
			if err := removeRule(tx, s, &revoked[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		c.networkChanged(s, vpcID)
	}
	return RevokeResult{Revoked: revoked, Unknown: unknown}, err
}

// RuleUpdate replaces what one rule allows (ModifySecurityGroupRules): it keeps its
// ID, direction and tags. Exactly one peer is given.
type RuleUpdate struct {
	RuleID            string
	Protocol          string
	FromPort, ToPort  *int32
	CIDRv4, CIDRv6    string
	PrefixListID      string
	ReferencedGroupID string
	Description       string
}

func (u RuleUpdate) permission() (Permission, error) {
	p := Permission{Protocol: u.Protocol, FromPort: u.FromPort, ToPort: u.ToPort}
	peers := 0
	if u.CIDRv4 != "" {
		p.IPv4, peers = []PeerRange{{ID: u.CIDRv4, Description: u.Description}}, peers+1
	}
	if u.CIDRv6 != "" {
		p.IPv6, peers = []PeerRange{{ID: u.CIDRv6, Description: u.Description}}, peers+1
	}
	if u.PrefixListID != "" {
		p.PrefixLists, peers = []PeerRange{{ID: u.PrefixListID, Description: u.Description}}, peers+1
	}
	if u.ReferencedGroupID != "" {
		p.Groups, peers = []PeerGroup{{ID: u.ReferencedGroupID, Description: u.Description}}, peers+1
	}
	if peers != 1 {
		return p, errorf("InvalidParameterCombination", "Specify exactly one of CidrIpv4, CidrIpv6, PrefixListId or ReferencedGroupId for rule %s.", u.RuleID)
	}
	return p, nil
}

// ModifySecurityGroupRules replaces rules of a group by ID.
func (c *Cloud) ModifySecurityGroupRules(ctx context.Context, s Scope, groupID string, updates []RuleUpdate) error {
	if len(updates) == 0 {
		return errorf("MissingParameter", "The request must contain the parameter SecurityGroupRule")
	}
	var vpcID string
	err := c.update(ctx, func(tx store.Tx) error {
		g, err := securityGroups.get(tx, s, groupID)
		if err != nil {
			return err
		}
		vpcID = g.VpcID
		rules, err := rulesOf(tx, s, g.ID)
		if err != nil {
			return err
		}
		index := map[string]int{}
		for i, r := range rules {
			index[r.ID] = i
		}
		changed := map[string]bool{}
		for _, u := range updates {
			i, ok := index[u.RuleID]
			if !ok {
				return &NotFoundError{Kind: KindSecurityGroupRule, ID: u.RuleID}
			}
			perm, err := u.permission()
			if err != nil {
				return err
			}
			old := rules[i]
			replaced, err := ruleResolver{tx: tx, s: s, group: g, egress: old.Egress, lookup: true}.rules([]Permission{perm})
			if err != nil {
				return err
			}
			replaced[0].ID = old.ID
			rules[i] = replaced[0]
			changed[old.ID] = true
			if err := forgetReference(tx, s, &old); err != nil {
				return err
			}
		}
		for _, egress := range []bool{false, true} {
			same := directionOf(rules, egress)
			taken := map[string]bool{}
			for _, r := range same {
				if taken[r.key()] {
					return errorf("InvalidPermission.Duplicate", "the specified rule \"%s\" already exists", r.describeRule())
				}
				taken[r.key()] = true
			}
			if err := checkRuleQuota(tx, s, same); err != nil {
				return err
			}
		}
		now := c.clock.Now()
		for i := range rules {
			if !changed[rules[i].ID] {
				continue
			}
			if err := securityGroupRules.update(tx, s, &rules[i]); err != nil {
				return err
			}
			if err := recordReference(tx, s, g.VpcID, &rules[i], now); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		c.networkChanged(s, vpcID)
	}
	return err
}

// UpdateSecurityGroupRuleDescriptions sets the descriptions of existing rules of one
// direction, named by their properties (the description of each peer is the new
// one) or by ID (byID maps rule ID to description).
func (c *Cloud) UpdateSecurityGroupRuleDescriptions(ctx context.Context, s Scope, sel GroupSelector, egress bool, perms []Permission, byID map[string]string) error {
	if len(perms) == 0 && len(byID) == 0 {
		return errorf("MissingParameter", "Either 'ipPermissions' or 'securityGroupRuleDescriptions' should be provided.")
	}
	return c.update(ctx, func(tx store.Tx) error {
		g, err := resolveGroup(tx, s, sel)
		if err != nil {
			return err
		}
		specs, err := ruleResolver{tx: tx, s: s, group: g, egress: egress}.rules(perms)
		if err != nil {
			return err
		}
		existing, err := rulesOf(tx, s, g.ID)
		if err != nil {
			return err
		}
		byKey, rules := map[string]*SecurityGroupRule{}, map[string]*SecurityGroupRule{}
		same := directionOf(existing, egress)
		for i := range same {
			byKey[same[i].key()], rules[same[i].ID] = &same[i], &same[i]
		}
		changed := map[string]*SecurityGroupRule{}
		for _, spec := range specs {
			r, ok := byKey[spec.key()]
			if !ok {
				return errorf("InvalidPermission.NotFound", "The specified rule does not exist in this security group.")
			}
			r.Description, changed[r.ID] = spec.Description, r
		}
		for id, d := range byID {
			r, ok := rules[id]
			if !ok {
				return &NotFoundError{Kind: KindSecurityGroupRule, ID: id}
			}
			if err := validRuleDescription(d); err != nil {
				return err
			}
			r.Description, changed[id] = d, r
		}
		for _, r := range changed {
			if err := securityGroupRules.update(tx, s, r); err != nil {
				return err
			}
		}
		return nil
	})
}
