package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/golang-jwt/jwt/v5"

	"github.com/acme/backup-credentials/infra/local-api/localauth"
	"github.com/acme/backup-credentials/shared/testkit"
)

func TestTokenRefusesWhatTheAPIWould(t *testing.T) {
	tests := []struct {
		role string
		ttl  time.Duration
		want string
	}{
		{"admin", time.Hour, `role "admin" is not one the API knows`},
		{"Partner", time.Hour, "is not one the API knows"},
		{"user", -time.Minute, "TTL must be positive"},
	}
	for _, tt := range tests {
		if _, err := token([]byte("s"), "u", "n", tt.role, []string{"org-1"}, tt.ttl); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("token(role %q, ttl %s) = %v, want an error saying %q", tt.role, tt.ttl, err, tt.want)
		}
	}
	raw, err := token([]byte("s"), "u", "n", "manager", splitList("org-1, org-2"), 90*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return []byte("s"), nil }); err != nil {
		t.Fatal(err)
	}
	exp, _ := claims.GetExpirationTime()
	if d := time.Until(exp.Time); d < 89*time.Minute || d > 91*time.Minute {
		t.Errorf("token expires in %s, want 90m", d)
	}
	if orgs := claims["organizations"].([]any); len(orgs) != 2 || orgs[1] != "org-2" {
		t.Errorf("organizations %v, want [org-1 org-2]", orgs)
	}
}

// TestEmulatorNotRunning: make health-check and make run-moto say to start
// moto when nothing answers at its endpoint.
func TestEmulatorNotRunning(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	t.Setenv("AWS_ENDPOINT_URL", closed)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "x")
	for name, run := range map[string]func(context.Context) error{
		"health-check": healthCheckOnce,
		"run-moto":     func(ctx context.Context) error { return serve(ctx, []byte("s")) },
	} {
		err := run(context.Background())
		if err == nil || !strings.Contains(err.Error(), "make moto") || !strings.Contains(err.Error(), closed) {
			t.Errorf("%s: %v, want an error naming %s and `make moto`", name, err, closed)
		}
	}
}

// TestDefaultSecretOnlyForLocalStorage: with storage elsewhere than this
// machine, the public default LOCAL_JWT_SECRET would let anyone sign tokens
// for real data, so the local API refuses to start.
func TestDefaultSecretOnlyForLocalStorage(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", "https://dynamodb.eu-central-1.amazonaws.com")
	t.Setenv("AWS_REGION", "eu-central-1")
	err := serve(context.Background(), []byte(localauth.DefaultSecret))
	if err == nil || !strings.Contains(err.Error(), "LOCAL_JWT_SECRET") {
		t.Errorf("serve with the default secret and remote storage: %v, want a refusal naming LOCAL_JWT_SECRET", err)
	}
}

// TestRunMotoPublishes: with its storage on moto (make run-moto), the local
// API follows the table's stream and puts each change on moto's event bus,
// as the deployed publisher does: every committed change once, in order, and
// nothing of a refused write, whose transaction moto rolls back (it used to
// leave the cancelled writes in the stream its readers hold, and nothing
// after them).
func TestRunMotoPublishes(t *testing.T) {
	moto, err := testkit.Start()
	if err != nil {
		t.Fatal(err) // fails, never skips, without moto
	}
	defer moto.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	for k, v := range map[string]string{"AWS_ENDPOINT_URL": moto.URL, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "local",
		"AWS_SECRET_ACCESS_KEY": "local", "PORT": fmt.Sprint(port), "TABLE_NAME": "run-moto"} {
		t.Setenv(k, v)
	}
	queue := eventsQueue(t, ctx, moto.Config())
	secret := []byte("test-secret")
	served := make(chan error, 1)
	go func() { served <- serve(ctx, secret) }()
	api := &localCaller{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	if api.token, err = localauth.Token(secret, "user-1", "Jane Admin", "partner", []string{"org-1"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	x, a := api.mustCreate("x-first"), api.mustCreate("a-second")
	if status, _ := api.call("DELETE", "/v1/backup-credentials/"+a, ""); status != 204 {
		t.Fatalf("delete a: %d", status)
	}
	if status, _ := api.create("X-FIRST"); status != 409 {
		t.Fatalf("a name like x's: %d, want 409", status)
	}
	if status, _ := api.call("POST", "/v1/backup-credentials/"+x+"/lock", ""); status != 200 {
		t.Fatalf("lock x: %d", status)
	}
	want := []string{"Created " + x, "Created " + a, "Deleted " + a, "Locked " + x}
	if got := receiveEvents(t, ctx, moto.Config(), queue, len(want)); strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("moto's bus got\n %v\nwant\n %v", got, want)
	}
	cancel()
	if err := <-served; err != nil {
		t.Error(err)
	}
}

// eventsQueue makes a queue that a rule on moto's default bus sends every
// event of the service to, and returns its URL.
func eventsQueue(t *testing.T, ctx context.Context, cfg aws.Config) *string {
	q, err := sqs.NewFromConfig(cfg).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("events")})
	if err != nil {
		t.Fatal(err)
	}
	eb := eventbridge.NewFromConfig(cfg)
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("all"), EventPattern: aws.String(`{"source":["backup-credentials"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("all"),
		Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String("arn:aws:sqs:us-east-1:123456789012:events")}}}); err != nil {
		t.Fatal(err)
	}
	return q.QueueUrl
}

// receiveEvents reads the queue until n events came or six seconds passed,
// and returns them as "<kind> <credential ID>"; an event that carries the
// demo secret fails the test.
func receiveEvents(t *testing.T, ctx context.Context, cfg aws.Config, queue *string, n int) []string {
	var got []string
	for i := 0; i < 60 && len(got) < n; i++ {
		out, err := sqs.NewFromConfig(cfg).ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: queue, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			var ev struct {
				DetailType string `json:"detail-type"`
				Detail     struct{ CredentialID string }
			}
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil {
				t.Fatal(err)
			}
			got = append(got, strings.TrimPrefix(ev.DetailType, "Backup Credential ")+" "+ev.Detail.CredentialID)
			if strings.Contains(aws.ToString(m.Body), "local-demo-secret") {
				t.Errorf("an event carries the secret: %s", aws.ToString(m.Body))
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return got
}

// localCaller calls a starting local API with a token, retrying while it
// does not answer yet.
type localCaller struct {
	t           *testing.T
	base, token string
}

func (c *localCaller) call(method, path, body string) (int, string) {
	for i := 0; i < 100; i++ {
		req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+c.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			time.Sleep(50 * time.Millisecond) // not serving yet
			continue
		}
		defer resp.Body.Close()
		var out struct{ ID string }
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out.ID
	}
	c.t.Fatalf("%s %s: the local API does not answer", method, path)
	return 0, ""
}

// create creates a credential with the demo keys, named name.
func (c *localCaller) create(name string) (int, string) {
	return c.call("POST", "/v1/backup-credentials", fmt.Sprintf(`{"organizationId":"org-1","s3Name":%q,"s3AccessKeyId":"LOCALDEMOKEY",
		"s3SecretKey":"local-demo-secret","s3Endpoint":"%s/local-s3","s3Region":"us-east-1"}`, name, c.base))
}

// mustCreate creates one, or fails the test, and returns its ID.
func (c *localCaller) mustCreate(name string) string {
	status, id := c.create(name)
	if status != 201 {
		c.t.Fatalf("create %s: %d, want 201", name, status)
	}
	return id
}
