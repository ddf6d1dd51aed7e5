package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/acme/backup-credentials/shared/backup"
)

// Credentials: reading, creating, changing, locking, deleting one, and
// recording its health.

// stored is a credential as its partition holds it: the credential, with
// its projects and last use, and which of its projects are still in the
// project map of an item written before projects became items.
type stored struct {
	*backup.Credential
	// projectCount is the item's count of projects.
	projectCount int64
	// legacy holds the IDs of projects in the item's project map.
	legacy map[string]bool
}

// attachedAttributes are what the items hanging off a credential are read
// from.
var attachedAttributes = []string{attrSK, "name"} // and lastUsedAt, which a credential item of before has too

// CreateCredential writes the credential, claims its name and counts it, in
// one transaction.
func (st *Store) CreateCredential(ctx context.Context, c *backup.Credential, e backup.HistoryEntry, scope string) error {
	nameItem := nameKey(c.OrganizationID, backup.NameKey(c.Name))
	nameItem["credentialId"] = s(c.ID)
	// Items: 0 the credential, 1 its name claim, 2 the organization's count,
	// 3 the history entry, and with an Idempotency-Key 4 its claim, completed
	// with the answer by the same write, so a retry after a lost answer
	// replays it.
	count := expression.Name("credentialCount")
	ci := credentialItem(c)
	ci[attrByID] = s(e.ByID)
	items := []types.TransactWriteItem{
		st.put(ci, absent),
		st.put(nameItem, absent),
		st.update(orgKey(c.OrganizationID), build(expression.NewBuilder().
			WithUpdate(expression.Add(count, expression.Value(1))).
			WithCondition(expression.Or(count.AttributeNotExists(), count.LessThan(expression.Value(st.MaxCredentialsPerOrganization)))))),
		st.historyPut(c.ID, c.OrganizationID, c.Version, e),
	}
	if scope != "" {
		resp, err := json.Marshal(c)
		if err != nil {
			return fmt.Errorf("create credential %s: %w", c.ID, err)
		}
		items = append(items, st.update(idempotencyKey(scope), build(expression.NewBuilder().
			WithUpdate(expression.Set(expression.Name("state"), expression.Value("done")).
				Set(expression.Name("response"), expression.Value(string(resp)))).
			WithCondition(expression.Name("state").Equal(expression.Value("pending"))))))
	}
	err := st.optimistic(ctx, "create credential "+c.ID, func() error {
		err := st.transact(ctx, items...)
		switch {
		case failedAt(err, 1):
			return nameTaken(c.Name)
		case failedAt(err, 2):
			return backup.Errorf(backup.EQuotaExceeded, "The organization has %d credentials, the most it may have; delete one first.",
				st.MaxCredentialsPerOrganization)
		}
		return err // a conflict is retried; anything else fails
	})
	if err == nil || !unanswered(err) {
		if err != nil {
			return failed("create credential "+c.ID, err)
		}
		return nil
	}
	// No answer: the write may have committed. A consistent read tells.
	it, rerr := st.getItem(context.WithoutCancel(ctx), credKey(c.ID), "id")
	if rerr == nil && it != nil {
		return nil
	}
	return backup.Unavailable(fmt.Errorf("create credential %s: %w: %w", c.ID, backup.ErrOutcomeUnknown, err))
}

// unanswered reports whether a call failed without DynamoDB saying it did
// nothing: no answer in time, a cancelled context, a broken connection, a
// server error. A cancelled transaction or a refused request (a client
// fault) did nothing.
func unanswered(err error) bool {
	if cancelled(err) != nil || backup.ErrorCode(err) != backup.EInternal {
		return false
	}
	var api smithy.APIError
	return !errors.As(err, &api) || api.ErrorFault() != smithy.FaultClient
}

// claimedBy is the condition that a name claim (or a project's pointer) is
// the credential's.
func claimedBy(id string) expression.ConditionBuilder {
	return expression.Name("credentialId").Equal(expression.Value(id))
}

func nameTaken(name string) error {
	return backup.Errorf(backup.ENameTaken, "The organization already has a credential named %q.", name)
}

// SetLocked flips isLocked in one transaction with its history entry,
// conditioned on the version read.
func (st *Store) SetLocked(ctx context.Context, id string, orgs []string, locked bool, e backup.HistoryEntry) (*backup.Credential, error) {
	var result *backup.Credential
	err := st.optimistic(ctx, "lock "+id, func() error {
		c, err := st.GetCredential(ctx, id, orgs)
		switch {
		case err != nil:
			return err
		case c.IsLocked && locked:
			return backup.Errorf(backup.EAlreadyLocked, "The credential is locked already.")
		case !c.IsLocked && !locked:
			return backup.Errorf(backup.EAlreadyUnlocked, "The credential is not locked.")
		}
		if err := st.transact(ctx,
			st.update(credKey(id), build(expression.NewBuilder().
				WithUpdate(change(expression.Set(expression.Name("isLocked"), expression.Value(locked)), e)).
				WithCondition(atVersion(c.Version)))),
			st.historyPut(id, c.OrganizationID, c.Version+1, e),
		); err != nil {
			return err
		}
		c.IsLocked = locked
		result = changed(c, e)
		return nil
	})
	return result, err
}

// UpdateCredential replaces a credential's mutable attributes, moving its
// name claim when the name changes, in one transaction.
func (st *Store) UpdateCredential(ctx context.Context, old, c *backup.Credential, e backup.HistoryEntry) error {
	var set expression.UpdateBuilder
	for k, v := range mutableAttrs(c) {
		set = set.Set(expression.Name(k), expression.Value(v))
	}
	set = set.Set(expression.Name(attrByID), expression.Value(e.ByID))
	// What the credential no longer has goes: a CA, a role, a key's age.
	for _, a := range []struct {
		attr   string
		absent bool
	}{{"s3CaCertificate", c.CACertificate == nil}, {"s3RoleArn", !c.IsRole()}, {"keysChangedAt", c.IsRole()}} {
		if a.absent {
			set = set.Remove(expression.Name(a.attr))
		}
	}
	items := []types.TransactWriteItem{
		st.update(credKey(c.ID), build(expression.NewBuilder().WithUpdate(set).WithCondition(expression.And(
			expression.AttributeExists(expression.Name(attrPK)), atVersion(old.Version),
			expression.Name("isLocked").Equal(expression.Value(false)))))),
		st.historyPut(c.ID, c.OrganizationID, c.Version, e),
	}
	oldKey, newKey := backup.NameKey(old.Name), backup.NameKey(c.Name)
	if oldKey != newKey {
		ni := nameKey(c.OrganizationID, newKey)
		ni["credentialId"] = s(c.ID)
		items = append(items, st.del(nameKey(c.OrganizationID, oldKey), claimedBy(c.ID)), st.put(ni, absent))
	}
	// Items: 0 the credential, 1 the history entry, and on a rename 2 the
	// old name claim and 3 the new one.
	var err error
	for attempt := 0; ; attempt++ {
		if err = st.transact(ctx, items...); err == nil || !conflicted(err) {
			break
		}
		if attempt+1 >= st.Attempts {
			return failed("update "+c.ID+": too much contention", err)
		}
		if err := pause(ctx, attempt); err != nil {
			return err
		}
	}
	switch {
	case err == nil:
		return nil
	case cancelled(err) == nil:
		return failed("update "+c.ID, err)
	case failedAt(err, 3):
		return nameTaken(c.Name)
	case !failedAt(err, 0):
		return failed("update "+c.ID, err)
	}
	// The credential's condition failed: learn which from it as it is now.
	now, gerr := st.getItem(ctx, credKey(c.ID), "isLocked", "version")
	switch {
	case gerr != nil:
		return failed("update "+c.ID, gerr)
	case now == nil:
		return backup.NotFound(c.ID)
	case getBool(now, "isLocked"):
		return backup.Errorf(backup.ELocked, "The credential is locked; unlock it to change it.")
	default:
		return backup.Errorf(backup.EPrecondition, "The credential changed while this change was made; it is at version %d now.", getN(now, "version"))
	}
}

// DeleteCredential deletes a credential, its name claim and, when it was the
// default, the organization's pointer to it, in one transaction conditioned
// on the credential read (unlocked, with no projects) that also records the
// deletion: the change events announce it from that entry.
func (st *Store) DeleteCredential(ctx context.Context, id string, orgs []string, e backup.HistoryEntry) (*backup.Credential, error) {
	var result *backup.Credential
	err := st.optimistic(ctx, "delete "+id, func() error {
		sc, err := st.visible(ctx, id, orgs)
		switch {
		case err != nil:
			return err
		case sc.IsLocked:
			return backup.Errorf(backup.ELocked, "The credential is locked; unlock it to delete it.")
		case sc.projectCount > 0 || len(sc.Projects) > 0:
			return backup.Errorf(backup.EInUse, "The credential is used by %d project(s); move or dissociate them first.", len(sc.Projects))
		}
		c := sc.Credential
		count := expression.Name("credentialCount")
		org := expression.NewBuilder().WithUpdate(expression.Set(count, count.Minus(expression.Value(1))))
		if c.IsDefault {
			def := expression.Name("defaultCredentialId")
			org = expression.NewBuilder().WithUpdate(expression.Set(count, count.Minus(expression.Value(1))).Remove(def)).
				WithCondition(def.Equal(expression.Value(id)))
		}
		err = st.transact(ctx,
			st.del(credKey(id), expression.And(atVersion(c.Version), expression.Name("isLocked").Equal(expression.Value(false)),
				expression.Name("projectCount").Equal(expression.Value(0)))),
			st.del(nameKey(c.OrganizationID, backup.NameKey(c.Name)), claimedBy(id)),
			st.update(orgKey(c.OrganizationID), build(org)),
			st.historyPut(id, c.OrganizationID, c.Version, e),
			st.del(useKey(id), anyItem),
		)
		if err != nil {
			return err
		}
		result = c
		return nil
	})
	return result, err
}

// sameKeys is the condition that a credential still has the keys (or the
// role) of c.
func sameKeys(c *backup.Credential) expression.ConditionBuilder {
	if c.IsRole() {
		return expression.Name("s3RoleArn").Equal(expression.Value(*c.RoleARN))
	}
	return expression.And(expression.Name("s3RoleArn").AttributeNotExists(),
		expression.Name("secretVersion").Equal(expression.Value(c.SecretVersion)),
		expression.Name("s3AccessKeyId").Equal(expression.Value(c.AccessKeyID)))
}

// RecordHealth writes the result of a check of checked unless the
// credential is gone, a newer result is recorded already, or its keys,
// endpoint or region are no longer the ones checked (a result about
// replaced keys is dropped).
func (st *Store) RecordHealth(ctx context.Context, checked *backup.Credential, h backup.Health) (*backup.Credential, error) {
	id := checked.ID
	cond := expression.And(expression.AttributeExists(expression.Name(attrPK)), sameKeys(checked),
		expression.Name("s3Endpoint").Equal(expression.Value(checked.Endpoint)),
		expression.Name("s3Region").Equal(expression.Value(checked.Region)))
	if h.CheckedAt != nil {
		at := expression.Name("health.checkedAt")
		cond = cond.And(expression.Or(at.AttributeNotExists(), at.LessThanEqual(expression.Value(timeString(*h.CheckedAt)))))
	}
	// A healthy result says the keys work now; another keeps when they
	// last did.
	set := expression.Set(expression.Name("health"), expression.Value(healthOf(h)))
	if h.Status != backup.HealthHealthy {
		r := healthOf(h)
		set = expression.Set(expression.Name("health.status"), expression.Value(r.Status)).
			Set(expression.Name("health.message"), expression.Value(r.Message)).
			Set(expression.Name("health.checkedAt"), expression.Value(r.CheckedAt))
	}
	ex := build(expression.NewBuilder().WithUpdate(set).WithCondition(cond))
	out, err := st.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: st.table, Key: credKey(id),
		UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
		ReturnValues: types.ReturnValueAllNew, ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		old := ccf.Item
		if old == nil {
			if old, err = st.getItem(ctx, credKey(id), credentialAttributes...); err != nil {
				return nil, failed("record health of "+id, err)
			}
		}
		if old == nil {
			return nil, backup.NotFound(id)
		}
		return st.asRead(ctx, old, checked)
	}
	if err != nil {
		return nil, failed("record health of "+id, err)
	}
	return st.asRead(ctx, out.Attributes, checked)
}
