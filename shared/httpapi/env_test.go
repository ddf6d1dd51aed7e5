package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go/middleware"

	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/dynamo"
	"github.com/acme/backup-credentials/shared/httpapi"
	"github.com/acme/backup-credentials/shared/inmem"
	"github.com/acme/backup-credentials/shared/secrets"
	"github.com/acme/backup-credentials/shared/testkit"
)

var (
	moto *testkit.Server
	// logs captures every log line of the suite, searched for secrets.
	logs testkit.SyncBuffer
	// responses captures every response body of the suite, searched for
	// secrets and checked against the OpenAPI document.
	recorded recorder
)

func TestMain(m *testing.M) {
	if testkit.Idle() {
		os.Exit(m.Run())
	}
	var err error
	if moto, err = testkit.Start(); err != nil {
		log.Printf("moto_server is required for these tests: %v", err)
		os.Exit(1)
	}
	slog.SetDefault(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	code := m.Run()
	moto.Stop()
	// The suite-wide checks need the suite's traffic; a run filtered to
	// tests without HTTP (or fuzzing) has none to check.
	if code == 0 && len(recorded.all()) > 0 {
		if leaks := suiteLeaks(); len(leaks) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: secret keys leaked:\n%s\n", strings.Join(leaks, "\n"))
			code = 1
		}
		if bad := conformance(); len(bad) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: responses depart from openapi.yaml:\n%s\n", strings.Join(bad, "\n"))
			code = 1
		}
	}
	os.Exit(code)
}

// backends are the storage the suite runs on: the local API's in-process
// default and moto's DynamoDB and Secrets Manager.
var backends = []string{"local", "moto"}

// env is one API with fresh storage.
type env struct {
	t       *testing.T
	url     string
	calls   *testkit.Counter
	checker *fakeChecker
	secrets backup.SecretStore
	store   *dynamo.Store
	ddb     *dynamodb.Client
	table   string
	faults  *faults
	// roles stands for STS; trustPrincipal is what the service says it
	// assumes roles as.
	roles          *fakeRoles
	trustPrincipal string
	api            *httpapi.API
	clock          *clock
}

// clock is a service's clock: real time, unless a test sets it.
type clock struct {
	mu sync.Mutex
	at time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() {
		return time.Now()
	}
	return c.at
}

// Set makes the clock show t; the zero time makes it real again.
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = t
}

// service rebuilds the env's service with the suite's dependencies and
// settings and the options given, in place: later requests use it.
func (e *env) service(opts ...backup.Option) {
	e.t.Helper()
	svc, err := backup.New(e.store, append([]backup.Option{backup.WithSecrets(e.secrets), backup.WithChecker(e.checker),
		backup.WithIdempotencyWait(3 * time.Second), backup.WithRoles(e.roles, e.trustPrincipal), backup.WithKeyRotationDays(90),
		backup.WithClock(e.clock.Now)}, opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.api.Service = svc
}

var tableSeq atomic.Int64

func newEnv(t *testing.T, backend string) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, calls: &testkit.Counter{}, checker: &fakeChecker{}, faults: &faults{}, roles: &fakeRoles{},
		trustPrincipal: "arn:aws:iam::111122223333:role/backup-credentials-role-assumer"}
	e.table = fmt.Sprintf("t%d-%d", time.Now().UnixNano(), tableSeq.Add(1))
	opts := func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, e.calls.Middleware) }
	switch backend {
	case "local":
		ddb, err := inmem.DynamoDB(ctx, e.table)
		if err != nil {
			t.Fatal(err)
		}
		e.ddb = dynamodb.New(ddb.Options(), opts)
		e.secrets = &countingSecrets{SecretStore: inmem.NewSecretStore(), calls: e.calls}
	case "moto":
		cfg := moto.Config()
		cfg.APIOptions = []func(*middleware.Stack) error{e.calls.Middleware, e.faults.Middleware}
		e.ddb = dynamodb.NewFromConfig(cfg)
		if err := dynamo.CreateTable(ctx, e.ddb, e.table); err != nil {
			t.Fatal(err)
		}
		e.secrets = secrets.New(secretsmanager.NewFromConfig(cfg), "backup-credentials/"+e.table+"/")
	}
	e.store = dynamo.New(e.ddb, e.table)
	e.clock = &clock{}
	e.api = &httpapi.API{Auth: testkit.Auth{}}
	e.service()
	api := e.api
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(func() {
		srv.Close()
		for _, leak := range e.tableLeaks() {
			t.Errorf("table: %s", leak)
		}
	})
	e.url = srv.URL
	e.calls.Take()
	return e
}

// countingSecrets counts the in-process secret store's calls the way the SDK
// middleware counts Secrets Manager's.
type countingSecrets struct {
	backup.SecretStore
	calls *testkit.Counter
}

func (c *countingSecrets) CreateSecret(ctx context.Context, id, org, key string) (string, error) {
	c.calls.Add("Secrets Manager.CreateSecret")
	return c.SecretStore.CreateSecret(ctx, id, org, key)
}

func (c *countingSecrets) PutSecret(ctx context.Context, id, key, token string) (string, error) {
	c.calls.Add("Secrets Manager.PutSecretValue")
	return c.SecretStore.PutSecret(ctx, id, key, token)
}

func (c *countingSecrets) PromoteSecret(ctx context.Context, id, version string) error {
	c.calls.Add("Secrets Manager.DescribeSecret")
	c.calls.Add("Secrets Manager.UpdateSecretVersionStage")
	return c.SecretStore.PromoteSecret(ctx, id, version)
}

func (c *countingSecrets) GetSecret(ctx context.Context, id, v string) (string, error) {
	c.calls.Add("Secrets Manager.GetSecretValue")
	return c.SecretStore.GetSecret(ctx, id, v)
}

func (c *countingSecrets) DeleteSecret(ctx context.Context, id string) error {
	c.calls.Add("Secrets Manager.DeleteSecret")
	return c.SecretStore.DeleteSecret(ctx, id)
}

// fakeChecker accepts keys unless the secret is "wrong-secret", the
// endpoint's host starts with "down.", or it is told to refuse every key
// (as when a key was revoked). It counts its calls.
type fakeChecker struct {
	calls  atomic.Int64
	refuse atomic.Bool
}

func (f *fakeChecker) Check(_ context.Context, k backup.Keys) (backup.CheckResult, error) {
	f.calls.Add(1)
	switch {
	case strings.HasPrefix(k.SecretKey, "wrong-") || f.refuse.Load():
		return backup.CheckResult{Status: backup.HealthInvalid, Message: "Invalid S3 credentials: the provider does not accept these keys (SignatureDoesNotMatch)."}, nil
	case strings.Contains(k.Endpoint, "://down."):
		return backup.CheckResult{Status: backup.HealthUnreachable, Message: "The endpoint refused the connection; check its host and port."}, nil
	}
	return backup.CheckResult{Status: backup.HealthHealthy, Message: "The keys are valid."}, nil
}

// fakeRoles lets any role be assumed unless its name has "denied" (STS's
// AccessDenied) or "down" (no answer). It keeps the sessions asked for.
type fakeRoles struct {
	mu       sync.Mutex
	sessions []backup.RoleSession
}

func (f *fakeRoles) AssumeRole(_ context.Context, r backup.RoleSession) (*backup.TempCredentials, backup.CheckResult, error) {
	f.mu.Lock()
	f.sessions = append(f.sessions, r)
	f.mu.Unlock()
	switch {
	case strings.Contains(r.RoleARN, "denied"):
		return nil, backup.CheckResult{Status: backup.HealthInvalid, Message: "Invalid S3 credentials: AWS refused to let the service assume " + r.RoleARN + " (AccessDenied)."}, nil
	case strings.Contains(r.RoleARN, "down"):
		return nil, backup.CheckResult{Status: backup.HealthUnreachable, Message: "AWS STS did not answer."}, nil
	}
	return &backup.TempCredentials{AccessKeyID: "ASIATEMPORARY", SecretAccessKey: "temporary-secret-" + r.SessionName,
		SessionToken: "session-token", Expires: time.Now().Add(r.Duration)}, backup.CheckResult{Status: backup.HealthHealthy, Message: "The role may be assumed."}, nil
}

func (f *fakeRoles) taken() []backup.RoleSession {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.sessions
	f.sessions = nil
	return out
}

// caller is who a request is made as.
type caller struct {
	sub, role string
	orgs      []string
	// name is the display name claim; "Name of <sub>" when empty.
	name string
}

var (
	partner = caller{"u-partner", "partner", []string{"org-1", "org-2"}, ""}
	manager = caller{"u-manager", "manager", []string{"org-1"}, ""}
	reader  = caller{"u-reader", "user", []string{"org-1"}, ""}
	other   = caller{"u-other", "partner", []string{"org-9"}, ""}
	// otherReader reads org-9 only.
	otherReader = caller{"u-other-reader", "user", []string{"org-9"}, ""}
)

func (c caller) token() string {
	name := c.name
	if name == "" {
		name = "Name of " + c.sub
	}
	return testkit.Token(backup.Caller{UserID: c.sub, Name: name, Role: c.role, Organizations: c.orgs})
}

// response is an answer as a test sees it.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

func (r response) code() string {
	var p struct{ Code string }
	_ = json.Unmarshal(r.body, &p)
	return p.Code
}

// do sends a request as c (no token when c.sub is ""), with headers as
// name, value pairs.
func (e *env) do(c caller, method, path string, body any, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if c.sub != "" {
		req.Header.Set("Authorization", "Bearer "+c.token())
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, body: raw}
	recorded.add(method, path, r)
	return r
}

// must is do, failing the test unless the status is want.
func (e *env) must(want int, c caller, method, path string, body any, headers ...string) response {
	e.t.Helper()
	r := e.do(c, method, path, body, headers...)
	if r.status != want {
		if r.status >= 500 {
			dumpLogs(e.t)
		}
		e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, want, r.body)
	}
	return r
}

var secretSeq atomic.Int64

// newSecret returns a secret key unique to the suite, remembered so the
// suite can look for it in every log line and response.
func newSecret() string {
	s := fmt.Sprintf("sEcReT/%d+%d", time.Now().UnixNano(), secretSeq.Add(1))
	usedSecrets.Store(s, true)
	return s
}

var usedSecrets sync.Map

// accessKeyID makes an access key ID from a name: AKIA and its letters and
// digits, upper case.
func accessKeyID(name string) string {
	return "AKIA" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return unicode.ToUpper(r)
		}
		return -1
	}, name)
}

func createBody(org, name string) map[string]any {
	return map[string]any{
		"organizationId": org, "s3Name": name, "s3AccessKeyId": accessKeyID(name),
		"s3SecretKey": newSecret(), "s3Endpoint": "https://s3.eu-central-1.amazonaws.com", "s3Region": "eu-central-1",
	}
}

// create creates a credential as partner and returns its ID.
func (e *env) create(org, name string) string {
	e.t.Helper()
	r := e.must(201, partner, "POST", "/v1/backup-credentials", createBody(org, name))
	return r.json(e.t)["id"].(string)
}

// recorder keeps every response for the OpenAPI check.
type recorder struct {
	mu    sync.Mutex
	items []recordedResponse
}

type recordedResponse struct {
	method, path string
	response
}

func (r *recorder) add(method, path string, resp response) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.items = append(r.items, recordedResponse{method, path, resp})
}

func (r *recorder) all() []recordedResponse {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recordedResponse(nil), r.items...)
}

// forBackends runs a test on each backend.
func forBackends(t *testing.T, test func(t *testing.T, e *env)) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) { test(t, newEnv(t, b)) })
	}
}

func dumpLogs(t *testing.T) { t.Helper(); t.Log(logs.String()) }
