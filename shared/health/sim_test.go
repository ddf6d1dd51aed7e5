package health_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/health"
)

// The simulation runs one health pass in process through the real scanner,
// queue consumer and checker, with fakes behind their interfaces: a table
// made up from indexes, the in-process queue with SQS's delays, per-host
// slots in memory, and a provider whose hosts answer after a long-tailed
// latency or, for 5% of them, not at all. One host holds 30% of the
// credentials. Time is scaled down 100 times: a check of about 100 ms takes
// about 1 ms, a 5 s timeout 50 ms, the minute before a second attempt
// 600 ms, a Lambda invocation's 300 s 3 s.
const (
	simScale    = 100
	simCap      = 8  // checks in flight per host
	simWorkers  = 50 // the event source mapping's MaximumConcurrency
	simPerCall  = 32 // checks in flight in one invocation
	simBatch    = 10 // messages per invocation
	simDeadFrac = 20 // one host in 20 does not answer
)

func scaled(d time.Duration) time.Duration { return d / simScale }

// simHost is one endpoint host of the simulation, with what it saw.
type simHost struct {
	endpoint string
	dead     bool
	in, most atomic.Int64
	busy     atomic.Int64 // nanoseconds spent checking
	last     atomic.Int64 // when its last check ended (Unix nanoseconds)
}

// simProvider answers checks as its hosts would.
type simProvider struct {
	hosts   map[string]*simHost
	median  time.Duration
	timeout time.Duration
}

func (p *simProvider) Check(ctx context.Context, k backup.Keys) (backup.CheckResult, error) {
	h := p.hosts[k.Endpoint]
	n := h.in.Add(1)
	defer h.in.Add(-1)
	for m := h.most.Load(); n > m && !h.most.CompareAndSwap(m, n); m = h.most.Load() {
	}
	start := time.Now()
	defer func() {
		h.busy.Add(int64(time.Since(start)))
		h.last.Store(time.Now().UnixNano())
	}()
	if h.dead {
		time.Sleep(p.timeout)
		return backup.CheckResult{Status: backup.HealthUnreachable, Message: "The endpoint did not answer in time."}, nil
	}
	// Log-normal around the median: a long tail, cut at the timeout.
	lat := time.Duration(float64(p.median) * math.Exp(0.6*rand.NormFloat64()))
	time.Sleep(min(lat, p.timeout))
	return backup.CheckResult{Status: backup.HealthHealthy, Message: "The keys are valid."}, nil
}

// simWorld is n credentials over their hosts: 30% on one, the rest about
// 70 to a host.
type simWorld struct {
	hosts  []*simHost
	byCred func(i int) *simHost
}

func newSimWorld(n int) *simWorld {
	others := max(n*7/10/70, 1)
	w := &simWorld{hosts: make([]*simHost, others+1)}
	for h := range w.hosts {
		w.hosts[h] = &simHost{endpoint: fmt.Sprintf("http://10.%d.%d.%d:9000", h>>16&255, h>>8&255, h&255),
			dead: h > 0 && h%simDeadFrac == 0}
	}
	w.byCred = func(i int) *simHost {
		if i%10 < 3 {
			return w.hosts[0] // the big one
		}
		j := i/10*7 + i%10 - 3 // the j-th credential not on the big host
		return w.hosts[1+(j*7919)%others]
	}
	return w
}

// simResult is what one simulated pass measured.
type simResult struct {
	pass, bound, bigHost         time.Duration
	bigDone, deadDone, otherDone time.Duration // when the last check of each kind of host ended
	heapMiB, heapOutsideFakesMiB float64
	mostPerHost                  int64
	messages                     int
	secretReads, secretCalls     float64 // per credential
	deferrals                    float64 // per credential
}

func simulate(tb testing.TB, n int) simResult {
	w := newSimWorld(n)
	p := &simProvider{hosts: map[string]*simHost{}, median: scaled(100 * time.Millisecond), timeout: scaled(5 * time.Second)}
	for _, h := range w.hosts {
		p.hosts[h.endpoint] = h
	}
	g := newGenerated(n, func(i int) string { return w.byCred(i).endpoint })
	svc := checking(tb, p)
	scan, k, q := onGenerated(g, svc, simCap, nil)
	k.Concurrency, k.RetryDelay, k.Backoff = simPerCall, scaled(time.Minute), scaled(time.Minute)
	k.DeferBase, k.Margin = scaled(5*time.Second), scaled(7*time.Second)
	k.Logger = quiet
	scan.Logger = quiet

	heap := sampleHeap(func() uint64 { return uint64(q.Footprint()) })

	ctx, cancel := context.WithCancel(context.Background())
	var consumers sync.WaitGroup
	consumers.Go(func() {
		q.Consume(ctx, simWorkers, simBatch, scaled(30*time.Minute), func(ctx context.Context, ms []health.Message) []int {
			call, done := context.WithTimeout(ctx, scaled(5*time.Minute)) // the function's timeout
			defer done()
			failed, _ := k.Handle(call, ms)
			return failed
		})
	})
	start := time.Now()
	if _, err := scan.Run(ctx); err != nil {
		tb.Fatal(err)
	}
	for g.recorded.Load() < int64(n) {
		time.Sleep(5 * time.Millisecond)
	}
	passed := time.Since(start)
	cancel()
	consumers.Wait()
	heap.stop()

	r := w.result(passed, start)
	r.heapMiB, r.heapOutsideFakesMiB = float64(heap.all.Load())/(1<<20), float64(heap.outside.Load())/(1<<20)
	r.messages = q.Sent()
	s := k.Secrets.(*batchSecrets)
	r.secretReads, r.secretCalls = float64(s.read.Load())/float64(n), float64(s.calls.Load())/float64(n)
	if pp, _ := g.HealthPass(context.Background()); pp != nil {
		r.deferrals = float64(pp.Counts[backup.PassDeferred]) / float64(n)
	}
	if r.mostPerHost > simCap {
		tb.Errorf("%d checks in flight at one host; the cap is %d", r.mostPerHost, simCap)
	}
	if got := g.recorded.Load(); got != int64(n) {
		tb.Errorf("%d recorded, want %d", got, n)
	}
	return r
}

// heapPeaks samples the live heap every 250 ms until stopped: its peak
// above where it started, and that peak without what the queue holds.
type heapPeaks struct {
	all, outside atomic.Uint64
	done         chan struct{}
	wg           sync.WaitGroup
}

func sampleHeap(queued func() uint64) *heapPeaks {
	h := &heapPeaks{done: make(chan struct{})}
	base := liveHeap()
	h.wg.Go(func() {
		for {
			// What a collection finds live, beside what the queue holds
			// then: the pass's own memory, without the garbage.
			used := liveHeap()
			used -= min(used, base)
			h.all.Store(max(h.all.Load(), used))
			h.outside.Store(max(h.outside.Load(), used-min(used, queued())))
			select {
			case <-h.done:
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	})
	return h
}

func (h *heapPeaks) stop() {
	close(h.done)
	h.wg.Wait()
}

// result reads the hosts after a pass that began at start: the bound, the
// most checks in flight at one host, and when each kind of host was done.
func (w *simWorld) result(passed time.Duration, start time.Time) simResult {
	var total time.Duration
	r := simResult{pass: passed}
	for _, h := range w.hosts {
		busy := time.Duration(h.busy.Load())
		total += busy
		r.bound = max(r.bound, busy/simCap)
		r.mostPerHost = max(r.mostPerHost, h.most.Load())
	}
	r.bigHost = time.Duration(w.hosts[0].busy.Load()) / simCap
	for i, h := range w.hosts {
		done := time.Duration(h.last.Load() - start.UnixNano())
		switch {
		case i == 0:
			r.bigDone = done
		case h.dead:
			r.deadDone = max(r.deadDone, done)
		default:
			r.otherDone = max(r.otherDone, done)
		}
	}
	r.bound = max(r.bound, total/(simWorkers*simPerCall))
	return r
}

// TestSimulatedPass runs the simulation small, as make test can afford:
// every credential is recorded and no host ever has more than its cap of
// checks in flight (simulate fails otherwise); times are BenchmarkPass's.
func TestSimulatedPass(t *testing.T) {
	r := simulate(t, 2_000)
	if r.messages == 0 || r.mostPerHost == 0 || r.secretReads == 0 {
		t.Errorf("a pass of 2,000 sent %d messages, %d checks at most at one host, %.2f secret reads per credential", r.messages, r.mostPerHost, r.secretReads)
	}
}

// BenchmarkPass is the simulation at 10,000 and 1,000,000 credentials. Its
// bound is the larger of all checking time / global concurrency and, for
// each host, its checking time / its cap, from the times the checks took.
func BenchmarkPass(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("credentials=%d", n), func(b *testing.B) {
			for range b.N {
				r := simulate(b, n)
				b.ReportMetric(r.pass.Seconds()*simScale, "pass-s")
				b.ReportMetric(r.bound.Seconds()*simScale, "bound-s")
				b.ReportMetric(r.pass.Seconds()/r.bound.Seconds(), "x-bound")
				b.ReportMetric(r.bigDone.Seconds()*simScale, "big-host-done-s")
				b.ReportMetric(r.deadDone.Seconds()*simScale, "dead-hosts-done-s")
				b.ReportMetric(r.otherDone.Seconds()*simScale, "other-hosts-done-s")
				b.ReportMetric(r.heapMiB, "peak-heap-MiB")
				b.ReportMetric(r.heapOutsideFakesMiB, "heap-outside-queue-MiB")
				b.ReportMetric(float64(r.mostPerHost), "most-per-host")
				b.ReportMetric(float64(r.messages), "messages")
				b.ReportMetric(r.secretReads, "secret-reads/cred")
				b.ReportMetric(r.secretCalls, "secret-calls/cred")
				b.ReportMetric(r.deferrals, "put-back/cred")
			}
		})
	}
}

// liveHeap collects garbage and returns the heap left.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
