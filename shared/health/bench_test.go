package health_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/health"
	"github.com/acme/backup-credentials/shared/provider"
)

// generated is a store of n credentials made up page by page, so the
// benchmark measures the run's memory, not the store's.
type generated struct {
	n        int
	endpoint func(i int) string
	recorded atomic.Int64
}

func (g *generated) ScanCredentials(_ context.Context, after string, limit int) ([]*backup.Credential, string, error) {
	start := 0
	if after != "" {
		start, _ = strconv.Atoi(after)
	}
	end := min(start+limit, g.n)
	cs := make([]*backup.Credential, 0, end-start)
	for i := start; i < end; i++ {
		cs = append(cs, &backup.Credential{ID: fmt.Sprintf("bc_%026d", i), OrganizationID: "org-1", AccessKeyID: "AKIAEXAMPLE",
			Endpoint: g.endpoint(i), Region: "us-east-1", Health: backup.Health{Status: backup.HealthHealthy}})
	}
	if end == g.n {
		return cs, "", nil
	}
	return cs, strconv.Itoa(end), nil
}

func (g *generated) RecordHealth(_ context.Context, c *backup.Credential, h backup.Health) (*backup.Credential, error) {
	g.recorded.Add(1)
	return &backup.Credential{ID: c.ID, Health: h}, nil
}

func (g *generated) CredentialsExist(context.Context, []string) (map[string]bool, error) {
	return nil, nil
}
func (g *generated) HealthCursor(context.Context) (string, error)   { return "", nil }
func (g *generated) SaveHealthCursor(context.Context, string) error { return nil }

type oneSecret struct{ backup.SecretStore }

// noStore is the service's store in tests whose runner reads from its own
// Store: the service only checks keys there, and any call to noStore fails
// the test by panicking.
type noStore struct{ backup.Store }

// checking returns a service that checks keys with chk and reads every
// secret as "secret".
func checking(tb testing.TB, chk backup.Checker) *backup.Service {
	svc, err := backup.New(noStore{}, backup.WithSecrets(oneSecret{}), backup.WithChecker(chk))
	if err != nil {
		tb.Fatal(err)
	}
	return svc
}

func (oneSecret) GetSecret(context.Context, string, string) (string, error) { return "secret", nil }

type loopbackNames struct{}

func (loopbackNames) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
}

// BenchmarkRun checks 2,000 and 20,000 credentials against a loopback
// endpoint that answers after 50 ms, with concurrency 32, spread over 16
// host names (8 per host). The bound is n × 50 ms / 32.
func BenchmarkRun(b *testing.B) {
	const latency = 50 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(latency)
		w.Header().Set("Content-Type", "application/xml")
		fmt.Fprint(w, `<ListAllMyBucketsResult><Buckets></Buckets></ListAllMyBucketsResult>`)
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for _, n := range []int{2000, 20000} {
		b.Run(fmt.Sprintf("credentials=%d", n), func(b *testing.B) {
			for range b.N {
				g := &generated{n: n, endpoint: func(i int) string { return fmt.Sprintf("http://h%d.test:%s", i%16, port) }}
				svc := checking(b, &provider.Checker{Resolver: loopbackNames{}, Timeout: 5 * time.Second,
					Guard: provider.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}})
				r := &health.Runner{Store: g, Service: svc, Concurrency: 32, PerHost: 8}
				runtime.GC()
				var base runtime.MemStats
				runtime.ReadMemStats(&base)
				peak := sample()
				start := time.Now()
				sum, err := r.Run(context.Background())
				wall := time.Since(start)
				heap := peak()
				if err != nil || sum.Checked != n || g.recorded.Load() != int64(n) {
					b.Fatalf("run: %+v %v", sum, err)
				}
				bound := time.Duration(n) * latency / 32
				b.ReportMetric(wall.Seconds(), "wall-s")
				b.ReportMetric(wall.Seconds()/bound.Seconds(), "x-bound")
				b.ReportMetric(float64(heap-base.HeapInuse)/(1<<20), "peak-heap-MiB")
			}
		})
	}
}

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
