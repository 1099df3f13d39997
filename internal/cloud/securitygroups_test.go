package cloud_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"strato/internal/cloud"
	"strato/internal/cloud/cloudtest"
)

// groupFixture is a control plane with an account, a VPC and a group in it.
type groupFixture struct {
	ctx   context.Context
	c     *cloud.Cloud
	s     cloud.Scope
	vpc   cloud.VPC
	group cloud.SecurityGroup
}

func newGroupFixture(t *testing.T) *groupFixture {
	t.Helper()
	f := &groupFixture{ctx: context.Background(), c: cloudtest.New(t)}
	acct, _, err := f.c.CreateAccount(f.ctx, "", "sg")
	if err != nil {
		t.Fatal(err)
	}
	f.s = cloud.Scope{Account: acct.ID, Region: "us-east-1"}
	f.vpc = f.createVPC(t)
	f.group = f.createGroup(t, f.vpc.ID, "web")
	return f
}

func (f *groupFixture) createVPC(t *testing.T) cloud.VPC {
	t.Helper()
	v, err := f.c.CreateVPC(f.ctx, f.s, cloud.VPCRequest{CIDR: "10.0.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (f *groupFixture) createGroup(t *testing.T, vpcID, name string) cloud.SecurityGroup {
	t.Helper()
	g, err := f.c.CreateSecurityGroup(f.ctx, f.s, cloud.SecurityGroupRequest{Name: name, Description: name, VpcID: vpcID})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func (f *groupFixture) defaultGroup(t *testing.T, vpcID string) string {
	t.Helper()
	ids, err := cloud.GroupsForInterface(f.ctx, f.c, f.s, vpcID, nil)
	if err != nil || len(ids) != 1 {
		t.Fatalf("default group of %s: %v %v", vpcID, ids, err)
	}
	return ids[0]
}

func (f *groupFixture) authorize(groupID string, perms ...cloud.Permission) error {
	_, err := f.c.AuthorizeSecurityGroupRules(f.ctx, f.s, cloud.RuleRequest{Group: cloud.GroupSelector{ID: groupID}, Permissions: perms})
	return err
}

func cidrs(v6 bool, n, from int) cloud.Permission {
	p := cloud.Permission{Protocol: "-1"}
	for i := from; i < from+n; i++ {
		if v6 {
			p.IPv6 = append(p.IPv6, cloud.PeerRange{ID: fmt.Sprintf("2001:db8:%x::/48", i)})
		} else {
			p.IPv4 = append(p.IPv4, cloud.PeerRange{ID: fmt.Sprintf("10.%d.0.0/16", i)})
		}
	}
	return p
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := codeOf(err); got != code {
		t.Errorf("%s: want %s, got %v", what, code, err)
	}
}

func TestSecurityGroupsForInterface(t *testing.T) {
	f := newGroupFixture(t)
	def := f.defaultGroup(t, f.vpc.ID)
	if def == f.group.ID {
		t.Fatal("the default group is the group created")
	}
	got, err := cloud.GroupsForInterface(f.ctx, f.c, f.s, f.vpc.ID, []string{f.group.ID, f.group.ID, def})
	if err != nil || len(got) != 2 {
		t.Errorf("groups given twice: %v %v", got, err)
	}
	var nf *cloud.NotFoundError
	if _, err := cloud.GroupsForInterface(f.ctx, f.c, f.s, f.vpc.ID, []string{"sg-0123456789abcdef0"}); !errors.As(err, &nf) || nf.Kind != cloud.KindSecurityGroup {
		t.Errorf("missing group (InvalidGroup.NotFound): %v", err)
	}
	other := f.createVPC(t)
	_, err = cloud.GroupsForInterface(f.ctx, f.c, f.s, other.ID, []string{f.group.ID})
	wantCode(t, "group of another VPC", err, "InvalidParameter")
	ids := []string{def, f.group.ID}
	for i := 0; i < 4; i++ {
		ids = append(ids, f.createGroup(t, f.vpc.ID, fmt.Sprintf("g%d", i)).ID)
	}
	_, err = cloud.GroupsForInterface(f.ctx, f.c, f.s, f.vpc.ID, ids)
	wantCode(t, "six groups", err, "SecurityGroupsPerInterfaceLimitExceeded")
	if _, err := cloud.GroupsForInterface(f.ctx, f.c, f.s, f.vpc.ID, ids[:5]); err != nil {
		t.Errorf("five groups: %v", err)
	}
}

func TestSecurityGroupLimitExceeded(t *testing.T) {
	f := newGroupFixture(t)
	// The VPC's default group and "web" count.
	if err := f.c.SetQuota(f.ctx, f.s.Account, cloud.QuotaSecurityGroups, 3); err != nil {
		t.Fatal(err)
	}
	f.createGroup(t, f.vpc.ID, "third")
	_, err := f.c.CreateSecurityGroup(f.ctx, f.s, cloud.SecurityGroupRequest{Name: "fourth", Description: "x", VpcID: f.vpc.ID})
	wantCode(t, "fourth group", err, "SecurityGroupLimitExceeded")
}

func TestRulesPerSecurityGroupLimitExceeded(t *testing.T) {
	f := newGroupFixture(t)
	cloud.StubPrefixLists(t, cloud.PrefixListInfo{ID: "pl-0123456789abcdef0", MaxEntries: 50})
	pl := cloud.Permission{Protocol: "-1", PrefixLists: []cloud.PeerRange{{ID: "pl-0123456789abcdef0"}}}
	if err := f.authorize(f.group.ID, pl, cidrs(false, 10, 0)); err != nil {
		t.Fatalf("a prefix list of 50 and 10 ranges: %v", err)
	}
	wantCode(t, "a 61st IPv4 rule", f.authorize(f.group.ID, cidrs(false, 1, 10)), "RulesPerSecurityGroupLimitExceeded")
	// IPv6 rules are counted apart: the prefix list takes 50 of them too.
	if err := f.authorize(f.group.ID, cidrs(true, 10, 0)); err != nil {
		t.Fatalf("10 IPv6 rules: %v", err)
	}
	wantCode(t, "a 61st IPv6 rule", f.authorize(f.group.ID, cidrs(true, 1, 10)), "RulesPerSecurityGroupLimitExceeded")
	// Outbound rules have their own allowance (the group has one).
	if _, err := f.c.AuthorizeSecurityGroupRules(f.ctx, f.s, cloud.RuleRequest{Group: cloud.GroupSelector{ID: f.group.ID}, Egress: true, Permissions: []cloud.Permission{cidrs(false, 59, 0)}}); err != nil {
		t.Errorf("59 more egress rules: %v", err)
	}
	if err := f.c.SetQuota(f.ctx, f.s.Account, cloud.QuotaRulesPerSecurityGroup, 100); err != nil {
		t.Fatal(err)
	}
	if err := f.authorize(f.group.ID, cidrs(false, 1, 10)); err != nil {
		t.Errorf("with the quota raised: %v", err)
	}
}

func TestPeeredGroupReference(t *testing.T) {
	f := newGroupFixture(t)
	peer := f.createVPC(t)
	target := f.createGroup(t, peer.ID, "api")
	ref := cloud.Permission{Protocol: "tcp", FromPort: new(int32(443)), ToPort: new(int32(443)), Groups: []cloud.PeerGroup{{ID: target.ID}}}
	wantCode(t, "group of a VPC not peered", f.authorize(f.group.ID, ref), "InvalidGroup.NotFound")
	cloud.StubPeering(t, f.vpc.ID, peer.ID)
	rules, err := f.c.AuthorizeSecurityGroupRules(f.ctx, f.s, cloud.RuleRequest{Group: cloud.GroupSelector{ID: f.group.ID}, Permissions: []cloud.Permission{ref}})
	if err != nil || len(rules) != 1 || rules[0].Ref == nil || rules[0].Ref.VpcID != peer.ID {
		t.Fatalf("group of a peered VPC: %+v %v", rules, err)
	}
	refs, err := f.c.DescribeSecurityGroupReferences(f.ctx, f.s, []string{target.ID})
	if err != nil || len(refs) != 1 || refs[0].ReferencingVpcID != f.vpc.ID {
		t.Errorf("references: %+v %v", refs, err)
	}
	_, err = f.c.DeleteSecurityGroup(f.ctx, f.s, cloud.GroupSelector{ID: target.ID})
	wantCode(t, "referenced group", err, "DependencyViolation")
	if _, err := f.c.DeleteSecurityGroup(f.ctx, f.s, cloud.GroupSelector{ID: f.group.ID}); err != nil {
		t.Fatalf("the referring group: %v", err)
	}
	if _, err := f.c.DeleteSecurityGroup(f.ctx, f.s, cloud.GroupSelector{ID: target.ID}); err != nil {
		t.Errorf("no longer referenced: %v", err)
	}
}

func TestGroupInUseIsNotDeleted(t *testing.T) {
	f := newGroupFixture(t)
	cloud.StubGroupUser(t, f.group.ID)
	_, err := f.c.DeleteSecurityGroup(f.ctx, f.s, cloud.GroupSelector{ID: f.group.ID})
	wantCode(t, "group used by an interface", err, "DependencyViolation")
}

func TestGroupNamesInTheDefaultVPC(t *testing.T) {
	f := newGroupFixture(t)
	_, err := f.c.CreateSecurityGroup(f.ctx, f.s, cloud.SecurityGroupRequest{Name: "db", Description: "db"})
	wantCode(t, "no default VPC", err, "VPCIdNotSpecified")
	cloud.StubDefaultVPC(t, f.vpc.ID)
	db, err := f.c.CreateSecurityGroup(f.ctx, f.s, cloud.SecurityGroupRequest{Name: "db", Description: "db"})
	if err != nil || db.VpcID != f.vpc.ID {
		t.Fatalf("group in the default VPC: %+v %v", db, err)
	}
	list, _, err := f.c.DescribeSecurityGroups(f.ctx, f.s, nil, []string{"db", "web"}, nil, cloud.Page{})
	if err != nil || len(list) != 2 {
		t.Errorf("by name: %d groups, %v", len(list), err)
	}
	_, _, err = f.c.DescribeSecurityGroups(f.ctx, f.s, nil, []string{"cache"}, nil, cloud.Page{})
	wantCode(t, "missing name", err, "InvalidGroup.NotFound")
	// The legacy source group names a group of the default VPC.
	rules, err := f.c.AuthorizeSecurityGroupRules(f.ctx, f.s, cloud.RuleRequest{Group: cloud.GroupSelector{Name: "db"}, Permissions: []cloud.Permission{{Protocol: "-1", Groups: []cloud.PeerGroup{{Name: "web"}}}}})
	if err != nil || len(rules) != 1 || rules[0].Ref.GroupID != f.group.ID {
		t.Fatalf("source group by name: %+v %v", rules, err)
	}
	if _, err := f.c.DeleteSecurityGroup(f.ctx, f.s, cloud.GroupSelector{Name: "db"}); err != nil {
		t.Errorf("delete by name: %v", err)
	}
}
