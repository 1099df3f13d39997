// Command strato is a self-hosted cloud that speaks Amazon EC2's API.
//
//	strato serve [--listen ADDR] [--data-dir DIR] [--driver auto|mock|container|qemu] [--dev] [--account-id ID]
//	strato account create [--name N] [--data-dir DIR]
//	strato account list [--data-dir DIR]
//	strato env [--data-dir DIR] [--profile P]
//	strato quota list|set --account ID [NAME VALUE|default]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"strato/internal/awsapi/throttle"
	"strato/internal/cloud"
	"strato/internal/cloud/ipam"
	"strato/internal/server"
	"strato/internal/vpcnet"
)

const usage = `strato: a self-hosted cloud that speaks Amazon EC2's API

Usage:
  strato serve [--listen ADDR] [--data-dir DIR] [--driver auto|mock|container|qemu] [--dev] [--account-id ID]
               [--throttle=false] [--throttle-scale F] [--throttle-bucket NAME=SIZE/RATE] [--public-pool CIDR[,CIDR]] [--net-prefix P] [--vcpu-overcommit F] [--memory-overcommit F] [--vm-memory-scale F] [--log-level L]
  strato account create [--name NAME] [--data-dir DIR]
  strato account list [--data-dir DIR]
  strato env [--data-dir DIR] [--profile PROFILE]
  strato quota list --account ID [--data-dir DIR]
  strato quota set --account ID [--data-dir DIR] NAME VALUE|default
  strato status [--data-dir DIR]
  strato image build [--data-dir DIR] [--mirror URL] [--volume-type gp3|gp2] minimal|debian-12|vm-kernel
  strato image import --name NAME [--account ID] [--region R] [--instance-store] [--replace] [--size GiB] [--data-dir DIR] FILE
  strato image alias set [--region R] [--data-dir DIR] FROM|default IMAGE-ID
  strato image alias list|delete [--region R] [--data-dir DIR] [FROM]
  strato snapshot list --account ID [--region R] [--data-dir DIR]
  strato net teardown [--net-prefix P]
  strato identity-certificate [--data-dir DIR]

Run 'strato COMMAND --help' for a command's flags.
`

func main() {
	multiCall()
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "serve":
		err = serve(args)
	case "account":
		err = account(args)
	case "status":
		err = status(args)
	case "env":
		err = env(args)
	case "quota":
		err = quota(args)
	case "image":
		err = image(args)
	case "snapshot":
		err = snapshot(args)
	case "guest-init":
		err = guestInit(args)
	case "net":
		err = netCommand(args)
	case "identity-certificate":
		err = identityCertificate(args)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "strato: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "strato:", err)
		os.Exit(1)
	}
}

// defaultDataDir is /var/lib/strato for root, $XDG_DATA_HOME/strato otherwise.
func defaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/strato"
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "strato")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "share", "strato")
}

func newFlags(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("strato "+name, flag.ExitOnError)
	dir := fs.String("data-dir", defaultDataDir(), "where strato keeps its state")
	return fs, dir
}

func serve(args []string) error {
	fs, dir := newFlags("serve")
	listen := fs.String("listen", server.DefaultListen, "address to serve the AWS API on")
	driver := fs.String("driver", "auto", "compute driver: "+strings.Join(server.Drivers, "|"))
	dev := fs.Bool("dev", false, "development mode: accept any well-formed signature, act for one account, no throttling")
	accountID := fs.String("account-id", "", "the operator account's ID on first start, and the account of every request with --dev (default random; 123456789012 with --dev)")
	throttleOn := fs.Bool("throttle", true, "apply AWS's per-account request rate limits (always off with --dev)")
	throttleScale := fs.Float64("throttle-scale", 1, "multiply the AWS bucket sizes and refill rates by this factor")
	buckets := map[string]throttle.Bucket{}
	fs.Func("throttle-bucket", "replace one bucket: NAME=SIZE/RATE, NAME a category (non-mutating, mutating, resource-intensive, unfiltered-unpaginated-non-mutating) or an action with its own bucket (RunInstances); repeatable", func(v string) error {
		name, b, err := throttle.ParseBucket(v)
		if err != nil {
			return err
		}
		if !throttle.DefaultConfig().Known(name) {
			return fmt.Errorf("no throttling bucket is called %q", name)
		}
		buckets[name] = b
		return nil
	})
	publicPool := []netip.Prefix{ipam.DefaultPublicPrefix}
	fs.Func("public-pool", "CIDR[,CIDR]: the public IPv4 ranges Elastic IPs are allocated from, shared by every account (default 198.18.0.0/15, the benchmarking range no one routes; addresses already allocated must stay inside)", func(v string) error {
		var err error
		publicPool, err = parsePrefixes(v)
		return err
	})
	flowLogDir := fs.String("flow-log-dir", "", "where flow logs published to CloudWatch Logs write their records: DIR/LOG-GROUP/INTERFACE-ID-all (default DATA_DIR/flow-logs)")
	flowLogFlush := fs.Duration("flow-log-flush", 0, "write flow-log records at least this often (default: when each flow log's aggregation interval, 60 s or 600 s, closes, as on AWS)")
	modifyInterval := fs.Duration("volume-modification-interval", cloud.VolumeModificationInterval,
		"how long after ModifyVolume the same volume may be modified again (AWS: 6h)")
	vcpuOvercommit := fs.Float64("vcpu-overcommit", server.DefaultVCPUOvercommit, "running instances' vCPUs may add up to the host's CPUs times this (real drivers; beyond it RunInstances answers InsufficientInstanceCapacity)")
	vmMemoryScale := fs.Float64("vm-memory-scale", 1, "virtual machines (qemu driver) get their type's memory times this, at least 256 MiB: for hosts too small for the types asked for (0 < F <= 1)")
	memoryOvercommit := fs.Float64("memory-overcommit", server.DefaultMemoryOvercommit, "running instances' memory may add up to the host's memory times this (real drivers)")
	netPrefix := fs.String("net-prefix", vpcnet.DefaultPrefix, "name prefix of the instance network's namespaces, links and nftables tables (1-9 of a-z0-9; two strato on one host need different ones)")
	logLevel := fs.String("log-level", "info", "debug|info|warn|error")
	fs.Parse(args)
	if *modifyInterval < 0 {
		return fmt.Errorf("--volume-modification-interval must not be negative")
	}
	cloud.VolumeModificationInterval = *modifyInterval
	if *vmMemoryScale <= 0 || *vmMemoryScale > 1 {
		return fmt.Errorf("--vm-memory-scale must be above 0 and at most 1")
	}
	if *flowLogFlush < 0 {
		return fmt.Errorf("--flow-log-flush must not be negative")
	}
	if *flowLogDir == "" {
		*flowLogDir = filepath.Join(*dir, "flow-logs")
	}
	cloud.FlowLogDir = *flowLogDir
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	if *dev && *accountID == "" {
		*accountID = server.DevAccountID
	}
	if *accountID != "" && !cloud.ValidAccountID(*accountID) {
		return fmt.Errorf("--account-id %q is not a 12-digit account ID", *accountID)
	}
	if os.Getenv("GOGC") == "" {
		// strato's heap is small and its requests allocate briefly: collecting at
		// 4x the live heap instead of 2x spends far less CPU on GC (and its tail
		// latency) for a few tens of MB. GOGC in the environment still decides.
		debug.SetGCPercent(serveGCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return server.Run(ctx, server.Config{
		Listen: *listen, DataDir: *dir, Driver: *driver, Dev: *dev, AccountID: *accountID,
		Throttle: *throttleOn, ThrottleScale: *throttleScale, ThrottleBuckets: buckets, PublicPool: publicPool,
		NetPrefix: *netPrefix, FlowLogFlush: *flowLogFlush, VCPUOvercommit: *vcpuOvercommit, MemoryOvercommit: *memoryOvercommit, VMMemoryScale: *vmMemoryScale,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
		Out: os.Stdout,
	})
}

// parsePrefixes reads a comma-separated list of IPv4 CIDR blocks.
func parsePrefixes(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(v, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(f))
		if err != nil || !p.Addr().Is4() {
			return nil, fmt.Errorf("%q is not an IPv4 CIDR block", f)
		}
		out = append(out, p)
	}
	return out, nil
}

// serveGCPercent is strato serve's GOGC unless the environment sets one.
const serveGCPercent = 400

func account(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("account: say create or list")
	}
	fs, dir := newFlags("account " + args[0])
	name := fs.String("name", "", "a name for the account (also its profile in the credentials file)")
	fs.Parse(args[1:])
	ctx := context.Background()
	c, closeStore, err := server.OpenCloud(ctx, *dir, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		return err
	}
	defer closeStore()
	switch args[0] {
	case "create":
		path := server.CredentialsPath(*dir)
		if *name != "" {
			if err := checkProfileName(path, *name); err != nil {
				return err
			}
		}
		acct, creds, err := c.CreateAccount(ctx, "", *name)
		if err != nil {
			return err
		}
		profile := *name
		if profile == "" {
			profile = "account-" + acct.ID
		}
		if err := server.AppendProfile(path, profile, acct, creds); err != nil {
			return err
		}
		server.PrintCredentials(os.Stdout, "Created account "+acct.ID+".", acct, creds, path, profile)
		return nil
	case "list":
		accounts, err := c.Accounts(ctx)
		if err != nil {
			return err
		}
		w := bufio.NewWriter(os.Stdout)
		fmt.Fprintf(w, "%-14s %s\n", "ACCOUNT", "NAME")
		for _, a := range accounts {
			fmt.Fprintf(w, "%-14s %s\n", a.ID, a.Name)
		}
		return w.Flush()
	}
	return fmt.Errorf("account: unknown subcommand %q (create or list)", args[0])
}

// quota shows and changes an account's quotas; a running strato applies a change to
// its next request.
func quota(args []string) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "set") {
		return fmt.Errorf("quota: say list or set")
	}
	fs, dir := newFlags("quota " + args[0])
	accountID := fs.String("account", "", "the account (see strato account list)")
	fs.Parse(args[1:])
	if !cloud.ValidAccountID(*accountID) {
		return fmt.Errorf("quota: --account must be a 12-digit account ID")
	}
	ctx := context.Background()
	c, closeStore, err := server.OpenCloud(ctx, *dir, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		return err
	}
	defer closeStore()
	if args[0] == "set" {
		if fs.NArg() != 2 {
			return fmt.Errorf("quota set: want NAME VALUE (a number, or default)")
		}
		value := int64(-1)
		if fs.Arg(1) != "default" {
			if value, err = strconv.ParseInt(fs.Arg(1), 10, 64); err != nil || value < 0 {
				return fmt.Errorf("quota set: VALUE must be a number of at least 0, or default")
			}
		}
		if err := c.SetQuota(ctx, *accountID, fs.Arg(0), value); err != nil {
			return err
		}
	}
	quotas, err := c.Quotas(ctx, *accountID)
	if err != nil {
		return err
	}
	width := len("QUOTA")
	for _, q := range quotas {
		width = max(width, len(q.Name))
	}
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(w, "%-*s %8s %8s  %s\n", width, "QUOTA", "VALUE", "DEFAULT", "DESCRIPTION")
	for _, q := range quotas {
		fmt.Fprintf(w, "%-*s %8d %8d  %s\n", width, q.Name, q.Value, q.Default, q.Description)
	}
	return w.Flush()
}

func env(args []string) error {
	fs, dir := newFlags("env")
	profile := fs.String("profile", "default", "the credentials-file profile to export")
	region := fs.String("region", "us-east-1", "the region to export")
	fs.Parse(args)
	path := server.CredentialsPath(*dir)
	keys, err := readProfile(path, *profile)
	if err != nil {
		return err
	}
	endpoint := server.Endpoint(*dir)
	fmt.Printf("export AWS_ACCESS_KEY_ID=%s\n", keys["aws_access_key_id"])
	fmt.Printf("export AWS_SECRET_ACCESS_KEY=%s\n", keys["aws_secret_access_key"])
	fmt.Printf("export AWS_DEFAULT_REGION=%s\n", *region)
	fmt.Printf("export AWS_REGION=%s\n", *region)
	fmt.Printf("export AWS_ENDPOINT_URL=%s\n", endpoint)
	fmt.Printf("# aws CLI versions before 2.13 (such as Debian 12's 2.9) ignore AWS_ENDPOINT_URL and need the flag:\n")
	fmt.Printf("#   aws --endpoint-url %s ec2 describe-regions\n", endpoint)
	return nil
}

var profileName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// checkProfileName refuses names that would not make a usable, unique profile in the
// credentials file.
func checkProfileName(path, name string) error {
	if !profileName.MatchString(name) || name == "default" {
		return fmt.Errorf("--name %q: use up to 64 letters, digits, '.', '_' or '-' (and not \"default\"); it becomes the profile name", name)
	}
	if _, err := readProfile(path, name); err == nil {
		return fmt.Errorf("--name %q: %s already has a profile of that name", name, path)
	}
	return nil
}

// readProfile reads one profile of an AWS shared-credentials file.
func readProfile(path, profile string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading credentials (has strato serve run with this --data-dir?): %w", err)
	}
	defer f.Close()
	keys := map[string]string{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "["):
			in = line == "["+profile+"]"
		case in && strings.Contains(line, "=") && !strings.HasPrefix(line, "#"):
			k, v, _ := strings.Cut(line, "=")
			keys[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if keys["aws_access_key_id"] == "" {
		return nil, fmt.Errorf("no profile [%s] in %s", profile, path)
	}
	return keys, sc.Err()
}

// status is `strato status`: what the strato serving the data dir says about itself
// (endpoint, instance driver and, for virtual machines, the accelerator).
func status(args []string) error {
	fs, dir := newFlags("status")
	fs.Parse(args)
	st, running, err := server.ReadStatus(*dir)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no strato has served %s yet", *dir)
	}
	if err != nil {
		return err
	}
	state := "serving"
	if !running {
		state = "not running (last served)"
	}
	fmt.Printf("strato %s %s (pid %d, since %s)\ninstance driver: %s (%s)\n", state, st.Endpoint, st.PID,
		st.Started.Format(time.RFC3339), st.Driver, st.DriverWhy)
	if st.Accelerator != "" {
		fmt.Printf("accelerator: %s\n", st.Accelerator)
	}
	return nil
}
