package cloud_test

import (
	"context"
	"fmt"
	"testing"

	"strato/internal/cloud"
	"strato/internal/cloud/cloudtest"
	"strato/internal/cloud/filter"
)

// benchVPCs × 200 subnets: 50 gives issue 3's figure, DescribeSubnets with a tag
// filter among 10,000 subnets of one account (go test -bench . -benchvpcs 50).
var benchVPCs = 50

// BenchmarkDescribeSubnetsByTag measures DescribeSubnets with an exact tag filter.
func BenchmarkDescribeSubnetsByTag(b *testing.B) {
	ctx := context.Background()
	c := cloudtest.New(b)
	acct, _, err := c.CreateAccount(ctx, "", "bench")
	if err != nil {
		b.Fatal(err)
	}
	for _, q := range []string{cloud.QuotaVPCs, cloud.QuotaSubnets} {
		if err := c.SetQuota(ctx, acct.ID, q, 100000); err != nil {
			b.Fatal(err)
		}
	}
	s := cloud.Scope{Account: acct.ID, Region: "us-east-1"}
	vpcCount, perVPC := benchVPCs, 200
	for v := 0; v < vpcCount; v++ {
		vpc, err := c.CreateVPC(ctx, s, cloud.VPCRequest{CIDR: "10.0.0.0/16"})
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < perVPC; i++ {
			tags := []cloud.Tag{{Key: "Name", Value: fmt.Sprintf("subnet-%d-%d", v, i)}, {Key: "tier", Value: []string{"web", "app", "db"}[i%3]}}
			if _, err := c.CreateSubnet(ctx, s, cloud.SubnetRequest{VpcID: vpc.ID, CIDR: fmt.Sprintf("10.0.%d.0/28", i), Tags: tags}); err != nil {
				b.Fatal(err)
			}
		}
	}
	filters := []filter.Filter{{Name: "tag:Name", Values: []string{fmt.Sprintf("subnet-%d-42", vpcCount/2)}}}
	b.ResetTimer()
	for b.Loop() {
		list, _, err := c.DescribeSubnets(ctx, s, nil, filters, cloud.Page{})
		if err != nil || len(list) != 1 {
			b.Fatalf("%d subnets, %v", len(list), err)
		}
	}
}
