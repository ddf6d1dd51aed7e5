package awstime

import (
	"context"
	"testing"
	"time"
)

// TestOverlappingCallsCountOnce drives the Clock's time: calls in flight
// together count once, the gaps between them not at all, and a call still
// in flight counts up to now.
func TestOverlappingCallsCountOnce(t *testing.T) {
	ctx, c := Start(context.Background())
	t0 := time.Now()
	at := t0
	c.now = func() time.Time { return at }
	step := func(ms int) { at = at.Add(time.Duration(ms) * time.Millisecond) }

	endA := begin(ctx) // A: 0-10 ms
	step(5)
	endB := begin(ctx) // B: 5-20 ms, overlapping A
	step(5)
	endA()
	step(10)
	endB()
	step(30)           // 30 ms with nothing in flight
	endC := begin(ctx) // C: 50 ms to now
	step(7)
	if spent, calls := c.Spent(); spent != 27*time.Millisecond || calls != 3 {
		t.Errorf("in flight: Spent() = %s, %d; want 27ms (20 for A and B together, 7 for C so far), 3", spent, calls)
	}
	step(3)
	endC()
	step(100)
	if spent, calls := c.Spent(); spent != 30*time.Millisecond || calls != 3 {
		t.Errorf("Spent() = %s, %d; want 30ms, 3", spent, calls)
	}
	begin(context.Background())() // no Clock: nothing counted, nothing breaks
}
