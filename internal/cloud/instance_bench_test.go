package cloud_test

import (
	"context"
	"testing"

	"strato/internal/cloud"
)

// DescribeInstances of all of 1,000 instances, each with its root volume and
// interface, in the control plane (no HTTP): the figure behind bench/instances.sh.
func BenchmarkDescribeInstances1000(b *testing.B) {
	f := newInstanceFixture(b)
	ctx := context.Background()
	sn, err := f.c.CreateSubnet(ctx, instScope, cloud.SubnetRequest{VpcID: f.subnet.VpcID, CIDR: "10.0.16.0/20", AvailabilityZone: "us-east-1a"})
	if err != nil {
		b.Fatal(err)
	}
	for range 10 {
		if _, err := f.c.RunInstances(ctx, instScope, "", cloud.RunRequest{ImageID: f.image.ID, SubnetID: sn.ID, InstanceType: "t3.micro", MinCount: 100, MaxCount: 100}); err != nil {
			b.Fatal(err)
		}
	}
	f.c.WaitBlockJobs()
	b.ResetTimer()
	for b.Loop() {
		list, _, err := f.c.DescribeInstances(ctx, instScope, nil, nil, cloud.Page{})
		if err != nil || len(list) != 1000 {
			b.Fatalf("%d instances, %v", len(list), err)
		}
	}
}
