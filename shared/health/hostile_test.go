package health_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acme/backup-credentials/shared/health"
	"github.com/acme/backup-credentials/shared/health/checker"
	"github.com/acme/backup-credentials/shared/provider"
)

// names resolves made-up host names to loopback addresses.
type names map[string]string

func (n names) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := n[host]; ok {
		return []netip.Addr{netip.MustParseAddr(a)}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// serveOn serves h on a loopback address of its own (127.0.0.0/8 is all
// this machine's).
func serveOn(t *testing.T, addr string, h http.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", addr+":0")
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewUnstartedServer(h)
	s.Listener.Close()
	s.Listener = l
	s.Start()
	t.Cleanup(s.Close)
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// TestPerHostCapByAddress: names made up under one wildcard DNS record all
// resolve to one address, and share its cap, so a tenant cannot multiply
// the checks aimed at one server by inventing names.
func TestPerHostCapByAddress(t *testing.T) {
	var inFlight, most atomic.Int64
	port := serveOn(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(100 * time.Millisecond)
		fmt.Fprint(w, `<ListAllMyBucketsResult></ListAllMyBucketsResult>`)
	}))
	resolver := names{}
	for i := range 4 {
		resolver[fmt.Sprintf("t%d.wildcard.test", i)] = "127.0.0.1"
	}
	g := newGenerated(16, func(i int) string { return fmt.Sprintf("http://t%d.wildcard.test:%s", i%4, port) })
	svc := checking(t, &provider.Checker{Resolver: resolver, Timeout: 5 * time.Second,
		Guard: provider.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}})
	scan, k, q := onGenerated(g, svc, 2, resolver)
	scan.Window = 4 // four messages, one per name, for four checkers at once
	if sum, err := scan.Run(context.Background()); err != nil || sum.Sent != 4 {
		t.Fatalf("scan: %+v %v", sum, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go q.Consume(ctx, 4, 1, time.Minute, func(ctx context.Context, ms []health.Message) []int {
		failed, _ := k.Handle(ctx, ms)
		return failed
	})
	for g.recorded.Load() < 16 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if most.Load() > 2 {
		t.Errorf("%d checks reached one address at once through 4 names; the cap is 2", most.Load())
	}
}

// hostile answers the way a provider bent on costing memory would, chosen
// by kind: a header that never ends, a body that never ends, or one byte a
// second.
func hostile(kind int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		write := func(s string) bool { _, err := buf.WriteString(s); return err == nil && buf.Flush() == nil }
		switch kind {
		case 0: // header flood
			write("HTTP/1.1 403 Forbidden\r\n")
			for i := 0; i < 1<<20 && write(fmt.Sprintf("X-Flood-%d: %s\r\n", i, strings.Repeat("a", 1000))); i++ {
			}
		case 1: // endless body
			write("HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\n\r\n<Error><Code>")
			chunk := strings.Repeat("x", 32<<10)
			for i := 0; i < 1<<16 && write(chunk); i++ {
			}
		default: // one byte a second
			for _, c := range "HTTP/1.1 200 OK\r\n" {
				if !write(string(c)) {
					return
				}
				time.Sleep(time.Second)
			}
		}
	})
}

// TestHostileProvidersKeepHeapSmall runs the health check against 32
// loopback servers, each on an address of its own, answering with header
// floods, endless bodies or one byte a second, 32 checks in flight: the
// heap stays under 64 MiB and no credential is called healthy.
func TestHostileProvidersKeepHeapSmall(t *testing.T) {
	resolver := names{}
	ports := make([]string, 32)
	for i := range 32 {
		addr := fmt.Sprintf("127.0.0.%d", i+1)
		ports[i] = serveOn(t, addr, hostile(i%3))
		resolver[fmt.Sprintf("p%d.test", i)] = addr
	}
	g := newGenerated(96, func(i int) string { return fmt.Sprintf("http://p%d.test:%s", i%32, ports[i%32]) })
	svc := checking(t, &provider.Checker{Resolver: resolver, Timeout: 1500 * time.Millisecond, MaxAttempts: 1,
		Guard: provider.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}})
	scan, k, q := onGenerated(g, svc, 8, resolver)
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	peak := sample()
	_, err := scan.Run(context.Background())
	var sum checker.Summary
	if err == nil {
		sum, err = checker.Drain(context.Background(), q, k)
	}
	heap := float64(peak()-base.HeapInuse) / (1 << 20)
	t.Logf("peak heap above the start: %.1f MiB (%d checks: %d invalid, %d unreachable)", heap, sum.Checked, sum.Invalid, sum.Unreachable)
	if err != nil || sum.Checked != 96 || sum.Healthy != 0 {
		t.Fatalf("run: %+v %v", sum, err)
	}
	if heap >= 64 {
		t.Errorf("peak heap %.1f MiB, want under 64 MiB", heap)
	}
}
