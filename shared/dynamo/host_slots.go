package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/backup-credentials/shared/backup"
)

// The health checkers share one cap of concurrent checks per endpoint host,
// however many of them run: an item per host holds the slots taken, each an
// entry of its leases map with when it expires, so a checker that dies
// holding slots frees them when its lease runs out. A host that stopped
// answering is backed off until a time. Every change is a conditional
// write on what was read, so no two checkers can take the same free slot.

func hostKey(host string) item { return key("HOSTCAP#"+host, "HOSTCAP") }

// slotAttempts is how often a taking of slots is tried again when another
// checker changed the host's item in between.
const slotAttempts = 5

// AcquireHostSlots takes the slots r asks for. When none is free, the
// checks wait in the host's line: those without a ticket take one (the
// line's tickets counter moves by r.Join), and the answer says where the
// line is, from which their turn follows (HostSlots.Wait): the checks
// ahead of their ticket, less those served since, times the host's average
// check, over its cap. Each return re-estimates from what was served, so
// errors do not add up.
func (st *Store) AcquireHostSlots(ctx context.Context, r backup.SlotRequest) (backup.HostSlots, error) {
	host, want, limit, now, expires := r.Host, r.Want, r.Limit, r.Now, r.Expires
	lease := newLease()
	for range slotAttempts {
		it, err := st.getItem(ctx, hostKey(host), "leases", "backoffUntil", "tickets", "served", "checks", "busyMs")
		if err != nil {
			return backup.HostSlots{}, failed("read host slots of "+host, err)
		}
		if until := time.UnixMilli(getN(it, "backoffUntil")); until.After(now) {
			return backup.HostSlots{BackedOffUntil: until}, nil
		}
		leases, _ := it["leases"].(*types.AttributeValueMemberM)
		var live int
		var expired []string
		if leases != nil {
			for k, v := range leases.Value {
				if num, ok := v.(*types.AttributeValueMemberN); ok && millis(num.Value) <= now.UnixMilli() {
					expired = append(expired, k)
				} else {
					live++
				}
			}
		}
		var wait backup.HostSlots
		if got := min(want, limit-live); got > 0 {
			err = st.takeSlots(ctx, host, leases, expired, lease, got, limit, now, expires)
			wait = backup.HostSlots{Lease: lease, Got: got}
		} else {
			wait, err = st.joinLine(ctx, host, it, r)
		}
		if errors.As(err, new(*types.ConditionalCheckFailedException)) {
			continue
		}
		if err != nil {
			return backup.HostSlots{}, failed("take host slots of "+host, err)
		}
		return wait, nil
	}
	return backup.HostSlots{}, nil // too busy to take one now: like all taken
}

// joinLine gives r.Join checks tickets in host's line, as read in it, and
// says where the line is. A line behind the checks served (a new pass)
// starts again from them.
func (st *Store) joinLine(ctx context.Context, host string, it item, r backup.SlotRequest) (backup.HostSlots, error) {
	tickets, served := getN(it, "tickets"), getN(it, "served")
	var ticket int64
	if r.Join > 0 {
		ticket = max(tickets, served) + 1
		u := expression.Set(expression.Name("tickets"), expression.Value(ticket+int64(r.Join)-1))
		cond := expression.AttributeNotExists(expression.Name("tickets"))
		if _, ok := it["tickets"]; ok {
			cond = expression.Name("tickets").Equal(expression.Value(tickets))
		}
		ex := build(expression.NewBuilder().WithUpdate(u).WithCondition(cond))
		if _, err := st.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: st.table, Key: hostKey(host),
			UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
			ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()}); err != nil {
			return backup.HostSlots{}, err
		}
	}
	out := backup.HostSlots{Ticket: ticket, Served: served}
	if checks := getN(it, "checks"); checks > 0 {
		out.Each = time.Duration(getN(it, "busyMs")/checks) * time.Millisecond
	}
	return out, nil
}

// takeSlots writes got new slots under lease, dropping the expired ones, on
// condition that the item is as read: no new backoff, the expired entries
// unchanged, and no more entries than leave room.
func (st *Store) takeSlots(ctx context.Context, host string, leases *types.AttributeValueMemberM, expired []string, lease string, got, limit int, now, expires time.Time) error {
	ttl := expression.Value(expires.Add(24 * time.Hour).Unix())
	var u expression.UpdateBuilder
	var cond expression.ConditionBuilder
	if leases == nil {
		entries := map[string]int64{}
		for i := range got {
			entries[slotName(lease, i)] = expires.UnixMilli()
		}
		u = u.Set(expression.Name("leases"), expression.Value(entries))
		cond = expression.AttributeNotExists(expression.Name("leases"))
	} else {
		for i := range got {
			u = u.Set(expression.Name("leases."+slotName(lease, i)), expression.Value(expires.UnixMilli()))
		}
		for _, k := range expired {
			u = u.Remove(expression.Name("leases." + k))
		}
		cond = expression.Name("leases").Size().LessThanEqual(expression.Value(limit - got + len(expired)))
		for _, k := range expired {
			old := leases.Value[k].(*types.AttributeValueMemberN).Value
			cond = cond.And(expression.Name("leases." + k).Equal(expression.Value(&types.AttributeValueMemberN{Value: old})))
		}
	}
	cond = cond.And(expression.Or(expression.AttributeNotExists(expression.Name("backoffUntil")),
		expression.Name("backoffUntil").LessThanEqual(expression.Value(now.UnixMilli()))))
	u = u.Set(expression.Name("expiresAt"), ttl)
	ex := build(expression.NewBuilder().WithUpdate(u).WithCondition(cond))
	_, err := st.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: st.table, Key: hostKey(host),
		UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()})
	return err
}

// ReleaseHostSlot gives back one slot of a lease, counting the checks it
// served and adding those answered, and how long they took, to the host's
// average.
func (st *Store) ReleaseHostSlot(ctx context.Context, r backup.SlotRelease) error {
	host := r.Host
	u := expression.Add(expression.Name("served"), expression.Value(r.Served)).
		Add(expression.Name("checks"), expression.Value(r.Answered)).
		Add(expression.Name("busyMs"), expression.Value(r.Busy.Milliseconds())).
		Remove(expression.Name("leases." + slotName(r.Lease, r.Slot)))
	ex := build(expression.NewBuilder().WithUpdate(u).WithCondition(expression.AttributeExists(expression.Name("leases"))))
	_, err := st.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: st.table, Key: hostKey(host),
		UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return failed("release host slots of "+host, err)
	}
	return nil
}

// BackOffHost stops checks of host until a time, and counts the host's
// timeouts.
func (st *Store) BackOffHost(ctx context.Context, host string, until time.Time) error {
	u := expression.Set(expression.Name("backoffUntil"), expression.Value(until.UnixMilli())).
		Set(expression.Name("expiresAt"), expression.Value(until.Add(24*time.Hour).Unix())).
		Add(expression.Name("timeouts"), expression.Value(1))
	ex := build(expression.NewBuilder().WithUpdate(u))
	if _, err := st.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: st.table, Key: hostKey(host),
		UpdateExpression: ex.Update(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()}); err != nil {
		return failed("back off host "+host, err)
	}
	return nil
}

func newLease() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "L" + hex.EncodeToString(b)
}

func slotName(lease string, i int) string { return fmt.Sprintf("%s_%d", lease, i) }

func millis(v string) int64 {
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}
