//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/dynamo"
	"github.com/acme/backup-credentials/shared/testkit"
)

var moto *testkit.Server

func TestMain(m *testing.M) { testkit.RunWithServer(m, &moto) }

// TestFunctionsUnderRIE builds every function for this machine, runs each
// bootstrap under aws-lambda-rie against moto, and walks the contract with
// the events/ files. Each function signs with a key of its own, through a
// recorder that holds what it calls to its policy in template.yaml.
func TestFunctionsUnderRIE(t *testing.T) {
	ctx := context.Background()
	table := fmt.Sprintf("e2e%d", time.Now().UnixNano())
	if err := dynamo.CreateTable(ctx, dynamodb.NewFromConfig(moto.Config()), table); err != nil {
		t.Fatal(err)
	}
	fns, iam := startFunctions(t, table)
	w := &rieWalk{t: t, ctx: ctx, fns: fns, table: table, id: "bc_00000000000000000000000000",
		provider: []string{"http://host.docker.internal:5000", moto.URL}}
	w.walkContract()
	w.walkHealthPass()
	publishTheWalk(t, ctx, fns["publish-changes"], table)
	iam.check(t, slices.Sorted(maps.Keys(fns)))
	for name, f := range fns {
		if strings.Contains(f.Logs(), "example-secret-for-an-emulator") {
			t.Errorf("%s logged the secret key", name)
		}
		if len(f.InitDurations()) == 0 {
			t.Errorf("%s: no INIT REPORT in\n%s", name, f.Logs())
		}
	}
}

// startFunctions builds every function and starts it under the emulator on
// table, each signing with its own key through the IAM recorder.
func startFunctions(t *testing.T, table string) (map[string]*Function, *iamRecorder) {
	rie, err := FindRIE(root)
	if err != nil {
		t.Fatal(err)
	}
	target, err := url.Parse(moto.URL)
	if err != nil {
		t.Fatal(err)
	}
	iam := newIAMRecorder()
	recorder := httptest.NewServer(iam.proxy(target))
	t.Cleanup(recorder.Close)
	q, err := sqs.NewFromConfig(moto.Config()).CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"AWS_ENDPOINT_URL=" + recorder.URL, "AWS_REGION=us-east-1", "HEALTH_QUEUE_URL=" + aws.ToString(q.QueueUrl),
		"TABLE_NAME=" + table, "SECRET_PREFIX=" + table + "/", "BACKUP_ENDPOINT_ALLOW_CIDRS=127.0.0.0/8", "EVENT_BUS_NAME=default",
		"AWS_LAMBDA_FUNCTION_TIMEOUT=60", "BACKUP_ENGINE_PRINCIPALS=arn:aws:sts::123456789012:assumed-role/backup-engine/session"}
	dirs, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	fns := map[string]*Function{}
	for _, d := range dirs {
		bootstrap, err := Build(root, "./functions/"+d.Name(), bin, d.Name())
		if err != nil {
			t.Fatal(err)
		}
		f, err := Start(rie, bootstrap, append(slices.Clone(env), iam.sign(d.Name())...))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(f.Stop)
		fns[d.Name()] = f
	}
	return fns, iam
}

// rieWalk invokes the functions with the events/ files, on credential id.
type rieWalk struct {
	t        *testing.T
	ctx      context.Context
	fns      map[string]*Function
	table    string
	provider []string
	id       string
	kept     string // org-2's credential, which the walk does not delete
}

// invoke sends the function's event, with the replacements, and holds its
// answer to the status; only the backup engine's 200 for org-1 may carry
// the secret key.
func (w *rieWalk) invoke(name string, want int, replace ...string) map[string]any {
	t := w.t
	t.Helper()
	ev, err := Event(root, name, w.id, append(slices.Clone(w.provider), replace...)...)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := w.fns[name].Invoke(w.ctx, ev)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	r, err := DecodeResponse(raw)
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, w.fns[name].Logs())
	}
	if r.StatusCode != want {
		t.Fatalf("%s: status %d, want %d: %s\n%s", name, r.StatusCode, want, r.Body, w.fns[name].Logs())
	}
	var body map[string]any
	if r.Body != "" {
		if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
			t.Fatalf("%s: body %q", name, r.Body)
		}
	}
	if strings.Contains(r.Body, "example-secret-for-an-emulator") != (name == "backup-target" && want == 200 && body["organizationId"] == "org-1") {
		t.Errorf("%s: the secret key in its answer is %v, want it only in the backup engine's 200", name, !(name == "backup-target" && want == 200))
	}
	return body
}

// walkContract creates, reads, defaults, locks, resolves for the backup
// engine (with another organization's project of the same ID), changes,
// checks and deletes, every route once at least.
func (w *rieWalk) walkContract() {
	t, invoke := w.t, w.invoke
	created := invoke("create", 201)
	w.id = created["id"].(string)
	if got := invoke("get", 200); got["s3Name"] != "prod-backups" {
		t.Errorf("get = %v", got)
	}
	if got := invoke("list", 200)["data"].([]any); len(got) != 1 {
		t.Errorf("list = %v", got)
	}
	if got := invoke("make-default", 200); got["isDefault"] != true {
		t.Errorf("make-default = %v", got)
	}
	invoke("lock", 200)
	if got := invoke("delete", 409); got["code"] != "locked" {
		t.Errorf("delete locked = %v", got)
	}
	invoke("unlock", 200)
	w.walkBackupTarget()
	if got := invoke("delete", 409); got["code"] != "in_use" {
		t.Errorf("delete in use = %v", got)
	}
	invoke("dissociate-project", 204)
	invoke("update", 200)
	invoke("check", 200)
	invoke("validate", 200)
	if got := invoke("history", 200)["data"].([]any); len(got) < 7 {
		t.Errorf("history = %v", got)
	}
	if got := invoke("organizations", 200)["data"].([]any); got[0].(map[string]any)["credentialCount"] != 1.0 {
		t.Errorf("organizations = %v", got)
	}
	invoke("delete", 204)
	invoke("get", 404)
}

// walkBackupTarget: org-2 associates its own p-1 first, another project,
// which neither blocks nor receives org-1's. The backup engine gets the
// organization's project's credential, with its secret, until it is
// locked; then restores still get it, read-only.
func (w *rieWalk) walkBackupTarget() {
	t, invoke := w.t, w.invoke
	inOrg2 := []string{`\"organizationId\": \"org-1\"`, `\"organizationId\": \"org-2\"`, "example-secret-for-an-emulator", "org-2-secret"}
	org2 := invoke("create", 201, inOrg2...)["id"].(string)
	w.kept = org2
	mine := w.id
	w.id = org2
	invoke("associate-project", 200)
	w.id = mine
	invoke("associate-project", 200)
	if got := invoke("backup-target", 200); got["credentialId"] != w.id || got["secretAccessKey"] == "" || got["mode"] != "read-write" {
		t.Errorf("backup-target = %v", got)
	}
	toOrg2 := []string{"/organizations/org-1/", "/organizations/org-2/", `"organizationId": "org-1"`, `"organizationId": "org-2"`} // path and path parameter
	if got := invoke("backup-target", 200, toOrg2...); got["credentialId"] != org2 || got["secretAccessKey"] != "org-2-secret" {
		t.Errorf("org-2's p-1 = %v", got)
	}
	invoke("lock", 200)
	if got := invoke("backup-target", 409); got["code"] != "locked" {
		t.Errorf("backup-target of a locked credential = %v", got)
	}
	restore := []string{`"rawQueryString": ""`, `"rawQueryString": "purpose=restore", "queryStringParameters": {"purpose": "restore"}`}
	if got := invoke("backup-target", 200, restore...); got["mode"] != "read-only" || got["secretAccessKey"] == "" {
		t.Errorf("backup-target of a locked credential for a restore = %v", got)
	}
	invoke("unlock", 200)
}

// publishTheWalk sends the walk's changes, as the table's stream holds
// them, through the publisher to the bus: one event per change, in order,
// no secret.
func publishTheWalk(t *testing.T, ctx context.Context, publisher *Function, table string) {
	queue := busQueue(t, "default")
	batch, err := testkit.StreamEvent(ctx, moto.Config(), table)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range [][]byte{batch, mustEvent(t, "publish-changes")} {
		raw, err := publisher.Invoke(ctx, ev)
		if err != nil || strings.Contains(string(raw), "itemIdentifier") {
			t.Errorf("publish-changes answered %s (%v)\n%s", raw, err, publisher.Logs())
		}
	}
	var types []string
	for _, e := range queue.drain(t) {
		types = append(types, e["detail-type"].(string))
		if strings.Contains(fmt.Sprint(e), "example-secret-for-an-emulator") {
			t.Errorf("an event carries the secret key: %v", e)
		}
	}
	want := []string{backup.EventCreated, backup.EventDefaultChanged, backup.EventLocked, backup.EventUnlocked,
		backup.EventCreated, backup.EventProjectAssociated, backup.EventProjectAssociated, // org-2's credential and p-1, then org-1's p-1
		backup.EventLocked, backup.EventUnlocked, backup.EventProjectDissociated, backup.EventUpdated, backup.EventDeleted,
		backup.EventLocked} // the last from events/publish-changes.json
	if !slices.Equal(types, want) {
		t.Errorf("events on the bus:\n got %v\nwant %v", types, want)
	}
}

// queue receives what a rule on the bus matches: every event of this
// service.
type queue struct {
	api *sqs.Client
	url string
}

func busQueue(t *testing.T, bus string) *queue {
	ctx := context.Background()
	cfg := moto.Config()
	name := fmt.Sprintf("e2e%d", time.Now().UnixNano())
	q, err := sqs.NewFromConfig(cfg).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	eb := eventbridge.NewFromConfig(cfg)
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventBusName: aws.String(bus),
		EventPattern: aws.String(`{"source":["` + backup.EventSource + `"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name), EventBusName: aws.String(bus),
		Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String("arn:aws:sqs:us-east-1:123456789012:" + name)}}}); err != nil {
		t.Fatal(err)
	}
	return &queue{api: sqs.NewFromConfig(cfg), url: aws.ToString(q.QueueUrl)}
}

// drain returns the events in the queue, in the order they were sent.
func (q *queue) drain(t *testing.T) []map[string]any {
	var out []map[string]any
	for {
		r, err := q.api.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.url), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Messages) == 0 {
			return out
		}
		for _, m := range r.Messages {
			var e map[string]any
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &e); err != nil {
				t.Fatal(err)
			}
			out = append(out, e)
		}
	}
}

func mustEvent(t *testing.T, name string) []byte {
	ev, err := Event(root, name, "")
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// walkHealthPass runs a health pass through the real binaries: the scan
// queues the credential the walk kept, and not the one it deleted, on
// moto's SQS, and the checker, handed what
// the queue holds as the event source mapping would, checks it and fails
// no message. events/health-check.json is such a batch.
func (w *rieWalk) walkHealthPass() {
	t := w.t
	raw, err := w.fns["health-scan"].Invoke(w.ctx, mustEvent(t, "health-scan"))
	if err != nil || !strings.Contains(string(raw), `"Complete":true`) || strings.Contains(string(raw), `"Enqueued":0`) {
		t.Fatalf("health-scan answered %s (%v)\n%s", raw, err, w.fns["health-scan"].Logs())
	}
	api := sqs.NewFromConfig(moto.Config())
	u, err := api.GetQueueUrl(w.ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(w.table)})
	if err != nil {
		t.Fatal(err)
	}
	queued, err := api.ReceiveMessage(w.ctx, &sqs.ReceiveMessageInput{QueueUrl: u.QueueUrl, MaxNumberOfMessages: 10})
	if err != nil || len(queued.Messages) == 0 {
		t.Fatalf("health-scan queued nothing on moto's SQS (%v)", err)
	}
	var ev events.SQSEvent
	var bodies []string
	for _, m := range queued.Messages {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body), EventSource: "aws:sqs"})
		bodies = append(bodies, aws.ToString(m.Body))
	}
	if all := strings.Join(bodies, "\n"); !strings.Contains(all, w.kept) || strings.Contains(all, w.id) {
		t.Errorf("health-scan queued %v; want the kept credential %s and not the deleted %s", bodies, w.kept, w.id)
	}
	for _, batch := range [][]byte{mustJSON(t, ev), mustEventWith(t, "health-check", w.kept)} {
		raw, err := w.fns["health-check"].Invoke(w.ctx, batch)
		if err != nil || strings.Contains(string(raw), "itemIdentifier") {
			t.Errorf("health-check answered %s (%v)\n%s", raw, err, w.fns["health-check"].Logs())
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustEventWith(t *testing.T, name, id string) []byte {
	ev, err := Event(root, name, id)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}
