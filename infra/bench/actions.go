package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math"
	"net/http/httptest"
	"sync"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go/middleware"

	"github.com/acme/backup-credentials/infra/local-api/localauth"
	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/dynamo"
	"github.com/acme/backup-credentials/shared/httpapi"
	"github.com/acme/backup-credentials/shared/secrets"
	"github.com/acme/backup-credentials/shared/testkit"
)

// ActionFigures are one action's calls and latency.
type ActionFigures struct {
	Name    string   `json:"name"`
	Calls   int      `json:"awsCalls"`
	Ops     []string `json:"operations"`
	Minimum int      `json:"minimumCalls"`
	// HandlerMs is the action through the HTTP handler; SDKMs the time
	// inside its AWS calls in the same request (the same calls, with the same
	// outcomes); ReplayMs the captured calls made again directly with the SDK
	// (the same requests; a write's conditions may no longer hold).
	HandlerMs float64 `json:"handlerMedianMs"`
	SDKMs     float64 `json:"sdkMedianMs"`
	ReplayMs  float64 `json:"replayMedianMs"`
	Ratio     float64 `json:"ratio"`
	Units     Units   `json:"units"`
}

func sum(calls []call) float64 {
	var d time.Duration
	for _, c := range calls {
		d += c.took
	}
	return ms(d)
}

// recorder captures every AWS call's operation and input.
type recorder struct {
	mu    sync.Mutex
	on    bool
	calls []call
}

type call struct {
	op    string
	input any
	took  time.Duration
	units Units
}

func (r *recorder) middleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("record",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			start := time.Now()
			out, md, err := next.HandleInitialize(ctx, in)
			r.mu.Lock()
			if r.on {
				r.calls = append(r.calls, call{awsmiddleware.GetServiceID(ctx) + "." + awsmiddleware.GetOperationName(ctx), in.Parameters, time.Since(start),
					unitsOf(in.Parameters, out.Result)})
			}
			r.mu.Unlock()
			return out, md, err
		}), middleware.Before)
}

func (r *recorder) start() { r.mu.Lock(); r.on, r.calls = true, nil; r.mu.Unlock() }
func (r *recorder) stop() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.on = false
	return r.calls
}

// replay makes one captured call directly with the SDK. Its outcome (a
// condition that no longer holds, say) does not matter: the round trip does.
func replay(ctx context.Context, ddb *dynamodb.Client, sm *secretsmanager.Client, c call) {
	switch in := c.input.(type) {
	case *dynamodb.GetItemInput:
		_, _ = ddb.GetItem(ctx, in)
	case *dynamodb.QueryInput:
		_, _ = ddb.Query(ctx, in)
	case *dynamodb.UpdateItemInput:
		_, _ = ddb.UpdateItem(ctx, in)
	case *dynamodb.PutItemInput:
		_, _ = ddb.PutItem(ctx, in)
	case *dynamodb.DeleteItemInput:
		_, _ = ddb.DeleteItem(ctx, in)
	case *dynamodb.BatchGetItemInput:
		_, _ = ddb.BatchGetItem(ctx, in)
	case *dynamodb.TransactWriteItemsInput:
		_, _ = ddb.TransactWriteItems(ctx, in)
	case *secretsmanager.CreateSecretInput:
		_, _ = sm.CreateSecret(ctx, in)
	case *secretsmanager.DeleteSecretInput:
		_, _ = sm.DeleteSecret(ctx, in)
	case *secretsmanager.GetSecretValueInput:
		_, _ = sm.GetSecretValue(ctx, in)
	case *secretsmanager.PutSecretValueInput:
		_, _ = sm.PutSecretValue(ctx, in)
	default:
		log.Fatalf("replay: unknown input %T", in)
	}
}

type acceptAll struct{}

func (acceptAll) Check(context.Context, backup.Keys) (backup.CheckResult, error) {
	return backup.CheckResult{Status: backup.HealthHealthy, Message: "ok"}, nil
}

// actions measures every action's calls and, over rounds rounds, its
// handler's overhead; with deep, also of the reads of a credential with
// 10,000 history entries.
func actions(moto *testkit.Server, rounds int, deep bool) ([]ActionFigures, error) {
	ctx := context.Background()
	rec := &recorder{}
	cfg := moto.Config()
	cfg.APIOptions = append(cfg.APIOptions, rec.middleware)
	ddb, sm := dynamodb.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg)
	plainDDB, plainSM := dynamodb.NewFromConfig(moto.Config()), secretsmanager.NewFromConfig(moto.Config())
	table := fmt.Sprintf("bench%d", time.Now().UnixNano())
	if err := dynamo.CreateTable(ctx, ddb, table); err != nil {
		return nil, err
	}
	svc, err := backup.New(dynamo.New(ddb, table), backup.WithSecrets(secrets.New(sm, table+"/")), backup.WithChecker(acceptAll{}))
	if err != nil {
		return nil, err
	}
	token, err := localauth.Token([]byte("bench"), "u", "Bench", backup.RolePartner, []string{"org-1"}, time.Hour)
	if err != nil {
		return nil, err
	}
	h := (&httpapi.API{Service: svc, Auth: localauth.Auth{Secret: []byte("bench"), Claims: httpapi.DefaultClaims}}).Handler()
	do := func(method, path string, body any) (int, []byte) {
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req := httptest.NewRequest(method, path, rd)
		req.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code, w.Body.Bytes()
	}
	n := 0
	create := func() string {
		n++
		code, b := do("POST", "/v1/backup-credentials", map[string]any{"organizationId": "org-1", "s3Name": fmt.Sprintf("bench-%d", n),
			"s3AccessKeyId": "AKIAEXAMPLE", "s3SecretKey": "bench-secret", "s3Endpoint": "https://s3.us-east-1.amazonaws.com", "s3Region": "us-east-1"})
		if code != 201 {
			log.Fatalf("create: %d %s", code, b)
		}
		var c struct{ ID string }
		_ = json.Unmarshal(b, &c)
		return c.ID
	}
	a, b := create(), create()
	for range 20 {
		create()
	}
	busy := create() // its 10,000 history entries come last (see below)
	base := "/v1/backup-credentials/"
	type step struct {
		method, path string
		body         any
	}
	// Each action is measured as steps that leave the state as they found
	// it, so every round does the same work.
	type action = struct {
		name    string
		minimum int
		steps   []step
	}
	cases := []action{
		{"get", 1, []step{{"GET", base + a, nil}}},
		// A list page is one Query of the index per organization: the index
		// projects all a list shows (docs/design.md).
		{"list (one organization, 23 items)", 1, []step{{"GET", "/v1/backup-credentials?organizationId=org-1", nil}}},
		{"history", 1, []step{{"GET", base + a + "/history", nil}}},
		{"organizations", 1, []step{{"GET", "/v1/organizations", nil}}},
		{"lock + unlock", 2, []step{{"POST", base + a + "/lock", nil}, {"POST", base + a + "/unlock", nil}}},
		{"make-default (two, alternately)", 2, []step{{"POST", base + a + "/make-default", nil}, {"POST", base + b + "/make-default", nil}}},
		{"associate + dissociate", 2, []step{{"PUT", base + a + "/projects/p-1", map[string]string{"name": "shop"}}, {"DELETE", base + a + "/projects/p-1", nil}}},
		{"rename twice (PATCH)", 4, []step{{"PATCH", base + a, map[string]string{"s3Name": "renamed-a"}}, {"PATCH", base + a, map[string]string{"s3Name": "bench-1"}}}},
	}
	measure := func(c action) ActionFigures {
		run := func() {
			for _, s := range c.steps {
				if code, body := do(s.method, s.path, s.body); code >= 300 {
					log.Fatalf("%s %s: %d %s", s.method, s.path, code, body)
				}
			}
		}
		run() // warm
		rec.start()
		run()
		calls := rec.stop()
		var handler, inside, replayed []float64
		for range rounds {
			rec.start()
			t := time.Now()
			run()
			handler = append(handler, ms(time.Since(t)))
			inside = append(inside, sum(rec.stop()))
			t = time.Now()
			for _, cl := range calls {
				replay(ctx, plainDDB, plainSM, cl)
			}
			replayed = append(replayed, ms(time.Since(t)))
		}
		return figures(c.name, c.minimum, calls, handler, inside, replayed)
	}
	var out []ActionFigures
	for _, c := range cases {
		out = append(out, measure(c))
	}
	// Create + delete: the provider check is a stand-in here (the real one is
	// a network call the handler cannot add to).
	var handler, inside, replayed []float64
	var calls []call
	for i := range rounds + 1 {
		rec.start()
		t := time.Now()
		id := create()
		if code, body := do("DELETE", base+id, nil); code != 204 {
			log.Fatalf("delete: %d %s", code, body)
		}
		el := time.Since(t)
		cs := rec.stop()
		if i == 0 {
			calls = cs
			continue
		}
		handler, inside = append(handler, ms(el)), append(inside, sum(cs))
		t = time.Now()
		for _, cl := range cs {
			replay(ctx, plainDDB, plainSM, cl)
		}
		replayed = append(replayed, ms(time.Since(t)))
	}
	out = append(out, figures("create + delete", 4, calls, handler, inside, replayed))
	if !deep {
		return out, nil
	}
	// Last, as moto's writes slow down with the table's size: a credential
	// with 10,000 history entries, as 10,000 changes leave them. Its item is
	// no larger, so get takes the same time; history reads one page (moto's
	// Query reads the whole partition to answer it, DynamoDB only the page).
	if err := seedHistory(ctx, plainDDB, table, busy, 10_000); err != nil {
		return nil, err
	}
	out = append(out, measure(action{"get, 10,000 history entries", 1, []step{{"GET", base + busy, nil}}}),
		measure(action{"list (23 items, one with 10,000 history entries)", 1, []step{{"GET", "/v1/backup-credentials?organizationId=org-1", nil}}}),
		measure(action{"history, 10,000 history entries", 1, []step{{"GET", base + busy + "/history", nil}}}))
	return out, nil
}

func figures(name string, minimum int, calls []call, handler, inside, replayed []float64) ActionFigures {
	f := ActionFigures{Name: name, Calls: len(calls), Minimum: minimum,
		HandlerMs: median(handler), SDKMs: median(inside), ReplayMs: median(replayed)}
	for _, cl := range calls {
		f.Ops = append(f.Ops, cl.op)
		f.Units = f.Units.plus(cl.units)
	}
	f.Ratio = f.HandlerMs / f.SDKMs
	log.Printf("  %s: %d calls, %.3f ms vs %.3f ms in the SDK", f.Name, f.Calls, f.HandlerMs, f.SDKMs)
	return f
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// seedHistory writes n history items for credential id directly, as n
// changes would have left them (writing them through the API would take
// minutes on moto).
func seedHistory(ctx context.Context, ddb *dynamodb.Client, table, id string, n int) error {
	str := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	var batch []types.WriteRequest
	flush := func() error {
		in := &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: batch}}
		for len(in.RequestItems[table]) > 0 {
			out, err := ddb.BatchWriteItem(ctx, in)
			if err != nil {
				return fmt.Errorf("seed history: %w", err)
			}
			in.RequestItems = out.UnprocessedItems
		}
		batch = nil
		return nil
	}
	for i := range n {
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
		batch = append(batch, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
			"PK": str("CRED#" + id), "SK": str(fmt.Sprintf("HIST#%019d#%08x", math.MaxInt64-at.UnixNano(), i)),
			"organizationId": str("org-1"), "at": str(at.Format(time.RFC3339)), "by": str("Bench"), "byId": str("u"),
			"action": str("updated"), "fields": &types.AttributeValueMemberL{Value: []types.AttributeValue{str("s3Name")}}}}})
		if len(batch) == 25 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if len(batch) > 0 {
		return flush()
	}
	return nil
}
