// Package throttle implements EC2-style API request throttling: per-account
// token buckets, one per API action, sized by the action's category (see
// categories.go for AWS's published figures), plus the separate resource
// buckets of RunInstances, StartInstances, StopInstances and
// TerminateInstances, which are drained by the number of instances a request
// affects.
//
// Buckets refill lazily from the Clock on each call (no goroutines) and a
// bucket that has refilled completely is indistinguishable from a new one,
// so idle buckets are dropped by an occasional lazy sweep.
package throttle

import (
	"fmt"
	"strato/internal/awserr"
	"strconv"
	"strings"

	"hash/maphash"
	"maps"
	"sync"
	"time"
)

// ErrRequestLimitExceeded is what a throttled request is answered with (HTTP 503).
var ErrRequestLimitExceeded = awserr.New("RequestLimitExceeded", "Request limit exceeded.")

// Clock supplies the current time; tests use a fake.
type Clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Bucket is a token bucket's maximum capacity (burst) and refill rate
// (sustained requests per second).
type Bucket struct {
	Size            float64
	RefillPerSecond float64
}

// Config configures a Limiter.
type Config struct {
	Enabled bool
	// Categories maps a category name (see Category) to its bucket. The
	// per-action categories (named after the action) fall back to the
	// action's generic category when absent; a category absent altogether
	// is not throttled. nil means the AWS defaults.
	Categories map[string]Bucket
	// Resources maps an action to its resource-rate bucket, consumed by
	// AllowResources. nil means the AWS defaults.
	Resources map[string]Bucket
	// ShareCategoryBuckets makes all actions of a category share one bucket
	// per account. AWS evaluates "each API individually" (a bucket per
	// action, sized by its category), which is the default (false).
	ShareCategoryBuckets bool
}

// DefaultConfig returns AWS's published figures, enabled.
func DefaultConfig() Config {
	cats := map[string]Bucket{
		NonMutating:           {100, 20},
		UnfilteredUnpaginated: {50, 10},
		Mutating:              {50, 5},
		ResourceIntensive:     {50, 5},
		ConsoleNonMutating:    {100, 10},
	}
	maps.Copy(cats, uncategorized)
	return Config{
		Enabled:    true,
		Categories: cats,
		Resources:  maps.Clone(defaultResources),
	}
}

// ParseBucket reads a bucket override "NAME=SIZE/RATE" (a category such as
// "non-mutating" or an action with its own figures such as "RunInstances"; RATE in
// tokens per second), for operators who configure throttling.
func ParseBucket(s string) (name string, b Bucket, err error) {
	name, figures, ok := strings.Cut(s, "=")
	size, rate, ok2 := strings.Cut(figures, "/")
	if !ok || !ok2 || name == "" {
		return "", Bucket{}, fmt.Errorf("bucket %q: want NAME=SIZE/RATE, e.g. non-mutating=100/20", s)
	}
	if b.Size, err = strconv.ParseFloat(size, 64); err != nil || b.Size < 1 {
		return "", Bucket{}, fmt.Errorf("bucket %q: size must be a number of at least 1", s)
	}
	if b.RefillPerSecond, err = strconv.ParseFloat(rate, 64); err != nil || b.RefillPerSecond <= 0 {
		return "", Bucket{}, fmt.Errorf("bucket %q: rate must be a positive number", s)
	}
	return name, b, nil
}

// Known reports whether name is a category or an action with its own bucket.
func (c Config) Known(name string) bool {
	_, ok := c.Categories[name]
	return ok
}

const (
	numShards = 64
	// sweepEvery is how often (in clock time) a shard drops full buckets.
	sweepEvery = int64(time.Minute)
	// tokenEpsilon is the rounding slack when comparing token counts.
	tokenEpsilon = 1e-9
)

type bucketKey struct {
	account  string
	category string
	region   string // AWS throttles each account per Region
	action   string // "" when buckets are shared per category
	resource bool
}

type bucketState struct {
	tokens float64
	last   int64 // ns since Limiter.base of the last refill
	size   float64
	rate   float64 // tokens per ns
}

// refill brings the bucket up to now.
func (b *bucketState) refill(now int64) {
	if dt := now - b.last; dt > 0 {
		b.tokens += float64(dt) * b.rate
		if b.tokens > b.size {
			b.tokens = b.size
		}
		b.last = now
	}
}

type shard struct {
	mu        sync.Mutex
	m         map[bucketKey]*bucketState
	lastSweep int64
	_         [40]byte // keep shards on separate cache lines
}

// Limiter enforces the buckets. It is safe for concurrent use.
type Limiter struct {
	cfg    Config
	clock  Clock
	base   time.Time
	seed   maphash.Seed
	shards [numShards]shard
}

// New returns a Limiter. A nil clock means the wall clock.
func New(cfg Config, clock Clock) *Limiter {
	if clock == nil {
		clock = realClock{}
	}
	def := DefaultConfig()
	if cfg.Categories == nil {
		cfg.Categories = def.Categories
	}
	if cfg.Resources == nil {
		cfg.Resources = def.Resources
	}
	l := &Limiter{cfg: cfg, clock: clock, base: clock.Now(), seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].m = make(map[bucketKey]*bucketState)
	}
	return l
}

// bucketFor returns the bucket figures and category for a request.
func (l *Limiter) bucketFor(action string, unfilteredUnpaginated bool) (Bucket, string, bool) {
	cat := Category(action, unfilteredUnpaginated)
	if b, ok := l.cfg.Categories[cat]; ok {
		return b, cat, true
	}
	if cat == action { // per-action figures not configured: use the generic category
		cat = genericCategory(action, unfilteredUnpaginated)
		if b, ok := l.cfg.Categories[cat]; ok {
			return b, cat, true
		}
	}
	return Bucket{}, cat, false
}

// Allow takes one token from the account's bucket for action in a region (AWS
// throttles each account per Region). false means
// the caller answers RequestLimitExceeded (see ErrRequestLimitExceeded).
// unfilteredUnpaginated reports that the request had no filter and no
// MaxResults/NextToken.
func (l *Limiter) Allow(accountID, region, action string, unfilteredUnpaginated bool) bool {
	if !l.cfg.Enabled {
		return true
	}
	b, cat, ok := l.bucketFor(action, unfilteredUnpaginated)
	if !ok {
		return true
	}
	k := bucketKey{account: accountID, region: region, category: cat, action: action}
	if l.cfg.ShareCategoryBuckets {
		k.action = ""
	}
	return l.take(k, b, 1)
}

// AllowResources takes n tokens from the account's resource bucket for
// action (RunInstances, StartInstances, StopInstances, TerminateInstances by
// default; n = number of instances affected). Nothing is taken when the
// bucket holds fewer than n tokens. Actions without a resource bucket are
// always allowed.
func (l *Limiter) AllowResources(accountID, region, action string, n int) bool {
	if !l.cfg.Enabled || n <= 0 {
		return true
	}
	b, ok := l.cfg.Resources[action]
	if !ok {
		return true
	}
	return l.take(bucketKey{account: accountID, region: region, action: action, resource: true}, b, float64(n))
}

func (l *Limiter) now() int64 { return int64(l.clock.Now().Sub(l.base)) }

func (l *Limiter) shardFor(k *bucketKey) *shard {
	h := maphash.String(l.seed, k.account) ^ maphash.String(l.seed, k.region)*0x517cc1b727220a95 ^ maphash.String(l.seed, k.action)*0x9e3779b97f4a7c15 ^ maphash.String(l.seed, k.category)
	return &l.shards[h%numShards]
}

func (l *Limiter) take(k bucketKey, b Bucket, n float64) bool {
	now := l.now()
	s := l.shardFor(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if now-s.lastSweep >= sweepEvery {
		s.sweep(now)
	}
	st := s.m[k]
	if st == nil {
		st = &bucketState{tokens: b.Size, last: now, size: b.Size, rate: b.RefillPerSecond / 1e9}
		s.m[k] = st
	} else {
		st.refill(now)
	}
	// The epsilon absorbs float rounding of fractional refills, so that
	// e.g. five 100 ms steps at 2 tokens/s really do yield one token.
	if st.tokens < n-tokenEpsilon {
		return false
	}
	st.tokens -= n
	return true
}

// sweep drops buckets that have refilled to capacity: they behave exactly
// like a bucket created afresh, so forgetting them changes nothing.
func (s *shard) sweep(now int64) {
	s.lastSweep = now
	for k, st := range s.m {
		st.refill(now)
		if st.tokens >= st.size-tokenEpsilon {
			delete(s.m, k)
		}
	}
}

// buckets returns the number of live buckets (for tests).
func (l *Limiter) buckets() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
