// Package ec2 is the EC2 service: for each implemented operation it validates the
// request as AWS does, calls the control plane, and shapes the answer. Errors become
// AWS error codes in one place (errors.go).
package ec2

import (
	"context"
	"errors"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
	"strato/internal/cloud/filter"
)

// Service holds what handlers need.
type Service struct {
	cloud *cloud.Cloud
}

// New returns the EC2 dispatcher with every implemented operation registered.
func New(c *cloud.Cloud) *awsapi.EC2 {
	s := &Service{cloud: c}
	d := awsapi.NewEC2()
	for _, register := range areas {
		register(s, d)
	}
	d.Prepare = func(ctx context.Context, call *awsapi.EC2Call) error {
		return c.EnsureDefaultVPC(ctx, scope(call))
	}
	return d
}

// areas register the operations of one EC2 area each; every area's file adds
// itself in init.
var areas []func(*Service, *awsapi.EC2)

// handle registers an operation: a dry run reaches the control plane marked as one,
// and every error leaves through toAPIError.
func handle[In, Out any](d *awsapi.EC2, action string, fn func(ctx context.Context, c *awsapi.EC2Call, in *In) (*Out, error)) {
	awsapi.HandleEC2(d, action, func(ctx context.Context, c *awsapi.EC2Call, in *In) (*Out, error) {
		if c.DryRun {
			ctx = cloud.WithDryRun(ctx)
		}
		out, err := fn(ctx, c, in)
		if errors.Is(err, cloud.ErrDryRun) {
			// The dispatcher answers DryRunOperation for a dry run that would succeed.
			return nil, nil
		}
		if err != nil {
			return nil, toAPIError(err)
		}
		return out, nil
	})
}

func scope(c *awsapi.EC2Call) cloud.Scope {
	return cloud.Scope{Account: c.AccountID, Region: c.Region}
}

func filters(in []ec2api.Filter) []filter.Filter {
	out := make([]filter.Filter, len(in))
	for i, f := range in {
		out[i] = filter.Filter{Name: deref(f.Name), Values: f.Values}
	}
	return out
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func ptr[T any](v T) *T { return &v }

// optional is nil for "", so that an empty value leaves its element out.
func optional(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}
