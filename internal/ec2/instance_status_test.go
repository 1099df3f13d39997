package ec2

import (
	"strings"
	"testing"
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
