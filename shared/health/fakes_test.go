package health_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/health"
	"github.com/acme/backup-credentials/shared/health/checker"
)

// generated is a table of n credentials made up from their index, so that
// a run's memory is measured, not the table's: what is recorded is one
// status byte per credential.
type generated struct {
	n        int
	endpoint func(i int) string
	recorded atomic.Int64

	mu     sync.Mutex
	status []uint8 // an index of statuses, 0 for healthy
	cursor string
	pass   *backup.HealthPass
}

func newGenerated(n int, endpoint func(i int) string) *generated {
	return &generated{n: n, endpoint: endpoint, status: make([]uint8, n)}
}

// statuses are what generated.status indexes.
var statuses = []string{backup.HealthHealthy, backup.HealthInvalid, backup.HealthUnreachable, backup.HealthUnknown}

func statusCode(s string) uint8 { return uint8(max(slices.Index(statuses, s), 0)) }

// statusOf is credential i's recorded status.
func (g *generated) statusOf(i int) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return statuses[g.status[i]]
}

func (g *generated) setStatus(i int, s string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.status[i] = statusCode(s)
}

func (g *generated) credential(i int) *backup.Credential {
	status := g.statusOf(i)
	return &backup.Credential{ID: fmt.Sprintf("bc_%026d", i), OrganizationID: "org-1", AccessKeyID: "AKIAEXAMPLE",
		Endpoint: g.endpoint(i), Region: "us-east-1", Health: backup.Health{Status: status}}
}

func (g *generated) ScanCredentials(_ context.Context, after string, limit int) ([]*backup.Credential, string, error) {
	start := 0
	if after != "" {
		start, _ = strconv.Atoi(after)
	}
	end := min(start+limit, g.n)
	cs := make([]*backup.Credential, 0, end-start)
	for i := start; i < end; i++ {
		cs = append(cs, g.credential(i))
	}
	if end == g.n {
		return cs, "", nil
	}
	return cs, strconv.Itoa(end), nil
}

func (g *generated) Credentials(_ context.Context, ids []string) ([]*backup.Credential, error) {
	cs := make([]*backup.Credential, 0, len(ids))
	for _, id := range ids {
		i, err := strconv.Atoi(id[3:])
		if err != nil {
			return nil, err
		}
		cs = append(cs, g.credential(i))
	}
	return cs, nil
}

func (g *generated) RecordHealth(_ context.Context, c *backup.Credential, h backup.Health) (*backup.Credential, error) {
	i, _ := strconv.Atoi(c.ID[3:])
	g.setStatus(i, h.Status)
	g.recorded.Add(1)
	return &backup.Credential{ID: c.ID, Health: h}, nil
}

func (g *generated) CredentialsExist(context.Context, []string) (map[string]bool, error) {
	return nil, nil
}

func (g *generated) HealthCursor(context.Context) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cursor, nil
}

func (g *generated) SaveHealthCursor(_ context.Context, at string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cursor = at
	return nil
}

func (g *generated) StartHealthPass(_ context.Context, pass string, at time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pass = &backup.HealthPass{ID: pass, StartedAt: at, Counts: map[string]int64{}}
	return nil
}

func (g *generated) AddHealthProgress(_ context.Context, pass string, counts map[string]int, scannedAt *time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pass == nil || g.pass.ID != pass {
		return nil
	}
	for k, v := range counts {
		g.pass.Counts[k] += int64(v)
	}
	if scannedAt != nil {
		g.pass.ScannedAt = scannedAt
	}
	return nil
}

func (g *generated) HealthPass(context.Context) (*backup.HealthPass, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pass, nil
}

// memSlots is the per-host cap in memory, with the same answers as the
// table's host items.
type memSlots struct {
	mu    sync.Mutex
	hosts map[string]*memHost
	seq   int
}

type memHost struct {
	taken                   int
	backoff                 time.Time
	tickets, served, checks int64
	busy                    time.Duration
}

func newSlots() *memSlots { return &memSlots{hosts: map[string]*memHost{}} }

func (s *memSlots) host(name string) *memHost {
	if s.hosts[name] == nil {
		s.hosts[name] = &memHost{}
	}
	return s.hosts[name]
}

func (s *memSlots) AcquireHostSlots(_ context.Context, r backup.SlotRequest) (backup.HostSlots, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.host(r.Host)
	if h.backoff.After(r.Now) {
		return backup.HostSlots{BackedOffUntil: h.backoff}, nil
	}
	if got := min(r.Want, r.Limit-h.taken); got > 0 {
		h.taken += got
		s.seq++
		return backup.HostSlots{Lease: strconv.Itoa(s.seq), Got: got}, nil
	}
	out := backup.HostSlots{Served: h.served}
	if r.Join > 0 {
		out.Ticket = max(h.tickets, h.served) + 1
		h.tickets = out.Ticket + int64(r.Join) - 1
	}
	if h.checks > 0 {
		out.Each = h.busy / time.Duration(h.checks)
	}
	return out, nil
}

func (s *memSlots) ReleaseHostSlot(_ context.Context, r backup.SlotRelease) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.host(r.Host)
	h.taken--
	h.served += int64(r.Served)
	h.checks += int64(r.Answered)
	h.busy += r.Busy
	return nil
}

func (s *memSlots) BackOffHost(_ context.Context, host string, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.host(host).backoff = until
	return nil
}

// batchSecrets reads every secret as "secret", counting its calls.
type batchSecrets struct{ calls, read atomic.Int64 }

func (b *batchSecrets) GetSecrets(_ context.Context, refs []backup.SecretRef) (map[string]string, map[string]error, error) {
	out := make(map[string]string, len(refs))
	for start := 0; start < len(refs); start += 20 {
		b.calls.Add(1)
	}
	for _, r := range refs {
		out[r.ID] = "secret"
	}
	b.read.Add(int64(len(refs)))
	return out, nil, nil
}

// noStore is the service's store in tests whose checker has its own
// Store: the service only checks keys there, and any call to noStore fails
// the test by panicking.
type noStore struct{ backup.Store }

// checking returns a service that checks keys with chk.
func checking(tb testing.TB, chk backup.Checker) *backup.Service {
	svc, err := backup.New(noStore{}, backup.WithChecker(chk))
	if err != nil {
		tb.Fatal(err)
	}
	return svc
}

// onGenerated is a pass over g: the scanner and a checker with in-memory
// slots, on one in-process queue.
func onGenerated(g *generated, svc *backup.Service, perHost int, resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}) (*health.Scanner, *checker.Checker, *health.MemoryQueue) {
	q := &health.MemoryQueue{}
	return &health.Scanner{Store: g, Queue: q}, &checker.Checker{Store: g, Slots: newSlots(), Secrets: &batchSecrets{}, Service: svc,
		Queue: q, PerHost: perHost, Concurrency: 32, Resolver: resolver}, q
}

// quiet is a logger for runs whose lines nobody reads.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// The fakes stand where the adapters do.
var (
	_ health.Store  = (*generated)(nil)
	_ checker.Store = (*generated)(nil)
	_ checker.Slots = (*memSlots)(nil)
)

// sample watches the heap until the returned function is called, which
// returns the highest HeapInuse seen.
func sample() func() uint64 {
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(stop); <-done; return peak.Load() }
}
