// Command loadgen is a bounded load generator for strato's AWS Query API.
//
// It signs a pool of distinct requests up front with aws-sdk-go-v2's SigV4
// signer (each carries its own amz-sdk-invocation-id, as the AWS SDKs send, so
// every signature differs; a header signature stays valid for 15 minutes) and
// replays them, serialised once, over one keep-alive HTTP/1.1 connection per worker
// with a minimal response reader, so the client spends little CPU on a machine it
// shares with the server. The server still verifies every request fully.
//
// Two modes:
//
//	-rate 0   closed loop: -concurrency workers send back to back (max throughput)
//	-rate R   open loop: requests are due at a fixed rate R; latency is measured
//	          from when each request was due, so queueing delay is counted
//
// A run stops after -duration (at most 60 s) or -requests, whichever comes first.
// In params, {i} is replaced by the request's index in the pool, which makes the
// tool usable for seeding (e.g. ImportKeyPair of KeyName=bench-{i}).
//
//	loadgen -endpoint http://127.0.0.1:8555 -credentials DIR/credentials \
//	    -action DescribeKeyPairs -params 'KeyName.1=bench-0042' -concurrency 16 -duration 10s
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
)

const maxDuration = 60 * time.Second

type options struct {
	endpoint    string
	credentials string
	profile     string
	region      string
	service     string
	version     string
	action      string
	params      string
	paramFiles  multiFlag
	values      string
	concurrency int
	duration    time.Duration
	requests    int
	rate        float64
	pool        int
	timeout     time.Duration
	jsonOut     bool
	label       string
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	var o options
	flag.StringVar(&o.endpoint, "endpoint", "http://127.0.0.1:8555", "strato endpoint (loopback only)")
	flag.StringVar(&o.credentials, "credentials", "", "AWS shared-credentials file (required)")
	flag.StringVar(&o.profile, "profile", "default", "profile in the credentials file")
	flag.StringVar(&o.region, "region", "us-east-1", "signing region")
	flag.StringVar(&o.service, "service", "ec2", "signing service name")
	flag.StringVar(&o.version, "version", "2016-11-15", "API Version parameter")
	flag.StringVar(&o.action, "action", "DescribeRegions", "API action, e.g. DescribeRegions, DescribeKeyPairs")
	flag.StringVar(&o.params, "params", "", "extra query parameters, URL-encoded (a=b&c=d); {i} becomes the pool index")
	flag.StringVar(&o.values, "values", "", "file of values, one per line: {v} in -params becomes line (pool index mod lines)")
	flag.Var(&o.paramFiles, "param-file", "NAME=PATH: parameter NAME is the base64 of file PATH (a blob, e.g. PublicKeyMaterial); repeatable")
	flag.IntVar(&o.concurrency, "concurrency", 16, "concurrent workers (and keep-alive connections)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "run time (max 60s)")
	flag.IntVar(&o.requests, "requests", 0, "stop after this many requests (0 = no limit)")
	flag.Float64Var(&o.rate, "rate", 0, "fixed arrival rate in req/s (0 = closed loop, as fast as possible)")
	flag.IntVar(&o.pool, "pool", 20000, "distinct signed requests prepared up front (cycled)")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Second, "per-request timeout")
	flag.BoolVar(&o.jsonOut, "json", false, "print the result as one JSON object")
	flag.StringVar(&o.label, "label", "", "a label for the result")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// prepared is one signed request, serialised as it goes on the wire.
type prepared struct {
	wire []byte
}

// Result is what a run measured; latencies are in milliseconds.
type Result struct {
	Label        string  `json:"label,omitempty"`
	Action       string  `json:"action"`
	Concurrency  int     `json:"concurrency"`
	TargetRate   float64 `json:"target_rate"`
	Requests     int64   `json:"requests"`
	Errors       int64   `json:"errors"`
	DurationS    float64 `json:"duration_s"`
	RPS          float64 `json:"rps"`
	P50ms        float64 `json:"p50_ms"`
	P90ms        float64 `json:"p90_ms"`
	P99ms        float64 `json:"p99_ms"`
	MaxMs        float64 `json:"max_ms"`
	MeanBytes    float64 `json:"mean_response_bytes"`
	ClientCPUPct float64 `json:"client_cpu_pct"`
	FirstError   string  `json:"first_error,omitempty"`
}

func run(o options) error {
	if o.credentials == "" {
		return errors.New("-credentials is required")
	}
	if o.duration <= 0 || o.duration > maxDuration {
		o.duration = maxDuration
	}
	if o.concurrency < 1 {
		o.concurrency = 1
	}
	if o.pool < 1 {
		o.pool = 1
	}
	if o.requests > 0 && o.pool > o.requests {
		o.pool = o.requests
	}
	u, err := url.Parse(o.endpoint)
	if err != nil {
		return fmt.Errorf("-endpoint: %w", err)
	}
	if err := checkLoopback(u.Hostname()); err != nil {
		return err
	}
	creds, err := loadCredentials(o.credentials, o.profile)
	if err != nil {
		return err
	}
	pool, err := preparePool(o, u, creds)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), o.duration)
	defer cancel()

	var (
		next      atomic.Int64 // next request number (closed loop)
		errs      atomic.Int64
		bytesIn   atomic.Int64
		firstErr  atomic.Value
		latencies = make([][]time.Duration, o.concurrency)
		wg        sync.WaitGroup
	)
	limit := int64(o.requests)
	recordErr := func(msg string) {
		errs.Add(1)
		firstErr.CompareAndSwap(nil, msg)
	}
	// Each worker keeps one keep-alive connection and writes pre-serialised requests
	// on it: a lean HTTP/1.1 client, so that on a 2-core machine shared with the
	// server as little CPU as possible goes to the client.
	send := func(c *conn, n int64) {
		p := &pool[n%int64(len(pool))]
		nb, status, err := c.roundTrip(u.Host, p.wire, o.timeout)
		if err != nil {
			recordErr(err.Error())
			return
		}
		bytesIn.Add(nb)
		if status != http.StatusOK {
			recordErr(fmt.Sprintf("HTTP %d", status))
		}
	}

	cpu0 := cpuTime()
	start := time.Now()
	// worker sends requests as long as nextDue yields, each timed from when it was
	// due: the moment it is taken in a closed loop, its slot in an open one.
	worker := func(w int, nextDue func() (time.Time, bool)) {
		defer wg.Done()
		lat := make([]time.Duration, 0, 1<<16)
		c := &conn{}
		defer c.close()
		for {
			at, ok := nextDue()
			if !ok {
				break
			}
			n := next.Add(1) - 1
			if limit > 0 && n >= limit {
				break
			}
			send(c, n)
			lat = append(lat, time.Since(at))
		}
		latencies[w] = lat
	}
	if o.rate <= 0 {
		closedLoop := func() (time.Time, bool) { return time.Now(), ctx.Err() == nil }
		for w := 0; w < o.concurrency; w++ {
			wg.Add(1)
			go worker(w, closedLoop)
		}
	} else {
		// Open loop: a dispatcher releases request n at start + n/rate; latency
		// counts from that due time, so a server that falls behind shows it.
		due := make(chan time.Time, 1<<16)
		interval := time.Duration(float64(time.Second) / o.rate)
		openLoop := func() (time.Time, bool) { at, ok := <-due; return at, ok }
		for w := 0; w < o.concurrency; w++ {
			wg.Add(1)
			go worker(w, openLoop)
		}
		go func() {
			defer close(due)
			var n int64
			for ctx.Err() == nil {
				now := time.Now()
				for ; ; n++ {
					if limit > 0 && n >= limit {
						return
					}
					at := start.Add(time.Duration(n) * interval)
					if at.After(now) {
						break
					}
					select {
					case due <- at:
					case <-ctx.Done():
						return
					}
				}
				time.Sleep(200 * time.Microsecond)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0

	var all []time.Duration
	for _, l := range latencies {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	res := Result{
		Label: o.label, Action: o.action, Concurrency: o.concurrency, TargetRate: o.rate,
		Requests: int64(len(all)), Errors: errs.Load(), DurationS: elapsed.Seconds(),
		ClientCPUPct: 100 * cpu.Seconds() / elapsed.Seconds(),
	}
	if len(all) > 0 {
		res.RPS = float64(len(all)) / elapsed.Seconds()
		res.P50ms = ms(pct(all, 0.50))
		res.P90ms = ms(pct(all, 0.90))
		res.P99ms = ms(pct(all, 0.99))
		res.MaxMs = ms(all[len(all)-1])
		res.MeanBytes = float64(bytesIn.Load()) / float64(len(all))
	}
	if v := firstErr.Load(); v != nil {
		res.FirstError = v.(string)
	}
	if o.jsonOut {
		return json.NewEncoder(os.Stdout).Encode(res)
	}
	mode := "closed loop"
	if o.rate > 0 {
		mode = fmt.Sprintf("open loop at %.0f req/s", o.rate)
	}
	fmt.Printf("%s %s, concurrency %d, %s\n", o.action, o.label, o.concurrency, mode)
	fmt.Printf("  requests %d  errors %d  duration %.2fs  throughput %.0f req/s  mean response %.0f B\n",
		res.Requests, res.Errors, res.DurationS, res.RPS, res.MeanBytes)
	fmt.Printf("  latency p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms  (client CPU %.0f%% of one core)\n",
		res.P50ms, res.P90ms, res.P99ms, res.MaxMs, res.ClientCPUPct)
	if res.FirstError != "" {
		fmt.Printf("  first error: %s\n", res.FirstError)
	}
	if res.Errors > 0 {
		return fmt.Errorf("%d of %d requests failed", res.Errors, res.Requests)
	}
	return nil
}

// checkLoopback refuses endpoints that are not on loopback (network safety rule).
func checkLoopback(host string) error {
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("endpoint host %q is not a loopback address", host)
	}
	return nil
}

func loadCredentials(path, profile string) (aws.Credentials, error) {
	sc, err := config.LoadSharedConfigProfile(context.Background(), profile, func(o *config.LoadSharedConfigOptions) {
		o.CredentialsFiles = []string{path}
		o.ConfigFiles = []string{}
	})
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("reading profile %s of %s: %w", profile, path, err)
	}
	if !sc.Credentials.HasKeys() {
		return aws.Credentials{}, fmt.Errorf("profile %s of %s has no keys", profile, path)
	}
	return sc.Credentials, nil
}

// preparePool signs o.pool distinct requests at the current time.
func preparePool(o options, u *url.URL, creds aws.Credentials) ([]prepared, error) {
	base, err := url.ParseQuery(o.params)
	if err != nil {
		return nil, fmt.Errorf("-params: %w", err)
	}
	for _, pf := range o.paramFiles {
		name, path, ok := strings.Cut(pf, "=")
		if !ok {
			return nil, fmt.Errorf("-param-file %q: want NAME=PATH", pf)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		base.Set(name, base64.StdEncoding.EncodeToString(data))
	}
	base.Set("Action", o.action)
	base.Set("Version", o.version)
	template := base.Encode()
	perIndex := strings.Contains(template, url.QueryEscape("{i}")) || strings.Contains(template, "{i}")
	var values []string
	if o.values != "" {
		data, err := os.ReadFile(o.values)
		if err != nil {
			return nil, err
		}
		values = strings.Fields(string(data))
		if len(values) == 0 {
			return nil, fmt.Errorf("-values %s: no values", o.values)
		}
	}

	signer := v4.NewSigner()
	now := time.Now().UTC()
	pool := make([]prepared, o.pool)
	var invocation [16]byte
	for i := range pool {
		body := template
		if perIndex {
			idx := strconv.Itoa(i)
			body = strings.ReplaceAll(body, url.QueryEscape("{i}"), idx)
			body = strings.ReplaceAll(body, "{i}", idx)
		}
		if values != nil {
			v := url.QueryEscape(values[i%len(values)])
			body = strings.ReplaceAll(body, url.QueryEscape("{v}"), v)
			body = strings.ReplaceAll(body, "{v}", v)
		}
		req, err := http.NewRequest(http.MethodPost, u.String()+"/", strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		putUint64(invocation[:8], uint64(now.UnixNano()))
		putUint64(invocation[8:], uint64(i))
		req.Header.Set("Amz-Sdk-Invocation-Id", hex.EncodeToString(invocation[:]))
		req.Header.Set("User-Agent", "strato-bench-loadgen")
		sum := sha256.Sum256([]byte(body))
		if err := signer.SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), o.service, o.region, now); err != nil {
			return nil, fmt.Errorf("signing: %w", err)
		}
		var wire bytes.Buffer
		if err := req.Write(&wire); err != nil {
			return nil, err
		}
		pool[i] = prepared{wire: wire.Bytes()}
	}
	return pool, nil
}

// conn is one keep-alive HTTP/1.1 connection, reopened after an error.
type conn struct {
	nc net.Conn
	br *bufio.Reader
}

func (c *conn) close() {
	if c.nc != nil {
		c.nc.Close()
		c.nc = nil
	}
}

// roundTrip writes one request and reads its response, returning the body size and
// status. The response must carry Content-Length (strato's always do).
func (c *conn) roundTrip(host string, wire []byte, timeout time.Duration) (int64, int, error) {
	if c.nc == nil {
		nc, err := net.DialTimeout("tcp", host, 5*time.Second)
		if err != nil {
			return 0, 0, err
		}
		c.nc, c.br = nc, bufio.NewReaderSize(nc, 64<<10)
	}
	c.nc.SetDeadline(time.Now().Add(timeout))
	n, status, err := c.exchange(wire)
	if err != nil {
		c.close()
	}
	return n, status, err
}

func (c *conn) exchange(wire []byte) (int64, int, error) {
	if _, err := c.nc.Write(wire); err != nil {
		return 0, 0, err
	}
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, 0, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, 0, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, 0, fmt.Errorf("bad status line %q", line)
	}
	length := int64(-1)
	for {
		line, err = c.br.ReadSlice('\n')
		if err != nil {
			return 0, 0, err
		}
		if len(line) <= 2 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(name, []byte("Content-Length")) {
			if length, err = strconv.ParseInt(string(bytes.TrimSpace(value)), 10, 64); err != nil {
				return 0, 0, fmt.Errorf("bad Content-Length %q", value)
			}
		}
	}
	if length < 0 {
		return 0, 0, errors.New("response without Content-Length")
	}
	if _, err := c.br.Discard(int(length)); err != nil {
		return 0, 0, err
	}
	return length, status, nil
}

func putUint64(b []byte, v uint64) {
	for i := 7; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
}

func pct(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// cpuTime is this process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
