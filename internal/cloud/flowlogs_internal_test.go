package cloud

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"strato/internal/netpolicy"
	"strato/internal/store"
)

func TestFlowLogsOfVPC(t *testing.T) {
	c, _ := newInternalCloud(t)
	ctx := context.Background()
	s := internalScope
	dir := t.TempDir()
	defer func(old string) { FlowLogDir = old }(FlowLogDir)
	FlowLogDir = dir
	sn := newTestSubnet(t, c, "10.0.1.0/24")
	other, err := c.CreateSubnet(ctx, s, SubnetRequest{VpcID: sn.VpcID, CIDR: "10.0.2.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.CreateNetworkInterface(ctx, s, "", InterfaceRequest{SubnetID: sn.ID})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.CreateNetworkInterface(ctx, s, "", InterfaceRequest{SubnetID: other.ID})
	if err != nil {
		t.Fatal(err)
	}
	req := func(kind, id, traffic, group string) FlowLogRequest {
		return FlowLogRequest{ResourceType: kind, ResourceIDs: []string{id}, TrafficType: traffic, LogGroupName: group,
			DeliverLogsPermissionArn: "arn:aws:iam::111122223333:role/fl"}
	}
	for _, r := range []FlowLogRequest{
		req("VPC", sn.VpcID, "REJECT", "/vpc/../../escape"),
		req("Subnet", other.ID, "ALL", "subnets"),
		req("NetworkInterface", a.ID, "ACCEPT", "enis"),
	} {
		if out, err := c.CreateFlowLogs(ctx, s, "", r); err != nil || len(out.IDs) != 1 {
			t.Fatalf("%+v: %+v %v", r, out, err)
		}
	}
	ifaces := []netpolicy.Interface{{ID: a.ID, SubnetID: sn.ID}, {ID: b.ID, SubnetID: other.ID}}
	var got []netpolicy.FlowLog
	if err := c.view(ctx, func(tx store.Tx) error {
		got, err = flowLogsOfVPC(tx, s, sn.VpcID, ifaces)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	type entry struct{ iface, traffic, path string }
	var entries []entry
	for _, f := range got {
		if f.AggregationInterval != 600 || f.Format == "" || f.ID == "" {
			t.Errorf("entry lacks its settings: %+v", f)
		}
		entries = append(entries, entry{f.ResourceID, f.TrafficType, f.Destination})
	}
	want := []entry{
		{a.ID, "REJECT", filepath.Join(dir, "escape", a.ID+"-all")},
		{b.ID, "REJECT", filepath.Join(dir, "escape", b.ID+"-all")},
		{b.ID, "ALL", filepath.Join(dir, "subnets", b.ID+"-all")},
		{a.ID, "ACCEPT", filepath.Join(dir, "enis", a.ID+"-all")},
	}
	for _, w := range want {
		if !slices.Contains(entries, w) {
			t.Errorf("missing %+v in %+v", w, entries)
		}
	}
	if len(entries) != len(want) {
		t.Errorf("got %d entries, want %d: %+v", len(entries), len(want), entries)
	}
}
