package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/backup-credentials/shared/backup"
)

// Credentials reads the credentials ids name, a hundred per call; a
// credential deleted meanwhile is missing from the answer.
func (st *Store) Credentials(ctx context.Context, ids []string) ([]*backup.Credential, error) {
	keys := make([]item, len(ids))
	for i, id := range ids {
		keys[i] = credKey(id)
	}
	var cs []*backup.Credential
	var bad error
	if err := st.batchGet(ctx, keys, true, credentialAttributes, func(it item) {
		c, err := credentialFrom(it)
		if err != nil {
			bad = err
			return
		}
		cs = append(cs, c)
	}); err != nil {
		return nil, failed("read credentials", err)
	}
	return cs, bad
}

func healthPassKey() item { return key("HEALTH", "PASS") }

// passCounts are the counters a pass item holds.
var passCounts = []string{backup.PassEnqueued, backup.PassSkipped, backup.HealthHealthy, backup.HealthInvalid,
	backup.HealthUnreachable, backup.PassFailed, backup.PassDeferred}

// StartHealthPass begins the progress of a new pass, replacing the last
// one's.
func (st *Store) StartHealthPass(ctx context.Context, pass string, at time.Time) error {
	it := healthPassKey()
	it["pass"], it["startedAt"] = s(pass), s(at.UTC().Format(time.RFC3339Nano))
	for _, c := range passCounts {
		it[c] = n(0)
	}
	if _, err := st.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: st.table, Item: it}); err != nil {
		return failed("start health pass", err)
	}
	return nil
}

// AddHealthProgress adds counts to the pass's progress, and records when
// its scan finished when scannedAt is set. Progress of a pass that a newer
// one replaced is dropped.
func (st *Store) AddHealthProgress(ctx context.Context, pass string, counts map[string]int, scannedAt *time.Time) error {
	var u expression.UpdateBuilder
	any := false
	for _, c := range passCounts {
		if counts[c] != 0 {
			u, any = u.Add(expression.Name(c), expression.Value(counts[c])), true
		}
	}
	if scannedAt != nil {
		u, any = u.Set(expression.Name("scannedAt"), expression.Value(scannedAt.UTC().Format(time.RFC3339Nano))), true
	}
	if !any {
		return nil
	}
	ex := build(expression.NewBuilder().WithUpdate(u).WithCondition(expression.Name("pass").Equal(expression.Value(pass))))
	_, err := st.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: st.table, Key: healthPassKey(),
		UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil
	}
	if err != nil {
		return failed("record health progress", err)
	}
	return nil
}

// HealthPass returns the progress of the latest pass, nil before the first.
func (st *Store) HealthPass(ctx context.Context) (*backup.HealthPass, error) {
	it, err := st.getItem(ctx, healthPassKey())
	if err != nil {
		return nil, failed("read health pass", err)
	}
	if it == nil {
		return nil, nil
	}
	p := &backup.HealthPass{ID: getS(it, "pass"), Counts: map[string]int64{}}
	if p.StartedAt, err = time.Parse(time.RFC3339Nano, getS(it, "startedAt")); err != nil {
		return nil, fmt.Errorf("health pass: startedAt: %w", err)
	}
	if at := getS(it, "scannedAt"); at != "" {
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			return nil, fmt.Errorf("health pass: scannedAt: %w", err)
		}
		p.ScannedAt = &t
	}
	for _, c := range passCounts {
		p.Counts[c] = getN(it, c)
	}
	return p, nil
}
