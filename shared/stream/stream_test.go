package stream_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go/middleware"

	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/dynamo"
	"github.com/acme/backup-credentials/shared/inmem"
	"github.com/acme/backup-credentials/shared/secrets"
	"github.com/acme/backup-credentials/shared/stream"
	"github.com/acme/backup-credentials/shared/tail"
	"github.com/acme/backup-credentials/shared/testkit"
)

var moto *testkit.Server

func TestMain(m *testing.M) { testkit.RunWithServer(m, &moto) }

// checker accepts any keys unless told to refuse them.
type checker struct {
	mu     sync.Mutex
	refuse bool
}

func (c *checker) Check(context.Context, backup.Keys) (backup.CheckResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refuse {
		return backup.CheckResult{Status: backup.HealthInvalid, Message: "Invalid S3 credentials"}, nil
	}
	return backup.CheckResult{Status: backup.HealthHealthy}, nil
}

// bus keeps what it takes; failAt, when not negative, refuses the event at
// that index of everything it is given, once.
type bus struct {
	got    []backup.Event
	failAt int
}

func (b *bus) Put(_ context.Context, evs []backup.Event) (int, error) {
	for i, ev := range evs {
		if b.failAt == 0 {
			b.failAt = -1
			return i, errors.New("ThrottlingException")
		}
		if b.failAt > 0 {
			b.failAt--
		}
		b.got = append(b.got, ev)
	}
	return len(evs), nil
}

// backend is a table with its stream, on moto or in process.
type backend struct {
	name  string
	table string
	store *dynamo.Store
	vault backup.SecretStore
	// drain delivers the stream's records not delivered yet; fresh gives a
	// reader from the stream's start, as after a redelivery.
	drain func(ctx context.Context, deliver tail.Deliver) error
	fresh func(ctx context.Context, deliver tail.Deliver) error
}

func backends(t *testing.T) []backend {
	ctx := context.Background()
	table := fmt.Sprintf("s%d", time.Now().UnixNano())
	cfg := moto.Config()
	ddb := dynamodb.NewFromConfig(cfg)
	if err := dynamo.CreateTable(ctx, ddb, table); err != nil {
		t.Fatal(err)
	}
	tl, err := tail.New(ctx, cfg, table)
	if err != nil {
		t.Fatal(err)
	}
	mem, changes, err := inmem.DynamoDBWithStream(ctx, table)
	if err != nil {
		t.Fatal(err)
	}
	var memAll []stream.Record
	return []backend{
		{name: "moto", table: table, store: dynamo.New(ddb, table), vault: secrets.New(secretsmanager.NewFromConfig(cfg), table+"/"),
			drain: func(ctx context.Context, d tail.Deliver) error { return tl.Drain(ctx, 100, d) },
			fresh: func(ctx context.Context, d tail.Deliver) error {
				again, err := tail.New(ctx, cfg, table)
				if err != nil {
					return err
				}
				return again.Drain(ctx, 100, d)
			}},
		{name: "in process", table: table, store: dynamo.New(mem, table), vault: inmem.NewSecretStore(),
			drain: func(ctx context.Context, d tail.Deliver) error {
				return changes.Drain(ctx, 100, func(ctx context.Context, recs []stream.Record) (string, error) {
					failed, err := d(ctx, recs)
					for _, r := range recs {
						if r.Seq == failed {
							break
						}
						memAll = append(memAll, r)
					}
					return failed, err
				})
			},
			fresh: func(ctx context.Context, d tail.Deliver) error {
				_, err := d(ctx, memAll)
				return err
			}},
	}
}

// want is an event expected: changes is a part of its changes' JSON.
type want struct {
	cred, detailType string
	version          int64
	fields           []string
	changes          string
}

func (got want) matches(w want) bool {
	return got.cred == w.cred && got.detailType == w.detailType && got.version == w.version &&
		slices.Equal(got.fields, w.fields) && strings.Contains(got.changes, w.changes)
}

// jane makes the changes.
var jane = backup.Caller{UserID: "u-jane", Name: "Jane Admin", Role: backup.RolePartner, Organizations: []string{"org-1"}}

// created returns a service on the backend and a credential it created.
func (b backend) created(ctx context.Context) (*backup.Service, *backup.Credential) {
	svc := must2(backup.New(b.store, backup.WithSecrets(b.vault), backup.WithChecker(&checker{})))
	return svc, must(svc.Create(ctx, jane, backup.CreateInput{OrganizationID: "org-1", Name: "prod", AccessKeyID: "AKIAPROD",
		SecretKey: secretKey, Endpoint: "https://s3.eu-central-1.amazonaws.com", Region: "eu-central-1"}, ""))
}

const secretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"

// TestEveryAction makes every kind of change through the service and reads
// the events the stream gives: one per change, in order, each with the
// right detail-type, version and values, none with a secret; a redelivery
// gives the same events, eventIds included.
func TestEveryAction(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			a, c := everyAction(t, ctx, b)
			got := &bus{failAt: -1}
			pub := stream.New(got, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err := b.drain(ctx, pub.Publish); err != nil {
				t.Fatal(err)
			}
			expectPerCredential(t, got.got, everyActionsEvents(a, c), a, c)
			ids := expectEachEvent(t, got.got)
			// A redelivery of every record gives the same events.
			again := &bus{failAt: -1}
			if err := b.fresh(ctx, stream.New(again, slog.New(slog.NewTextHandler(io.Discard, nil))).Publish); err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got.got, again.got, func(x, y backup.Event) bool { return x.ID == y.ID && x.DetailType == y.DetailType }) {
				t.Errorf("redelivery gave other events:\n%v\n%v", ids, again.got)
			}
		})
	}
}

// everyAction makes every kind of change through the service, on two
// credentials of org-1, and returns their IDs.
func everyAction(t *testing.T, ctx context.Context, b backend) (a, c string) {
	chk := &checker{}
	svc := must2(backup.New(b.store, backup.WithSecrets(b.vault), backup.WithChecker(chk)))
	engine := backup.Caller{UserID: "engine", Role: backup.RoleBackupEngine}
	in := backup.CreateInput{OrganizationID: "org-1", Name: "prod", AccessKeyID: "AKIAPROD", SecretKey: secretKey,
		Endpoint: "https://s3.eu-central-1.amazonaws.com", Region: "eu-central-1"}
	ca := must(svc.Create(ctx, jane, in, ""))
	in.Name, in.AccessKeyID = "dr-site", "AKIADR"
	cc := must(svc.Create(ctx, jane, in, ""))
	a, c = ca.ID, cc.ID
	name, key, secret := "prod-eu", "AKIAPROD2", secretKey+"2"
	must2(svc.Update(ctx, jane, a, backup.PatchInput{Name: &name}, nil))
	must2(svc.Update(ctx, jane, a, backup.PatchInput{AccessKeyID: &key, SecretKey: &secret}, nil))
	must2(svc.MakeDefault(ctx, jane, a))
	must2(svc.MakeDefault(ctx, jane, c)) // a loses the default
	must2(svc.AssociateProject(ctx, jane, a, "p-1", backup.ProjectInput{Name: "shop"}))
	must2(svc.BackupTarget(ctx, engine, "org-1", "p-1", "")) // a use: no event
	must2(svc.SetLocked(ctx, jane, a, true))
	must2(svc.SetLocked(ctx, jane, a, false))
	must2(svc.AssociateProject(ctx, jane, c, "p-1", backup.ProjectInput{Name: "shop"})) // moves
	chk.mu.Lock()
	chk.refuse = true
	chk.mu.Unlock()
	must2(svc.Check(ctx, jane, a)) // health: healthy -> invalid
	must2(svc.Check(ctx, jane, a)) // invalid again: no event
	if err := svc.Delete(ctx, jane, a); err != nil {
		t.Fatal(err)
	}
	return a, c
}

// everyActionsEvents are the events everyAction's changes make, per
// credential in order.
func everyActionsEvents(a, c string) []want {
	all := []string{"s3Name", "s3AccessKeyId", "s3SecretKey", "s3Endpoint", "s3Region", "isDefault", "isLocked"}
	return []want{
		{a, backup.EventCreated, 1, all, `"s3Name":"prod"`},
		{c, backup.EventCreated, 1, all, `"s3Name":"dr-site"`},
		{a, backup.EventUpdated, 2, []string{"s3Name"}, `{"s3Name":"prod-eu"}`},
		{a, backup.EventUpdated, 3, []string{"s3AccessKeyId", "s3SecretKey"}, `{"s3AccessKeyId":"AKIAPROD2"}`},
		{a, backup.EventDefaultChanged, 4, []string{"isDefault"}, `{"isDefault":true}`},
		{c, backup.EventDefaultChanged, 2, []string{"isDefault"}, `{"isDefault":true}`},
		{a, backup.EventDefaultChanged, 5, []string{"isDefault"}, `{"isDefault":false}`},
		{a, backup.EventProjectAssociated, 6, []string{"projects"}, `{"project":{"id":"p-1","name":"shop"}}`},
		{a, backup.EventLocked, 7, []string{"isLocked"}, `{"isLocked":true}`},
		{a, backup.EventUnlocked, 8, []string{"isLocked"}, `{"isLocked":false}`},
		{c, backup.EventProjectAssociated, 3, []string{"projects"}, `{"project":{"id":"p-1","name":"shop"}}`},
		{a, backup.EventProjectDissociated, 9, []string{"projects"}, `{"project":{"id":"p-1","name":"shop"}}`},
		{a, backup.EventHealthChanged, 9, []string{"health"}, `"previousStatus":"healthy"`},
		{a, backup.EventDeleted, 9, []string{}, `{}`},
	}
}

// expectPerCredential: per credential, the events come in order; across
// credentials, a transaction's items may come in any order.
func expectPerCredential(t *testing.T, got []backup.Event, wants []want, creds ...string) {
	for _, cred := range creds {
		var gotOne, wantOne []want
		for _, ev := range got {
			if ev.CredentialID == cred {
				ch, _ := json.Marshal(ev.Changes)
				gotOne = append(gotOne, want{cred, ev.DetailType, ev.Version, ev.Fields, string(ch)})
			}
		}
		for _, w := range wants {
			if w.cred == cred {
				wantOne = append(wantOne, w)
			}
		}
		if !slices.EqualFunc(gotOne, wantOne, want.matches) {
			t.Errorf("events of %s:\n got %v\nwant %v", cred, gotOne, wantOne)
		}
	}
}

// expectEachEvent: no event carries a secret key, eventIds are unique, and
// each names its organization, time and who made the change; it returns
// the eventIds.
func expectEachEvent(t *testing.T, got []backup.Event) map[string]bool {
	ids := map[string]bool{}
	for _, ev := range got {
		raw, _ := json.Marshal(ev)
		if strings.Contains(string(raw), secretKey) {
			t.Errorf("event %s carries a secret key", ev.ID)
		}
		if ids[ev.ID] {
			t.Errorf("eventId %s twice", ev.ID)
		}
		ids[ev.ID] = true
		if ev.OrganizationID != "org-1" || ev.At.IsZero() {
			t.Errorf("event %+v", ev)
		}
		if ev.DetailType != backup.EventHealthChanged && (ev.By != "Jane Admin" || ev.ByID != "u-jane") {
			t.Errorf("%s by %q (%q), want Jane Admin (u-jane)", ev.DetailType, ev.By, ev.ByID)
		}
	}
	return ids
}

func must[T any](v T, _ bool, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func must2[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestFailedPutDeliveredAgain: when the bus refuses an event, the records
// before it are done and delivery starts again at its record: every event
// arrives, in order, and none before the failure arrives twice.
func TestFailedPutDeliveredAgain(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			svc, c := b.created(ctx)
			must2(svc.SetLocked(ctx, jane, c.ID, true))
			must2(svc.SetLocked(ctx, jane, c.ID, false))
			name := "prod-2"
			must2(svc.Update(ctx, jane, c.ID, backup.PatchInput{Name: &name}, nil))

			got := &bus{failAt: 2}
			pub := stream.New(got, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err := b.drain(ctx, pub.Publish); err == nil || len(got.got) != 2 {
				t.Fatalf("first delivery: %d events, error %v; want 2 and the refusal", len(got.got), err)
			}
			if err := b.drain(ctx, pub.Publish); err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, ev := range got.got {
				types = append(types, fmt.Sprintf("%s v%d", ev.DetailType, ev.Version))
			}
			want := []string{backup.EventCreated + " v1", backup.EventLocked + " v2", backup.EventUnlocked + " v3", backup.EventUpdated + " v4"}
			if !slices.Equal(types, want) {
				t.Errorf("events = %v, want %v", types, want)
			}
		})
	}
}

// TestHandleStreamRecords gives the Lambda handler the records moto's
// stream holds, as JSON in the shape Lambda delivers them: a refused event
// is reported as the first failed record (ReportBatchItemFailures), and
// delivering the batch again from that record completes it.
func TestHandleStreamRecords(t *testing.T) {
	ctx := context.Background()
	b := backends(t)[0]
	svc, c := b.created(ctx)
	must2(svc.SetLocked(ctx, jane, c.ID, true))
	must2(svc.SetLocked(ctx, jane, c.ID, false))

	batch := rawRecords(t, b.table)
	got := &bus{failAt: 1}
	pub := stream.New(got, slog.New(slog.NewTextHandler(io.Discard, nil)))
	resp, err := pub.Handle(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || len(got.got) != 1 {
		t.Fatalf("failures %+v after %d events; want the record of the second event", resp.BatchItemFailures, len(got.got))
	}
	from := slices.IndexFunc(batch.Records, func(r events.DynamoDBEventRecord) bool {
		return r.Change.SequenceNumber == resp.BatchItemFailures[0].ItemIdentifier
	})
	if from < 0 {
		t.Fatalf("failure names %q, no record of the batch", resp.BatchItemFailures[0].ItemIdentifier)
	}
	batch.Records = batch.Records[from:]
	if resp, err = pub.Handle(ctx, batch); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("again: %+v, %v", resp, err)
	}
	var types []string
	for _, ev := range got.got {
		types = append(types, ev.DetailType)
	}
	if want := []string{backup.EventCreated, backup.EventLocked, backup.EventUnlocked}; !slices.Equal(types, want) {
		t.Errorf("events = %v, want %v", types, want)
	}
}

// rawRecords reads moto's stream as the event Lambda delivers.
func rawRecords(t *testing.T, table string) events.DynamoDBEvent {
	t.Helper()
	raw, err := testkit.StreamEvent(context.Background(), moto.Config(), table)
	if err != nil {
		t.Fatal(err)
	}
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return ev
}

// TestAnnouncedWhenTheWriterDies: the lock's transaction commits, and the
// function that made it never learns so (its answer is lost, as when it
// dies right after the write). The lock is announced all the same.
func TestAnnouncedWhenTheWriterDies(t *testing.T) {
	ctx := context.Background()
	b := backends(t)[0]
	_, c := b.created(ctx)
	lost := errors.New("the function died after its write")
	dies := func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("dies",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleInitialize(ctx, in)
				if _, ok := in.Parameters.(*dynamodb.TransactWriteItemsInput); ok && err == nil {
					return out, md, lost
				}
				return out, md, err
			}), middleware.After)
	}
	dying := must2(backup.New(dynamo.New(dynamodb.NewFromConfig(moto.Config(), func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, dies)
	}), b.table), backup.WithSecrets(b.vault), backup.WithChecker(&checker{})))
	if _, err := dying.SetLocked(ctx, jane, c.ID, true); !errors.Is(err, lost) {
		t.Fatalf("lock = %v, want the lost answer", err)
	}
	got := &bus{failAt: -1}
	if err := b.drain(ctx, stream.New(got, slog.New(slog.NewTextHandler(io.Discard, nil))).Publish); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ev := range got.got {
		types = append(types, ev.DetailType)
	}
	if want := []string{backup.EventCreated, backup.EventLocked}; !slices.Equal(types, want) {
		t.Errorf("events = %v, want %v", types, want)
	}
}
