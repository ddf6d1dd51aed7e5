package health_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/dynamo"
	"github.com/acme/backup-credentials/shared/eventbus"
	"github.com/acme/backup-credentials/shared/health"
	"github.com/acme/backup-credentials/shared/health/checker"
	"github.com/acme/backup-credentials/shared/provider"
	"github.com/acme/backup-credentials/shared/secrets"
	"github.com/acme/backup-credentials/shared/stream"
	"github.com/acme/backup-credentials/shared/tail"
	"github.com/acme/backup-credentials/shared/testkit"
)

// storage is an open moto (table, secrets, events); s3 an IAM-enforcing one,
// the provider whose keys are checked.
var storage, s3 *testkit.Server

var adminCfg aws.Config

func TestMain(m *testing.M) {
	health.MetricsOut = io.Discard
	testkit.Run(m, func() (func(), error) {
		var err error
		if storage, err = testkit.Start(); err != nil {
			return nil, err
		}
		if s3, adminCfg, err = testkit.StartProvider(); err != nil {
			return storage.Stop, err
		}
		return func() { storage.Stop(); s3.Stop() }, nil
	})
}

// world is one table, secret prefix, event bus and queue that receives the
// bus's events.
type world struct {
	t       *testing.T
	store   *dynamo.Store
	secrets *secrets.Store
	svc     *backup.Service
	queue   string
	sqs     *sqs.Client
	bus     string
	tail    *tail.Tail
}

// service rebuilds the world's service with opts besides its store,
// secrets and loopback checker.
func (w *world) service(opts ...backup.Option) {
	chk := &provider.Checker{Guard: provider.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, Timeout: 2 * time.Second}
	svc, err := backup.New(w.store, append([]backup.Option{backup.WithSecrets(w.secrets), backup.WithChecker(chk)}, opts...)...)
	if err != nil {
		w.t.Fatal(err)
	}
	w.svc = svc
}

func newWorld(t *testing.T) *world {
	ctx := context.Background()
	cfg := storage.Config()
	name := fmt.Sprintf("h%d", time.Now().UnixNano())
	ddb := dynamodb.NewFromConfig(cfg)
	if err := dynamo.CreateTable(ctx, ddb, name); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, store: dynamo.New(ddb, name), secrets: secrets.New(secretsmanager.NewFromConfig(cfg), name+"/"), sqs: sqs.NewFromConfig(cfg), bus: name}
	var err error
	if w.tail, err = tail.New(ctx, cfg, name); err != nil {
		t.Fatal(err)
	}
	w.service()
	eb := eventbridge.NewFromConfig(cfg)
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	q, err := w.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	w.queue = aws.ToString(q.QueueUrl)
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventBusName: aws.String(name),
		EventPattern: aws.String(`{"detail-type":["` + backup.EventHealthChanged + `","` + backup.EventRotationDue + `"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name), EventBusName: aws.String(name),
		Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String("arn:aws:sqs:us-east-1:123456789012:" + name)}}}); err != nil {
		t.Fatal(err)
	}
	return w
}

// pass is one health pass: the scanner, and the checker on an in-process
// queue drained to the end (second attempts without their wait).
type pass struct {
	scanner *health.Scanner
	checker *checker.Checker
	queue   *health.MemoryQueue
}

type (
	scanned = health.Summary
	checked = checker.Summary
)

// passSummary is what the scan and the checks did.
type passSummary struct {
	scanned
	checked
}

func (w *world) runner() *pass {
	q := &health.MemoryQueue{}
	return &pass{queue: q, scanner: &health.Scanner{Store: w.store, Secrets: w.secrets, Queue: q},
		checker: &checker.Checker{Store: w.store, Slots: w.store, Secrets: w.secrets, Service: w.svc, Queue: q, Concurrency: 8, PerHost: 4}}
}

// Run scans, then checks what the scan queued.
func (p *pass) Run(ctx context.Context) (passSummary, error) {
	var sum passSummary
	var err error
	if sum.scanned, err = p.scanner.Run(ctx); err != nil {
		return sum, err
	}
	sum.checked, err = checker.Drain(ctx, p.queue, p.checker)
	return sum, err
}

// events publishes the table's stream as the deployed publisher does, and
// drains the queue of the bus's health events.
func (w *world) events() []map[string]any {
	pub := stream.New(&eventbus.Bus{API: eventbridge.NewFromConfig(storage.Config()), Name: w.bus}, slog.Default())
	if err := w.tail.Drain(context.Background(), 100, pub.Publish); err != nil {
		w.t.Fatal(err)
	}
	var out []map[string]any
	for {
		r, err := w.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(w.queue), MaxNumberOfMessages: 10})
		if err != nil {
			w.t.Fatal(err)
		}
		if len(r.Messages) == 0 {
			return out
		}
		for _, m := range r.Messages {
			var e map[string]any
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &e); err != nil {
				w.t.Fatal(err)
			}
			out = append(out, e)
			_, _ = w.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(w.queue), ReceiptHandle: m.ReceiptHandle})
		}
	}
}

var seq int

// store puts a credential straight into storage, as healthy, bypassing the
// create check (so that unreachable endpoints can be stored).
func (w *world) store_(org, endpoint string, keys testkit.Keys) *backup.Credential {
	w.t.Helper()
	ctx := context.Background()
	seq++
	now := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	c := &backup.Credential{ID: backup.NewID(time.Now()), OrganizationID: org, Name: fmt.Sprintf("cred-%d", seq),
		AccessKeyID: keys.AccessKeyID, Endpoint: endpoint, Region: "us-east-1", Projects: []backup.Project{},
		Health:    backup.Health{Status: backup.HealthHealthy, CheckedAt: &now},
		CreatedAt: now, CreatedBy: "t", LastModified: now, LastModifiedBy: "t", Version: 1}
	var err error
	if c.SecretVersion, err = w.secrets.CreateSecret(ctx, c.ID, org, keys.SecretKey); err != nil {
		w.t.Fatal(err)
	}
	if err := w.store.CreateCredential(ctx, c, backup.HistoryEntry{At: now, By: "t", Action: backup.ActionCreated, Fields: []string{"s3Name"}}, ""); err != nil {
		w.t.Fatal(err)
	}
	return c
}

func (w *world) get(id string) *backup.Credential {
	c, err := w.store.GetCredential(context.Background(), id, []string{"org-1"})
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "http://" + l.Addr().String()
}

func TestRunRecordsAndAnnounces(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	good, err := testkit.CreateUser(ctx, adminCfg, "good-"+w.bus, testkit.ListBucketsPolicy)
	if err != nil {
		t.Fatal(err)
	}
	gone, err := testkit.CreateUser(ctx, adminCfg, "gone-"+w.bus, testkit.ListBucketsPolicy)
	if err != nil {
		t.Fatal(err)
	}
	valid := w.store_("org-1", s3.URL, good)
	revoked := w.store_("org-1", s3.URL, gone)
	down := w.store_("org-1", closedPort(t), good)
	noSecret := w.store_("org-1", s3.URL, good)
	if err := testkit.DeleteKey(ctx, adminCfg, "gone-"+w.bus, gone.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	if err := w.secrets.DeleteSecret(ctx, noSecret.ID); err != nil {
		t.Fatal(err)
	}
	sum, err := w.runner().Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Checked != 4 || sum.Healthy != 1 || sum.Invalid != 2 || sum.Unreachable != 1 || !sum.Complete || sum.Changed != 3 {
		t.Errorf("summary = %+v", sum)
	}
	for _, tt := range []struct {
		c      *backup.Credential
		status string
	}{{valid, "healthy"}, {revoked, "invalid"}, {down, "unreachable"}, {noSecret, "invalid"}} {
		got := w.get(tt.c.ID)
		if got.Health.Status != tt.status {
			t.Errorf("%s: health %+v, want %s", tt.c.Name, got.Health, tt.status)
		}
		if got.Version != 1 || !got.LastModified.Equal(tt.c.LastModified) {
			t.Errorf("%s: a health check changed version or lastModified", tt.c.Name)
		}
		h, _, _ := w.store.History(ctx, tt.c.ID, []string{"org-1"}, 10, "")
		if len(h) != 1 {
			t.Errorf("%s: a health check wrote history %v", tt.c.Name, h)
		}
	}
	if got := w.get(noSecret.ID).Health.Message; !strings.Contains(got, "missing") {
		t.Errorf("missing secret message = %q", got)
	}
	events := w.events()
	if len(events) != 3 {
		t.Fatalf("events = %v, want 3", events)
	}
	seen := map[string]string{}
	for _, e := range events {
		d := e["detail"].(map[string]any)
		changes := d["changes"].(map[string]any)
		if e["detail-type"] != backup.EventHealthChanged || changes["previousStatus"] != "healthy" || d["organizationId"] != "org-1" {
			t.Errorf("event = %v", e)
		}
		seen[d["credentialId"].(string)] = changes["health"].(map[string]any)["status"].(string)
		raw, _ := json.Marshal(e)
		if strings.Contains(string(raw), good.SecretKey) || strings.Contains(string(raw), gone.SecretKey) {
			t.Error("an event carries a secret key")
		}
	}
	if seen[revoked.ID] != "invalid" || seen[down.ID] != "unreachable" || seen[noSecret.ID] != "invalid" {
		t.Errorf("changes = %v", seen)
	}
	// Nothing changed: no event.
	if sum, err = w.runner().Run(ctx); err != nil || sum.Changed != 0 {
		t.Errorf("second run: %+v %v", sum, err)
	}
	if events := w.events(); len(events) != 0 {
		t.Errorf("second run announced %v", events)
	}
}

// deletingStore deletes a credential after the checker has read it and
// before it records its health.
type deletingStore struct {
	*dynamo.Store
	victim string
}

func (d deletingStore) Credentials(ctx context.Context, ids []string) ([]*backup.Credential, error) {
	cs, err := d.Store.Credentials(ctx, ids)
	if err == nil {
		_, err = d.Store.DeleteCredential(ctx, d.victim, []string{"org-1"}, backup.HistoryEntry{At: time.Now(), By: "test", Action: backup.ActionDeleted})
	}
	return cs, err
}

func TestDeletedDuringRunIsNotRecreated(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	keys, err := testkit.CreateUser(ctx, adminCfg, "del-"+w.bus, testkit.ListBucketsPolicy)
	if err != nil {
		t.Fatal(err)
	}
	c := w.store_("org-1", s3.URL, keys)
	r := w.runner()
	r.checker.Store = deletingStore{w.store, c.ID}
	if _, err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.GetCredential(ctx, c.ID, []string{"org-1"}); backup.ErrorCode(err) != backup.ENotFound {
		t.Errorf("deleted credential: %v", err)
	}
}

// listed returns the IDs of the secrets ListSecrets sees (not those
// scheduled for deletion).
func (w *world) listed() []string {
	var out []string
	if err := w.secrets.ListSecrets(context.Background(), func(s backup.StoredSecret) error {
		out = append(out, s.NameID)
		return nil
	}); err != nil {
		w.t.Fatal(err)
	}
	return out
}

// scheduled reports whether a secret is scheduled for deletion (with a
// recovery window), as opposed to present or gone for good.
func (w *world) scheduled(name string) bool {
	out, err := secretsmanager.NewFromConfig(storage.Config()).DescribeSecret(context.Background(),
		&secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	return err == nil && out.DeletedDate != nil
}

func TestOrphanSweep(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	kept := w.store_("org-1", closedPort(t), testkit.Keys{AccessKeyID: "AKIAX", SecretKey: "s"})
	orphan := backup.NewID(time.Now())
	if _, err := w.secrets.CreateSecret(ctx, orphan, "org-1", "orphaned"); err != nil {
		t.Fatal(err)
	}
	sum, err := w.runner().Run(ctx)
	if err != nil || sum.OrphansDeleted != 0 {
		t.Fatalf("young orphan: %+v %v", sum, err)
	}
	r := w.runner()
	r.scanner.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if sum, err = r.Run(ctx); err != nil || sum.OrphansDeleted != 1 || sum.SweepRefused {
		t.Fatalf("old orphan: %+v %v", sum, err)
	}
	if got := w.listed(); len(got) != 1 || got[0] != kept.ID {
		t.Errorf("secrets after the sweep = %v, want only %s", got, kept.ID)
	}
	if !w.scheduled(w.secrets.Name(orphan)) {
		t.Error("the orphan was deleted without a recovery window")
	}
}

// TestSweepDeletesOnlyItsOwn: under the prefix, a secret whose name is not
// a credential ID, or whose tag names another credential, is not this
// service's, and stays.
func TestSweepDeletesOnlyItsOwn(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	sm := secretsmanager.NewFromConfig(storage.Config())
	create := func(name, tag string) {
		in := &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("not ours")}
		if tag != "" {
			in.Tags = []smtypes.Tag{{Key: aws.String("credentialId"), Value: aws.String(tag)}}
		}
		if _, err := sm.CreateSecret(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	keep := []string{w.store_("org-1", closedPort(t), testkit.Keys{AccessKeyID: "AKIAX", SecretKey: "s"}).ID}
	foreign := w.secrets.Name("db-password")
	create(foreign, "")
	mismatched := backup.NewID(time.Now())
	create(w.secrets.Name(mismatched), backup.NewID(time.Now()))
	orphan := backup.NewID(time.Now())
	if _, err := w.secrets.CreateSecret(ctx, orphan, "org-1", "orphaned"); err != nil {
		t.Fatal(err)
	}
	r := w.runner()
	r.scanner.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	sum, err := r.Run(ctx)
	if err != nil || sum.OrphansDeleted != 1 {
		t.Fatalf("run: %+v %v", sum, err)
	}
	got := w.listed()
	for _, id := range append(keep, "db-password", mismatched) {
		if !slices.Contains(got, id) {
			t.Errorf("secret %s was swept", id)
		}
	}
	if slices.Contains(got, orphan) {
		t.Error("the orphan was kept")
	}
}

// TestSweepRefusesWhenTooManyLookOrphaned: a wrong table (here: an empty
// one) makes every secret look orphaned; the sweep deletes nothing, logs an
// error and reports SweepRefused.
func TestSweepRefusesWhenTooManyLookOrphaned(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	for range 3 {
		w.store_("org-1", closedPort(t), testkit.Keys{AccessKeyID: "AKIAX", SecretKey: "s"})
	}
	before := w.listed()
	wrong := fmt.Sprintf("wrong%d", time.Now().UnixNano())
	ddb := dynamodb.NewFromConfig(storage.Config())
	if err := dynamo.CreateTable(ctx, ddb, wrong); err != nil {
		t.Fatal(err)
	}
	var metrics bytes.Buffer
	health.MetricsOut = &metrics
	defer func() { health.MetricsOut = os.Stdout }()
	r := w.runner()
	r.scanner.Store = dynamo.New(ddb, wrong)
	r.scanner.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	sum, err := r.Run(ctx)
	if err != nil || sum.OrphansDeleted != 0 || !sum.SweepRefused {
		t.Fatalf("run on the wrong table: %+v %v", sum, err)
	}
	if after := w.listed(); len(after) != len(before) {
		t.Errorf("secrets %v became %v", before, after)
	}
	if !strings.Contains(metrics.String(), `"SweepRefused":1`) {
		t.Errorf("no SweepRefused metric in %s", metrics.String())
	}
}

// clock is a run's clock that moves only when a check reaches the provider,
// so where a run stops depends on how many checks it made, never on how
// busy the machine is.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// provider answers every check as invalid keys, advancing clk by a minute.
func provider_(t *testing.T, clk *clock) string {
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		clk.advance(time.Minute)
		rw.WriteHeader(http.StatusForbidden)
		fmt.Fprint(rw, `<Error><Code>InvalidAccessKeyId</Code></Error>`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// tickingScan moves a clock a minute with each page it scans.
type tickingScan struct {
	health.Store
	clk *clock
}

func (s tickingScan) ScanCredentials(ctx context.Context, after string, limit int) ([]*backup.Credential, string, error) {
	s.clk.advance(time.Minute)
	return s.Store.ScanCredentials(ctx, after, limit)
}

// TestScanStopsBeforeDeadlineAndResumes: a scan stops Margin before its
// deadline, having saved where to go on, and the next run queues the rest:
// together they queue every credential once. The deadline is on the run's
// clock, which only scans move.
func TestScanStopsBeforeDeadlineAndResumes(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	start := time.Now()
	clk := &clock{now: start}
	endpoint := provider_(t, &clock{now: start})
	const n = 24
	for range n {
		w.store_("org-1", endpoint, testkit.Keys{AccessKeyID: "AKIAX", SecretKey: "s"})
	}
	r := w.runner()
	r.scanner.Store, r.scanner.PageSize, r.scanner.Window, r.scanner.Now = tickingScan{w.store, clk}, 2, 2, clk.Now
	deadline, cancel := context.WithDeadline(ctx, start.Add(10*time.Minute))
	defer cancel()
	r.scanner.Margin = 2 * time.Minute
	first, err := r.scanner.Run(deadline)
	if err != nil {
		t.Fatal(err)
	}
	// A page holds at most 2 credentials (the table's other items count
	// towards a scan's limit): 8 pages, at most 16.
	if first.Complete || first.Enqueued == 0 || first.Enqueued > 16 {
		t.Fatalf("first run = %+v, want 8 pages of at most 2 queued", first)
	}
	r.scanner.Now = time.Now
	second, err := r.scanner.Run(ctx)
	if err != nil || !second.Complete || second.Pass != first.Pass {
		t.Fatalf("second run = %+v, %v; want the first's pass finished", second, err)
	}
	if first.Enqueued+second.Enqueued != n {
		t.Errorf("queued %d + %d, want %d", first.Enqueued, second.Enqueued, n)
	}
	sum, err := checker.Drain(ctx, r.queue, r.checker)
	if err != nil || sum.Checked != n {
		t.Fatalf("checks = %+v, %v", sum, err)
	}
	p, err := w.store.HealthPass(ctx)
	if err != nil || p.ID != first.Pass || p.ScannedAt == nil || p.Counts[backup.PassEnqueued] != n || p.Counts[backup.HealthInvalid] != n {
		t.Errorf("pass item = %+v, %v; want %d queued and found invalid", p, err, n)
	}
	if events := w.events(); len(events) != n {
		t.Errorf("%d events, want one per credential (%d)", len(events), n)
	}
}

// TestCheckerPutsBackWhatItHasNoTimeFor: a checker stops starting checks
// Margin before its deadline and puts the rest back on the queue, none
// failed; the next invocations check them.
func TestCheckerPutsBackWhatItHasNoTimeFor(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	start := time.Now()
	clk := &clock{now: start}
	endpoint := provider_(t, clk)
	const n = 20
	for range n {
		w.store_("org-1", endpoint, testkit.Keys{AccessKeyID: "AKIAX", SecretKey: "s"})
	}
	r := w.runner()
	if _, err := r.scanner.Run(ctx); err != nil {
		t.Fatal(err)
	}
	r.checker.Now, r.checker.PerHost, r.checker.Margin = clk.Now, 1, 2*time.Minute
	deadline, cancel := context.WithDeadline(ctx, start.Add(10*time.Minute))
	defer cancel()
	ms := r.queue.TakeAll(10)
	failed, first := r.checker.Handle(deadline, ms)
	r.queue.Done(len(ms), nil, 0)
	if len(failed) != 0 || first.Checked != 8 || first.Deferred != n-8 {
		t.Fatalf("first invocation = %+v, failed %v; want 8 checked, the rest put back", first, failed)
	}
	r.checker.Now = time.Now
	rest, err := checker.Drain(ctx, r.queue, r.checker)
	if err != nil || rest.Checked != n-8 {
		t.Errorf("the rest = %+v, %v", rest, err)
	}
}

// cursorWrites counts the health cursor's writes.
type cursorWrites struct {
	health.Store
	saved []string
}

func (c *cursorWrites) SaveHealthCursor(ctx context.Context, position string) error {
	c.saved = append(c.saved, position)
	return c.Store.SaveHealthCursor(ctx, position)
}

// TestCursorWrittenOnlyWhenItMoves: a scan that fails part way saves where
// to go on, the run that finishes from there resets it, and a run that
// starts and ends at the start of the table (the usual run) writes nothing.
func TestCursorWrittenOnlyWhenItMoves(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	endpoint := provider_(t, &clock{now: time.Now()})
	for range 12 {
		w.store_("org-1", endpoint, testkit.Keys{AccessKeyID: "AKIAX", SecretKey: "s"})
	}
	cursor := &cursorWrites{Store: w.store}
	r := w.runner().scanner
	r.Store, r.PageSize, r.Window = &failingScan{Store: cursor, failAt: 2}, 5, 1
	if sum, err := r.Run(ctx); err == nil || sum.Complete {
		t.Fatalf("first run = %+v, %v; want its second page to fail", sum, err)
	}
	if len(cursor.saved) != 1 || cursor.saved[0] == "" {
		t.Fatalf("a run that failed part way wrote the cursor %q, want where to go on", cursor.saved)
	}
	// From here the table fits in one page, as a small one does at the
	// default page size.
	r.Store, r.PageSize, r.Window = cursor, 1000, 1000
	for run, want := range []int{1, 0, 0} {
		cursor.saved = nil
		sum, err := r.Run(ctx)
		if err != nil || !sum.Complete {
			t.Fatalf("run %d = %+v, %v", run+2, sum, err)
		}
		if len(cursor.saved) != want || want == 1 && cursor.saved[0] != "" {
			t.Errorf("run %d wrote the cursor %q, want %d writes", run+2, cursor.saved, want)
		}
	}
}

// failingScan fails the scan of one page, as DynamoDB may.
type failingScan struct {
	health.Store
	calls, failAt int
}

func (f *failingScan) ScanCredentials(ctx context.Context, after string, limit int) ([]*backup.Credential, string, error) {
	if f.calls++; f.calls == f.failAt {
		return nil, "", fmt.Errorf("injected: InternalServerError")
	}
	return f.Store.ScanCredentials(ctx, after, limit)
}

// TestScanFailureLosesNothing: when a page's scan fails, the pages before
// it are queued and the cursor is after them; the run fails; the
// next run queues the rest: nothing is queued twice, nothing is missed.
func TestScanFailureLosesNothing(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	endpoint := provider_(t, &clock{now: time.Now()})
	const n = 30
	for range n {
		w.store_("org-1", endpoint, testkit.Keys{AccessKeyID: "AKIAX", SecretKey: "s"})
	}
	r := w.runner()
	r.scanner.PageSize, r.scanner.Window = 5, 1
	r.scanner.Store = &failingScan{Store: w.store, failAt: 4}
	first, err := r.scanner.Run(ctx)
	if err == nil || first.Complete || first.Enqueued == 0 || first.Enqueued > 15 {
		t.Fatalf("first run = %+v, %v; want it to fail after 3 pages queued", first, err)
	}
	r.scanner.Store = w.store
	second, err := r.scanner.Run(ctx)
	if err != nil || !second.Complete || first.Enqueued+second.Enqueued != n {
		t.Errorf("second run = %+v, %v; want the other %d queued", second, err, n-first.Enqueued)
	}
	sum, err := checker.Drain(ctx, r.queue, r.checker)
	if err != nil || sum.Checked != n || sum.Changed != n {
		t.Errorf("checks = %+v, %v", sum, err)
	}
}

// TestStaleResultDropped is the exact interleaving: a run's check of a
// credential starts, its keys are changed (and checked) meanwhile, then the
// old check's result arrives. It is not recorded, and no event says so.
func TestStaleResultDropped(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	started, release := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if first.CompareAndSwap(false, true) { // the run's check of the old keys
			close(started)
			<-release
			rw.WriteHeader(http.StatusForbidden)
			fmt.Fprint(rw, `<Error><Code>InvalidAccessKeyId</Code></Error>`)
			return
		}
		fmt.Fprint(rw, `<ListAllMyBucketsResult></ListAllMyBucketsResult>`) // the new keys
	}))
	defer srv.Close()
	c := w.store_("org-1", srv.URL, testkit.Keys{AccessKeyID: "AKIAOLD", SecretKey: "old"})
	done := make(chan passSummary)
	r := w.runner()
	// The run's clock is ahead (clocks of two functions differ): only the
	// keys, not the timestamps, can tell its result is stale.
	now := w.svc
	w.service(backup.WithClock(func() time.Time { return time.Now().Add(time.Hour) }))
	r.checker.Service, w.svc = w.svc, now
	go func() {
		sum, err := r.Run(ctx)
		if err != nil {
			t.Error(err)
		}
		done <- sum
	}()
	<-started
	partner := backup.Caller{UserID: "u", Role: backup.RolePartner, Organizations: []string{"org-1"}}
	newKey, newSecret := "AKIANEW", "new-secret"
	updated, err := w.svc.Update(ctx, partner, c.ID, backup.PatchInput{AccessKeyID: &newKey, SecretKey: &newSecret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	close(release)
	sum := <-done
	got := w.get(c.ID)
	if got.Health.Status != backup.HealthHealthy || !got.Health.CheckedAt.Equal(*updated.Health.CheckedAt) {
		t.Errorf("health = %+v, want the update's check (healthy), not the old keys' result", got.Health)
	}
	if sum.Changed != 0 || len(w.events()) != 0 {
		t.Errorf("a dropped result was announced: %+v", sum)
	}
}

// TestRotationDueAnnouncedOnce: a run on a clock past the rotation age
// finds the keys due and records it; the stream announces it once, and the
// next run does not again. New keys start a new age.
func TestRotationDueAnnouncedOnce(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	good, err := testkit.CreateUser(ctx, adminCfg, "rot-"+w.bus, testkit.ListBucketsPolicy)
	if err != nil {
		t.Fatal(err)
	}
	// Stored without keysChangedAt, as items written before it: the age
	// counts from creation.
	c := w.store_("org-1", s3.URL, good)
	later := time.Now().Add(91 * 24 * time.Hour)
	w.service(backup.WithClock(func() time.Time { return later }), backup.WithKeyRotationDays(90))
	for run, want := range []int{1, 0} {
		sum, err := w.runner().Run(ctx)
		if err != nil || sum.RotationDue != want {
			t.Errorf("run %d: %+v, %v; want %d due", run, sum, err, want)
		}
	}
	var due []map[string]any
	for _, e := range w.events() {
		if e["detail-type"] == backup.EventRotationDue {
			due = append(due, e["detail"].(map[string]any))
		}
	}
	if len(due) != 1 || due[0]["credentialId"] != c.ID || due[0]["changes"].(map[string]any)["rotationDue"] != true {
		t.Errorf("rotation events = %v, want one for %s", due, c.ID)
	}
	if got := w.get(c.ID); !got.RotationAnnounced {
		t.Errorf("not recorded as announced: %+v", got)
	}
}

// refusingRoles is STS refusing every role, as when a customer removed the
// trust policy's statement.
type refusingRoles struct{ asked atomic.Int64 }

func (r *refusingRoles) AssumeRole(_ context.Context, s backup.RoleSession) (*backup.TempCredentials, backup.CheckResult, error) {
	r.asked.Add(1)
	return nil, backup.CheckResult{Status: backup.HealthInvalid, Message: "Invalid S3 credentials: AWS refused (AccessDenied)."}, nil
}

// TestHealthAssumesRoles: the health check checks a role credential by
// assuming its role, records what STS said, never reads a secret for it,
// and never finds a role due for rotation.
func TestHealthAssumesRoles(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	roles := &refusingRoles{}
	w.service(backup.WithRoles(roles, "arn:aws:iam::111122223333:role/backup-credentials"), backup.WithKeyRotationDays(1))
	now := time.Now().UTC().Truncate(time.Second).Add(-72 * time.Hour)
	arn := "arn:aws:iam::444455556666:role/backups"
	c := &backup.Credential{ID: backup.NewID(time.Now()), OrganizationID: "org-1", Name: "a-role", AuthType: backup.AuthRole, RoleARN: &arn,
		Endpoint: "https://s3.eu-central-1.amazonaws.com", Region: "eu-central-1", Projects: []backup.Project{},
		Health: backup.Health{Status: backup.HealthHealthy, CheckedAt: &now}, CreatedAt: now, CreatedBy: "t", LastModified: now, LastModifiedBy: "t", Version: 1}
	if err := w.store.CreateCredential(ctx, c, backup.HistoryEntry{At: now, By: "t", Action: backup.ActionCreated}, ""); err != nil {
		t.Fatal(err)
	}
	sum, err := w.runner().Run(ctx)
	if err != nil || sum.Invalid != 1 || sum.Changed != 1 || sum.RotationDue != 0 || roles.asked.Load() != 1 {
		t.Errorf("run = %+v, %v; %d roles assumed", sum, err, roles.asked.Load())
	}
	if got := w.get(c.ID); got.Health.Status != backup.HealthInvalid || !strings.Contains(got.Health.Message, "AccessDenied") {
		t.Errorf("health = %+v", got.Health)
	}
}
