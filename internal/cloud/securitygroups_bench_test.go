package cloud_test

import (
	"context"
	"fmt"
	"testing"

	"strato/internal/cloud"
	"strato/internal/cloud/cloudtest"
)

// BenchmarkDescribeSecurityGroupByID measures DescribeSecurityGroups naming one
// group among 400 groups of 50 rules each (20,000 rules in one account), issue 3's
// figure; one authorization per group adds its 50 rules in one transaction.
func BenchmarkDescribeSecurityGroupByID(b *testing.B) {
	ctx := context.Background()
	c := cloudtest.New(b)
	acct, _, err := c.CreateAccount(ctx, "", "bench")
	if err != nil {
		b.Fatal(err)
	}
	s := cloud.Scope{Account: acct.ID, Region: "us-east-1"}
	vpc, err := c.CreateVPC(ctx, s, cloud.VPCRequest{CIDR: "10.0.0.0/16"})
	if err != nil {
		b.Fatal(err)
	}
	const groups, perGroup = 400, 50
	var ids []string
	for g := 0; g < groups; g++ {
		sg, err := c.CreateSecurityGroup(ctx, s, cloud.SecurityGroupRequest{Name: fmt.Sprintf("group-%d", g), Description: "bench", VpcID: vpc.ID})
		if err != nil {
			b.Fatal(err)
		}
		perms := make([]cloud.Permission, perGroup)
		for i := range perms {
			port := int32(1000 + i)
			perms[i] = cloud.Permission{Protocol: "tcp", FromPort: &port, ToPort: &port, IPv4: []cloud.PeerRange{{ID: fmt.Sprintf("10.%d.%d.0/24", g%250, i)}}}
		}
		if _, err := c.AuthorizeSecurityGroupRules(ctx, s, cloud.RuleRequest{Group: cloud.GroupSelector{ID: sg.ID}, Permissions: perms}); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, sg.ID)
	}
	want := []string{ids[groups/2]}
	b.ResetTimer()
	for b.Loop() {
		list, _, err := c.DescribeSecurityGroups(ctx, s, want, nil, nil, cloud.Page{})
		// 50 ingress rules and the egress rule every new group starts with.
		if err != nil || len(list) != 1 || len(list[0].Ingress) != perGroup || len(list[0].Egress) != 1 {
			b.Fatalf("%v, %v", list, err)
		}
	}
}
