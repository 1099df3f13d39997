// Command vpcseed fills a strato account with the VPC benchmark's data set through the
// EC2 API (aws-sdk-go-v2): VPCs × subnets, each subnet tagged Name=subnet-N, and
// security groups × rules. It prints the IDs of the groups, one per line, for
// bench/loadgen's -values.
//
//	vpcseed -endpoint http://127.0.0.1:PORT -credentials DIR/credentials \
//	        -vpcs 50 -subnets-per-vpc 200 -groups 400 -rules-per-group 50 > groups.txt
//
// The account's quotas must allow it (bench/vpc.sh raises vpcs-per-region first).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func main() {
	endpoint := flag.String("endpoint", "", "strato endpoint (loopback)")
	creds := flag.String("credentials", "", "AWS shared-credentials file")
	nVPCs := flag.Int("vpcs", 50, "VPCs to create (10.N.0.0/16, N < 256)")
	perVPC := flag.Int("subnets-per-vpc", 200, "subnets per VPC (/24s, at most 256)")
	nGroups := flag.Int("groups", 400, "security groups to create, spread over the VPCs")
	perGroup := flag.Int("rules-per-group", 50, "ingress rules per group (one /32 each)")
	workers := flag.Int("concurrency", 8, "concurrent requests")
	flag.Parse()
	if err := run(*endpoint, *creds, *nVPCs, *perVPC, *nGroups, *perGroup, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "vpcseed:", err)
		os.Exit(1)
	}
}

func run(endpoint, creds string, nVPCs, perVPC, nGroups, perGroup, workers int) error {
	if endpoint == "" || creds == "" || nVPCs < 1 || nVPCs > 256 || perVPC < 0 || perVPC > 256 || perGroup > 60 {
		return fmt.Errorf("want -endpoint, -credentials, 1..256 VPCs, 0..256 subnets per VPC, <= 60 rules per group")
	}
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithSharedCredentialsFiles([]string{creds}), config.WithRegion("us-east-1"))
	if err != nil {
		return err
	}
	cfg.BaseEndpoint = aws.String(endpoint)
	c := ec2.NewFromConfig(cfg)
	start := time.Now()

	vpcs := make([]string, nVPCs)
	if err := parallel(nVPCs, workers, func(i int) error {
		out, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(fmt.Sprintf("10.%d.0.0/16", i))})
		if err == nil {
			vpcs[i] = *out.Vpc.VpcId
		}
		return err
	}); err != nil {
		return fmt.Errorf("CreateVpc: %w", err)
	}
	var made atomic.Int64
	if err := parallel(nVPCs*perVPC, workers, func(n int) error {
		v, s := n/perVPC, n%perVPC
		_, err := c.CreateSubnet(ctx, &ec2.CreateSubnetInput{
			VpcId: &vpcs[v], CidrBlock: aws.String(fmt.Sprintf("10.%d.%d.0/24", v, s)),
			TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSubnet, Tags: []types.Tag{
				{Key: aws.String("Name"), Value: aws.String(fmt.Sprintf("subnet-%d", n))},
			}}},
		})
		if made.Add(1)%2000 == 0 {
			fmt.Fprintf(os.Stderr, "  %d subnets (%.0fs)\n", made.Load(), time.Since(start).Seconds())
		}
		return err
	}); err != nil {
		return fmt.Errorf("CreateSubnet: %w", err)
	}
	groups := make([]string, nGroups)
	if err := parallel(nGroups, workers, func(g int) error {
		out, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
			GroupName: aws.String(fmt.Sprintf("bench-%d", g)), Description: aws.String("benchmark group"), VpcId: &vpcs[g%nVPCs],
		})
		if err != nil {
			return err
		}
		groups[g] = *out.GroupId
		perm := types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(443), ToPort: aws.Int32(443)}
		for r := 0; r < perGroup; r++ {
			perm.IpRanges = append(perm.IpRanges, types.IpRange{CidrIp: aws.String(fmt.Sprintf("192.0.%d.%d/32", r/250, r%250+1))})
		}
		if perGroup > 0 {
			_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: out.GroupId, IpPermissions: []types.IpPermission{perm}})
		}
		return err
	}); err != nil {
		return fmt.Errorf("security groups: %w", err)
	}
	for _, g := range groups {
		fmt.Println(g)
	}
	fmt.Fprintf(os.Stderr, "seeded %d VPCs, %d subnets, %d groups with %d rules in %.0fs\n",
		nVPCs, nVPCs*perVPC, nGroups, nGroups*perGroup, time.Since(start).Seconds())
	return nil
}

// parallel runs fn(0..n-1) on workers goroutines and returns the first error.
func parallel(n, workers int, fn func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}
