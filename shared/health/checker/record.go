package checker

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/aws/aws-lambda-go/events"

	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/health"
)

// record announces due rotation and records a check's result; a credential
// deleted meanwhile is not re-created, and a result older than the one
// recorded is dropped by the store's condition.
func (r *run) record(ctx context.Context, j job, h backup.Health) {
	due, err := r.k.Service.AnnounceRotation(ctx, j.c)
	if err != nil {
		r.k.Logger.ErrorContext(ctx, "announce rotation", "credentialId", j.c.ID, "error", err)
		r.fail(j)
		return
	}
	got, err := r.k.Store.RecordHealth(ctx, j.c, h)
	if backup.ErrorCode(err) == backup.ENotFound {
		return
	}
	if err != nil {
		r.k.Logger.ErrorContext(ctx, "record health", "credentialId", j.c.ID, "error", err)
		r.fail(j)
		return
	}
	recorded := got.Health.CheckedAt != nil && h.CheckedAt != nil && got.Health.CheckedAt.Equal(*h.CheckedAt) && got.Health.Status == h.Status
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sum.Checked++
	switch h.Status {
	case backup.HealthHealthy:
		r.sum.Healthy++
	case backup.HealthInvalid:
		r.sum.Invalid++
	case backup.HealthUnreachable:
		r.sum.Unreachable++
	}
	if recorded && j.c.Health.Status != h.Status {
		r.sum.Changed++
	}
	if due {
		r.sum.RotationDue++
		r.k.Logger.InfoContext(ctx, "keys due for rotation", "credentialId", j.c.ID, "keysChangedAt", j.c.KeysChangedAt)
	}
}

// putBack sends the checks put off, up to health.MaxIDs per message of the
// same pass, attempt and deferrals. A message that cannot be sent fails
// the messages its checks came in, which come back whole.
func (r *run) putBack(ctx context.Context) {
	slices.SortFunc(r.later, func(a, b later) int {
		return cmp.Or(cmp.Compare(r.msgs[a.j.msg].Pass, r.msgs[b.j.msg].Pass), cmp.Compare(a.j.attempt, b.j.attempt),
			cmp.Compare(a.j.defers, b.j.defers), cmp.Compare(a.j.ticket, b.j.ticket), cmp.Compare(a.delay, b.delay))
	})
	var out []health.Outgoing
	var from [][]int
	for _, l := range r.later {
		m := health.Message{Pass: r.msgs[l.j.msg].Pass, Attempt: l.j.attempt, Deferrals: l.j.defers, Ticket: l.j.ticket}
		last := len(out) - 1
		if last < 0 || len(out[last].Message.IDs) == health.MaxIDs || out[last].Message.Pass != m.Pass ||
			out[last].Message.Attempt != m.Attempt || out[last].Message.Deferrals != m.Deferrals || out[last].Message.Ticket != m.Ticket {
			out = append(out, health.Outgoing{Message: m, Delay: l.delay})
			from = append(from, nil)
			last++
		}
		out[last].Message.IDs = append(out[last].Message.IDs, l.j.c.ID)
		from[last] = append(from[last], l.j.msg)
	}
	if len(out) == 0 {
		return
	}
	if err := r.k.Queue.Send(ctx, out); err != nil {
		r.k.Logger.ErrorContext(ctx, "put health checks back", "error", err)
		for _, f := range from {
			for _, i := range f {
				r.failed[i] = true
			}
		}
	}
}

// progress adds what the invocation did to each pass's item.
func (r *run) progress(ctx context.Context) {
	if len(r.msgs) == 0 {
		return
	}
	pass := r.msgs[0].Pass
	for _, m := range r.msgs[1:] {
		if m.Pass != pass {
			pass = "" // mixed passes (rare: one ending as another starts): count none
		}
	}
	if pass == "" {
		return
	}
	s := r.sum
	counts := map[string]int{backup.HealthHealthy: s.Healthy, backup.HealthInvalid: s.Invalid, backup.HealthUnreachable: s.Unreachable,
		backup.PassFailed: s.Failed, backup.PassDeferred: s.Deferred}
	if err := r.k.Store.AddHealthProgress(ctx, pass, counts, nil); err != nil {
		r.k.Logger.ErrorContext(ctx, "record health progress", "error", err)
	}
}

func (r *run) report(ctx context.Context) {
	s := r.sum
	r.k.Logger.InfoContext(ctx, "health checks", "messages", len(r.msgs), "checked", s.Checked, "healthy", s.Healthy, "invalid", s.Invalid,
		"unreachable", s.Unreachable, "failed", s.Failed, "deferred", s.Deferred, "changed", s.Changed, "rotationDue", s.RotationDue)
	health.WriteMetrics(r.k.Now(), health.Metric{Name: "Checked", Unit: "Count", Value: float64(s.Checked)},
		health.Metric{Name: "Healthy", Unit: "Count", Value: float64(s.Healthy)}, health.Metric{Name: "Invalid", Unit: "Count", Value: float64(s.Invalid)},
		health.Metric{Name: "Unreachable", Unit: "Count", Value: float64(s.Unreachable)}, health.Metric{Name: "Failed", Unit: "Count", Value: float64(s.Failed)},
		health.Metric{Name: "Deferred", Unit: "Count", Value: float64(s.Deferred)})
}

// HandleSQS is the Lambda handler of the queue's event source mapping: it
// reports the messages to deliver again as batch item failures.
func (k *Checker) HandleSQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	k.defaults()
	var msgs []health.Message
	var ids []string
	var resp events.SQSEventResponse
	for _, rec := range ev.Records {
		var m health.Message
		if err := parse(rec.Body, &m); err != nil {
			// Delivering it again would not make it parse: say so, drop it.
			k.Logger.ErrorContext(ctx, "drop health message", "messageId", rec.MessageId, "error", err)
			continue
		}
		msgs = append(msgs, m)
		ids = append(ids, rec.MessageId)
	}
	failed, _ := k.Handle(ctx, msgs)
	for _, i := range failed {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: ids[i]})
	}
	return resp, nil
}

// parse reads a message body, refusing one that is not a health message.
func parse(body string, m *health.Message) error {
	if err := json.Unmarshal([]byte(body), m); err != nil {
		return err
	}
	if len(m.IDs) == 0 || len(m.IDs) > health.MaxIDs || m.Pass == "" {
		return fmt.Errorf("want a pass and 1 to %d ids, got %q and %d", health.MaxIDs, m.Pass, len(m.IDs))
	}
	for _, id := range m.IDs {
		if !backup.ValidID(id) {
			return fmt.Errorf("not a credential ID: %q", id)
		}
	}
	return nil
}
