package checker

import (
	"context"
	"fmt"

	"github.com/acme/backup-credentials/shared/health"
)

// Drain hands every message of q to k, delays ignored, until q is empty,
// and adds up what k did.
func Drain(ctx context.Context, q *health.MemoryQueue, k *Checker) (Summary, error) {
	var sum Summary
	for rounds := 0; q.Len() > 0; rounds++ {
		if rounds > 1000 {
			return sum, fmt.Errorf("the health queue does not empty")
		}
		ms := q.TakeAll(10)
		if len(ms) == 0 {
			return sum, fmt.Errorf("the health queue holds messages received and not settled")
		}
		failed, s := k.Handle(ctx, ms)
		sum = sum.Add(s)
		back := make([]health.Message, len(failed))
		for i, f := range failed {
			back[i] = ms[f]
		}
		q.Done(len(ms), back, 0)
		if len(failed) > 0 {
			return sum, fmt.Errorf("%d health messages failed", len(failed))
		}
	}
	return sum, nil
}

// Add is what a and b did together.
func (a Summary) Add(b Summary) Summary {
	return Summary{Checked: a.Checked + b.Checked, Healthy: a.Healthy + b.Healthy, Invalid: a.Invalid + b.Invalid,
		Unreachable: a.Unreachable + b.Unreachable, Failed: a.Failed + b.Failed, Deferred: a.Deferred + b.Deferred,
		Changed: a.Changed + b.Changed, RotationDue: a.RotationDue + b.RotationDue}
}
