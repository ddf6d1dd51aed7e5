package dynamo

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/backup-credentials/shared/backup"
)

// Keys due for rotation.

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
