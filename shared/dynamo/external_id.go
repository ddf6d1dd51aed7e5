package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/backup-credentials/shared/backup"
)

// An organization's external ID, and keys due for rotation.

const attrExternalID = "externalId"

// newExternalID is 128 random bits, as AWS advises for an external ID that
// a third party issues.
func newExternalID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "bcx-" + hex.EncodeToString(b[:])
}

// ExternalID returns the organization's external ID, making it on first
// use: one conditional write keeps the first one made, however many callers
// race to make it.
func (st *Store) ExternalID(ctx context.Context, org string) (string, error) {
	it, err := st.getItem(ctx, orgKey(org), attrExternalID)
	if err != nil {
		return "", failed("read the external ID of "+org, err)
	}
	if ext := getS(it, attrExternalID); ext != "" {
		return ext, nil
	}
	return st.makeExternalID(ctx, org)
}

// makeExternalID sets the organization's external ID unless it has one,
// and returns the one it has.
func (st *Store) makeExternalID(ctx context.Context, org string) (string, error) {
	ext := expression.Name(attrExternalID)
	ex := build(expression.NewBuilder().WithUpdate(expression.Set(ext, ext.IfNotExists(expression.Value(newExternalID())))))
	out, err := st.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: st.table, Key: orgKey(org),
		UpdateExpression: ex.Update(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
		ReturnValues: types.ReturnValueAllNew})
	if err != nil {
		return "", failed("make the external ID of "+org, err)
	}
	return getS(out.Attributes, attrExternalID), nil
}

// MarkRotationDue records that c's keys were found due for rotation at a
// time, provided it still has them: the stream makes the event of it.
func (st *Store) MarkRotationDue(ctx context.Context, c *backup.Credential, now time.Time) error {
	at := timeString(*c.KeysChangedAt)
	keys := expression.Name("keysChangedAt").Equal(expression.Value(at))
	if c.KeysChangedAt.Equal(c.CreatedAt) {
		// Items written before keysChangedAt was recorded count from creation.
		keys = expression.Or(keys, expression.And(expression.Name("keysChangedAt").AttributeNotExists(),
			expression.Name("createdAt").Equal(expression.Value(at))))
	}
	ex := build(expression.NewBuilder().
		WithUpdate(expression.Set(expression.Name("rotationDueFor"), expression.Value(at)).
			Set(expression.Name("rotationDueAt"), expression.Value(timeString(now)))).
		WithCondition(expression.And(expression.AttributeExists(expression.Name(attrPK)), sameKeys(c), keys)))
	_, err := st.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: st.table, Key: credKey(c.ID),
		UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return backup.Errorf(backup.EPrecondition, "The credential's keys changed.")
	}
	if err != nil {
		return failed("mark rotation due of "+c.ID, err)
	}
	return nil
}
