// Command instbench measures instances through the EC2 API (aws-sdk-go-v2) of a
// strato on loopback, for bench/instances.sh.
//
//	instbench -endpoint URL -credentials FILE -mode launch -n 20 -ami AMI -key-name K -key-file K.pem
//	    n times, one after another: RunInstances → state running, and → the first
//	    SSH command that succeeds on the public IP; prints both medians (ms).
//	instbench ... -mode fleet -n 100 -ami AMI
//	    one RunInstances of n instances → all running (s), then the host's
//	    memory in use per idle instance (MiB; page cache left out, see memUsed).
//	instbench ... -mode describe -n 1000 -ami AMI
//	    n instances (mock driver), then DescribeInstances of all of them and of one
//	    by ID, 50 times each; prints the p50s (ms).
//
// Every instance it runs is terminated before it exits.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"golang.org/x/crypto/ssh"
)

type bench struct {
	ec2    *ec2.Client
	ami    string
	key    string
	signer ssh.Signer
	itype  string
	group  string // security group for the launch mode's instances
}

func main() {
	endpoint := flag.String("endpoint", "", "strato endpoint (loopback)")
	creds := flag.String("credentials", "", "AWS shared-credentials file")
	mode := flag.String("mode", "launch", "launch, fleet or describe")
	n := flag.Int("n", 20, "how many instances")
	ami := flag.String("ami", "", "image to launch")
	keyName := flag.String("key-name", "", "key pair (launch)")
	keyFile := flag.String("key-file", "", "its private key, PEM (launch)")
	group := flag.String("security-group", "", "security group ID that lets SSH in (launch)")
	itype := flag.String("instance-type", "t3.micro", "instance type")
	idle := flag.Duration("idle", 10*time.Second, "how long the fleet idles before the memory is read (fleet)")
	flag.Parse()
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithSharedCredentialsFiles([]string{*creds}), config.WithRegion("us-east-1"))
	if err != nil {
		fail(err)
	}
	cfg.BaseEndpoint = aws.String(*endpoint)
	b := &bench{ec2: ec2.NewFromConfig(cfg), ami: *ami, key: *keyName, itype: *itype, group: *group}
	if *keyFile != "" {
		pem, err := os.ReadFile(*keyFile)
		if err != nil {
			fail(err)
		}
		if b.signer, err = ssh.ParsePrivateKey(pem); err != nil {
			fail(err)
		}
	}
	switch *mode {
	case "launch":
		err = b.launch(ctx, *n)
	case "fleet":
		err = b.fleet(ctx, *n, *idle)
	case "describe":
		err = b.describe(ctx, *n)
	default:
		err = fmt.Errorf("unknown -mode %q", *mode)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "instbench:", err)
	os.Exit(1)
}

func (b *bench) run(ctx context.Context, count int32) ([]string, error) {
	in := &ec2.RunInstancesInput{ImageId: &b.ami, InstanceType: types.InstanceType(b.itype), MinCount: &count, MaxCount: &count}
	if b.key != "" {
		in.KeyName = &b.key
	}
	if b.group != "" {
		in.SecurityGroupIds = []string{b.group}
	}
	out, err := b.ec2.RunInstances(ctx, in)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(out.Instances))
	for i, inst := range out.Instances {
		ids[i] = *inst.InstanceId
	}
	return ids, nil
}

// waitRunning polls every 10 ms until every instance runs, returning the public
// IPs by ID.
func (b *bench) waitRunning(ctx context.Context, ids []string, limit time.Duration) (map[string]string, error) {
	deadline := time.Now().Add(limit)
	for {
		ips := map[string]string{}
		running := 0
		p := ec2.NewDescribeInstancesPaginator(b.ec2, &ec2.DescribeInstancesInput{InstanceIds: ids})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, err
			}
			for _, r := range page.Reservations {
				for _, inst := range r.Instances {
					if inst.State.Name == types.InstanceStateNameRunning {
						running++
						ips[*inst.InstanceId] = aws.ToString(inst.PublicIpAddress)
					}
				}
			}
		}
		if running == len(ids) {
			return ips, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d instances running after %s", running, len(ids), limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (b *bench) terminate(ctx context.Context, ids []string) error {
	for start := 0; start < len(ids); start += 1000 {
		end := min(start+1000, len(ids))
		if _, err := b.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids[start:end]}); err != nil {
			return err
		}
	}
	return nil
}

// sshReady tries an SSH command every 20 ms until one succeeds.
func (b *bench) sshReady(ip string, limit time.Duration) error {
	cfg := &ssh.ClientConfig{User: "ec2-user", Auth: []ssh.AuthMethod{ssh.PublicKeys(b.signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: time.Second}
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		if last = sshTrue(ip, cfg); last == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("no SSH on %s after %s: %v", ip, limit, last)
}

func sshTrue(ip string, cfg *ssh.ClientConfig) error {
	client, err := ssh.Dial("tcp", net.JoinHostPort(ip, "22"), cfg)
	if err != nil {
		return err
	}
	defer client.Close()
	s, err := client.NewSession()
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Run("true")
}

func (b *bench) launch(ctx context.Context, n int) error {
	if b.signer == nil || b.key == "" {
		return errors.New("launch needs -key-name and -key-file")
	}
	var toRunning, toSSH []time.Duration
	for i := range n {
		start := time.Now()
		ids, err := b.run(ctx, 1)
		if err != nil {
			return err
		}
		ips, err := b.waitRunning(ctx, ids, time.Minute)
		if err != nil {
			return err
		}
		toRunning = append(toRunning, time.Since(start))
		if err := b.sshReady(ips[ids[0]], time.Minute); err != nil {
			b.terminate(ctx, ids)
			return err
		}
		toSSH = append(toSSH, time.Since(start))
		fmt.Fprintf(os.Stderr, "  %2d: running %4d ms, ssh %4d ms\n", i+1, toRunning[i].Milliseconds(), toSSH[i].Milliseconds())
		if err := b.terminate(ctx, ids); err != nil {
			return err
		}
	}
	fmt.Printf("run_to_running_ms_median %d\nrun_to_ssh_ms_median %d\nlaunches %d\n", median(toRunning).Milliseconds(), median(toSSH).Milliseconds(), n)
	return nil
}

func (b *bench) fleet(ctx context.Context, n int, idle time.Duration) error {
	before, err := memUsed()
	if err != nil {
		return err
	}
	start := time.Now()
	ids, err := b.run(ctx, int32(n))
	if err != nil {
		return err
	}
	defer b.terminate(ctx, ids)
	if _, err := b.waitRunning(ctx, ids, 5*time.Minute); err != nil {
		return err
	}
	took := time.Since(start)
	// Idle: let the guests finish booting before the memory is read.
	time.Sleep(idle)
	after, err := memUsed()
	if err != nil {
		return err
	}
	perInstance := float64(after-before) / float64(n) / (1 << 20)
	fmt.Printf("fleet_instances %d\nfleet_all_running_s %.2f\nmemory_per_idle_instance_mib %.1f\n", n, took.Seconds(), perInstance)
	return nil
}

func (b *bench) describe(ctx context.Context, n int) error {
	var ids []string
	for len(ids) < n {
		batch, err := b.run(ctx, int32(min(100, n-len(ids))))
		if err != nil {
			return err
		}
		ids = append(ids, batch...)
	}
	defer b.terminate(ctx, ids)
	if _, err := b.waitRunning(ctx, ids, 5*time.Minute); err != nil {
		return err
	}
	timeIt := func(in *ec2.DescribeInstancesInput, want int) (time.Duration, error) {
		var took []time.Duration
		for range 50 {
			start := time.Now()
			out, err := b.ec2.DescribeInstances(ctx, in)
			if err != nil {
				return 0, err
			}
			took = append(took, time.Since(start))
			got := 0
			for _, r := range out.Reservations {
				got += len(r.Instances)
			}
			if got != want {
				return 0, fmt.Errorf("DescribeInstances listed %d instances, want %d", got, want)
			}
		}
		return median(took), nil
	}
	all, err := timeIt(&ec2.DescribeInstancesInput{}, n)
	if err != nil {
		return err
	}
	one, err := timeIt(&ec2.DescribeInstancesInput{InstanceIds: ids[n/2 : n/2+1]}, 1)
	if err != nil {
		return err
	}
	fmt.Printf("describe_instances %d\ndescribe_all_p50_ms %.1f\ndescribe_one_p50_ms %.2f\n", n, ms(all), ms(one))
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// memUsed is the host's memory in use, in bytes, as free(1) counts it: what is
// neither free nor page cache nor reclaimable slab. Page cache is left out
// because launching writes every root volume through it (the restore from the
// image's snapshot), which is not memory an idle instance holds.
func memUsed() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	kb := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 {
			kb[strings.TrimSuffix(fields[0], ":")], _ = strconv.ParseInt(fields[1], 10, 64)
		}
	}
	if kb["MemTotal"] == 0 {
		return 0, errors.New("no MemTotal in /proc/meminfo")
	}
	return (kb["MemTotal"] - kb["MemFree"] - kb["Buffers"] - kb["Cached"] - kb["SReclaimable"]) << 10, sc.Err()
}
