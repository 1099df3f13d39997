package cloud

import (
	"context"
	"strconv"

	"strato/internal/cloud/filter"
	"strato/internal/store"
)

// ruleValues collects one value per rule of a direction that has it.
func ruleValues(rules []SecurityGroupRule, value func(r SecurityGroupRule) string) []string {
	var out []string
	for _, r := range rules {
		if v := value(r); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// permissionFields are the filters on one direction's rules, under prefix
// ("ip-permission." or "egress.ip-permission.").
func permissionFields(fields filter.Fields[SecurityGroup], prefix string, rules func(g SecurityGroup) []SecurityGroupRule) {
	per := map[string]func(r SecurityGroupRule) string{
		"cidr":      func(r SecurityGroupRule) string { return r.CIDRv4 },
		"ipv6-cidr": func(r SecurityGroupRule) string { return r.CIDRv6 },
		"from-port": func(r SecurityGroupRule) string { return strconv.Itoa(int(r.FromPort)) },
		"to-port":   func(r SecurityGroupRule) string { return strconv.Itoa(int(r.ToPort)) },
		"protocol":  func(r SecurityGroupRule) string { return r.Protocol },
		"group-id": func(r SecurityGroupRule) string {
			if r.Ref == nil {
				return ""
			}
			return r.Ref.GroupID
		},
		"group-name": func(r SecurityGroupRule) string {
			if r.Ref == nil {
				return ""
			}
			return r.Ref.GroupName
		},
		"user-id": func(r SecurityGroupRule) string {
			if r.Ref == nil {
				return ""
			}
			return r.Ref.UserID
		},
		"prefix-list-id": func(r SecurityGroupRule) string { return r.PrefixListID },
	}
	for name, value := range per {
		fields[prefix+name] = func(g SecurityGroup) []string { return ruleValues(rules(g), value) }
	}
}

var securityGroupFields = func() filter.Fields[SecurityGroup] {
	f := filter.Fields[SecurityGroup]{
		"description": func(g SecurityGroup) []string { return []string{g.Description} },
		"group-id":    func(g SecurityGroup) []string { return []string{g.ID} },
		"group-name":  func(g SecurityGroup) []string { return []string{g.Name} },
		"owner-id":    func(g SecurityGroup) []string { return []string{g.OwnerID} },
		"vpc-id":      func(g SecurityGroup) []string { return []string{g.VpcID} },
	}
	permissionFields(f, "ip-permission.", func(g SecurityGroup) []SecurityGroupRule { return g.Ingress })
	permissionFields(f, "egress.ip-permission.", func(g SecurityGroup) []SecurityGroupRule { return g.Egress })
	return f
}()

// DescribeSecurityGroups lists groups by ID, by name (default VPC), or all, with
// their rules, filtered and paginated (MaxResults 5..1000), ordered by ID.
func (c *Cloud) DescribeSecurityGroups(ctx context.Context, s Scope, ids, names []string, filters []filter.Filter, page Page) ([]SecurityGroup, string, error) {
	m, err := filter.Compile(filters, securityGroupFields, func(g SecurityGroup) map[string]string { return g.Tags })
	if err != nil {
		return nil, "", err
	}
	var list []SecurityGroup
	if err := c.view(ctx, func(tx store.Tx) error {
		named := len(ids) > 0 || len(names) > 0
		if len(names) > 0 {
			for _, name := range names {
				g, err := groupByName(tx, s, name)
				if err != nil {
					return err
				}
				ids = append(ids, g.ID)
			}
		}
		if !named {
			// Exact tag filters read only the groups that carry the tags.
			tagged, narrowed, err := securityGroups.taggedCandidates(tx, s, filters)
			if err != nil || narrowed && len(tagged) == 0 {
				return err
			}
			if narrowed {
				ids, named = tagged, true
			}
		}
		var err error
		if list, err = securityGroups.load(tx, s, ids, nil); err != nil {
			return err
		}
		return attachRules(tx, s, list, !named)
	}); err != nil {
		return nil, "", err
	}
	return pageOfMatches(c, s, "DescribeSecurityGroups", filters, page, m, list, func(g SecurityGroup) string { return g.ID })
}

// attachRules fills the groups' rules: all says the groups are the whole kind, so
// every rule is read at once; otherwise each group's rules are read by parent.
func attachRules(tx store.Tx, s Scope, groups []SecurityGroup, all bool) error {
	byGroup := map[string][]SecurityGroupRule{}
	if all {
		rows, err := tx.ListResources(s, KindSecurityGroupRule)
		if err != nil {
			return err
		}
		for _, row := range rows {
			r, err := securityGroupRules.decode(row)
			if err != nil {
				return err
			}
			byGroup[r.GroupID] = append(byGroup[r.GroupID], r)
		}
	}
	for i := range groups {
		g := &groups[i]
		rules, ok := byGroup[g.ID]
		if !all && !ok {
			var err error
			if rules, err = rulesOf(tx, s, g.ID); err != nil {
				return err
			}
		}
		g.Ingress, g.Egress = directionOf(rules, false), directionOf(rules, true)
	}
	return nil
}

var securityGroupRuleFields = filter.Fields[SecurityGroupRule]{
	"group-id":               func(r SecurityGroupRule) []string { return []string{r.GroupID} },
	"security-group-rule-id": func(r SecurityGroupRule) []string { return []string{r.ID} },
}

// DescribeSecurityGroupRules lists rules by ID or all, filtered and paginated
// (MaxResults 5..1000), ordered by ID. Exact group-id filters read only those
// groups' rules.
func (c *Cloud) DescribeSecurityGroupRules(ctx context.Context, s Scope, ids []string, filters []filter.Filter, page Page) ([]SecurityGroupRule, string, error) {
	m, err := filter.Compile(filters, securityGroupRuleFields, func(r SecurityGroupRule) map[string]string { return r.Tags })
	if err != nil {
		return nil, "", err
	}
	var list []SecurityGroupRule
	if err := c.view(ctx, func(tx store.Tx) error {
		if groups := exactValues(filters, "group-id"); len(ids) == 0 && groups != nil {
			for _, g := range groups {
				rules, err := securityGroupRules.children(tx, s, g)
				if err != nil {
					return err
				}
				list = append(list, rules...)
			}
			return nil
		}
		var err error
		list, err = securityGroupRules.load(tx, s, ids, nil)
		return err
	}); err != nil {
		return nil, "", err
	}
	return pageOfMatches(c, s, "DescribeSecurityGroupRules", filters, page, m, list, func(r SecurityGroupRule) string { return r.ID })
}

// exactValues returns the literal values of the first filter called name, or nil
// when there is none or a value is a pattern.
func exactValues(filters []filter.Filter, name string) []string {
	for _, f := range filters {
		if f.Name != name {
			continue
		}
		out := make([]string, 0, len(f.Values))
		for _, v := range f.Values {
			lit, ok := filter.Unescape(v)
			if !ok {
				return nil
			}
			out = append(out, lit)
		}
		return out
	}
	return nil
}

// SecurityGroupReference is a rule of a group in another VPC (through peering)
// that refers to a group.
type SecurityGroupReference struct {
	GroupID          string
	ReferencingVpcID string
}

// DescribeSecurityGroupReferences lists, for each group (each must exist), the
// other VPCs whose groups' rules refer to it. Only references within the account
// are known.
func (c *Cloud) DescribeSecurityGroupReferences(ctx context.Context, s Scope, ids []string) ([]SecurityGroupReference, error) {
	if len(ids) == 0 {
		return nil, errorf("MissingParameter", "The request must contain the parameter groupId")
	}
	var out []SecurityGroupReference
	err := c.view(ctx, func(tx store.Tx) error {
		for _, id := range ids {
			g, err := securityGroups.get(tx, s, id)
			if err != nil {
				return err
			}
			refs, err := groupReferences.children(tx, s, id)
			if err != nil {
				return err
			}
			seen := map[string]bool{}
			for _, r := range refs {
				if r.VpcID != g.VpcID && !seen[r.VpcID] {
					seen[r.VpcID] = true
					out = append(out, SecurityGroupReference{GroupID: id, ReferencingVpcID: r.VpcID})
				}
			}
		}
		return nil
	})
	return out, err
}

var groupsForVPCFields = filter.Fields[SecurityGroup]{
	"description":    func(g SecurityGroup) []string { return []string{g.Description} },
	"group-id":       func(g SecurityGroup) []string { return []string{g.ID} },
	"group-name":     func(g SecurityGroup) []string { return []string{g.Name} },
	"owner-id":       func(g SecurityGroup) []string { return []string{g.OwnerID} },
	"primary-vpc-id": func(g SecurityGroup) []string { return []string{g.VpcID} },
}

// SecurityGroupsForVPC lists the groups that network interfaces of a VPC can use
// (GetSecurityGroupsForVpc): the VPC's own, filtered and paginated (5..1000).
func (c *Cloud) SecurityGroupsForVPC(ctx context.Context, s Scope, vpcID string, filters []filter.Filter, page Page) ([]SecurityGroup, string, error) {
	m, err := filter.Compile(filters, groupsForVPCFields, func(g SecurityGroup) map[string]string { return g.Tags })
	if err != nil {
		return nil, "", err
	}
	var list []SecurityGroup
	if err := c.view(ctx, func(tx store.Tx) error {
		if _, err := vpcs.get(tx, s, vpcID); err != nil {
			return err
		}
		list, err = securityGroups.children(tx, s, vpcID)
		return err
	}); err != nil {
		return nil, "", err
	}
	return pageOfMatches(c, s, "GetSecurityGroupsForVpc", filters, page, m, list, func(g SecurityGroup) string { return g.ID })
}

// pageOfMatches keeps what the filters match, orders it by ID and cuts the page
// (MaxResults 5..1000, as for every security group listing).
func pageOfMatches[T any](c *Cloud, s Scope, op string, filters []filter.Filter, page Page, m *filter.Matcher[T], list []T, id func(T) string) ([]T, string, error) {
	out := m.Filter(list)
	sortByUniqueKey(out, id)
	return PageOf(c, s, op, filters, page, 5, 1000, out, id)
}
