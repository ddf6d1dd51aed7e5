// Package checker is the queue's half of the health pass: each invocation
// takes a batch of messages of credential IDs, reads the credentials and
// their secrets in batches, checks them under a cap of concurrent checks
// per endpoint host that holds across every checker, and records each
// result with the store's conditional write, so duplicates and overlaps
// are harmless. A check that finds its endpoint unreachable is recorded
// only after a second attempt a little later; a host that stops answering
// is backed off; checks of a busy host are put back on the queue.
package checker

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/health"
)

// Store is the part of the credential store a checker uses.
type Store interface {
	Credentials(ctx context.Context, ids []string) ([]*backup.Credential, error)
	RecordHealth(ctx context.Context, checked *backup.Credential, h backup.Health) (*backup.Credential, error)
	AddHealthProgress(ctx context.Context, pass string, counts map[string]int, scannedAt *time.Time) error
}

// Slots caps the checks in flight per host across every checker, keeps
// each host's line of checks put back, and backs off hosts that do not
// answer (dynamo.Store's host items).
type Slots interface {
	AcquireHostSlots(ctx context.Context, r backup.SlotRequest) (backup.HostSlots, error)
	ReleaseHostSlot(ctx context.Context, r backup.SlotRelease) error
	BackOffHost(ctx context.Context, host string, until time.Time) error
}

// Service checks one credential (backup.Service).
type Service interface {
	CheckHealthWith(ctx context.Context, c *backup.Credential, secret string, found bool) (backup.Health, error)
	AnnounceRotation(ctx context.Context, c *backup.Credential) (bool, error)
}

// Checker checks the credentials of queued messages.
type Checker struct {
	Store   Store
	Slots   Slots
	Secrets backup.SecretBatch
	Service Service
	// Queue takes back the checks put off: second attempts and a busy
	// host's.
	Queue  health.Queue
	Logger *slog.Logger
	// Resolver looks endpoint hosts up: the cap is per address, so that
	// names made up under a wildcard DNS record share one. nil means
	// net.DefaultResolver.
	Resolver interface {
		LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	}
	// PerHost is the cap per host; Concurrency bounds the checks in flight
	// in one invocation.
	PerHost, Concurrency int
	// RetryDelay is how much later an unreachable endpoint is tried again;
	// Backoff how long a host that did not answer is left alone; DeferBase
	// how long a check put off for a busy host waits when the host's line
	// cannot say (half of it to all of it).
	RetryDelay, Backoff, DeferBase time.Duration
	// Margin is how long before the deadline an invocation stops starting
	// checks (the rest go back on the queue); Lease how long slots are held
	// when ctx has no deadline.
	Margin, Lease time.Duration
	Now           func() time.Time
}

func (k *Checker) defaults() {
	if k.PerHost <= 0 {
		k.PerHost = 8
	}
	if k.Concurrency <= 0 {
		k.Concurrency = 32
	}
	if k.RetryDelay <= 0 {
		k.RetryDelay = time.Minute
	}
	if k.Backoff <= 0 {
		k.Backoff = time.Minute
	}
	if k.DeferBase <= 0 {
		k.DeferBase = 5 * time.Second
	}
	if k.Lease <= 0 {
		k.Lease = 15 * time.Minute
	}
	if k.Resolver == nil {
		k.Resolver = net.DefaultResolver
	}
	if k.Logger == nil {
		k.Logger = slog.Default()
	}
	if k.Now == nil {
		k.Now = time.Now
	}
}

// Summary is what one invocation did.
type Summary struct {
	Checked, Healthy, Invalid, Unreachable int
	// Failed counts checks that could not be made or recorded (their
	// messages are failed, and come back); Deferred those put back.
	Failed, Deferred int
	// Changed counts statuses that moved; RotationDue keys found due for
	// rotation for the first time.
	Changed, RotationDue int
}

// job is one credential to check and the message it came in.
type job struct {
	c       *backup.Credential
	msg     int
	attempt int
	defers  int
	ticket  int64 // in its host's line, 0 before it waits there
}

// run is one invocation's state.
type run struct {
	k        *Checker
	msgs     []health.Message
	deadline time.Time
	sem      chan struct{}

	mu     sync.Mutex
	sum    Summary
	failed map[int]bool
	later  []later
}

// later is a check put back on the queue.
type later struct {
	j     job
	delay time.Duration
}

// Handle checks the credentials of msgs and returns the indexes of the
// messages that failed (to be delivered again) and what it did.
func (k *Checker) Handle(ctx context.Context, msgs []health.Message) ([]int, Summary) {
	k.defaults()
	r := &run{k: k, msgs: msgs, sem: make(chan struct{}, k.Concurrency), failed: map[int]bool{}}
	r.deadline = k.Now().Add(k.Lease)
	if d, ok := ctx.Deadline(); ok {
		r.deadline = d
	}
	groups, err := r.load(ctx)
	if err != nil {
		k.Logger.ErrorContext(ctx, "read credentials to check", "error", err)
		return all(len(msgs)), Summary{Failed: r.ids()}
	}
	var wg sync.WaitGroup
	for host, jobs := range groups {
		wg.Go(func() { r.host(ctx, host, jobs) })
	}
	wg.Wait()
	r.putBack(ctx)
	r.progress(ctx)
	failed := make([]int, 0, len(r.failed))
	for i := range r.failed {
		failed = append(failed, i)
	}
	r.report(ctx)
	return failed, r.sum
}

func all(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func (r *run) ids() int {
	n := 0
	for _, m := range r.msgs {
		n += len(m.IDs)
	}
	return n
}

// load reads the messages' credentials (one deleted since is skipped) and
// groups them by the address their checks are capped under.
func (r *run) load(ctx context.Context) (map[string][]job, error) {
	where := map[string]job{}
	var ids []string
	for i, m := range r.msgs {
		for _, id := range m.IDs {
			if _, dup := where[id]; !dup {
				ids = append(ids, id)
			}
			where[id] = job{msg: i, attempt: max(m.Attempt, 1), defers: m.Deferrals, ticket: m.Ticket}
		}
	}
	cs, err := r.k.Store.Credentials(ctx, ids)
	if err != nil {
		return nil, err
	}
	addrs := map[string]string{}
	groups := map[string][]job{}
	for _, c := range cs {
		j := where[c.ID]
		j.c = c
		name := health.HostOf(c)
		if _, ok := addrs[name]; !ok {
			addrs[name] = r.k.addressOf(ctx, name)
		}
		groups[addrs[name]] = append(groups[addrs[name]], j)
	}
	return groups, nil
}

// timeLeft reports whether a check started now ends before the deadline.
func (r *run) timeLeft(ctx context.Context) bool {
	return ctx.Err() == nil && r.k.Now().Before(r.deadline.Add(-r.k.Margin))
}

func (r *run) fail(j job) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed[j.msg] = true
	r.sum.Failed++
}

func (r *run) putOff(j job, delay time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.later = append(r.later, later{j, delay})
	r.sum.Deferred++
}

// busyDelay is how long a check put off for a busy host waits when its
// line cannot say: a while, with jitter so the put-off do not return at
// once, twice as long from the second time. The line is silent only until a
// check of the host is answered (a host that does not answer is backed
// off), or while a checker that died holds its slots until their lease runs
// out: the longer wait keeps that from costing a put-back every few
// seconds.
func (k *Checker) busyDelay(defers int) time.Duration {
	d := k.DeferBase / 2
	if defers > 1 {
		d *= 2
	}
	return d + rand.N(d+1)
}

// dueDelay is how long a check whose turn in its host's line has come, but
// found no slot free, waits: a fifth of DeferBase the first time, doubling
// with each time it was put off, up to DeferBase. A line's estimate is an
// average; when it is short, the checks it let through come back less and
// less often instead of asking every moment.
func (k *Checker) dueDelay(defers int) time.Duration {
	return min(k.DeferBase/5<<min(max(defers-1, 0), 3), k.DeferBase)
}
