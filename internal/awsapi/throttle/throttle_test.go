package throttle

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// burst calls Allow until it refuses (bounded) and returns how many passed.
func burst(l *Limiter, account, action string, unf bool) int {
	n := 0
	for n < 100000 && l.Allow(account, testRegion, action, unf) {
		n++
	}
	return n
}

func TestCategory(t *testing.T) {
	cases := []struct {
		action string
		unf    bool
		want   string
	}{
		{"DescribeHosts", false, NonMutating},
		{"DescribeHosts", true, NonMutating}, // not in the unfiltered subset
		{"ListImagesInRecycleBin", false, NonMutating},
		{"SearchTransitGatewayRoutes", false, NonMutating},
		{"GetIpamPoolCidrs", false, NonMutating},
		{"DescribeInstances", false, NonMutating},
		{"DescribeInstances", true, UnfilteredUnpaginated},
		{"DescribeVolumes", true, UnfilteredUnpaginated},
		{"DescribeSecurityGroups", true, UnfilteredUnpaginated},
		{"AllocateHosts", false, Mutating},
		{"ModifyHosts", false, Mutating},
		{"CreateCapacityReservation", false, Mutating},
		{"StopInstances", false, Mutating},
		{"CreateKeyPair", false, ResourceIntensive},
		{"AuthorizeSecurityGroupIngress", false, ResourceIntensive},
		{"RequestSpotInstances", false, ResourceIntensive},
		{"RunInstances", false, "RunInstances"},
		{"StartInstances", false, "StartInstances"},
		{"TerminateInstances", false, "TerminateInstances"},
		{"CreateTags", false, "CreateTags"},
		{"DescribeSpotFleetRequests", true, "DescribeSpotFleetRequests"},
	}
	for _, tc := range cases {
		if got := Category(tc.action, tc.unf); got != tc.want {
			t.Errorf("Category(%s, %v) = %s, want %s", tc.action, tc.unf, got, tc.want)
		}
	}
}

func TestBurstEqualsSize(t *testing.T) {
	cases := []struct {
		action string
		unf    bool
		size   int
	}{
		{"DescribeHosts", false, 100},
		{"DescribeInstances", true, 50},
		{"DescribeInstances", false, 100},
		{"AllocateHosts", false, 50},
		{"CreateKeyPair", false, 50},
		{"RunInstances", false, 5},
		{"CreateTags", false, 100},
		{"CreateDefaultVpc", false, 1},
		{"AdvertiseByoipCidr", false, 1},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/%v", tc.action, tc.unf), func(t *testing.T) {
			l := New(DefaultConfig(), newFakeClock())
			if got := burst(l, "111111111111", tc.action, tc.unf); got != tc.size {
				t.Errorf("burst = %d, want %d", got, tc.size)
			}
		})
	}
}

func TestRefillRate(t *testing.T) {
	clk := newFakeClock()
	l := New(DefaultConfig(), clk)
	const acct = "111111111111"

	if got := burst(l, acct, "DescribeHosts", false); got != 100 {
		t.Fatalf("burst %d", got)
	}
	// 20/s: after 1 s exactly 20 more.
	clk.Advance(time.Second)
	if got := burst(l, acct, "DescribeHosts", false); got != 20 {
		t.Errorf("after 1s: %d, want 20", got)
	}
	// Partial second: 250 ms -> 5 tokens.
	clk.Advance(250 * time.Millisecond)
	if got := burst(l, acct, "DescribeHosts", false); got != 5 {
		t.Errorf("after 250ms: %d, want 5", got)
	}
	// An empty bucket is full again after 5 s and never exceeds its size.
	clk.Advance(time.Hour)
	if got := burst(l, acct, "DescribeHosts", false); got != 100 {
		t.Errorf("after idle: %d, want 100", got)
	}

	// Fractional rate: AdvertiseByoipCidr 1 / 0.1 per s -> one call per 10 s.
	if !l.Allow(acct, testRegion, "AdvertiseByoipCidr", false) || l.Allow(acct, testRegion, "AdvertiseByoipCidr", false) {
		t.Fatal("first call should pass, second fail")
	}
	clk.Advance(9 * time.Second)
	if l.Allow(acct, testRegion, "AdvertiseByoipCidr", false) {
		t.Error("refilled too early")
	}
	clk.Advance(time.Second)
	if !l.Allow(acct, testRegion, "AdvertiseByoipCidr", false) {
		t.Error("not refilled after 10s")
	}

	// Sustained rate: RunInstances 5 / 2 per s. Checking every 100 ms from
	// t=0 to t=10s, 5 (burst) + 20 (refill) calls succeed.
	ok := 0
	for i := 0; i <= 100; i++ {
		for l.Allow(acct, testRegion, "RunInstances", false) {
			ok++
		}
		clk.Advance(100 * time.Millisecond)
	}
	if ok != 5+20 {
		t.Errorf("RunInstances over 10s: %d, want 25", ok)
	}
}

func TestSeparateBuckets(t *testing.T) {
	l := New(DefaultConfig(), newFakeClock())
	burst(l, "acct-a", "DescribeHosts", false)
	if l.Allow("acct-a", testRegion, "DescribeHosts", false) {
		t.Fatal("bucket should be empty")
	}
	if !l.Allow("acct-b", testRegion, "DescribeHosts", false) {
		t.Error("accounts share a bucket")
	}
	if !l.Allow("acct-a", testRegion, "DescribeVpcs", false) {
		t.Error("actions of one category share a bucket; AWS throttles per API")
	}
	if !l.Allow("acct-a", testRegion, "AllocateHosts", false) {
		t.Error("categories share a bucket")
	}
	// The unfiltered DescribeInstances bucket is separate from the filtered one.
	if got := burst(l, "acct-a", "DescribeInstances", true); got != 50 {
		t.Errorf("unfiltered burst %d", got)
	}
	if !l.Allow("acct-a", testRegion, "DescribeInstances", false) {
		t.Error("filtered DescribeInstances drained by unfiltered calls")
	}
}

func TestShareCategoryBuckets(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ShareCategoryBuckets = true
	l := New(cfg, newFakeClock())
	for i := 0; i < 50; i++ {
		l.Allow("a", testRegion, "DescribeHosts", false)
		l.Allow("a", testRegion, "DescribeVpcs", false)
	}
	if l.Allow("a", testRegion, "DescribeImages", false) {
		t.Error("category bucket not shared")
	}
}

func TestDisabled(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Enabled = false
	l := New(cfg, newFakeClock())
	for i := 0; i < 10000; i++ {
		if !l.Allow("a", testRegion, "RunInstances", false) || !l.AllowResources("a", testRegion, "RunInstances", 1000) {
			t.Fatal("disabled limiter refused")
		}
	}
	if l.buckets() != 0 {
		t.Error("disabled limiter allocated buckets")
	}
}

func TestCustomConfig(t *testing.T) {
	clk := newFakeClock()
	l := New(Config{Enabled: true, Categories: map[string]Bucket{Mutating: {3, 1}}}, clk)
	if got := burst(l, "a", "CreateVpc", false); got != 3 {
		t.Errorf("custom mutating burst %d", got)
	}
	// RunInstances has no entry of its own here: falls back to Mutating.
	if got := burst(l, "a", "RunInstances", false); got != 3 {
		t.Errorf("fallback burst %d", got)
	}
	// Categories absent from the config are not throttled.
	if got := burst(l, "a", "DescribeVpcs", false); got != 100000 {
		t.Errorf("unconfigured category throttled after %d", got)
	}
}

func TestResourceBuckets(t *testing.T) {
	clk := newFakeClock()
	l := New(DefaultConfig(), clk)
	// 1000 instances at once, in any split.
	for i := 0; i < 4; i++ {
		if !l.AllowResources("a", testRegion, "RunInstances", 250) {
			t.Fatalf("chunk %d refused", i)
		}
	}
	if l.AllowResources("a", testRegion, "RunInstances", 1) {
		t.Fatal("bucket should be empty")
	}
	// Refill 2/s: after 1 s, 2 instances but not 3; a refused request takes nothing.
	clk.Advance(time.Second)
	if l.AllowResources("a", testRegion, "RunInstances", 3) {
		t.Error("3 allowed with 2 tokens")
	}
	if !l.AllowResources("a", testRegion, "RunInstances", 2) {
		t.Error("2 refused with 2 tokens")
	}
	// StopInstances refills 20/s and is independent.
	if !l.AllowResources("a", testRegion, "StopInstances", 1000) {
		t.Error("StopInstances bucket not independent")
	}
	clk.Advance(time.Second)
	if !l.AllowResources("a", testRegion, "StopInstances", 20) || l.AllowResources("a", testRegion, "StopInstances", 1) {
		t.Error("StopInstances refill rate")
	}
	// Actions without a resource bucket always pass.
	if !l.AllowResources("a", testRegion, "CreateVpc", 1_000_000) {
		t.Error("no resource bucket should mean allowed")
	}
	// Request and resource buckets are separate.
	if got := burst(l, "a", "RunInstances", false); got != 5 {
		t.Errorf("request bucket affected by resource bucket: %d", got)
	}
}

func TestIdleBucketsEvicted(t *testing.T) {
	clk := newFakeClock()
	l := New(DefaultConfig(), clk)
	for i := 0; i < 1000; i++ {
		l.Allow(fmt.Sprintf("acct-%d", i), testRegion, "DescribeVpcs", false)
	}
	if n := l.buckets(); n != 1000 {
		t.Fatalf("buckets = %d", n)
	}
	// Long enough for every bucket to refill and for every shard to sweep.
	clk.Advance(2 * time.Minute)
	for i := 0; i < 2000; i++ {
		l.Allow("busy", testRegion, fmt.Sprintf("Describe%d", i), false)
	}
	if n := l.buckets(); n != 2000 {
		t.Errorf("idle buckets not evicted: %d live, want 2000", n)
	}
	// A bucket still refilling is kept: CreateRestoreImageTask is 50 / 0.1
	// per s, so 2 min after draining it holds 12 tokens, not a fresh 50.
	clk2 := newFakeClock()
	l2 := New(DefaultConfig(), clk2)
	burst(l2, "a", "CreateRestoreImageTask", false)
	clk2.Advance(2 * time.Minute)
	for i := 0; i < 2000; i++ { // sweep every shard
		l2.Allow("busy", testRegion, fmt.Sprintf("Describe%d", i), false)
	}
	if got := burst(l2, "a", "CreateRestoreImageTask", false); got != 12 {
		t.Errorf("after 2m: %d tokens, want 12", got)
	}
}

func TestConcurrentAllowNeverOverGrants(t *testing.T) {
	l := New(DefaultConfig(), newFakeClock())
	var ok atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				if l.Allow("shared", testRegion, "DescribeHosts", false) {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 100 {
		t.Errorf("granted %d, want exactly 100", ok.Load())
	}
}

func TestError(t *testing.T) {
	var coded interface {
		error
		Code() string
	}
	if !errors.As(error(ErrRequestLimitExceeded), &coded) ||
		coded.Code() != "RequestLimitExceeded" || coded.Error() != "Request limit exceeded." {
		t.Error("ErrRequestLimitExceeded shape")
	}
}

func BenchmarkAllowParallel(b *testing.B) {
	l := New(DefaultConfig(), nil)
	accounts := make([]string, 1024)
	for i := range accounts {
		accounts[i] = fmt.Sprintf("%012d", i)
	}
	actions := []string{"DescribeInstances", "DescribeVpcs", "RunInstances", "CreateTags"}
	var next atomic.Uint32
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1)) * 7919
		for pb.Next() {
			l.Allow(accounts[i%len(accounts)], testRegion, actions[i%len(actions)], i&1 == 0)
			i++
		}
	})
}

func BenchmarkAllowParallelSameBucket(b *testing.B) {
	l := New(DefaultConfig(), nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Allow("123456789012", testRegion, "DescribeVpcs", false)
		}
	})
}

const testRegion = "us-east-1"

func TestRegionsHaveTheirOwnBuckets(t *testing.T) {
	l := New(DefaultConfig(), newFakeClock())
	for l.Allow("111122223333", "us-east-1", "DescribeRegions", false) {
	}
	if !l.Allow("111122223333", "eu-west-1", "DescribeRegions", false) {
		t.Fatal("an empty bucket in us-east-1 throttled eu-west-1")
	}
}

func TestParseBucket(t *testing.T) {
	cases := []struct {
		in   string
		name string
		want Bucket
		bad  bool
	}{
		{in: "non-mutating=200/40", name: "non-mutating", want: Bucket{200, 40}},
		{in: "RunInstances=10/0.5", name: "RunInstances", want: Bucket{10, 0.5}},
		{in: "non-mutating=200", bad: true},
		{in: "=1/1", bad: true},
		{in: "mutating=0/1", bad: true},
		{in: "mutating=5/0", bad: true},
		{in: "mutating=x/1", bad: true},
	}
	for _, c := range cases {
		name, b, err := ParseBucket(c.in)
		if c.bad != (err != nil) || !c.bad && (name != c.name || b != c.want) {
			t.Errorf("%q: got %q %+v %v", c.in, name, b, err)
		}
	}
	if !DefaultConfig().Known("resource-intensive") || !DefaultConfig().Known("RunInstances") || DefaultConfig().Known("bogus") {
		t.Error("Known")
	}
}
