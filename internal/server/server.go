// Package server assembles strato: the data directory, the store, the control plane,
// the services and the HTTP listener. cmd/strato parses flags and calls it.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"strato/internal/awsapi"
	"strato/internal/awsapi/throttle"
	"strato/internal/blockstore"
	"strato/internal/catalog"
	"strato/internal/cloud"
	"strato/internal/ec2"
	"strato/internal/kms"
	qemuaccel "strato/internal/qemu"
	"strato/internal/store/sqlite"
	"strato/internal/sts"
)

// DefaultListen is where strato listens unless told otherwise: the port LocalStack
// users' tooling already points at.
const DefaultListen = "127.0.0.1:4566"

// DefaultRegion is the region written into new credential profiles.
const DefaultRegion = "us-east-1"

// DevAccountID is the account every request acts for in development mode, unless
// --account-id says otherwise.
const DevAccountID = "123456789012"

// Config is what `strato serve` is told.
type Config struct {
	Listen    string
	DataDir   string
	Driver    string
	Dev       bool
	AccountID string
	// Throttle enables AWS's request rate limits; Scale multiplies their sizes and
	// rates; Buckets then replaces single buckets (by category or action name).
	Throttle        bool
	ThrottleScale   float64
	ThrottleBuckets map[string]throttle.Bucket
	Log             *slog.Logger
	// Out receives the one-time print of new credentials.
	Out *os.File
	// Ready, when set, receives the bound address once the listener is up.
	Ready func(addr string)
	// VCPUOvercommit and MemoryOvercommit multiply the host's CPUs and memory
	// into what running instances' types may add up to (zero: the defaults).
	VCPUOvercommit, MemoryOvercommit float64
	// VMMemoryScale multiplies a virtual machine's type memory (compute.VMBoot);
	// zero means 1.
	VMMemoryScale float64
	// NetPrefix names the instance network's namespaces, links and nftables
	// tables (vpcnet.Options.Prefix); empty means "strato".
	NetPrefix string
	// FlowLogFlush writes flow-log records at least this often
	// (vpcnet.Options.FlowLogFlush); zero waits for each flow log's aggregation
	// interval, as AWS does.
	FlowLogFlush time.Duration
	// PublicPool is where Elastic IPs come from (empty: the pool as stored, at
	// first 198.18.0.0/15).
	PublicPool []netip.Prefix
}

// Paths of the files in a data directory.
func dbPath(dir string) string          { return filepath.Join(dir, "strato.db") }
func CredentialsPath(dir string) string { return filepath.Join(dir, "credentials") }
func endpointPath(dir string) string    { return filepath.Join(dir, "endpoint") }

// BlocksPath is where the block store keeps volumes and snapshots.
func BlocksPath(dataDir string) string { return filepath.Join(dataDir, "blocks") }

// OpenCloud opens the data directory's store and control plane (also used by
// `strato account`, which may run beside a serving strato).
func OpenCloud(ctx context.Context, dir string, log *slog.Logger) (*cloud.Cloud, func() error, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("creating data directory: %w", err)
	}
	// The database holds every account's secret keys: whatever the directory's mode,
	// its files are the owner's alone (the umask covers new files, this a database
	// made by an earlier version or by hand).
	syscall.Umask(0o077)
	for _, f := range []string{dbPath(dir), dbPath(dir) + "-wal", dbPath(dir) + "-shm", CredentialsPath(dir)} {
		if err := os.Chmod(f, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("restricting %s: %w", f, err)
		}
	}
	st, err := sqlite.Open(ctx, dbPath(dir))
	if err != nil {
		return nil, nil, err
	}
	c, err := cloud.New(ctx, st, cloud.SystemClock{}, log)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return c, st.Close, nil
}

// Run serves until ctx is cancelled, then finishes in-flight requests and closes the store.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Log
	driver, why, boot, err := resolveDriver(cfg.Driver, cfg.DataDir)
	if err != nil {
		return err
	}
	c, closeStore, err := OpenCloud(ctx, cfg.DataDir, log)
	if err != nil {
		return err
	}
	defer closeStore()
	if err := firstStart(ctx, c, cfg); err != nil {
		return err
	}
	if len(cfg.PublicPool) > 0 {
		if err := c.ConfigurePublicPool(ctx, cfg.PublicPool); err != nil {
			return fmt.Errorf("--public-pool: %w", err)
		}
	}

	// The block store holds volumes' and snapshots' bytes; one strato process has it.
	blocks, err := blockstore.Open(BlocksPath(cfg.DataDir))
	if err != nil {
		return fmt.Errorf("block store: %w", err)
	}
	defer blocks.Close()
	c.UseBlocks(blocks)
	host, err := openInstanceHost(ctx, c, cfg, driver, boot, log)
	if err != nil {
		return err
	}
	defer host.close()
	c.UseCompute(host.compute)
	log.Info("instance driver", "driver", driver, "why", why)
	// Background work stops before the block store closes (defers run in reverse).
	defer c.Close()
	if err := c.ResumeBlockJobs(ctx); err != nil {
		return fmt.Errorf("resuming unfinished volume and snapshot work: %w", err)
	}
	if err := c.ResumeInstances(ctx); err != nil {
		return fmt.Errorf("resuming unfinished instance work: %w", err)
	}
	// What happened to instances while strato was down (a guest that powered
	// off, a process that died) is known before the first request, then watched.
	if err := c.ResyncDataplane(ctx); err != nil {
		return fmt.Errorf("giving the instance network its public addresses: %w", err)
	}
	if err := c.StartInstanceMonitor(ctx); err != nil {
		return fmt.Errorf("starting the instance monitor: %w", err)
	}

	if cfg.Dev {
		if err := c.EnsureAccount(ctx, cfg.AccountID, "development"); err != nil {
			return err
		}
		c.ResolveUnknownImages()
		log.Warn("DEVELOPMENT MODE: any well-formed SigV4 signature is accepted and every request acts for account " + cfg.AccountID + "; throttling is off; unknown AMI IDs resolve to the default image")
	}
	api := NewHandler(c, cfg)

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	if err := os.WriteFile(endpointPath(cfg.DataDir), []byte("http://"+addr+"\n"), 0o600); err != nil {
		ln.Close()
		return err
	}
	if err := writeStatus(cfg.DataDir, ServeStatus{Endpoint: "http://" + addr, PID: os.Getpid(), Started: time.Now().UTC(),
		Driver: driver, DriverWhy: why, Accelerator: acceleratorOf(host.compute)}); err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	log.Info("strato serving", "listen", addr, "data_dir", cfg.DataDir, "driver", driver, "throttle", api.Throttle != nil)
	if cfg.Ready != nil {
		cfg.Ready(addr)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// NewHandler assembles the API front door over a control plane.
func NewHandler(c *cloud.Cloud, cfg Config) *awsapi.Server {
	var auth awsapi.Authenticator = awsapi.SigV4Auth{Lookup: func(akid string) (string, string, bool) {
		return c.LookupAccessKey(context.Background(), akid)
	}}
	if cfg.Dev {
		auth = awsapi.DevAuth{AccountID: cfg.AccountID}
	}
	api := &awsapi.Server{
		Auth:           auth,
		Services:       map[string]awsapi.Service{"ec2": ec2.New(c), "sts": sts.Service{}, "kms": kms.New(c), OperatorServiceName: newOperatorService(c)},
		KnownRegion:    catalog.KnownRegion,
		Clock:          systemClock{},
		Log:            cfg.Log,
		DefaultService: "ec2",
	}
	if cfg.Throttle && !cfg.Dev {
		api.Throttle = throttle.New(ThrottleConfig(cfg.ThrottleScale, cfg.ThrottleBuckets), nil)
	}
	return api
}

// ThrottleConfig is AWS's buckets scaled by scale, then with the given buckets
// replaced.
func ThrottleConfig(scale float64, buckets map[string]throttle.Bucket) throttle.Config {
	cfg := throttle.DefaultConfig()
	if scale > 0 && scale != 1 {
		for name, b := range cfg.Categories {
			cfg.Categories[name] = throttle.Bucket{Size: b.Size * scale, RefillPerSecond: b.RefillPerSecond * scale}
		}
	}
	for name, b := range buckets {
		cfg.Categories[name] = b
	}
	return cfg
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// firstStart creates the operator's account and credentials on the first start.
func firstStart(ctx context.Context, c *cloud.Cloud, cfg Config) error {
	acct, creds, err := c.EnsureOperator(ctx, cfg.AccountID)
	if err != nil || creds == nil {
		return err
	}
	if err := AppendProfile(CredentialsPath(cfg.DataDir), "default", acct, *creds); err != nil {
		return err
	}
	PrintCredentials(cfg.Out, "First start: created the operator's account and root access key.", acct, *creds, CredentialsPath(cfg.DataDir), "default")
	return nil
}

// AppendProfile adds a profile to the shared-credentials file (created with mode 0600).
func AppendProfile(path, profile string, acct cloud.Account, creds cloud.Credentials) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	// The region line lets the aws CLI and boto3 work from this file alone (botocore
	// merges credentials-file profiles into its configuration); other SDKs ignore it.
	_, err = fmt.Fprintf(f, "[%s]\n# strato account %s (%s)\naws_access_key_id = %s\naws_secret_access_key = %s\nregion = %s\n\n",
		profile, acct.ID, acct.Name, creds.AccessKeyID, creds.SecretAccessKey, DefaultRegion)
	return errors.Join(err, f.Close())
}

// PrintCredentials shows new credentials once.
func PrintCredentials(out *os.File, headline string, acct cloud.Account, creds cloud.Credentials, path, profile string) {
	fmt.Fprintf(out, "%s\n  account:           %s (%s)\n  access key ID:     %s\n  secret access key: %s\nThey are saved in %s as profile [%s]; this is the only time strato prints the secret.\n",
		headline, acct.ID, acct.Name, creds.AccessKeyID, creds.SecretAccessKey, path, profile)
}

// Endpoint returns the URL a serving strato recorded in the data dir.
func Endpoint(dir string) string {
	b, err := os.ReadFile(endpointPath(dir))
	if err != nil || len(b) == 0 {
		return "http://" + DefaultListen
	}
	return string(b[:len(b)-1])
}

// ServeStatus is what a serving strato says about itself in DATA/status.json, for
// `strato status`.
type ServeStatus struct {
	Endpoint    string    `json:"endpoint"`
	PID         int       `json:"pid"`
	Started     time.Time `json:"started"`
	Driver      string    `json:"driver"`
	DriverWhy   string    `json:"driverWhy"`
	Accelerator string    `json:"accelerator,omitempty"` // a VM driver's: "tcg: …" or "kvm: …"
}

func statusPath(dir string) string { return filepath.Join(dir, "status.json") }

func writeStatus(dir string, st ServeStatus) error {
	raw, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(statusPath(dir), append(raw, '\n'), 0o600)
}

// ReadStatus is what the last strato serve on the data dir recorded about itself;
// running says whether its process is still there.
func ReadStatus(dir string) (st ServeStatus, running bool, err error) {
	raw, err := os.ReadFile(statusPath(dir))
	if err != nil {
		return st, false, err
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return st, false, fmt.Errorf("%s: %w", statusPath(dir), err)
	}
	running = st.PID > 0 && syscall.Kill(st.PID, 0) == nil
	return st, running, nil
}

// acceleratorOf is a virtual machine driver's accelerator and why ("" for others).
func acceleratorOf(c cloud.Compute) string {
	if vm, ok := c.(interface{ Accelerator() qemuaccel.AccelResult }); ok {
		return vm.Accelerator().String()
	}
	return ""
}
