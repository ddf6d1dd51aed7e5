package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/acme/backup-credentials/shared/backup"
)

// Credentials: reading, creating, changing, locking, deleting one, and
// recording its health.

// GetCredential returns a credential of one of orgs, or ENotFound.
func (st *Store) GetCredential(ctx context.Context, id string, orgs []string) (*backup.Credential, error) {
	it, err := st.getItem(ctx, credKey(id), projection)
	if err != nil {
		return nil, failed("get credential "+id, err)
	}
	return visible(it, id, orgs)
}

// visible reads a credential item, treating one outside orgs as absent.
func visible(it item, id string, orgs []string) (*backup.Credential, error) {
	if it == nil || !slices.Contains(orgs, getS(it, "organizationId")) {
		return nil, notFound(id)
	}
	return credentialFrom(it)
}

// CreateCredential writes the credential, claims its name and counts it, in
// one transaction.
func (st *Store) CreateCredential(ctx context.Context, c *backup.Credential, e backup.HistoryEntry, scope string) error {
	nameItem := nameKey(c.OrganizationID, backup.NameKey(c.Name))
	nameItem["credentialId"] = s(c.ID)
	// Items: 0 the credential, 1 its name claim, 2 the organization's count,
	// 3 the history entry, and with an Idempotency-Key 4 its claim, completed
	// with the answer by the same write, so a retry after a lost answer
	// replays it.
	items := []types.TransactWriteItem{
		{Put: &types.Put{TableName: st.table, Item: credentialItem(c),
			ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		{Put: &types.Put{TableName: st.table, Item: nameItem,
			ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		{Update: &types.Update{TableName: st.table, Key: orgKey(c.OrganizationID),
			UpdateExpression:          aws.String("ADD #credentialCount :one"),
			ConditionExpression:       aws.String("attribute_not_exists(#credentialCount) OR #credentialCount < :max"),
			ExpressionAttributeNames:  exprNames([]string{"#credentialCount"}, nil),
			ExpressionAttributeValues: item{":one": n(1), ":max": n(int64(st.MaxCredentialsPerOrganization))}}},
		st.historyPut(c.ID, c.OrganizationID, e),
	}
	if scope != "" {
		resp, err := json.Marshal(c)
		if err != nil {
			return fmt.Errorf("create credential %s: %w", c.ID, err)
		}
		items = append(items, types.TransactWriteItem{Update: &types.Update{TableName: st.table, Key: idempotencyKey(scope),
			UpdateExpression: aws.String("SET #state = :done, #response = :r"), ConditionExpression: aws.String("#state = :pending"),
			ExpressionAttributeNames:  exprNames([]string{"#state #response"}, nil),
			ExpressionAttributeValues: item{":done": s("done"), ":r": s(string(resp)), ":pending": s("pending")}}})
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
	it, rerr := st.getItem(context.WithoutCancel(ctx), credKey(c.ID), "#id")
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
		values := changeValues(e, item{":locked": b(locked), ":v": n(c.Version)})
		update := "SET #isLocked = :locked, " + changeExpr
		if err := st.transact(ctx,
			types.TransactWriteItem{Update: &types.Update{TableName: st.table, Key: credKey(id),
				UpdateExpression: aws.String(update), ConditionExpression: aws.String("#version = :v"),
				ExpressionAttributeNames: exprNames([]string{update, "#version"}, nil), ExpressionAttributeValues: values}},
			st.historyPut(id, c.OrganizationID, e),
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
	values := item{":v": n(old.Version), ":false": b(false)}
	var sets []string
	for k, v := range mutableAttrs(c) {
		sets = append(sets, "#"+k+" = :"+k)
		values[":"+k] = v
	}
	slices.Sort(sets)
	update := "SET " + strings.Join(sets, ", ")
	if c.CACertificate == nil {
		update += " REMOVE #s3CaCertificate"
	}
	cond := "attribute_exists(PK) AND #version = :v AND #isLocked = :false"
	items := []types.TransactWriteItem{{Update: &types.Update{TableName: st.table, Key: credKey(c.ID),
		UpdateExpression: aws.String(update), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames: exprNames([]string{update, cond}, nil), ExpressionAttributeValues: values}},
		st.historyPut(c.ID, c.OrganizationID, e)}
	oldKey, newKey := backup.NameKey(old.Name), backup.NameKey(c.Name)
	if oldKey != newKey {
		ni := nameKey(c.OrganizationID, newKey)
		ni["credentialId"] = s(c.ID)
		items = append(items,
			types.TransactWriteItem{Delete: &types.Delete{TableName: st.table, Key: nameKey(c.OrganizationID, oldKey),
				ConditionExpression: aws.String("#credentialId = :id"), ExpressionAttributeNames: exprNames([]string{"#credentialId"}, nil),
				ExpressionAttributeValues: item{":id": s(c.ID)}}},
			types.TransactWriteItem{Put: &types.Put{TableName: st.table, Item: ni,
				ConditionExpression: aws.String("attribute_not_exists(PK)")}})
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
	now, gerr := st.getItem(ctx, credKey(c.ID), projection)
	switch {
	case gerr != nil:
		return failed("update "+c.ID, gerr)
	case now == nil:
		return notFound(c.ID)
	case getBool(now, "isLocked"):
		return backup.Errorf(backup.ELocked, "The credential is locked; unlock it to change it.")
	default:
		return backup.Errorf(backup.EPrecondition, "The credential changed while this change was made; it is at version %d now.", getN(now, "version"))
	}
}

// DeleteCredential deletes a credential, its name claim and, when it was the
// default, the organization's pointer to it, in one transaction conditioned
// on the credential read: unlocked, with no projects.
func (st *Store) DeleteCredential(ctx context.Context, id string, orgs []string) (*backup.Credential, error) {
	var result *backup.Credential
	err := st.optimistic(ctx, "delete "+id, func() error {
		it, err := st.getItem(ctx, credKey(id), projection+", #projectCount")
		if err != nil {
			return failed("delete "+id, err)
		}
		c, err := visible(it, id, orgs)
		switch {
		case err != nil:
			return err
		case c.IsLocked:
			return backup.Errorf(backup.ELocked, "The credential is locked; unlock it to delete it.")
		case getN(it, "projectCount") > 0 || len(c.Projects) > 0:
			return backup.Errorf(backup.EInUse, "The credential is used by %d project(s); move or dissociate them first.", len(c.Projects))
		}
		orgUpdate, orgCond, orgValues := "SET #credentialCount = #credentialCount + :minus", "", item{":minus": n(-1)}
		if c.IsDefault {
			orgUpdate += " REMOVE #defaultCredentialId"
			orgCond = "#defaultCredentialId = :id"
			orgValues[":id"] = s(id)
		}
		orgItem := &types.Update{TableName: st.table, Key: orgKey(c.OrganizationID), UpdateExpression: aws.String(orgUpdate),
			ExpressionAttributeNames: exprNames([]string{orgUpdate}, nil), ExpressionAttributeValues: orgValues}
		if orgCond != "" {
			orgItem.ConditionExpression = aws.String(orgCond)
		}
		err = st.transact(ctx,
			types.TransactWriteItem{Delete: &types.Delete{TableName: st.table, Key: credKey(id),
				ConditionExpression:       aws.String("#version = :v AND #isLocked = :false AND #projectCount = :zero"),
				ExpressionAttributeNames:  exprNames([]string{"#version #isLocked #projectCount"}, nil),
				ExpressionAttributeValues: item{":v": n(c.Version), ":false": b(false), ":zero": n(0)}}},
			types.TransactWriteItem{Delete: &types.Delete{TableName: st.table, Key: nameKey(c.OrganizationID, backup.NameKey(c.Name)),
				ConditionExpression: aws.String("#credentialId = :id"), ExpressionAttributeNames: exprNames([]string{"#credentialId"}, nil),
				ExpressionAttributeValues: item{":id": s(id)}}},
			types.TransactWriteItem{Update: orgItem},
		)
		if err != nil {
			return err
		}
		result = c
		return nil
	})
	return result, err
}

// RecordHealth writes the result of a check of checked unless the
// credential is gone, a newer result is recorded already, or its keys,
// endpoint or region are no longer the ones checked (a result about
// replaced keys is dropped).
func (st *Store) RecordHealth(ctx context.Context, checked *backup.Credential, h backup.Health) (*backup.Credential, error) {
	id := checked.ID
	values := item{":h": healthItem(h), ":sv": s(checked.SecretVersion), ":ak": s(checked.AccessKeyID),
		":ep": s(checked.Endpoint), ":rg": s(checked.Region)}
	cond := "attribute_exists(PK) AND #secretVersion = :sv AND #s3AccessKeyId = :ak AND #s3Endpoint = :ep AND #s3Region = :rg"
	if h.CheckedAt != nil {
		cond += " AND (attribute_not_exists(#health.checkedAt) OR #health.checkedAt <= :at)"
		values[":at"] = s(timeString(*h.CheckedAt))
	}
	out, err := st.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: st.table, Key: credKey(id),
		UpdateExpression: aws.String("SET #health = :h"), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames: exprNames([]string{"#health", cond}, nil), ExpressionAttributeValues: values,
		ReturnValues: types.ReturnValueAllNew, ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		old := ccf.Item
		if old == nil {
			if old, err = st.getItem(ctx, credKey(id), projection); err != nil {
				return nil, failed("record health of "+id, err)
			}
		}
		if old == nil {
			return nil, notFound(id)
		}
		return credentialFrom(old)
	}
	if err != nil {
		return nil, failed("record health of "+id, err)
	}
	return credentialFrom(out.Attributes)
}
