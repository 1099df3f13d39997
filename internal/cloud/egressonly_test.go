package cloud_test

import (
	"context"
	"testing"

	"strato/internal/cloud"
	"strato/internal/cloud/cloudtest"
)

// newAccountScope makes an account and returns its scope in us-east-1, with the
// VPC quota raised so tests can make as many VPCs as they need.
func newAccountScope(t *testing.T, c *cloud.Cloud, name string) cloud.Scope {
	t.Helper()
	ctx := context.Background()
	acct, _, err := c.CreateAccount(ctx, "", name)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetQuota(ctx, acct.ID, cloud.QuotaVPCs, 1000); err != nil {
		t.Fatal(err)
	}
	return cloud.Scope{Account: acct.ID, Region: "us-east-1"}
}

func TestEgressOnlyGatewayQuota(t *testing.T) {
	c := cloudtest.New(t)
	ctx := context.Background()
	s := newAccountScope(t, c, "eigw")
	for i := 0; i <= 5; i++ {
		vpc, err := c.CreateVPC(ctx, s, cloud.VPCRequest{CIDR: "10.0.0.0/16"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.CreateEgressOnlyInternetGateway(ctx, s, vpc.ID, nil, "")
		want := ""
		if i == 5 {
			want = "ResourceLimitExceeded"
		}
		if codeOf(err) != want || want == "" && err != nil {
			t.Fatalf("gateway %d: got %v, want %q", i+1, err, want)
		}
	}
}
