package e2e

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"golang.org/x/crypto/ssh"
)

// instanceCloud is a `strato serve` with the container driver: real instances on a
// network of the test's own (its own name prefix and public /24), the minimal image
// built, and a key pair. Instances, namespaces and links are gone after the test,
// also when it fails.
type instanceCloud struct {
	*server
	t        *testing.T
	c        *ec2.Client
	account  string
	prefix   string
	hostAddr netip.Addr   // the host's end of the link to "the internet"
	hostLink netip.Prefix // that link's /30
	ami      string
	keyName  string
	signer   ssh.Signer
}

// needInstances skips unless real instances can run here (root, runc, the image
// tools); with STRATO_TEST_REQUIRE_TOOLS set it fails instead.
func needInstances(t *testing.T) {
	t.Helper()
	needImageTools(t)
	why := ""
	if os.Geteuid() != 0 {
		why = "real instances need root"
	} else if _, err := exec.LookPath("runc"); err != nil {
		why = "real instances need runc"
	}
	if why == "" {
		return
	}
	if os.Getenv("STRATO_TEST_REQUIRE_TOOLS") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
}

func startInstanceCloud(t *testing.T, flags ...string) *instanceCloud {
	t.Helper()
	needInstances(t)
	prefix := fmt.Sprintf("e2e%04x", rand.IntN(0x10000))
	pool := fmt.Sprintf("198.19.%d.0/24", 100+rand.IntN(100))
	// Registered first, so it runs last: after every instance is gone and strato
	// has stopped, the network goes.
	t.Cleanup(func() {
		if out, err := exec.Command(stratoBin, "net", "teardown", "--net-prefix", prefix).CombinedOutput(); err != nil {
			t.Errorf("strato net teardown: %v\n%s", err, out)
		}
	})
	s := startServer(t, "", append([]string{"--driver", "container", "--net-prefix", prefix, "--public-pool", pool}, flags...)...)
	s.account("e2e")
	ic := &instanceCloud{server: s, t: t, c: s.ec2("e2e"), prefix: prefix}
	t.Cleanup(ic.terminateAll)
	who := answer(s.sts("e2e").GetCallerIdentity(ctx(t), nil)).must(t)
	ic.account = aws.ToString(who.Account)

	out, err := exec.Command(stratoBin, "image", "build", "minimal", "--data-dir", s.dataDir).CombinedOutput()
	if err != nil {
		t.Fatalf("image build: %v\n%s", err, out)
	}
	images := answer(ic.c.DescribeImages(ctx(t), &ec2.DescribeImagesInput{Owners: []string{"amazon"},
		Filters: []types.Filter{{Name: aws.String("name"), Values: []string{"strato-minimal-*"}}}})).must(t)
	if len(images.Images) != 1 {
		t.Fatalf("%d minimal images", len(images.Images))
	}
	ic.ami = aws.ToString(images.Images[0].ImageId)

	ic.keyName = "e2e"
	key := answer(ic.c.CreateKeyPair(ctx(t), &ec2.CreateKeyPairInput{KeyName: &ic.keyName})).must(t)
	if ic.signer, err = ssh.ParsePrivateKey([]byte(aws.ToString(key.KeyMaterial))); err != nil {
		t.Fatal(err)
	}

	link, err := net.InterfaceByName(prefix + "-inet0")
	if err != nil {
		t.Fatalf("the host link: %v", err)
	}
	addrs, err := link.Addrs()
	if err != nil || len(addrs) == 0 {
		t.Fatalf("the host link's addresses: %v %v", addrs, err)
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() {
			ic.hostAddr, ic.hostLink = p.Addr(), p.Masked()
		}
	}
	if !ic.hostAddr.IsValid() {
		t.Fatalf("no IPv4 address on the host link: %v", addrs)
	}
	return ic
}

// terminateAll terminates every instance and waits until they are gone.
func (ic *instanceCloud) terminateAll() {
	t := ic.t
	live := func() []string {
		var ids []string
		out, err := ic.c.DescribeInstances(ctx(t), &ec2.DescribeInstancesInput{})
		if err != nil {
			t.Errorf("describe-instances: %v", err)
			return nil
		}
		for _, r := range out.Reservations {
			for _, in := range r.Instances {
				if in.State.Name != types.InstanceStateNameTerminated {
					ids = append(ids, aws.ToString(in.InstanceId))
				}
			}
		}
		return ids
	}
	ids := live()
	if len(ids) == 0 {
		return
	}
	if _, err := ic.c.TerminateInstances(ctx(t), &ec2.TerminateInstancesInput{InstanceIds: ids}); err != nil {
		t.Errorf("terminate-instances: %v", err)
	}
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if ids = live(); len(ids) == 0 {
			return
		}
	}
	t.Errorf("still not terminated after 2 minutes: %v", ids)
}

// vm is one running instance and an SSH connection to it.
type vm struct {
	name        string
	id, eni     string
	private     netip.Addr
	public      netip.Addr // invalid without one
	privateName string     // ip-10-0-1-5.ec2.internal
	publicName  string
	hostname    string // what the instance calls itself
	ssh         *ssh.Client
}

// launch runs one instance and waits until it runs; connect it with sshTo.
func (ic *instanceCloud) launch(name, subnet string, groups ...string) *vm {
	t := ic.t
	t.Helper()
	out := answer(ic.c.RunInstances(ctx(t), &ec2.RunInstancesInput{ImageId: &ic.ami, InstanceType: types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), KeyName: &ic.keyName, SubnetId: &subnet, SecurityGroupIds: groups,
		TagSpecifications: nameTag(types.ResourceTypeInstance, name)})).must(t)
	v := &vm{name: name, id: aws.ToString(out.Instances[0].InstanceId)}
	ic.waitRunning(v)
	return v
}

// waitRunning waits until the instance runs, then reads its addresses and names.
func (ic *instanceCloud) waitRunning(v *vm) {
	t := ic.t
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out := answer(ic.c.DescribeInstances(ctx(t), &ec2.DescribeInstancesInput{InstanceIds: []string{v.id}})).must(t)
		in := out.Reservations[0].Instances[0]
		if in.State.Name == types.InstanceStateNameRunning {
			v.private = netip.MustParseAddr(aws.ToString(in.PrivateIpAddress))
			v.public = netip.Addr{}
			if in.PublicIpAddress != nil {
				v.public = netip.MustParseAddr(*in.PublicIpAddress)
			}
			v.privateName, v.publicName = aws.ToString(in.PrivateDnsName), aws.ToString(in.PublicDnsName)
			v.eni = aws.ToString(in.NetworkInterfaces[0].NetworkInterfaceId)
			v.hostname = "ip-" + strings.ReplaceAll(v.private.String(), ".", "-")
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s (%s) is %s after a minute", v.name, v.id, in.State.Name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sshTo connects to the instance: to its public address from the host, or to its
// private address through jump (an instance already connected), as `ssh -J` does.
func (ic *instanceCloud) sshTo(v *vm, jump *vm) {
	t := ic.t
	t.Helper()
	config := &ssh.ClientConfig{User: "ec2-user", Auth: []ssh.AuthMethod{ssh.PublicKeys(ic.signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 3 * time.Second}
	var last error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if jump == nil {
			v.ssh, last = ssh.Dial("tcp", netip.AddrPortFrom(v.public, 22).String(), config)
		} else {
			v.ssh, last = dialThrough(jump.ssh, netip.AddrPortFrom(v.private, 22).String(), config)
		}
		if last == nil {
			t.Cleanup(func() { v.ssh.Close() })
			return
		}
	}
	t.Fatalf("SSH to %s: %v", v.name, last)
}

func dialThrough(jump *ssh.Client, addr string, config *ssh.ClientConfig) (*ssh.Client, error) {
	conn, err := jump.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, config)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return ssh.NewClient(c, chans, reqs), nil
}

// run runs a shell command on the instance and returns its output. A command that
// has not finished within 20 s is an error (the session is left to its fate), so
// that a test whose change cut its own SSH path fails instead of hanging.
func (v *vm) run(cmd string, stdin io.Reader) (string, error) {
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := v.ssh.NewSession()
		if err != nil {
			done <- result{nil, err}
			return
		}
		defer s.Close()
		s.Stdin = stdin
		out, err := s.CombinedOutput(cmd)
		done <- result{out, err}
	}()
	select {
	case r := <-done:
		return strings.TrimSpace(string(r.out)), r.err
	case <-time.After(20 * time.Second):
		return "", fmt.Errorf("%q on %s did not finish within 20 s", cmd, v.name)
	}
}

var (
	netprobeOnce sync.Once
	netprobePath string
	netprobeErr  error
)

// netprobe builds tests/e2e/netprobe (static, so that it runs in any image) once and
// returns its path.
func netprobe(t *testing.T) string {
	t.Helper()
	netprobeOnce.Do(func() {
		netprobePath = filepath.Join(filepath.Dir(stratoBin), "netprobe")
		build := exec.Command("go", "build", "-ldflags=-s -w", "-o", netprobePath, "strato/tests/e2e/netprobe")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			netprobeErr = fmt.Errorf("building netprobe: %v\n%s", err, out)
		}
	})
	if netprobeErr != nil {
		t.Fatal(netprobeErr)
	}
	return netprobePath
}

// startNetprobe copies netprobe into the instance and starts its servers there.
func (ic *instanceCloud) startNetprobe(v *vm, specs ...string) {
	t := ic.t
	t.Helper()
	bin, err := os.Open(netprobe(t))
	if err != nil {
		t.Fatal(err)
	}
	defer bin.Close()
	if out, err := v.run("cat > /tmp/netprobe && chmod +x /tmp/netprobe", bin); err != nil {
		t.Fatalf("copying netprobe to %s: %v\n%s", v.name, err, out)
	}
	if out, err := v.run("setsid /tmp/netprobe serve "+strings.Join(specs, " ")+" </dev/null >/dev/null 2>&1 &", nil); err != nil {
		t.Fatalf("starting netprobe on %s: %v\n%s", v.name, err, out)
	}
}
