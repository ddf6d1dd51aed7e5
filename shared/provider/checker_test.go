package provider_test

import (
	"context"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/provider"
	"github.com/acme/backup-credentials/shared/testkit"
)

// The provider under test: moto with IAM auth enforced, and keys made
// through its IAM.
var (
	moto                        *testkit.Server
	admin, valid, bare, revoked testkit.Keys
	adminCfg                    aws.Config
)

func TestMain(m *testing.M) {
	testkit.Run(m, func() (func(), error) {
		var err error
		if moto, adminCfg, err = testkit.StartProvider(); err != nil {
			return nil, err
		}
		ctx := context.Background()
		if valid, err = testkit.CreateUser(ctx, adminCfg, "backup", testkit.ListBucketsPolicy); err == nil {
			bare, err = testkit.CreateUser(ctx, adminCfg, "bare", "")
		}
		return moto.Stop, err
	})
}

func loopback() []netip.Prefix { return []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} }

func checker() *provider.Checker {
	return &provider.Checker{Guard: provider.Guard{Allow: loopback()}, Timeout: 3 * time.Second, STSEndpoint: moto.URL}
}

const awsEndpoint = "https://s3.eu-central-1.amazonaws.com"

func TestChecksAgainstMoto(t *testing.T) {
	tests := []struct {
		name, endpoint string
		keys           testkit.Keys
		status, msg    string
	}{
		{"STS valid", awsEndpoint, valid, backup.HealthHealthy, "AWS account 123456789012"},
		{"STS wrong secret", awsEndpoint, testkit.Keys{AccessKeyID: valid.AccessKeyID, SecretKey: "wrong"}, backup.HealthInvalid, "SignatureDoesNotMatch"},
		{"STS unknown key", awsEndpoint, testkit.Keys{AccessKeyID: "AKIAUNKNOWN000000000", SecretKey: "x"}, backup.HealthInvalid, "InvalidClientTokenId"},
		{"S3 valid", moto.URL, valid, backup.HealthHealthy, "lists buckets"},
		{"S3 without any policy", moto.URL, bare, backup.HealthHealthy, "may not list buckets (AccessDenied)"},
		{"S3 wrong secret", moto.URL, testkit.Keys{AccessKeyID: valid.AccessKeyID, SecretKey: "wrong"}, backup.HealthInvalid, "SignatureDoesNotMatch"},
		{"S3 unknown key", moto.URL, testkit.Keys{AccessKeyID: "AKIAUNKNOWN000000000", SecretKey: "x"}, backup.HealthInvalid, "InvalidAccessKeyId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := checker().Check(context.Background(), backup.Keys{AccessKeyID: tt.keys.AccessKeyID, SecretKey: tt.keys.SecretKey,
				Endpoint: tt.endpoint, Region: "eu-central-1"})
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tt.status || !strings.Contains(got.Message, tt.msg) {
				t.Errorf("got %+v, want %s with %q", got, tt.status, tt.msg)
			}
			if strings.Contains(got.Message, tt.keys.SecretKey) {
				t.Error("the message carries the secret key")
			}
		})
	}
}

// uniqueUser names a new IAM user, so tests can be run again on the same moto.
func uniqueUser(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
}

func TestRevokedKey(t *testing.T) {
	ctx := context.Background()
	user := uniqueUser("leaver")
	revoked, err := testkit.CreateUser(ctx, adminCfg, user, testkit.ListBucketsPolicy)
	if err != nil {
		t.Fatal(err)
	}
	k := backup.Keys{AccessKeyID: revoked.AccessKeyID, SecretKey: revoked.SecretKey, Endpoint: moto.URL, Region: "us-east-1"}
	if got, err := checker().Check(ctx, k); err != nil || got.Status != backup.HealthHealthy {
		t.Fatalf("before revoking: %+v %v", got, err)
	}
	if err := testkit.DeleteKey(ctx, adminCfg, user, revoked.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	for _, endpoint := range []string{moto.URL, awsEndpoint} {
		k.Endpoint = endpoint
		if got, err := checker().Check(ctx, k); err != nil || got.Status != backup.HealthInvalid {
			t.Errorf("%s after revoking: %+v %v", endpoint, got, err)
		}
	}
}

// server starts a loopback HTTP server for one test.
func server(t *testing.T, h http.HandlerFunc) *httptest.Server {
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

func check(t *testing.T, c *provider.Checker, endpoint string) (backup.CheckResult, error) {
	t.Helper()
	return c.Check(context.Background(), backup.Keys{AccessKeyID: "AKIAEXAMPLE", SecretKey: "s3cr3t-never-shown", Endpoint: endpoint, Region: "us-east-1"})
}

func TestUnreachable(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + closed.Addr().String()
	closed.Close()
	got, err := check(t, checker(), closedURL)
	if err != nil || got.Status != backup.HealthUnreachable || !strings.Contains(got.Message, "refused") {
		t.Errorf("closed port: %+v %v", got, err)
	}

	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	c := checker()
	c.Timeout = 700 * time.Millisecond
	start := time.Now()
	got, err = check(t, c, "http://"+silent.Addr().String())
	elapsed := time.Since(start)
	if err != nil || got.Status != backup.HealthUnreachable || !strings.Contains(got.Message, "did not answer within 700ms") {
		t.Errorf("silent server: %+v %v", got, err)
	}
	if elapsed > c.Timeout+time.Second {
		t.Errorf("silent server took %v, bound %v", elapsed, c.Timeout)
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	var hits atomic.Int64
	target := server(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	redirect := server(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/steal", http.StatusTemporaryRedirect)
	})
	got, err := check(t, checker(), redirect.URL)
	if err != nil || got.Status != backup.HealthUnreachable || !strings.Contains(got.Message, "redirect") {
		t.Errorf("redirect: %+v %v", got, err)
	}
	if hits.Load() != 0 {
		t.Errorf("the redirect was followed %d times", hits.Load())
	}
}

func TestThrottledIsRetriedThenReported(t *testing.T) {
	var hits atomic.Int64
	s := server(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `<Error><Code>SlowDown</Code><Message>Please reduce your request rate. internal-detail-xyz</Message></Error>`)
	})
	got, err := check(t, checker(), s.URL)
	if err != nil || got.Status != backup.HealthUnreachable || !strings.Contains(got.Message, "throttling") {
		t.Errorf("throttled: %+v %v", got, err)
	}
	if hits.Load() != 3 {
		t.Errorf("tries = %d, want 3", hits.Load())
	}
	if strings.Contains(got.Message, "internal-detail-xyz") {
		t.Error("the provider's raw body reached the message")
	}
}

func TestGuardAtDialTime(t *testing.T) {
	var hits atomic.Int64
	s := server(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(s.URL, "http://"))
	only1 := &provider.Checker{Guard: provider.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}},
		Timeout: time.Second, Resolver: fakeResolver{"evil.test": "127.0.0.2", "fine.test": "127.0.0.1"}}
	only2 := &provider.Checker{Guard: provider.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}}, Timeout: time.Second}
	tests := []struct {
		name     string
		c        *provider.Checker
		endpoint string
	}{
		{"127.0.0.2 outside the allow-list", only1, "http://127.0.0.2:" + port},
		{"decimal 127.0.0.2", only1, "http://2130706434:" + port},
		{"hex 127.0.0.2", only1, "https://0x7f000002:" + port},
		{"localhost when not allowed", only2, "http://localhost:" + port},
		{"[::1]", only1, "http://[::1]:" + port},
		{"[::ffff:127.0.0.2]", only1, "http://[::ffff:127.0.0.2]:" + port},
		{"IPv4-compatible [::127.0.0.2]", only1, "http://[::127.0.0.2]:" + port},
		{"IPv4-compatible [::127.0.0.1]", only1, "https://[::7f00:1]:" + port},
		{"a name resolving to a refused address", only1, "https://evil.test:" + port},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := check(t, tt.c, tt.endpoint)
			if backup.ErrorCode(err) != backup.EEndpointNotAllowed {
				t.Errorf("got %v, want endpoint_not_allowed", err)
			}
			if tt.name == "a name resolving to a refused address" && strings.Contains(err.Error(), "127.0.0.2") {
				t.Errorf("the refusal names the address the name resolved to: %v", err)
			}
		})
	}
	if hits.Load() != 0 {
		t.Errorf("a refused endpoint was reached %d times", hits.Load())
	}
	// The allowed address and a name resolving to it are reached.
	for _, endpoint := range []string{s.URL, "http://fine.test:" + port} {
		if _, err := check(t, only1, endpoint); err != nil {
			t.Errorf("%s: %v", endpoint, err)
		}
	}
	if hits.Load() == 0 {
		t.Error("the allowed endpoint was not reached")
	}
}

type fakeResolver map[string]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return []netip.Addr{netip.MustParseAddr(a)}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func TestUnknownHost(t *testing.T) {
	c := checker()
	c.Resolver = fakeResolver{}
	got, err := check(t, c, "https://nowhere.test")
	if err != nil || got.Status != backup.HealthUnreachable || !strings.Contains(got.Message, "does not resolve") {
		t.Errorf("unknown host: %+v %v", got, err)
	}
}

func TestPrivateCA(t *testing.T) {
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><ListAllMyBucketsResult><Buckets></Buckets></ListAllMyBucketsResult>`)
	}))
	defer s.Close()
	got, err := check(t, checker(), s.URL)
	if err != nil || got.Status != backup.HealthUnreachable || !strings.Contains(got.Message, "not trusted") {
		t.Errorf("without the CA: %+v %v", got, err)
	}
	ca := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}))
	got, err = checker().Check(context.Background(), backup.Keys{AccessKeyID: "AKIAEXAMPLE", SecretKey: "x", Endpoint: s.URL, Region: "us-east-1", CACertificate: ca})
	if err != nil || got.Status != backup.HealthHealthy {
		t.Errorf("with the CA: %+v %v", got, err)
	}
}

// TestHostileAnswersAreCut: a provider answering with a header flood or an
// endless body costs a bounded read, not memory, over S3 and over STS: a
// header flood is refused (unreachable), and of an endless body no more
// than a little over MaxResponseBodyBytes is read.
func TestHostileAnswersAreCut(t *testing.T) {
	flood := server(t, func(w http.ResponseWriter, r *http.Request) {
		for i := range 1000 { // 1 MiB of headers: under Go's default limit of 10 MiB
			w.Header().Set(fmt.Sprintf("X-Flood-%d", i), strings.Repeat("a", 1024))
		}
		w.WriteHeader(http.StatusForbidden)
	})
	var sent atomic.Int64
	endless := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		chunk := []byte("<Error><Code>" + strings.Repeat("x", 4096))
		for sent.Load() < 256<<20 { // 256 MiB, or until the reader hangs up
			n, err := w.Write(chunk)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	for _, tt := range []struct {
		name, endpoint, sts string
		endless             bool
	}{
		{"S3 header flood", flood.URL, "", false},
		{"STS header flood", awsEndpoint, flood.URL, false},
		{"S3 endless body", endless.URL, "", true},
		{"STS endless body", awsEndpoint, endless.URL, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sent.Store(0)
			c := &provider.Checker{Guard: provider.Guard{Allow: loopback()}, Timeout: 10 * time.Second, STSEndpoint: tt.sts, MaxAttempts: 1}
			r, err := check(t, c, tt.endpoint)
			switch {
			case err != nil || r.Status == backup.HealthHealthy:
				t.Errorf("got %+v, %v; want a result that is not healthy", r, err)
			case !tt.endless && r.Status != backup.HealthUnreachable:
				t.Errorf("a header flood gave %+v, want unreachable", r)
			case tt.endless && sent.Load() > 16<<20:
				t.Errorf("the provider got %d MiB of an endless answer read", sent.Load()>>20)
			}
		})
	}
}
