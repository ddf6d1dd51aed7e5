package stateful_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"pgregory.net/rapid"

	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/dynamo"
	"github.com/acme/backup-credentials/shared/health"
	"github.com/acme/backup-credentials/shared/health/checker"
	"github.com/acme/backup-credentials/shared/httpapi"
	"github.com/acme/backup-credentials/shared/inmem"
	"github.com/acme/backup-credentials/shared/secrets"
	"github.com/acme/backup-credentials/shared/stream"
	"github.com/acme/backup-credentials/shared/tail"
)

// The callers of a sequence, by name. The token is the name: the test's
// authenticator maps it to the caller, as API Gateway's JWT authorizer maps
// claims.
var callers = map[string]backup.Caller{
	"pa":     {UserID: "u-pa", Name: "Partner A", Organizations: []string{"org-a", "org-b"}, Role: backup.RolePartner},
	"ma":     {UserID: "u-ma", Name: "Manager A", Organizations: []string{"org-a"}, Role: backup.RoleManager},
	"ua":     {UserID: "u-ua", Name: "User A", Organizations: []string{"org-a"}, Role: backup.RoleUser},
	"pc":     {UserID: "u-pc", Name: "Partner C", Organizations: []string{"org-c"}, Role: backup.RolePartner},
	"none":   {UserID: "u-none", Name: "Nobody", Role: backup.RolePartner},
	"engine": {UserID: "backup-engine", Role: backup.RoleBackupEngine},
	// observer reads every organization, for the checks after each step;
	// no action is drawn as it.
	"observer": {UserID: "u-observer", Name: "Observer", Organizations: []string{"org-a", "org-b", "org-c"}, Role: backup.RoleUser},
}

// tokens is the authenticator of the sequences: the bearer token names a
// caller.
type tokens struct{}

func (tokens) Authenticate(r *http.Request) (backup.Caller, error) {
	raw, err := httpapi.BearerToken(r)
	if err != nil {
		return backup.Caller{}, err
	}
	c, ok := callers[raw]
	if !ok {
		return backup.Caller{}, backup.Errorf(backup.EUnauthorized, "The token is not valid.")
	}
	return c, nil
}

// provider plays the S3 providers and AWS STS of a sequence: keys are
// accepted unless the secret starts with "wrong-", the endpoint's host with
// "down.", or the access key ID was revoked; roles unless their name has
// "denied".
type provider struct {
	mu      sync.Mutex
	revoked map[string]bool
}

func (p *provider) revoke(accessKeyID string, revoked bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.revoked[accessKeyID] = revoked
}

func (p *provider) Check(_ context.Context, k backup.Keys) (backup.CheckResult, error) {
	p.mu.Lock()
	revoked := p.revoked[k.AccessKeyID]
	p.mu.Unlock()
	switch {
	case strings.Contains(k.Endpoint, "://down."):
		return backup.CheckResult{Status: backup.HealthUnreachable, Message: "The endpoint refused the connection; check its host and port."}, nil
	case strings.HasPrefix(k.SecretKey, "wrong-") || revoked:
		return backup.CheckResult{Status: backup.HealthInvalid, Message: "Invalid S3 credentials: the provider does not accept these keys (SignatureDoesNotMatch)."}, nil
	}
	return backup.CheckResult{Status: backup.HealthHealthy, Message: "The keys are valid."}, nil
}

func (p *provider) AssumeRole(_ context.Context, r backup.RoleSession) (*backup.TempCredentials, backup.CheckResult, error) {
	if strings.Contains(r.RoleARN, "denied") {
		return nil, backup.CheckResult{Status: backup.HealthInvalid, Message: "Invalid S3 credentials: AWS refused to let the service assume " + r.RoleARN + " (AccessDenied)."}, nil
	}
	return &backup.TempCredentials{AccessKeyID: "ASIATEMPORARY", SecretAccessKey: "temporary-" + r.SessionName, SessionToken: "session-token",
		Expires: time.Now().Add(r.Duration)}, backup.CheckResult{Status: backup.HealthHealthy, Message: "The role may be assumed."}, nil
}

// resolver answers every host with a loopback address: the health run's
// per-host cap looks hosts up, and a sequence dials nothing.
type resolver struct{}

func (resolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
}

const trustPrincipal = "arn:aws:iam::111122223333:role/backup-credentials-role-assumer"

// A storage is one backend a sequence runs on, with its own handler,
// stream and aliases.
type storage struct {
	name    string
	handler http.Handler
	store   *dynamo.Store
	runner  *healthPass
	drain   func(context.Context) ([]backup.Event, error)
	// ids maps each credential ID this storage made to its alias
	// ("cred-1", in order of creation), aliases the other way.
	ids, aliases map[string]string
	// cursor is the last nextCursor the storage answered: a request names
	// it {cursor}, since cursors differ between storages.
	cursor string
	spent  time.Duration
	calls  int
}

// bus keeps the events put on it.
type bus struct{ got []backup.Event }

func (b *bus) Put(_ context.Context, evs []backup.Event) (int, error) {
	b.got = append(b.got, evs...)
	return len(evs), nil
}

var seq atomic.Int64

// newStorage builds fresh storage of a kind ("local" or "moto") with the
// service, the API, the health run and the stream's publisher.
func newStorage(ctx context.Context, kind string, p *provider) (*storage, error) {
	table := fmt.Sprintf("seq%d-%d", time.Now().UnixNano(), seq.Add(1))
	st := &storage{name: kind, ids: map[string]string{}, aliases: map[string]string{}}
	published := &bus{}
	pub := stream.New(published, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var vault interface {
		backup.SecretStore
		backup.SecretBatch
	}
	switch kind {
	case "local":
		ddb, changes, err := inmem.DynamoDBWithStream(ctx, table)
		if err != nil {
			return nil, err
		}
		st.store, vault = dynamo.New(ddb, table), inmem.NewSecretStore()
		st.drain = func(ctx context.Context) ([]backup.Event, error) {
			err := changes.Drain(ctx, 100, pub.Publish)
			got := published.got
			published.got = nil
			return got, err
		}
	case "moto":
		cfg := moto.Config()
		ddb := dynamodb.NewFromConfig(cfg)
		if err := dynamo.CreateTable(ctx, ddb, table); err != nil {
			return nil, err
		}
		st.store, vault = dynamo.New(ddb, table), secrets.New(secretsmanager.NewFromConfig(cfg), table+"/")
		follow, err := tail.New(ctx, cfg, table)
		if err != nil {
			return nil, err
		}
		st.drain = func(ctx context.Context) ([]backup.Event, error) {
			err := follow.Drain(ctx, 100, pub.Publish)
			got := published.got
			published.got = nil
			return got, err
		}
	}
	st.store.MaxCredentialsPerOrganization, st.store.MaxProjectsPerCredential = maxCredentials, maxProjects
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := backup.New(st.store, backup.WithSecrets(vault), backup.WithChecker(p), backup.WithRoles(p, trustPrincipal), backup.WithLogger(logger))
	if err != nil {
		return nil, err
	}
	st.handler = (&httpapi.API{Service: svc, Auth: tokens{}, Logger: logger}).Handler()
	q := &health.MemoryQueue{}
	st.runner = &healthPass{queue: q, scanner: &health.Scanner{Store: st.store, Queue: q, Logger: logger},
		checker: &checker.Checker{Store: st.store, Slots: st.store, Secrets: vault, Service: svc, Queue: q, Logger: logger, Resolver: resolver{}}}
	return st, nil
}

// A response is one storage's answer, as sent and as compared: IDs replaced
// by their aliases and what differs between runs (times, cursors, external
// IDs) by placeholders.
type response struct {
	status int
	raw    string
	norm   string
	body   any
}

func (r response) code() string {
	m, _ := r.body.(map[string]any)
	c, _ := m["code"].(string)
	return c
}

func (r response) object() map[string]any {
	m, _ := r.body.(map[string]any)
	return m
}

var credentialID = regexp.MustCompile(`bc_[0-9A-HJKMNP-TV-Z]{26}`)

// serve sends one request to a storage, with aliases in path and body
// replaced by the storage's own IDs.
func (st *storage) serve(caller, method, path, body string, headers map[string]string) response {
	real := func(s string) string {
		for alias, id := range st.aliases {
			s = strings.ReplaceAll(s, "{"+alias+"}", id)
		}
		return strings.ReplaceAll(s, "{cursor}", url.QueryEscape(st.cursor))
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(real(body))
	}
	req := httptest.NewRequest(method, real(path), rd)
	if caller != "" {
		req.Header.Set("Authorization", "Bearer "+caller)
	}
	for k, v := range headers {
		req.Header.Set(k, real(v))
	}
	rec := httptest.NewRecorder()
	began := time.Now()
	st.handler.ServeHTTP(rec, req)
	st.spent += time.Since(began)
	st.calls++
	r := response{status: rec.Code, raw: rec.Body.String()}
	if method == "POST" && path == "/v1/backup-credentials" && r.status == http.StatusCreated {
		var made struct{ ID string }
		if json.Unmarshal([]byte(r.raw), &made) == nil {
			st.alias(made.ID)
		}
	}
	var page struct{ NextCursor string }
	if json.Unmarshal([]byte(r.raw), &page) == nil && page.NextCursor != "" {
		st.cursor = page.NextCursor
	}
	r.norm, r.body = st.normalize(r.raw)
	return r
}

// alias names a credential ID this storage made, giving it the next alias
// the first time it is seen.
func (st *storage) alias(id string) string {
	if a, ok := st.ids[id]; ok {
		return a
	}
	a := fmt.Sprintf("cred-%d", len(st.ids)+1)
	st.ids[id], st.aliases[a] = a, id
	return a
}

// times are the members whose values differ from run to run.
var times = map[string]bool{"at": true, "createdAt": true, "lastModified": true, "checkedAt": true, "lastUsedAt": true, "lastHealthyAt": true,
	"keysChangedAt": true, "expiresAt": true}

// normalize replaces, in a JSON answer, the storage's IDs by their aliases
// (an ID first seen is given its alias by the create that made it; one no
// answer ever named, by a placeholder), times and cursors by placeholders,
// and returns the canonical text with the decoded value.
func (st *storage) normalize(raw string) (string, any) {
	text := credentialID.ReplaceAllStringFunc(raw, func(id string) string {
		if a, ok := st.ids[id]; ok {
			return a
		}
		if id == bogus {
			return id
		}
		return "<an ID never answered>" // the same in every run, so a failure replays the same
	})
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		return text, nil
	}
	v = placeholders("", v)
	out, _ := json.Marshal(v)
	return string(out), v
}

func placeholders(key string, v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = placeholders(k, e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = placeholders("", e)
		}
		return x
	case string:
		switch {
		case times[key]:
			return "<time>"
		case key == "nextCursor":
			return "<cursor>"
		case key == "externalId":
			return "<external ID>"
		}
	}
	return v
}

var timestamp = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)

// events normalizes a storage's drained events (aliases for IDs, times
// even inside an eventId) and groups them by credential: the stream keeps
// each credential's events in order, not the order across credentials,
// which concurrent writes (a health run's) leave to chance.
func (st *storage) events(evs []backup.Event) map[string][]string {
	out := map[string][]string{}
	for _, e := range evs {
		raw, _ := json.Marshal(e)
		n, _ := st.normalize(timestamp.ReplaceAllString(string(raw), "<time>"))
		a, ok := st.ids[e.CredentialID]
		if !ok {
			a = "<an ID never answered>"
		}
		out[a] = append(out[a], n)
	}
	return out
}

// canonical is a JSON value's canonical text (sorted keys).
func canonical(v any) string {
	raw, _ := json.Marshal(v)
	var x any
	_ = json.Unmarshal(raw, &x)
	out, _ := json.Marshal(x)
	return string(out)
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// compact writes a body for the log of a sequence, short.
func compact(s string) string {
	var b bytes.Buffer
	if json.Compact(&b, []byte(s)) == nil {
		s = b.String()
	}
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

var _ = rapid.Bool // the harness serves rapid's sequences

// healthPass is the scheduled health pass on one storage: the scan, then
// the checks it queued, drained to the end (second attempts without their
// wait).
type healthPass struct {
	scanner *health.Scanner
	checker *checker.Checker
	queue   *health.MemoryQueue
}

// passDone is what a pass did.
type passDone struct {
	health.Summary
	Checks checker.Summary
}

func (p *healthPass) Run(ctx context.Context) (passDone, error) {
	scan, err := p.scanner.Run(ctx)
	if err != nil {
		return passDone{Summary: scan}, err
	}
	checks, err := checker.Drain(ctx, p.queue, p.checker)
	return passDone{Summary: scan, Checks: checks}, err
}

// ok reports whether a pass over live credentials finished, checked each
// one it queued once and failed none.
func (d passDone) ok(live int) bool {
	return d.Complete && d.Enqueued+d.Skipped == live && d.Checks.Checked == d.Enqueued && d.Checks.Failed == 0
}
