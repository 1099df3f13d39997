package cloud_test

import (
	"context"
	"testing"

	"strato/internal/cloud"
	"strato/internal/cloud/filter"
)

func filterOf(name string, values ...string) []filter.Filter {
	return []filter.Filter{{Name: name, Values: values}}
}

// Status checks: initializing for a short while after launch, then ok;
// running instances only unless IncludeAllInstances, others not-applicable.
func TestDescribeInstanceStatus(t *testing.T) {
	f := newInstanceFixture(t)
	ctx := context.Background()
	r := f.run(t, cloud.RunRequest{MinCount: 2, MaxCount: 2})
	f.c.WaitBlockJobs()
	a, b := r.Instances[0].ID, r.Instances[1].ID
	describe := func(ids []string, all bool, filters ...string) []cloud.InstanceStatus {
		t.Helper()
		var fs []filter.Filter
		if len(filters) == 2 {
			fs = filterOf(filters[0], filters[1])
		}
		list, _, err := f.c.DescribeInstanceStatus(ctx, instScope, ids, all, fs, cloud.Page{})
		if err != nil {
			t.Fatal(err)
		}
		return list
	}
	st := describe([]string{a}, false)
	if len(st) != 1 || st[0].System.Status != cloud.StatusInitializing || st[0].Instance.Reachability != cloud.CheckInitializing || st[0].AvailabilityZone != "us-east-1a" {
		t.Fatalf("just launched: %+v", st)
	}
	f.clock.Advance(cloud.StatusInitializingPeriod)
	st = describe([]string{a}, false)
	if st[0].System.Status != cloud.StatusOK || st[0].Instance.Status != cloud.StatusOK || st[0].System.Reachability != cloud.CheckPassed {
		t.Fatalf("settled: %+v", st)
	}
	if _, err := f.c.StopInstances(ctx, instScope, []string{b}, false); err != nil {
		t.Fatal(err)
	}
	f.c.WaitBlockJobs()
	if st := describe(nil, false); len(st) != 1 || st[0].InstanceID != a {
		t.Fatalf("by default only running instances: %+v", st)
	}
	if st := describe([]string{b}, false); len(st) != 0 {
		t.Fatalf("a stopped instance named without IncludeAllInstances: %+v", st)
	}
	st = describe([]string{b}, true)
	if len(st) != 1 || st[0].State != cloud.InstanceStopped || st[0].System.Status != cloud.StatusNotApplicable || st[0].Instance.Status != cloud.StatusNotApplicable {
		t.Fatalf("IncludeAllInstances: %+v", st)
	}
	for _, tc := range []struct {
		name, value string
		want        int
	}{
		{"instance-state-name", "stopped", 1},
		{"instance-state-code", "16", 1},
		{"system-status.status", "ok", 1},
		{"instance-status.reachability", "passed", 1},
		{"availability-zone", "us-east-1a", 2},
		{"event.code", "system-reboot", 0},
	} {
		if got := describe(nil, true, tc.name, tc.value); len(got) != tc.want {
			t.Errorf("filter %s=%s: %d, want %d", tc.name, tc.value, len(got), tc.want)
		}
	}
	_, _, err := f.c.DescribeInstanceStatus(ctx, instScope, nil, true, filterOf("tag:Name", "x"), cloud.Page{})
	wantCode(t, "tag filter", err, "InvalidParameterValue")
	_, _, err = f.c.DescribeInstanceStatus(ctx, instScope, []string{"i-0123456789abcdef0"}, true, nil, cloud.Page{})
	if _, ok := err.(*cloud.NotFoundError); !ok {
		t.Errorf("unknown instance: %v", err)
	}
	one := int32(5)
	page, next, err := f.c.DescribeInstanceStatus(ctx, instScope, nil, true, nil, cloud.Page{MaxResults: &one})
	if err != nil || len(page) != 2 || next != "" {
		t.Errorf("page: %v %q %v", page, next, err)
	}
}
