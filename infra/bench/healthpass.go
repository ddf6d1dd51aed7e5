package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

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

// PassFigures are one health pass run end to end on moto: scan, SQS,
// checker, table, stream, events.
type PassFigures struct {
	Credentials int     `json:"credentials"`
	Seconds     float64 `json:"seconds"`
	// Received is how many messages the consumers received (first sends,
	// put-backs and second attempts); Invocations how many batches.
	Received    int `json:"messagesReceived"`
	Invocations int `json:"invocations"`
	Healthy     int `json:"healthy"`
	Invalid     int `json:"invalid"`
	Events      int `json:"events"`
	// Calls are the AWS calls this service made, by service and operation,
	// the event source mapping's receives and deletes included; the
	// provider's (the customer's account) are not.
	Calls map[string]int `json:"awsCalls"`
	Units Units          `json:"units"`
	// UnitsByCall are the units of each kind of call.
	UnitsByCall map[string]Units `json:"unitsByCall"`
}

// passWorkers is how many consumers receive at once: the event source
// mapping's concurrency, scaled to one machine.
const passWorkers = 4

// healthPassOnMoto stores n credentials on storage (a tenth with keys the
// provider no longer accepts, all on the provider's one endpoint), runs one
// pass through the real scanner, SQS queue, checker handler and stream
// publisher, and returns what it did and the calls it made.
func healthPassOnMoto(storage, prov *testkit.Server, adminCfg aws.Config, n int) (PassFigures, error) {
	ctx := context.Background()
	name := fmt.Sprintf("pass%d", time.Now().UnixNano())
	plain := storage.Config()
	if err := dynamo.CreateTable(ctx, dynamodb.NewFromConfig(plain), name); err != nil {
		return PassFigures{}, err
	}
	good, err := testkit.CreateUser(ctx, adminCfg, "good-"+name, testkit.ListBucketsPolicy)
	if err != nil {
		return PassFigures{}, err
	}
	gone, err := testkit.CreateUser(ctx, adminCfg, "gone-"+name, testkit.ListBucketsPolicy)
	if err != nil {
		return PassFigures{}, err
	}
	seeding := time.Now()
	if err := seedCredentials(ctx, plain, name, prov.URL, n, good, gone); err != nil {
		return PassFigures{}, err
	}
	log.Printf("  seeded %d credentials on moto in %.1f s", n, time.Since(seeding).Seconds())
	if err := testkit.DeleteKey(ctx, adminCfg, "gone-"+name, gone.AccessKeyID); err != nil {
		return PassFigures{}, err
	}
	q, err := sqs.NewFromConfig(plain).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		return PassFigures{}, err
	}
	eb := eventbridge.NewFromConfig(plain)
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(name)}); err != nil {
		return PassFigures{}, err
	}

	follow, err := tail.New(ctx, plain, name)
	if err != nil {
		return PassFigures{}, err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The creates' events are the seeding's, not the pass's.
	if err := follow.Drain(ctx, 100, stream.New(countingBus{&eventbus.Bus{API: eventbridge.NewFromConfig(plain), Name: name}, new(atomic.Int64)}, quiet).Publish); err != nil {
		return PassFigures{}, err
	}
	calls := &meter{}
	cfg := storage.Config()
	cfg.APIOptions = append(cfg.APIOptions, calls.middleware)
	store := dynamo.New(dynamodb.NewFromConfig(cfg), name)
	vault := secrets.New(secretsmanager.NewFromConfig(cfg), name+"/")
	queue := &health.SQS{API: sqs.NewFromConfig(cfg), URL: aws.ToString(q.QueueUrl)}
	chk := &provider.Checker{Guard: provider.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, Timeout: 5 * time.Second}
	svc, err := backup.New(store, backup.WithSecrets(vault), backup.WithChecker(chk), backup.WithLogger(quiet))
	if err != nil {
		return PassFigures{}, err
	}
	health.MetricsOut = io.Discard
	start := time.Now()
	scan, err := (&health.Scanner{Store: store, Secrets: vault, Queue: queue, Logger: quiet}).Run(ctx)
	if err != nil || !scan.Complete || scan.Enqueued != n {
		return PassFigures{}, fmt.Errorf("scan: %+v, %v", scan, err)
	}
	k := &checker.Checker{Store: store, Slots: store, Secrets: vault, Service: svc, Queue: queue, Logger: quiet,
		Concurrency: 32, PerHost: 8, Margin: 7 * time.Second}
	received, invocations, err := consume(ctx, sqs.NewFromConfig(cfg), sqs.NewFromConfig(plain), calls, aws.ToString(q.QueueUrl), k)
	if err != nil {
		return PassFigures{}, err
	}
	f := PassFigures{Credentials: n, Seconds: time.Since(start).Seconds(), Received: received, Invocations: invocations}
	var published atomic.Int64
	pub := stream.New(countingBus{&eventbus.Bus{API: eventbridge.NewFromConfig(cfg), Name: name}, &published}, quiet)
	if err := follow.Drain(ctx, 100, pub.Publish); err != nil {
		return f, err
	}
	f.Events = int(published.Load())
	f.Calls, f.Units, f.UnitsByCall = calls.calls, calls.units, calls.byOp
	byStatus, err := statuses(ctx, dynamo.New(dynamodb.NewFromConfig(plain), name))
	if err != nil {
		return f, err
	}
	f.Healthy, f.Invalid = byStatus[backup.HealthHealthy], byStatus[backup.HealthInvalid]
	return f, nil
}

// countingBus counts the events put on a bus.
type countingBus struct {
	bus *eventbus.Bus
	n   *atomic.Int64
}

func (c countingBus) Put(ctx context.Context, evs []backup.Event) (int, error) {
	n, err := c.bus.Put(ctx, evs)
	c.n.Add(int64(n))
	return n, err
}

// seedCredentials stores n healthy credentials checked an hour ago on
// endpoint, every tenth with the keys about to be revoked: their secrets as
// creates make them, their items loaded 25 a call (a create's transaction
// on moto copies the whole table, which would make seeding quadratic).
func seedCredentials(ctx context.Context, cfg aws.Config, table, endpoint string, n int, good, gone testkit.Keys) error {
	ddb := dynamodb.NewFromConfig(cfg)
	vault := secrets.New(secretsmanager.NewFromConfig(cfg), table+"/")
	cs := make([]*backup.Credential, n)
	errs := make(chan error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range next {
				keys := good
				if i%10 == 0 {
					keys = gone
				}
				var err error
				cs[i], err = seedOne(ctx, vault, endpoint, i, keys)
				errs <- err
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return dynamo.LoadCredentials(ctx, ddb, table, cs)
}

func seedOne(ctx context.Context, vault *secrets.Store, endpoint string, i int, keys testkit.Keys) (*backup.Credential, error) {
	now := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	org := fmt.Sprintf("org-%d", i/100) // an organization's quota is 100
	c := &backup.Credential{ID: backup.NewID(time.Now()), OrganizationID: org, Name: fmt.Sprintf("cred-%d", i),
		AccessKeyID: keys.AccessKeyID, Endpoint: endpoint, Region: "us-east-1", Projects: []backup.Project{},
		Health:    backup.Health{Status: backup.HealthHealthy, CheckedAt: &now, LastHealthyAt: &now},
		CreatedAt: now, CreatedBy: "bench", LastModified: now, LastModifiedBy: "bench", Version: 1}
	var err error
	c.SecretVersion, err = vault.CreateSecret(ctx, c.ID, org, keys.SecretKey)
	return c, err
}

// consume plays the event source mapping: passWorkers consumers receive up
// to 10 messages, hand them to the checker's handler as one invocation
// (a 300 s Lambda deadline), and delete those it did not report failed,
// until the queue holds nothing, delayed or in flight. watch, a client
// whose calls are not counted, polls; only the receives that got messages
// count (a mapping's empty polls cost the same whatever the pass: the cost
// model counts them apart).
func consume(ctx context.Context, api, watch *sqs.Client, calls *meter, url string, k *checker.Checker) (received, invocations int, err error) {
	var mu sync.Mutex
	var busy atomic.Int64
	var failure error
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range passWorkers {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				out, err := watch.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
					VisibilityTimeout: 330}) // no long poll: moto runs one request at a time
				if err != nil || len(out.Messages) == 0 {
					if err != nil {
						mu.Lock()
						failure = err
						mu.Unlock()
					}
					time.Sleep(200 * time.Millisecond)
					continue
				}
				calls.add("SQS.ReceiveMessage")
				busy.Add(1)
				n, ferr := invoke(ctx, api, url, k, out.Messages)
				busy.Add(-1)
				mu.Lock()
				received, invocations = received+len(out.Messages), invocations+1
				if ferr != nil {
					failure = ferr
				}
				if n > 0 {
					failure = fmt.Errorf("%d health messages failed", n)
				}
				mu.Unlock()
			}
		})
	}
	for {
		time.Sleep(500 * time.Millisecond)
		mu.Lock()
		failed := failure
		mu.Unlock()
		left, err := queued(ctx, watch, url)
		if failed != nil || err != nil || (left == 0 && busy.Load() == 0) {
			close(done)
			wg.Wait()
			if failed == nil {
				failed = err
			}
			return received, invocations, failed
		}
	}
}

// invoke hands one batch to the checker's handler and deletes what it did
// not report failed; it returns how many it reported failed.
func invoke(ctx context.Context, api *sqs.Client, url string, k *checker.Checker, ms []sqstypes.Message) (int, error) {
	var ev events.SQSEvent
	for _, m := range ms {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body), EventSource: "aws:sqs"})
	}
	call, cancel := context.WithTimeout(ctx, 300*time.Second)
	resp, err := k.HandleSQS(call, ev)
	cancel()
	if err != nil {
		return 0, err
	}
	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	var del []sqstypes.DeleteMessageBatchRequestEntry
	for i, m := range ms {
		if !failed[aws.ToString(m.MessageId)] {
			del = append(del, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), ReceiptHandle: m.ReceiptHandle})
		}
	}
	if len(del) > 0 {
		if _, err := api.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: del}); err != nil {
			return 0, err
		}
	}
	return len(failed), nil
}

// queued is how many messages the queue holds: visible, in flight and
// delayed.
func queued(ctx context.Context, api *sqs.Client, url string) (int, error) {
	out, err := api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible, sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	if err != nil {
		return 0, err
	}
	total := 0
	for _, v := range out.Attributes {
		var n int
		_, _ = fmt.Sscan(v, &n)
		total += n
	}
	return total, nil
}

// statuses counts the table's credentials by health status.
func statuses(ctx context.Context, store *dynamo.Store) (map[string]int, error) {
	out := map[string]int{}
	after := ""
	for {
		cs, next, err := store.ScanCredentials(ctx, after, 100)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			out[c.Health.Status]++
		}
		if next == "" {
			return out, nil
		}
		after = next
	}
}
