package httpapi_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/health"
	"github.com/acme/backup-credentials/shared/secrets"
)

// faults fails chosen AWS operations inside the SDK's retry loop, so the
// real store code and the SDK's retries meet the failure as they would in
// AWS.
type faults struct {
	mu       sync.Mutex
	fail     map[string]fault
	attempts map[string]int
}

type fault struct {
	code  string
	times int // < 0: always
	// afterCommit lets the first attempt reach the service and then loses
	// its answer, as a timeout after the commit does; later attempts get
	// no answer either.
	afterCommit bool
}

// lose makes op's first attempt take effect and every attempt's answer get
// lost.
func (f *faults) lose(op string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail == nil {
		f.fail, f.attempts = map[string]fault{}, map[string]int{}
	}
	f.fail[op] = fault{code: "RequestTimeout", times: -1, afterCommit: true}
	f.attempts[op] = 0
}

// loseOnce makes op's first attempt take effect and its answer get lost,
// as a connection reset after the commit does; the SDK's retry gets an
// answer.
func (f *faults) loseOnce(op string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail == nil {
		f.fail, f.attempts = map[string]fault{}, map[string]int{}
	}
	f.fail[op] = fault{code: "RequestTimeout", times: 1, afterCommit: true}
	f.attempts[op] = 0
}

// set makes op ("DynamoDB.GetItem") fail with code, times times (< 0 always).
func (f *faults) set(op, code string, times int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail == nil {
		f.fail, f.attempts = map[string]fault{}, map[string]int{}
	}
	f.fail[op] = fault{code: code, times: times}
	f.attempts[op] = 0
}

func (f *faults) clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = nil
}

func (f *faults) tries(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts[op]
}

// conflict makes the next times TransactWriteItems calls (< 0: all) cancel
// with TransactionConflict on their first item, as DynamoDB does when
// another transaction changes the same item.
func (f *faults) conflict(times int) {
	f.set("TransactionConflict", "", times)
}

func (f *faults) Middleware(stack *middleware.Stack) error {
	err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("conflict",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			tx, ok := in.Parameters.(*dynamodb.TransactWriteItemsInput)
			if !ok {
				return next.HandleInitialize(ctx, in)
			}
			f.mu.Lock()
			ft, fail := f.fail["TransactionConflict"]
			if fail {
				f.attempts["TransactionConflict"]++
				fail = ft.times < 0 || f.attempts["TransactionConflict"] <= ft.times
			}
			f.mu.Unlock()
			if !fail {
				return next.HandleInitialize(ctx, in)
			}
			reasons := make([]types.CancellationReason, len(tx.TransactItems))
			for i := range reasons {
				reasons[i].Code = aws.String("None")
			}
			reasons[0].Code = aws.String("TransactionConflict")
			return middleware.InitializeOutput{}, middleware.Metadata{}, &types.TransactionCanceledException{
				Message: aws.String("Transaction cancelled [TransactionConflict]"), CancellationReasons: reasons}
		}), middleware.After)
	if err != nil {
		return err
	}
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("fault",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			op := awsmiddleware.GetServiceID(ctx) + "." + awsmiddleware.GetOperationName(ctx)
			f.mu.Lock()
			ft, fail := f.fail[op]
			if fail {
				f.attempts[op]++
				fail = ft.times < 0 || f.attempts[op] <= ft.times
			}
			f.mu.Unlock()
			if fail && ft.afterCommit && f.tries(op) == 1 {
				_, _, _ = next.HandleFinalize(ctx, in) // it happens; its answer does not arrive
			}
			if fail {
				fault := smithy.FaultServer
				if strings.HasSuffix(ft.code, "ValidationException") || strings.HasPrefix(ft.code, "AccessDenied") {
					fault = smithy.FaultClient // refused: DynamoDB did nothing
				}
				return middleware.FinalizeOutput{}, middleware.Metadata{}, &smithy.GenericAPIError{Code: ft.code, Message: "injected fault", Fault: fault}
			}
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}

// secretNames lists the secrets under the env's prefix.
func (e *env) secretNames(t *testing.T) []string {
	var out []string
	err := e.secrets.(*secrets.Store).ListSecrets(context.Background(), func(found backup.StoredSecret) error {
		id := found.NameID
		out = append(out, id)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFaultSecretsManagerFailsOnCreate(t *testing.T) {
	e := newEnv(t, "moto")
	e.faults.set("Secrets Manager.CreateSecret", "InternalServiceError", -1)
	r := e.do(partner, "POST", "/v1/backup-credentials", createBody("org-1", "prod"))
	if r.status != 503 || r.code() != "unavailable" || r.header.Get("Retry-After") == "" {
		t.Fatalf("got %d %s %v", r.status, r.body, r.header)
	}
	e.faults.clear()
	if n := len(e.must(200, partner, "GET", "/v1/backup-credentials", nil).json(t)["data"].([]any)); n != 0 {
		t.Errorf("stored %d credentials", n)
	}
	if got := e.secretNames(t); len(got) != 0 {
		t.Errorf("secrets left: %v", got)
	}
}

// TestFaultMetadataFailsAfterSecret: DynamoDB refuses the metadata write
// (a definite failure: nothing was written), so the secret just created is
// removed. (A failure of unknown outcome keeps it: TestFaultCreateOutcomeUnknown.)
func TestFaultMetadataFailsAfterSecret(t *testing.T) {
	e := newEnv(t, "moto")
	e.faults.set("DynamoDB.TransactWriteItems", "ValidationException", -1)
	r := e.do(partner, "POST", "/v1/backup-credentials", createBody("org-1", "prod"))
	if r.status != 503 || r.code() != "unavailable" {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	if e.faults.tries("DynamoDB.TransactWriteItems") < 1 {
		t.Fatal("the fault never fired")
	}
	e.faults.clear()
	if got := e.secretNames(t); len(got) != 0 {
		t.Errorf("the secret was not removed: %v", got)
	}
	e.must(201, partner, "POST", "/v1/backup-credentials", createBody("org-1", "prod"))
}

func TestFaultSecretDeleteFailsAfterMetadata(t *testing.T) {
	e := newEnv(t, "moto")
	id := e.create("org-1", "prod")
	e.faults.set("Secrets Manager.DeleteSecret", "InternalServiceError", -1)
	e.must(204, partner, "DELETE", "/v1/backup-credentials/"+id, nil)
	e.faults.clear()
	e.must(404, partner, "GET", "/v1/backup-credentials/"+id, nil)
	if got := e.secretNames(t); len(got) != 1 || got[0] != id {
		t.Fatalf("secrets = %v, want the orphan %s", got, id)
	}
	// The health check's orphan sweep removes it once it is an hour old.
	r := &health.Scanner{Store: e.store, Secrets: e.secrets.(*secrets.Store), Queue: &health.MemoryQueue{},
		Now: func() time.Time { return time.Now().Add(2 * time.Hour) }}
	sum, err := r.Run(context.Background())
	if err != nil || sum.OrphansDeleted != 1 {
		t.Fatalf("sweep: %+v %v", sum, err)
	}
	if got := e.secretNames(t); len(got) != 0 {
		t.Errorf("secrets after the sweep: %v", got)
	}
}

func TestFaultThrottling(t *testing.T) {
	e := newEnv(t, "moto")
	id := e.create("org-1", "prod")
	e.faults.set("DynamoDB.Query", "ThrottlingException", 2)
	e.must(200, partner, "GET", "/v1/backup-credentials/"+id, nil)
	if n := e.faults.tries("DynamoDB.Query"); n != 3 {
		t.Errorf("tries = %d, want 2 throttled and 1 served", n)
	}
	e.faults.set("DynamoDB.Query", "ProvisionedThroughputExceededException", -1)
	r := e.do(partner, "GET", "/v1/backup-credentials/"+id, nil)
	if r.status != 503 || r.code() != "unavailable" || r.header.Get("Retry-After") == "" {
		t.Errorf("still throttled: %d %s %v", r.status, r.body, r.header)
	}
	if n := e.faults.tries("DynamoDB.Query"); n < 3 {
		t.Errorf("tries = %d: the SDK did not retry", n)
	}
	if strings.Contains(string(r.body), "injected") || strings.Contains(string(r.body), "Throughput") {
		t.Errorf("the cause reached the caller: %s", r.body)
	}
}

// TestFaultCreateAnswerLost: the create's transaction commits and its answer
// is lost. The credential exists, so its secret is kept and the create
// answers 201 (a read confirms it); a retry with the same Idempotency-Key
// replays that answer instead of 409 name_taken.
func TestFaultCreateAnswerLost(t *testing.T) {
	e := newEnv(t, "moto")
	body := createBody("org-1", "lost-answer")
	e.faults.lose("DynamoDB.TransactWriteItems")
	r := e.do(partner, "POST", "/v1/backup-credentials", body, "Idempotency-Key", "k-lost")
	e.faults.clear()
	if r.status != 201 {
		t.Fatalf("create whose answer was lost: %d %s, want 201 (confirmed by a read)", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	if names := e.secretNames(t); !slices.Contains(names, id) {
		t.Errorf("the secret of a credential that exists was removed: %v", names)
	}
	again := e.must(201, partner, "POST", "/v1/backup-credentials", body, "Idempotency-Key", "k-lost")
	if again.json(t)["id"] != id {
		t.Errorf("the retry answered %s, want the original %s", again.body, id)
	}
}

// TestFaultIdempotencyClaimAnswerLost: the Idempotency-Key claim is put and
// its answer lost; the SDK's retry finds the claim. It is the request's own
// claim, so the create goes on and answers 201, instead of waiting for
// itself and answering 503 "still in progress" (found by the stateful test
// on a loaded machine).
func TestFaultIdempotencyClaimAnswerLost(t *testing.T) {
	e := newEnv(t, "moto")
	e.service(backup.WithIdempotencyWait(300 * time.Millisecond))
	body := createBody("org-1", "lost-claim")
	e.faults.loseOnce("DynamoDB.PutItem")
	r := e.do(partner, "POST", "/v1/backup-credentials", body, "Idempotency-Key", "k-claim")
	tries := e.faults.tries("DynamoDB.PutItem")
	e.faults.clear()
	if tries < 2 {
		t.Fatalf("the claim was tried %d time(s); the fault needs a retry", tries)
	}
	if r.status != 201 {
		t.Fatalf("create whose claim's answer was lost: %d %s, want 201", r.status, r.body)
	}
	again := e.must(201, partner, "POST", "/v1/backup-credentials", body, "Idempotency-Key", "k-claim")
	if again.json(t)["id"] != r.json(t)["id"] {
		t.Errorf("the retry answered %s, want the original %s", again.body, r.body)
	}
}

// TestFaultCreateOutcomeUnknown: the answer is lost and the confirming read
// fails too. The create answers 503, but keeps the secret (the credential
// does exist) and the Idempotency-Key claim, which the same write
// completed: a retry replays the original 201.
func TestFaultCreateOutcomeUnknown(t *testing.T) {
	e := newEnv(t, "moto")
	body := createBody("org-1", "unknown-outcome")
	e.faults.lose("DynamoDB.TransactWriteItems")
	e.faults.set("DynamoDB.GetItem", "InternalServerError", -1)
	r := e.do(partner, "POST", "/v1/backup-credentials", body, "Idempotency-Key", "k-unknown")
	e.faults.clear()
	if r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Fatalf("create of unknown outcome: %d %s, want 503 with Retry-After", r.status, r.body)
	}
	again := e.must(201, partner, "POST", "/v1/backup-credentials", body, "Idempotency-Key", "k-unknown")
	id := again.json(t)["id"].(string)
	if names := e.secretNames(t); !slices.Contains(names, id) {
		t.Errorf("the secret of a credential that exists was removed: %v", names)
	}
	e.must(200, partner, "GET", "/v1/backup-credentials/"+id, nil)
}

// stages returns which version of a credential's secret holds AWSCURRENT
// and AWSPREVIOUS, and how many versions it has.
func (e *env) stages(t *testing.T, id string) (current, previous string, versions int) {
	t.Helper()
	out, err := secretsmanager.NewFromConfig(moto.Config()).DescribeSecret(context.Background(),
		&secretsmanager.DescribeSecretInput{SecretId: aws.String(e.secrets.(*secrets.Store).Name(id))})
	if err != nil {
		t.Fatal(err)
	}
	for v, st := range out.VersionIdsToStages {
		if slices.Contains(st, "AWSCURRENT") {
			current = v
		}
		if slices.Contains(st, "AWSPREVIOUS") {
			previous = v
		}
	}
	return current, previous, len(out.VersionIdsToStages)
}

// metadataVersion is the secret version the credential's metadata names.
func (e *env) metadataVersion(t *testing.T, id string) string {
	t.Helper()
	c, err := e.store.GetCredential(context.Background(), id, []string{"org-1"})
	if err != nil {
		t.Fatal(err)
	}
	return c.SecretVersion
}

// TestKeyChangeStagingLabels walks every failure point of a key change on
// moto: AWSCURRENT is the version the metadata names after each, and a
// retried change stores no second version.
func TestKeyChangeStagingLabels(t *testing.T) {
	e := newEnv(t, "moto")
	id := e.create("org-1", "rotating")
	path := "/v1/backup-credentials/" + id
	first := e.metadataVersion(t, id)

	// Secrets Manager fails: nothing changes.
	e.faults.set("Secrets Manager.PutSecretValue", "InternalServiceError", -1)
	e.must(503, partner, "PATCH", path, map[string]any{"s3SecretKey": newSecret()})
	e.faults.clear()
	if cur, _, _ := e.stages(t, id); cur != first || e.metadataVersion(t, id) != first {
		t.Errorf("after a failed put: current %s, metadata %s, want both %s", cur, e.metadataVersion(t, id), first)
	}

	// The metadata write fails after the new version is stored: it stays
	// pending; the retry of the same change reuses it.
	change := map[string]any{"s3SecretKey": newSecret()}
	e.faults.set("DynamoDB.TransactWriteItems", "ValidationException", -1)
	e.must(503, partner, "PATCH", path, change)
	e.faults.clear()
	cur, _, versions := e.stages(t, id)
	if cur != first || e.metadataVersion(t, id) != first {
		t.Errorf("after a failed metadata write: current %s, want %s", cur, first)
	}
	e.must(200, partner, "PATCH", path, change)
	second := e.metadataVersion(t, id)
	cur, prev, after := e.stages(t, id)
	if cur != second || prev != first || second == first {
		t.Errorf("after the retry: current %s previous %s, want %s and %s", cur, prev, second, first)
	}
	if after != versions {
		t.Errorf("the retried change stored another version: %d versions, then %d", versions, after)
	}

	// Moving the label fails after the metadata names the new version: the
	// change stands (reads ask for the version by ID), and the next key
	// change moves the label to the version the metadata names.
	e.faults.set("Secrets Manager.UpdateSecretVersionStage", "InternalServiceError", -1)
	e.must(200, partner, "PATCH", path, map[string]any{"s3SecretKey": newSecret()})
	e.faults.clear()
	e.must(200, partner, "PATCH", path, map[string]any{"s3SecretKey": newSecret()})
	if cur, _, _ := e.stages(t, id); cur != e.metadataVersion(t, id) {
		t.Errorf("current %s, metadata %s", cur, e.metadataVersion(t, id))
	}
	e.must(200, partner, "POST", path+"/check", nil)
}
