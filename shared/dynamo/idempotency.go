package dynamo

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/backup-credentials/shared/backup"
)

// Idempotency-Key claims of creates.

func idempotencyKey(scope string) item {
	h := sha256.Sum256([]byte(scope))
	return key("IDEM#"+hex.EncodeToString(h[:]), "IDEM")
}

// idempotencyStale is how long a claim may stay in progress before another
// request may take it over (its create died).
const idempotencyStale = time.Minute

// ClaimIdempotencyKey puts a claim unless a live one exists, and returns the
// live one. Each call's claim carries a random token: when the put commits
// and its answer is lost, the SDK's retry finds a claim with its own token,
// which is this call's claim, not another request's.
func (st *Store) ClaimIdempotencyKey(ctx context.Context, scope, hash string, now time.Time) (*backup.IdempotencyRecord, error) {
	token := rand.Text()
	it := idempotencyKey(scope)
	it["hash"] = s(hash)
	it["claim"] = s(token)
	it["state"] = s("pending")
	it["claimedAt"] = n(now.Unix())
	it[attrExpiresAt] = n(now.Add(st.IdempotencyTTL).Unix())
	// New, expired (TTL deletes late), or a claim whose create died.
	ex := build(expression.NewBuilder().WithCondition(expression.Or(absent,
		expression.Name(attrExpiresAt).LessThan(expression.Value(now.Unix())),
		expression.And(expression.Name("state").Equal(expression.Value("pending")),
			expression.Name("claimedAt").LessThan(expression.Value(now.Add(-idempotencyStale).Unix()))))))
	_, err := st.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: st.table, Item: it,
		ConditionExpression: ex.Condition(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		if err != nil {
			return nil, failed("claim idempotency key", err)
		}
		return nil, nil
	}
	old := ccf.Item
	if old == nil {
		if old, err = st.getItem(ctx, idempotencyKey(scope)); err != nil {
			return nil, failed("read idempotency key", err)
		}
		if old == nil { // expired and removed in between: claim again
			return st.ClaimIdempotencyKey(ctx, scope, hash, now)
		}
	}
	if getS(old, "claim") == token && getS(old, "response") == "" {
		return nil, nil
	}
	rec := &backup.IdempotencyRecord{Hash: getS(old, "hash")}
	if resp := getS(old, "response"); resp != "" {
		rec.Credential = &backup.Credential{}
		if err := json.Unmarshal([]byte(resp), rec.Credential); err != nil {
			return nil, fmt.Errorf("read idempotency record: %w", err)
		}
	}
	return rec, nil
}

// ReleaseIdempotencyKey deletes a claim whose create failed.
func (st *Store) ReleaseIdempotencyKey(ctx context.Context, scope string) error {
	if _, err := st.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: st.table, Key: idempotencyKey(scope)}); err != nil {
		return failed("release idempotency key", err)
	}
	return nil
}
