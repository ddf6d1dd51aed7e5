package health_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/health"
	"github.com/acme/backup-credentials/shared/health/checker"
)

// scripted answers each check as its function of the credential's endpoint
// and how often that endpoint was asked says, counting calls.
type scripted struct {
	mu     sync.Mutex
	asked  map[string]int
	answer func(endpoint string, asked int) backup.CheckResult
}

func (s *scripted) Check(_ context.Context, k backup.Keys) (backup.CheckResult, error) {
	s.mu.Lock()
	if s.asked == nil {
		s.asked = map[string]int{}
	}
	s.asked[k.Endpoint]++
	n := s.asked[k.Endpoint]
	s.mu.Unlock()
	return s.answer(k.Endpoint, n), nil
}

func (s *scripted) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.asked {
		n += c
	}
	return n
}

var (
	healthy     = backup.CheckResult{Status: backup.HealthHealthy, Message: "The keys are valid."}
	unreachable = backup.CheckResult{Status: backup.HealthUnreachable, Message: "The endpoint refused the connection."}
	refused     = backup.CheckResult{Status: backup.HealthInvalid, Message: "Invalid S3 credentials."}
)

// delays records what is sent and with what delay, then queues it.
type delays struct {
	*health.MemoryQueue
	mu   sync.Mutex
	sent []health.Outgoing
}

func (d *delays) Send(ctx context.Context, ms []health.Outgoing) error {
	d.mu.Lock()
	d.sent = append(d.sent, ms...)
	d.mu.Unlock()
	return d.MemoryQueue.Send(ctx, ms)
}

// TestUnreachableOnlyAfterASecondAttempt: a dropped connection is tried
// again a minute later and, answering then, leaves the credential healthy;
// an endpoint that does not answer twice is recorded unreachable; one
// already unreachable is recorded at once. The checker's clock is the
// test's: the second round is two minutes on.
func TestUnreachableOnlyAfterASecondAttempt(t *testing.T) {
	ctx := context.Background()
	endpoints := []string{"http://10.0.0.1:9000", "http://10.0.0.2:9000", "http://10.0.0.3:9000"}
	p := &scripted{answer: func(endpoint string, asked int) backup.CheckResult {
		if endpoint == endpoints[0] && asked > 1 {
			return healthy // a blip: answers the second time
		}
		return unreachable
	}}
	g := newGenerated(3, func(i int) string { return endpoints[i] })
	g.setStatus(2, backup.HealthUnreachable)
	scan, k, q := onGenerated(g, checking(t, p), 8, nil)
	clk := &clock{now: time.Now()}
	sent := &delays{MemoryQueue: q}
	k.Queue, k.Now = sent, clk.Now
	if _, err := scan.Run(ctx); err != nil {
		t.Fatal(err)
	}
	ms := q.TakeAll(10)
	_, first := k.Handle(ctx, ms)
	q.Done(len(ms), nil, 0)
	if first.Deferred != 2 || first.Unreachable != 1 {
		t.Fatalf("first round %+v: want the two healthy ones put back, the unreachable one recorded", first)
	}
	for _, o := range sent.sent {
		if o.Message.Attempt != 2 || o.Delay < time.Minute {
			t.Errorf("put back %+v, want a second attempt a minute or more later", o)
		}
	}
	clk.advance(2 * time.Minute)
	if _, err := checker.Drain(ctx, q, k); err != nil {
		t.Fatal(err)
	}
	if got := []string{g.statusOf(0), g.statusOf(1), g.statusOf(2)}; got[0] != backup.HealthHealthy || got[1] != backup.HealthUnreachable || got[2] != backup.HealthUnreachable {
		t.Errorf("statuses %v, want healthy (a blip), unreachable (twice), unreachable (already)", got)
	}
	if p.asked[endpoints[2]] != 1 || p.asked[endpoints[0]] != 2 || p.asked[endpoints[1]] != 2 {
		t.Errorf("asked %v: want the first two twice, the unreachable one once", p.asked)
	}
}

// TestRefusedKeysWaitADay: the schedule does not check keys the provider
// refused less than a day ago; it does after a day, and always checks the
// others.
func TestRefusedKeysWaitADay(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	hourAgo, dayAgo := now.Add(-time.Hour), now.Add(-25*time.Hour)
	g := newGenerated(4, func(int) string { return "http://10.0.0.1" })
	store := &checkedAt{generated: g, at: map[int]*time.Time{0: &hourAgo, 1: &dayAgo, 2: &hourAgo}}
	g.setStatus(0, backup.HealthInvalid)
	g.setStatus(1, backup.HealthInvalid)
	q := &health.MemoryQueue{}
	sum, err := (&health.Scanner{Store: store, Queue: q}).Run(ctx)
	if err != nil || sum.Enqueued != 3 || sum.Skipped != 1 {
		t.Fatalf("scan = %+v, %v; want the refused one of an hour ago skipped", sum, err)
	}
	ids := map[string]bool{}
	for _, m := range q.TakeAll(10) {
		for _, id := range m.IDs {
			ids[id] = true
		}
	}
	if ids[fmt.Sprintf("bc_%026d", 0)] || !ids[fmt.Sprintf("bc_%026d", 1)] {
		t.Errorf("queued %v", ids)
	}
}

// checkedAt gives generated credentials a time of their last check.
type checkedAt struct {
	*generated
	at map[int]*time.Time
}

func (c *checkedAt) ScanCredentials(ctx context.Context, after string, limit int) ([]*backup.Credential, string, error) {
	cs, next, err := c.generated.ScanCredentials(ctx, after, limit)
	for i, cr := range cs {
		cr.Health.CheckedAt = c.at[i]
	}
	return cs, next, err
}

// TestBusyHostChecksComeBackLater: with every slot of a host taken, a
// checker checks nothing there and puts the checks back, waiting longer
// each time; the other hosts' checks go on.
func TestBusyHostChecksComeBackLater(t *testing.T) {
	ctx := context.Background()
	p := &scripted{answer: func(string, int) backup.CheckResult { return healthy }}
	g := newGenerated(6, func(i int) string { return fmt.Sprintf("http://10.0.0.%d", 1+i%2) })
	scan, k, q := onGenerated(g, checking(t, p), 2, nil)
	slots := newSlots()
	k.Slots = slots
	now := time.Now()
	if taken, _ := slots.AcquireHostSlots(ctx, backup.SlotRequest{Host: "10.0.0.1", Want: 2, Join: 2, Limit: 2, Now: now, Expires: now.Add(time.Hour)}); taken.Got != 2 {
		t.Fatal("could not fill the host")
	}
	sent := &delays{MemoryQueue: q}
	k.Queue = sent
	if _, err := scan.Run(ctx); err != nil {
		t.Fatal(err)
	}
	ms := q.TakeAll(10)
	_, sum := k.Handle(ctx, ms)
	q.Done(len(ms), nil, 0)
	if sum.Checked != 3 || sum.Deferred != 3 || p.asked["http://10.0.0.1"] != 0 {
		t.Fatalf("%+v, asked %v: want the free host's 3 checked, the busy one's 3 put back", sum, p.asked)
	}
	if len(sent.sent) != 1 || sent.sent[0].Message.Deferrals != 1 || sent.sent[0].Delay < k.DeferBase/2 || sent.sent[0].Delay > k.DeferBase {
		t.Errorf("put back %+v, want one message, deferred once, about DeferBase (%v) later", sent.sent, k.DeferBase)
	}
	ms = q.TakeAll(10)
	_, again := k.Handle(ctx, ms)
	q.Done(len(ms), nil, 0)
	if again.Deferred != 3 || sent.sent[1].Message.Deferrals != 2 || sent.sent[1].Delay < k.DeferBase {
		t.Errorf("second time %+v %+v, want a longer wait", again, sent.sent[1])
	}
}

// TestHostThatStopsAnsweringIsLeftAlone: once one check of a host finds it
// unreachable, the host is backed off and its other checks are not tried:
// put back for their second attempt, which, while it is backed off,
// records it unreachable without a connection.
func TestHostThatStopsAnsweringIsLeftAlone(t *testing.T) {
	ctx := context.Background()
	p := &scripted{answer: func(string, int) backup.CheckResult { return unreachable }}
	g := newGenerated(40, func(int) string { return "http://10.0.0.9:9000" })
	scan, k, q := onGenerated(g, checking(t, p), 1, nil)
	clk := &clock{now: time.Now()}
	k.Now = clk.Now
	if _, err := scan.Run(ctx); err != nil {
		t.Fatal(err)
	}
	ms := q.TakeAll(10)
	_, first := k.Handle(ctx, ms)
	q.Done(len(ms), nil, 0)
	if p.calls() != 1 || first.Deferred != 40 {
		t.Fatalf("first round %+v, %d connections: want one, and every check put back", first, p.calls())
	}
	clk.advance(2 * time.Minute) // the backoff is over: the second attempts
	sum, err := checker.Drain(ctx, q, k)
	if err != nil || sum.Unreachable != 40 {
		t.Fatalf("%+v, %v", sum, err)
	}
	if p.calls() != 2 {
		t.Errorf("%d connections to a host that does not answer, want 2: a first and a second attempt", p.calls())
	}
}

// TestSecretsReadTwentyAtATime: a checker reads the secrets of a batch in
// calls of twenty, once per credential.
func TestSecretsReadTwentyAtATime(t *testing.T) {
	ctx := context.Background()
	p := &scripted{answer: func(string, int) backup.CheckResult { return healthy }}
	g := newGenerated(200, func(int) string { return "http://10.0.0.1" })
	scan, k, q := onGenerated(g, checking(t, p), 8, nil)
	if _, err := scan.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := checker.Drain(ctx, q, k); err != nil {
		t.Fatal(err)
	}
	s := k.Secrets.(*batchSecrets)
	if s.read.Load() != 200 || s.calls.Load() != 10 {
		t.Errorf("%d secrets in %d calls, want 200 in 10", s.read.Load(), s.calls.Load())
	}
}

// failingRecord fails every RecordHealth, as DynamoDB may.
type failingRecord struct{ *generated }

func (failingRecord) RecordHealth(context.Context, *backup.Credential, backup.Health) (*backup.Credential, error) {
	return nil, backup.Unavailable(errors.New("injected: InternalServerError"))
}

// TestSQSBatchReportsWhatFailed: the queue's handler reports a message
// whose result could not be recorded as a batch item failure (SQS delivers
// it again), and drops a body that is not a health message, saying so.
func TestSQSBatchReportsWhatFailed(t *testing.T) {
	ctx := context.Background()
	p := &scripted{answer: func(string, int) backup.CheckResult { return healthy }}
	g := newGenerated(2, func(int) string { return "http://10.0.0.1" })
	_, k, _ := onGenerated(g, checking(t, p), 8, nil)
	k.Store = failingRecord{g}
	ev := events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "m1", Body: `{"pass":"p","ids":["bc_00000000000000000000000000"],"attempt":1}`},
		{MessageId: "junk", Body: `{"pass":"p","ids":["../etc"]}`},
	}}
	resp, err := k.HandleSQS(ctx, ev)
	if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m1" {
		t.Errorf("answer %+v, %v; want m1 failed and the junk dropped", resp, err)
	}
	k.Store = g
	if resp, _ = k.HandleSQS(ctx, ev); len(resp.BatchItemFailures) != 0 || g.statusOf(0) != backup.HealthHealthy {
		t.Errorf("once recording works: %+v", resp)
	}
}
