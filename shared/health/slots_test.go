package health_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/dynamo"
	"github.com/acme/backup-credentials/shared/health/checker"
	"github.com/acme/backup-credentials/shared/inmem"
)

// slotStores are the table's host items on both storages.
func slotStores(t *testing.T) map[string]checker.Slots {
	ctx := context.Background()
	name := fmt.Sprintf("slots%d", time.Now().UnixNano())
	ddb := dynamodb.NewFromConfig(storage.Config())
	if err := dynamo.CreateTable(ctx, ddb, name); err != nil {
		t.Fatal(err)
	}
	local, err := inmem.DynamoDB(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]checker.Slots{"moto": dynamo.New(ddb, name), "minidyn": dynamo.New(local, name)}
}

// TestHostSlotsHoldTheCap: checkers taking and giving back slots of one
// host at once never hold more than its cap together; a slot whose lease
// ran out is taken again; the whole cap is free once every slot was given
// back; a host backed off gives none until its time.
func TestHostSlotsHoldTheCap(t *testing.T) {
	for name, slots := range slotStores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			const limit = 5
			var held, most, takings atomic.Int64
			var wg sync.WaitGroup
			for range 12 {
				wg.Go(func() {
					for range 8 {
						now := time.Now()
						taken, err := slots.AcquireHostSlots(ctx, backup.SlotRequest{Host: "10.0.0.1:443", Want: 2, Join: 2, Limit: limit, Now: now, Expires: now.Add(time.Minute)})
						lease, got := taken.Lease, taken.Got
						if err != nil {
							t.Error(err)
							return
						}
						if got == 0 {
							continue
						}
						n := held.Add(int64(got))
						for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
						}
						takings.Add(1)
						time.Sleep(time.Millisecond)
						held.Add(-int64(got))
						for slot := range got {
							if err := slots.ReleaseHostSlot(ctx, backup.SlotRelease{Host: "10.0.0.1:443", Lease: lease, Slot: slot, Served: 1, Answered: 1, Busy: time.Millisecond}); err != nil {
								t.Error(err)
							}
						}
					}
				})
			}
			wg.Wait()
			if most.Load() > limit || takings.Load() == 0 {
				t.Errorf("%d slots held at once (cap %d), %d takings", most.Load(), limit, takings.Load())
			}
			// Every slot was given back: the whole cap is free again.
			now := time.Now()
			if taken, err := slots.AcquireHostSlots(ctx, backup.SlotRequest{Host: "10.0.0.1:443", Want: limit, Join: limit, Limit: limit, Now: now, Expires: now.Add(time.Minute)}); err != nil || taken.Got != limit {
				t.Errorf("once every slot was given back, a taking of the cap got %+v, %v", taken, err)
			}

			start := time.Now()
			if taken, err := slots.AcquireHostSlots(ctx, backup.SlotRequest{Host: "h2", Want: 9, Join: 9, Limit: limit, Now: start, Expires: start.Add(time.Second)}); err != nil || taken.Got != limit {
				t.Fatalf("first taking got %+v, %v; want the cap", taken, err)
			}
			if taken, _ := slots.AcquireHostSlots(ctx, backup.SlotRequest{Host: "h2", Want: 1, Join: 1, Limit: limit, Now: start, Expires: start.Add(time.Second)}); taken.Got != 0 {
				t.Errorf("took %+v past the cap", taken)
			}
			later := start.Add(2 * time.Second) // the first leases ran out: a checker that died
			if taken, err := slots.AcquireHostSlots(ctx, backup.SlotRequest{Host: "h2", Want: 3, Join: 3, Limit: limit, Now: later, Expires: later.Add(time.Minute)}); err != nil || taken.Got != 3 {
				t.Errorf("after the leases ran out got %+v, %v; want 3", taken, err)
			}

			if err := slots.BackOffHost(ctx, "h3", start.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if taken, err := slots.AcquireHostSlots(ctx, backup.SlotRequest{Host: "h3", Want: 1, Join: 1, Limit: limit, Now: start, Expires: start.Add(time.Minute)}); err != nil || taken.Got != 0 || !taken.BackedOffUntil.After(start) {
				t.Errorf("backed off host gave %+v, %v", taken, err)
			}
			after := start.Add(2 * time.Minute)
			if taken, err := slots.AcquireHostSlots(ctx, backup.SlotRequest{Host: "h3", Want: 1, Join: 1, Limit: limit, Now: after, Expires: after.Add(time.Minute)}); err != nil || taken.Got != 1 {
				t.Errorf("after its backoff the host gave %+v, %v", taken, err)
			}
		})
	}
}
