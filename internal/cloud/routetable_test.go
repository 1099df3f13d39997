package cloud_test

import (
	"context"
	"errors"
	"testing"

	"strato/internal/cloud"
	"strato/internal/cloud/cloudtest"
	"strato/internal/cloud/filter"
)

// TestMiddleboxRoutes covers the routes that need targets other kinds own (NAT
// gateways, network interfaces), faked here: routes more specific than the local
// route, a replaced and restored local route, and blackholes.
func TestMiddleboxRoutes(t *testing.T) {
	c := cloudtest.New(t)
	ctx := context.Background()
	vpc, err := c.CreateVPC(ctx, testScope, cloud.VPCRequest{CIDR: "10.0.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateSubnet(ctx, testScope, cloud.SubnetRequest{VpcID: vpc.ID, CIDR: "10.0.1.0/24"}); err != nil {
		t.Fatal(err)
	}
	table, err := c.CreateRouteTable(ctx, testScope, vpc.ID, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	eni, nat := cloud.NewID("eni"), cloud.NewID("nat")
	natActive := true
	cloud.FakeRouteTarget(t, cloud.KindNetworkInterface, func(id string) (cloud.RouteTarget, bool) {
		return cloud.RouteTarget{VpcIDs: []string{vpc.ID}, Active: true}, id == eni
	})
	cloud.FakeRouteTarget(t, cloud.KindNATGateway, func(id string) (cloud.RouteTarget, bool) {
		return cloud.RouteTarget{VpcIDs: []string{vpc.ID}, Active: natActive}, id == nat
	})
	route := func(dest, param, target string) cloud.RouteRequest {
		return cloud.RouteRequest{TableID: table.ID, DestinationCIDR: dest, Targets: map[string]string{param: target}}
	}
	for _, tc := range []struct {
		name string
		req  cloud.RouteRequest
		code string
	}{
		{"a subnet's block to an interface", route("10.0.1.0/24", "NetworkInterfaceId", eni), ""},
		{"inside the VPC but not a subnet's block", route("10.0.2.0/24", "NatGatewayId", nat), "InvalidParameterValue"},
		{"default route to a NAT gateway", route("0.0.0.0/0", "NatGatewayId", nat), ""},
		{"NAT gateway by GatewayId, as AWS accepts", route("192.0.2.0/24", "GatewayId", nat), ""},
		{"missing interface", route("198.51.100.0/24", "NetworkInterfaceId", cloud.NewID("eni")), "not found"},
	} {
		err := c.CreateRoute(ctx, testScope, tc.req)
		got := codeOf(err)
		var nf *cloud.NotFoundError
		if errors.As(err, &nf) && nf.Kind == cloud.KindNetworkInterface {
			got = "not found"
		}
		if got != tc.code {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.code)
		}
	}
	// The local route's target can become a middlebox and be restored.
	if err := c.ReplaceRoute(ctx, testScope, route("10.0.0.0/16", "NetworkInterfaceId", eni)); err != nil {
		t.Fatalf("replacing the local route's target: %v", err)
	}
	if err := c.DeleteRoute(ctx, testScope, table.ID, "10.0.0.0/16", "", ""); codeOf(err) != "InvalidParameterValue" {
		t.Errorf("deleting a replaced local route: %v", err)
	}
	if err := c.ReplaceRoute(ctx, testScope, cloud.RouteRequest{TableID: table.ID, DestinationCIDR: "10.0.0.0/16", LocalTarget: true}); err != nil {
		t.Fatalf("restoring the local route: %v", err)
	}
	natActive = false
	list, _, err := c.DescribeRouteTables(ctx, testScope, []string{table.ID}, nil, cloud.Page{})
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, r := range list[0].Routes {
		states[r.Destination()+" "+r.Target] = r.State
	}
	for key, want := range map[string]string{
		"10.0.0.0/16 local": cloud.RouteActive, "10.0.1.0/24 " + eni: cloud.RouteActive,
		"0.0.0.0/0 " + nat: cloud.RouteBlackhole, "192.0.2.0/24 " + nat: cloud.RouteBlackhole,
	} {
		if states[key] != want {
			t.Errorf("route %s is %q, want %q (all: %v)", key, states[key], want, states)
		}
	}
	list, _, err = c.DescribeRouteTables(ctx, testScope, nil, []filter.Filter{{Name: "route.nat-gateway-id", Values: []string{nat}}}, cloud.Page{})
	if err != nil || len(list) != 1 || list[0].ID != table.ID {
		t.Errorf("route.nat-gateway-id filter: %v %v", list, err)
	}
}
