package cloud

import (
	"context"
	"time"

	"strato/internal/store"
)

// SecurityGroup is a VPC security group: a named set of allow rules, inbound and
// outbound, that network interfaces in its VPC use.
type SecurityGroup struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	VpcID       string    `json:"vpcId"`
	OwnerID     string    `json:"ownerId"`
	Region      string    `json:"region"`
	CreatedAt   time.Time `json:"createdAt"`
	// Tags, Ingress and Egress are filled when read: the rules are documents of
	// their own (see securityGroupRules).
	Tags    map[string]string   `json:"-"`
	Ingress []SecurityGroupRule `json:"-"`
	Egress  []SecurityGroupRule `json:"-"`
}

// ARN is the group's Amazon Resource Name.
func (g *SecurityGroup) ARN() string {
	return "arn:aws:ec2:" + g.Region + ":" + g.OwnerID + ":security-group/" + g.ID
}

// IsDefault says the group is the one its VPC came with.
func (g *SecurityGroup) IsDefault() bool { return g.Name == defaultGroupName }

const (
	defaultGroupName        = "default"
	defaultGroupDescription = "default VPC security group"
)

// securityGroups keeps groups as children of their VPC, with a unique name made of
// the VPC's ID and the group's name: names are unique per VPC, and the default
// group (or any group of the default VPC) is found by name with one indexed read.
var securityGroups = docKind[SecurityGroup]{
	kind:   KindSecurityGroup,
	id:     func(g *SecurityGroup) string { return g.ID },
	name:   func(g *SecurityGroup) string { return groupKey(g.VpcID, g.Name) },
	parent: func(g *SecurityGroup) string { return g.VpcID },
	tags:   func(g *SecurityGroup) *map[string]string { return &g.Tags },
}

func groupKey(vpcID, name string) string { return vpcID + "/" + name }

// Quota names for security groups.
const (
	QuotaSecurityGroups             = "security-groups-per-region"
	QuotaRulesPerSecurityGroup      = "rules-per-security-group"
	QuotaSecurityGroupsPerInterface = "security-groups-per-network-interface"
)

func init() {
	quotaDefs[QuotaSecurityGroups] = QuotaDef{
		Name:        QuotaSecurityGroups,
		Description: "VPC security groups per Region",
		Default:     2500,
		Code:        "SecurityGroupLimitExceeded",
		Message:     "The maximum number of security groups has been reached (%d).",
	}
	quotaDefs[QuotaRulesPerSecurityGroup] = QuotaDef{
		Name:        QuotaRulesPerSecurityGroup,
		Description: "Inbound or outbound rules per security group",
		Default:     60,
		Code:        "RulesPerSecurityGroupLimitExceeded",
		Message:     "The maximum number of rules per security group has been reached (%d).",
	}
	quotaDefs[QuotaSecurityGroupsPerInterface] = QuotaDef{
		Name:        QuotaSecurityGroupsPerInterface,
		Description: "Security groups per network interface",
		Default:     5,
		Code:        "SecurityGroupsPerInterfaceLimitExceeded",
		Message:     "The maximum number of security groups per network interface has been reached (%d).",
	}
	vpcCreated = append(vpcCreated, createDefaultGroup)
	vpcDeleted = append(vpcDeleted, func(tx store.Tx, s Scope, v *VPC) error {
		in, err := securityGroups.children(tx, s, v.ID)
		if err != nil {
			return err
		}
		for _, g := range in {
			if err := removeGroup(tx, s, g.ID); err != nil {
				return err
			}
		}
		return nil
	})
	vpcDependents = append(vpcDependents, func(tx store.Tx, s Scope, vpcID string) (bool, error) {
		in, err := securityGroups.children(tx, s, vpcID)
		for _, g := range in {
			if !g.IsDefault() {
				return true, err
			}
		}
		return false, err
	})
	// A group that another group's rule refers to cannot be deleted.
	securityGroupUsers = append(securityGroupUsers, func(tx store.Tx, s Scope, id string) (bool, error) {
		refs, err := groupReferences.children(tx, s, id)
		for _, r := range refs {
			if r.GroupID != id {
				return true, err
			}
		}
		return false, err
	})
	securityGroupsFor = groupsForInterface
}

// defaultVPC returns the ID of the region's default VPC, which names of security
// groups resolve in (GroupName parameters are for the default VPC only), or AWS's
// answer for an account without one. A variable so that tests can stand in a VPC.
var defaultVPC = func(tx store.Tx, s Scope) (string, error) {
	v, err := defaultVPCOf(tx, s)
	if err != nil {
		return "", err
	}
	if v == nil {
		return "", errorf("VPCIdNotSpecified", "No default VPC for this user. GroupName is only supported for EC2-Classic and default VPC.")
	}
	return v.ID, nil
}

// groupByName finds a group of the default VPC by name.
func groupByName(tx store.Tx, s Scope, name string) (SecurityGroup, error) {
	vpcID, err := defaultVPC(tx, s)
	if err != nil {
		return SecurityGroup{}, err
	}
	g, err := securityGroups.getByName(tx, s, groupKey(vpcID, name))
	if isNotFound(err) {
		return g, errorf("InvalidGroup.NotFound", "The security group '%s' does not exist in default VPC '%s'", name, vpcID)
	}
	return g, err
}

// GroupSelector names a group by ID or, in the default VPC, by name.
type GroupSelector struct{ ID, Name string }

// resolveGroup reads the group a request names.
func resolveGroup(tx store.Tx, s Scope, sel GroupSelector) (SecurityGroup, error) {
	if sel.ID != "" {
		return securityGroups.get(tx, s, sel.ID)
	}
	if sel.Name != "" {
		return groupByName(tx, s, sel.Name)
	}
	return SecurityGroup{}, errorf("MissingParameter", "The request must contain the parameter groupName or groupId")
}

// groupTextChars are the characters AWS allows in a VPC security group's name and
// description (and in a rule's description).
const groupTextChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ._-:/()#,@[]+=&;{}!$*"

func validGroupText(s string) bool {
	if len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !containsByte(groupTextChars, s[i]) {
			return false
		}
	}
	return true
}

func containsByte(set string, b byte) bool {
	for i := 0; i < len(set); i++ {
		if set[i] == b {
			return true
		}
	}
	return false
}

// SecurityGroupRequest is what CreateSecurityGroup asks for.
type SecurityGroupRequest struct {
	Name, Description, VpcID string
	Tags                     []Tag
}

// CreateSecurityGroup makes an empty group, but for the egress rule to everywhere
// that every new VPC security group starts with.
func (c *Cloud) CreateSecurityGroup(ctx context.Context, s Scope, req SecurityGroupRequest) (SecurityGroup, error) {
	switch {
	case req.Name == "":
		return SecurityGroup{}, errorf("MissingParameter", "The request must contain the parameter GroupName")
	case req.Description == "":
		return SecurityGroup{}, errorf("MissingParameter", "The request must contain the parameter GroupDescription")
	case len(req.Name) >= 3 && req.Name[:3] == "sg-":
		return SecurityGroup{}, errorf("InvalidParameterValue", "Group names may not be in the format sg-*")
	case req.Name == defaultGroupName:
		return SecurityGroup{}, errorf("InvalidParameterValue", "Cannot use reserved security group name: default")
	case !validGroupText(req.Name):
		return SecurityGroup{}, errorf("InvalidParameterValue", "Invalid value '%s' for groupName. Valid names are up to 255 characters from a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*", req.Name)
	case !validGroupText(req.Description):
		return SecurityGroup{}, errorf("InvalidParameterValue", "Invalid value '%s' for GroupDescription. Valid descriptions are up to 255 characters from a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*", req.Description)
	}
	if err := ValidateTags(req.Tags); err != nil {
		return SecurityGroup{}, err
	}
	g := SecurityGroup{ID: NewID("sg"), Name: req.Name, Description: req.Description, OwnerID: s.Account, Region: s.Region, CreatedAt: c.clock.Now()}
	err := c.update(ctx, func(tx store.Tx) error {
		g.VpcID = req.VpcID
		if g.VpcID == "" {
			var err error
			if g.VpcID, err = defaultVPC(tx, s); err != nil {
				return err
			}
		}
		vpc, err := vpcs.get(tx, s, g.VpcID)
		if err != nil {
			return err
		}
		if err := checkCount(tx, s, KindSecurityGroup, QuotaSecurityGroups); err != nil {
			return err
		}
		if _, err := securityGroups.getByName(tx, s, groupKey(g.VpcID, g.Name)); err == nil {
			return errorf("InvalidGroup.Duplicate", "The security group '%s' already exists for VPC '%s'", g.Name, g.VpcID)
		}
		if err := securityGroups.insert(tx, s, &g, g.CreatedAt, req.Tags); err != nil {
			return err
		}
		g.Egress = allTrafficOut(&g, &vpc)
		for i := range g.Egress {
			if err := insertRule(tx, s, g.VpcID, &g.Egress[i], g.CreatedAt, nil); err != nil {
				return err
			}
		}
		return nil
	})
	g.Tags = tagMap(req.Tags)
	if err == nil {
		c.networkChanged(s, g.VpcID)
	}
	return g, err
}

// createDefaultGroup gives a new VPC its default group: inbound from members of the
// group itself, outbound to everywhere.
func createDefaultGroup(tx store.Tx, s Scope, v *VPC) error {
	g := SecurityGroup{ID: NewID("sg"), Name: defaultGroupName, Description: defaultGroupDescription, VpcID: v.ID, OwnerID: s.Account, Region: s.Region, CreatedAt: v.CreatedAt}
	if err := securityGroups.insert(tx, s, &g, g.CreatedAt, nil); err != nil {
		return err
	}
	rules := append([]SecurityGroupRule{
		{ID: NewID("sgr"), GroupID: g.ID, GroupOwnerID: s.Account, Protocol: "-1", FromPort: -1, ToPort: -1, Ref: &GroupRef{GroupID: g.ID, GroupName: g.Name, UserID: s.Account}},
	}, allTrafficOut(&g, v)...)
	for _, r := range rules {
		if err := insertRule(tx, s, g.VpcID, &r, g.CreatedAt, nil); err != nil {
			return err
		}
	}
	return nil
}

// defaultGroupOf reads a VPC's default group.
func defaultGroupOf(tx store.Tx, s Scope, vpcID string) (SecurityGroup, error) {
	return securityGroups.getByName(tx, s, groupKey(vpcID, defaultGroupName))
}

// DeleteSecurityGroup deletes a group nothing uses or refers to.
func (c *Cloud) DeleteSecurityGroup(ctx context.Context, s Scope, sel GroupSelector) (SecurityGroup, error) {
	var g SecurityGroup
	err := c.update(ctx, func(tx store.Tx) error {
		var err error
		if g, err = resolveGroup(tx, s, sel); err != nil {
			return err
		}
		if g.IsDefault() {
			return errorf("CannotDelete", "the specified group: \"%s\" name: \"default\" cannot be deleted by a user", g.ID)
		}
		busy, err := anyInUse(securityGroupUsers, tx, s, g.ID)
		if err != nil {
			return err
		}
		if busy {
			return errorf("DependencyViolation", "resource %s has a dependent object", g.ID)
		}
		return removeGroup(tx, s, g.ID)
	})
	if err == nil {
		c.networkChanged(s, g.VpcID)
	}
	return g, err
}

// removeGroup deletes a group with its rules.
func removeGroup(tx store.Tx, s Scope, id string) error {
	rules, err := rulesOf(tx, s, id)
	if err != nil {
		return err
	}
	for _, r := range rules {
		if err := removeRule(tx, s, &r); err != nil {
			return err
		}
	}
	return securityGroups.remove(tx, s, id)
}

// groupsForInterface checks the groups given to a network interface in a VPC: each
// exists and belongs to the VPC, at most the per-interface quota; none means the
// VPC's default group.
func groupsForInterface(tx store.Tx, s Scope, vpcID string, groupIDs []string) ([]string, error) {
	if len(groupIDs) == 0 {
		g, err := defaultGroupOf(tx, s, vpcID)
		if err != nil {
			return nil, err
		}
		return []string{g.ID}, nil
	}
	var out []string
	seen := map[string]bool{}
	for _, id := range groupIDs {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	// checkQuota fails when the count already reaches the limit; one more than
	// the limit is what is refused here.
	if err := checkQuota(tx, s.Account, QuotaSecurityGroupsPerInterface, len(out)-1); err != nil {
		return nil, err
	}
	for _, id := range out {
		g, err := securityGroups.get(tx, s, id)
		if err != nil {
			return nil, err
		}
		if g.VpcID != vpcID {
			return nil, errorf("InvalidParameter", "Security group %s and VPC %s belong to different networks.", id, vpcID)
		}
	}
	return out, nil
}
