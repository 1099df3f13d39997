package ec2

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"strato/internal/compute"
	"strato/internal/compute/mock"
)

func TestDescribeInstanceStatusAPI(t *testing.T) {
	d, c, ami := newInstanceService(t)
	a := runningInstance(t, d, c, ami)
	b := runningInstance(t, d, c, ami)
	mustCall(t, d, "StopInstances", "InstanceId.1", b)
	c.WaitBlockJobs()
	body := mustCall(t, d, "DescribeInstanceStatus")
	if strings.Count(body, "<instanceId>") != 1 || !strings.Contains(body, "<instanceId>"+a+"</instanceId>") {
		t.Fatalf("by default only running instances: %s", body)
	}
	// Just launched: the checks are initializing.
	for _, want := range []string{
		"<availabilityZone>us-east-1a</availabilityZone>", "<instanceState><code>16</code><name>running</name></instanceState>",
		"<systemStatus><details><item><name>reachability</name><status>initializing</status></item></details><status>initializing</status></systemStatus>",
		"<instanceStatus><details><item><name>reachability</name><status>initializing</status></item></details><status>initializing</status></instanceStatus>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("DescribeInstanceStatus lacks %s: %s", want, body)
		}
	}
	runCases(t, d, []apiCase{
		{name: "stopped, with IncludeAllInstances", action: "DescribeInstanceStatus", params: []string{"InstanceId.1", b, "IncludeAllInstances", "true"},
			contains: "<instanceState><code>80</code><name>stopped</name></instanceState><instanceStatus><status>not-applicable</status></instanceStatus><systemStatus><status>not-applicable</status></systemStatus>"},
		{name: "stopped, without", action: "DescribeInstanceStatus", params: []string{"InstanceId.1", b}, contains: "<instanceStatusSet/>"},
		{name: "state filter", action: "DescribeInstanceStatus", params: []string{"IncludeAllInstances", "true", "Filter.1.Name", "instance-state-name", "Filter.1.Value.1", "stopped"}, contains: "<instanceId>" + b + "</instanceId>"},
		{name: "IDs with MaxResults", action: "DescribeInstanceStatus", params: []string{"InstanceId.1", a, "MaxResults", "5"}, code: "InvalidParameterCombination"},
		{name: "MaxResults 4", action: "DescribeInstanceStatus", params: []string{"MaxResults", "4"}, code: "InvalidParameterValue"},
		{name: "unknown instance", action: "DescribeInstanceStatus", params: []string{"InstanceId.1", "i-0123456789abcdef0"}, code: "InvalidInstanceID.NotFound"},
		{name: "unknown filter", action: "DescribeInstanceStatus", params: []string{"Filter.1.Name", "colour", "Filter.1.Value.1", "blue"}, code: "InvalidParameterValue"},
	})
}

// An instance whose process died is reported impaired, with the moment the
// monitor saw it.
func TestImpairedInstanceStatusAPI(t *testing.T) {
	d, c, ami := newInstanceService(t)
	drv, err := mock.Open(compute.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.UseCompute(drv)
	id := runningInstance(t, d, c, ami)
	// The monitor finds instances through the accounts.
	if err := c.EnsureAccount(context.Background(), "123456789012", "test"); err != nil {
		t.Fatal(err)
	}
	if err := drv.Crash(id); err != nil {
		t.Fatal(err)
	}
	if err := c.CheckInstances(context.Background()); err != nil {
		t.Fatal(err)
	}
	body := mustCall(t, d, "DescribeInstanceStatus", "InstanceId.1", id)
	if !regexp.MustCompile(`<instanceStatus><details><item><impairedSince>[0-9T:.-]+Z</impairedSince><name>reachability</name><status>failed</status></item></details><status>impaired</status></instanceStatus>`).MatchString(body) {
		t.Fatalf("a crashed instance: %s", body)
	}
	runCases(t, d, []apiCase{
		{name: "impaired filter", action: "DescribeInstanceStatus", params: []string{"Filter.1.Name", "instance-status.status", "Filter.1.Value.1", "impaired"}, contains: "<instanceId>" + id + "</instanceId>"},
		{name: "system still ok", action: "DescribeInstanceStatus", params: []string{"Filter.1.Name", "system-status.status", "Filter.1.Value.1", "impaired"}, contains: "<instanceStatusSet/>"},
	})
}
