package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/backup-credentials/shared/backup"
)

// API is the part of the DynamoDB client the store uses.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Store is a backup.Store on one DynamoDB table.
type Store struct {
	api   API
	table *string
	// Attempts bounds the optimistic retries of a write whose read went stale
	// under a concurrent change.
	Attempts int
	// IdempotencyTTL is how long an Idempotency-Key is remembered.
	IdempotencyTTL time.Duration
	// MaxCredentialsPerOrganization and MaxProjectsPerCredential are the
	// quotas, conditions of the writes that would pass them.
	MaxCredentialsPerOrganization, MaxProjectsPerCredential int
	// ListPages bounds the DynamoDB pages (Query calls) one list request
	// reads, so a search that matches little cannot make one request read a
	// whole organization: the page ends early with a cursor to go on.
	ListPages int
	// ListBytes bounds the estimated size of one list answer, projects
	// included: the page ends early with a cursor to go on.
	ListBytes int
}

// Defaults of the Store's bounds: up to 4 MB read per list request, 100
// credentials per organization, 1,000 projects per credential.
const (
	DefaultListPages      = 4
	DefaultListBytes      = 4 << 20
	DefaultMaxCredentials = 100
	DefaultMaxProjects    = 1000
)

var _ backup.Store = (*Store)(nil)

// New returns a Store on the named table.
func New(api API, table string) *Store {
	return &Store{api: api, table: aws.String(table), Attempts: 40, IdempotencyTTL: 24 * time.Hour, ListPages: DefaultListPages, ListBytes: DefaultListBytes,
		MaxCredentialsPerOrganization: DefaultMaxCredentials, MaxProjectsPerCredential: DefaultMaxProjects}
}

// build returns the expression a builder describes. Every builder here has
// a fixed shape, so a failure is a programming error, and panics as
// regexp.MustCompile does.
func build(b expression.Builder) expression.Expression {
	e, err := b.Build()
	if err != nil {
		panic(fmt.Sprintf("dynamo: build expression: %v", err))
	}
	return e
}

// names is the projection of the named attributes.
func names(attrs ...string) expression.ProjectionBuilder {
	p := expression.NamesList(expression.Name(attrs[0]))
	for _, a := range attrs[1:] {
		p = p.AddNames(expression.Name(a))
	}
	return p
}

// update is a transaction's write of e (update and condition) to key k.
func (st *Store) update(k item, e expression.Expression) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{TableName: st.table, Key: k, UpdateExpression: e.Update(),
		ConditionExpression: e.Condition(), ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values()}}
}

// put is a transaction's put of it, on condition.
func (st *Store) put(it item, cond expression.ConditionBuilder) types.TransactWriteItem {
	e := build(expression.NewBuilder().WithCondition(cond))
	return types.TransactWriteItem{Put: &types.Put{TableName: st.table, Item: it, ConditionExpression: e.Condition(),
		ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values()}}
}

// del is a transaction's delete of key k, on condition.
func (st *Store) del(k item, cond expression.ConditionBuilder) types.TransactWriteItem {
	e := build(expression.NewBuilder().WithCondition(cond))
	return types.TransactWriteItem{Delete: &types.Delete{TableName: st.table, Key: k, ConditionExpression: e.Condition(),
		ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values()}}
}

// absent is the condition that the item does not exist.
var absent = expression.AttributeNotExists(expression.Name(attrPK))

// failed wraps an AWS failure as backup.EUnavailable.
func failed(op string, err error) error {
	if code := backup.ErrorCode(err); code != backup.EInternal {
		return err
	}
	return backup.Unavailable(fmt.Errorf("%s: %w", op, err))
}

// getItem reads an item, consistently, only the attributes named (all when
// none are).
func (st *Store) getItem(ctx context.Context, k item, attrs ...string) (item, error) {
	in := &dynamodb.GetItemInput{TableName: st.table, Key: k, ConsistentRead: aws.Bool(true)}
	if len(attrs) > 0 {
		e := build(expression.NewBuilder().WithProjection(names(attrs...)))
		in.ProjectionExpression, in.ExpressionAttributeNames = e.Projection(), e.Names()
	}
	out, err := st.api.GetItem(ctx, in)
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

// transact runs one transaction.
func (st *Store) transact(ctx context.Context, items ...types.TransactWriteItem) error {
	_, err := st.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return err
}

// cancelled returns the cancellation reason code of each item of a
// cancelled transaction ("None", "ConditionalCheckFailed",
// "TransactionConflict", ...), in the order of the items, or nil when err is
// not a cancellation.
func cancelled(err error) []string {
	var tc *types.TransactionCanceledException
	if !errors.As(err, &tc) {
		return nil
	}
	out := []string{}
	for _, r := range tc.CancellationReasons {
		out = append(out, aws.ToString(r.Code))
	}
	return out
}

// failedAt reports whether a cancelled transaction's item i failed its
// condition.
func failedAt(err error, i int) bool {
	r := cancelled(err)
	return i < len(r) && r[i] == "ConditionalCheckFailed"
}

// conflicted reports whether a transaction was cancelled because another
// one was changing the same items (TransactionConflict): worth retrying as
// it is.
func conflicted(err error) bool {
	return slices.Contains(cancelled(err), "TransactionConflict")
}

// retryable reports whether a transaction failed because its read went stale
// or another transaction got there first.
func retryable(err error) bool {
	return cancelled(err) != nil
}

// pause waits a little before a retry, longer each attempt, with jitter.
func pause(ctx context.Context, attempt int) error {
	d := time.Duration(2+rand.IntN(8*min(attempt+1, 10))) * time.Millisecond
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// optimistic runs step until it succeeds or fails for a reason other than a
// stale read, at most st.Attempts times.
func (st *Store) optimistic(ctx context.Context, op string, step func() error) error {
	for attempt := 0; ; attempt++ {
		err := step()
		if err == nil || !retryable(err) {
			return err
		}
		if attempt+1 >= st.Attempts {
			return failed(op+": too much contention", err)
		}
		if err := pause(ctx, attempt); err != nil {
			return err
		}
	}
}

// change adds to an update what every person's change records on the
// credential: a new version, who and when. Its history entry is an item of
// its own, put by the same transaction (historyPut).
func change(u expression.UpdateBuilder, e backup.HistoryEntry) expression.UpdateBuilder {
	return u.Set(expression.Name("version"), expression.Name("version").Plus(expression.Value(1))).
		Set(expression.Name("lastModified"), expression.Value(timeString(e.At))).
		Set(expression.Name("lastModifiedBy"), expression.Value(e.By)).
		Set(expression.Name(attrByID), expression.Value(e.ByID))
}

// atVersion is the condition that the credential is still at version v.
func atVersion(v int64) expression.ConditionBuilder {
	return expression.Name("version").Equal(expression.Value(v))
}

// changed applies a change's bookkeeping to a credential read before it.
func changed(c *backup.Credential, e backup.HistoryEntry) *backup.Credential {
	c.Version++
	c.LastModified, c.LastModifiedBy = e.At, e.By
	return c
}

// batchGet reads keys a hundred at a time, retrying what DynamoDB leaves
// unprocessed, and calls fn for each item found.
func (st *Store) batchGet(ctx context.Context, keys []item, consistent bool, attrs []string, fn func(item)) error {
	for start := 0; start < len(keys); start += 100 {
		ka := types.KeysAndAttributes{Keys: keys[start:min(start+100, len(keys))], ConsistentRead: aws.Bool(consistent)}
		if len(attrs) > 0 {
			e := build(expression.NewBuilder().WithProjection(names(attrs...)))
			ka.ProjectionExpression, ka.ExpressionAttributeNames = e.Projection(), e.Names()
		}
		for attempt := 0; len(ka.Keys) > 0; attempt++ {
			out, err := st.api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{*st.table: ka}})
			if err != nil {
				return err
			}
			for _, it := range out.Responses[*st.table] {
				fn(it)
			}
			ka.Keys = out.UnprocessedKeys[*st.table].Keys
			if len(ka.Keys) > 0 {
				if err := pause(ctx, attempt); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
