package health

import (
	"container/heap"
	"context"
	"encoding/json"
	"sync"
	"time"
	"unsafe"
)

// MemoryQueue is an in-process queue with SQS's delays, for the local API
// (which has no SQS), the stateful test and the simulation. Messages are
// held as the JSON bodies SQS would carry.
type MemoryQueue struct {
	Now func() time.Time

	mu     sync.Mutex
	wake   chan struct{} // closed when a message arrives
	held   queued
	seq    int
	sent   int
	bytes  int
	room   int // the bodies' capacity, as allocated
	flight int // received, not yet settled
}

type entry struct {
	at   time.Time
	seq  int
	body []byte
}

type queued []entry

func (q queued) Len() int { return len(q) }
func (q queued) Less(i, j int) bool {
	return q[i].at.Before(q[j].at) || q[i].at.Equal(q[j].at) && q[i].seq < q[j].seq
}
func (q queued) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queued) Push(x any)   { *q = append(*q, x.(entry)) }
func (q *queued) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

func (q *MemoryQueue) now() time.Time {
	if q.Now != nil {
		return q.Now()
	}
	return time.Now()
}

// Send queues messages, each visible after its delay.
func (q *MemoryQueue) Send(_ context.Context, ms []Outgoing) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	for _, m := range ms {
		body, err := json.Marshal(m.Message)
		if err != nil {
			return err
		}
		q.seq++
		heap.Push(&q.held, entry{at: now.Add(m.Delay), seq: q.seq, body: body})
		q.sent++
		q.bytes += len(body)
		q.room += cap(body)
	}
	if q.wake != nil {
		close(q.wake)
		q.wake = nil
	}
	return nil
}

// Len is how many messages are queued, visible or not, or being handled.
func (q *MemoryQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.held) + q.flight
}

// Sent is how many messages were ever sent; Bytes how many bytes the
// queued ones hold.
func (q *MemoryQueue) Sent() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.sent
}

// Bytes is how many bytes the queued messages hold.
func (q *MemoryQueue) Bytes() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes
}

// Footprint is about how many bytes the queue takes in memory: its
// messages' bodies and the entries that hold them, as allocated.
func (q *MemoryQueue) Footprint() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.room + cap(q.held)*int(unsafe.Sizeof(entry{}))
}

// take removes up to max messages visible at or before until.
func (q *MemoryQueue) take(max int, until time.Time) []Message {
	var ms []Message
	for len(ms) < max && len(q.held) > 0 && !q.held[0].at.After(until) {
		e := heap.Pop(&q.held).(entry)
		q.bytes -= len(e.body)
		q.room -= cap(e.body)
		var m Message
		_ = json.Unmarshal(e.body, &m) // marshalled by Send
		ms = append(ms, m)
	}
	q.flight += len(ms)
	return ms
}

// Receive returns up to max visible messages, waiting until one is or ctx
// ends. The caller settles them with Done.
func (q *MemoryQueue) Receive(ctx context.Context, max int) []Message {
	for {
		q.mu.Lock()
		if ms := q.take(max, q.now()); len(ms) > 0 {
			q.mu.Unlock()
			return ms
		}
		var wait <-chan time.Time
		var timer *time.Timer
		if len(q.held) > 0 {
			timer = time.NewTimer(q.held[0].at.Sub(q.now()))
			wait = timer.C
		}
		if q.wake == nil {
			q.wake = make(chan struct{})
		}
		wake := q.wake
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-wait:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// TakeAll returns up to max messages, visible or not: a test's drain,
// which does not wait out delays. The caller settles them with Done.
func (q *MemoryQueue) TakeAll(max int) []Message {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.take(max, time.Unix(1<<40, 0))
}

// Done settles n received messages: those failed come back after retry,
// as SQS returns a message whose visibility timeout ran out.
func (q *MemoryQueue) Done(n int, failed []Message, retry time.Duration) {
	out := make([]Outgoing, len(failed))
	for i, m := range failed {
		out[i] = Outgoing{Message: m, Delay: retry}
	}
	_ = q.Send(context.Background(), out)
	q.mu.Lock()
	q.flight -= n
	q.mu.Unlock()
}

// Consume hands batches of up to batch messages to handle on workers
// goroutines until ctx ends, as an event source mapping with that maximum
// concurrency does. handle returns the indexes of the messages that
// failed.
func (q *MemoryQueue) Consume(ctx context.Context, workers, batch int, retry time.Duration, handle func(context.Context, []Message) []int) {
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				ms := q.Receive(ctx, batch)
				if len(ms) == 0 {
					continue
				}
				var failed []Message
				for _, i := range handle(ctx, ms) {
					failed = append(failed, ms[i])
				}
				q.Done(len(ms), failed, retry)
			}
		})
	}
	wg.Wait()
}
