package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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
}

// Defaults of the Store's bounds: up to 4 MB read per list request, 100
// credentials per organization, 1,000 projects per credential.
const (
	DefaultListPages      = 4
	DefaultMaxCredentials = 100
	DefaultMaxProjects    = 1000
)

var _ backup.Store = (*Store)(nil)

// New returns a Store on the named table.
func New(api API, table string) *Store {
	return &Store{api: api, table: aws.String(table), Attempts: 40, IdempotencyTTL: 24 * time.Hour, ListPages: DefaultListPages,
		MaxCredentialsPerOrganization: DefaultMaxCredentials, MaxProjectsPerCredential: DefaultMaxProjects}
}

// names maps #x to x for every attribute an expression names, so reserved
// words never bite.
var names = func() map[string]string {
	m := map[string]string{}
	for _, a := range strings.Split(credentialProjection+", PK, history, projectCount, nameKey, credentialId, "+
		"defaultCredentialId, credentialCount, hash, state, response, claimedAt, searchText, "+attrGSI1PK+", "+attrGSI1SK+", "+attrExpiresAt, ", ") {
		m["#"+a] = a
	}
	return m
}()

// exprNames returns the subset of names an expression uses, plus extra.
func exprNames(exprs []string, extra map[string]string) map[string]string {
	out := map[string]string{}
	all := strings.Join(exprs, " ")
	for k, v := range names {
		if containsWord(all, k) {
			out[k] = v
		}
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func containsWord(s, w string) bool {
	for i := strings.Index(s, w); i >= 0; {
		end := i + len(w)
		if end == len(s) || !isNameChar(s[end]) {
			return true
		}
		j := strings.Index(s[end:], w)
		if j < 0 {
			return false
		}
		i = end + j
	}
	return false
}

func isNameChar(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

var projection = "#" + strings.ReplaceAll(credentialProjection, ", ", ", #")

// failed wraps an AWS failure as backup.EUnavailable.
func failed(op string, err error) error {
	if code := backup.ErrorCode(err); code != backup.EInternal {
		return err
	}
	return backup.Unavailable(fmt.Errorf("%s: %w", op, err))
}

func notFound(id string) error {
	return backup.Errorf(backup.ENotFound, "No backup credential %q exists.", id)
}

func (st *Store) getItem(ctx context.Context, k item, projectionExpr string) (item, error) {
	in := &dynamodb.GetItemInput{TableName: st.table, Key: k, ConsistentRead: aws.Bool(true)}
	if projectionExpr != "" {
		in.ProjectionExpression = aws.String(projectionExpr)
		in.ExpressionAttributeNames = exprNames([]string{projectionExpr}, nil)
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

// changeExpr is the part of every person's change the credential records:
// version, who and when. Its history entry is an item of its own, put by
// the same transaction (historyPut).
const changeExpr = "#version = #version + :one, #lastModified = :at, #lastModifiedBy = :by"

func changeValues(e backup.HistoryEntry, values item) item {
	values[":one"] = n(1)
	values[":at"] = s(timeString(e.At))
	values[":by"] = s(e.By)
	return values
}

// changed applies a change's bookkeeping to a credential read before it.
func changed(c *backup.Credential, e backup.HistoryEntry) *backup.Credential {
	c.Version++
	c.LastModified, c.LastModifiedBy = e.At, e.By
	return c
}

// readWith reads a credential and, in the same call, the item keyed by
// other(org) for each of orgs, so a write that needs both reads once.
func (st *Store) readWith(ctx context.Context, id string, orgs []string, other func(org string) item) (item, map[string]item, error) {
	keys := []item{credKey(id)}
	for _, o := range orgs {
		keys = append(keys, other(o))
	}
	var cred item
	found := map[string]item{}
	err := st.batchGet(ctx, keys, true, "", func(it item) {
		if getS(it, attrSK) == "CRED" {
			cred = it
		} else {
			found[getS(it, attrPK)] = it
		}
	})
	return cred, found, err
}

// batchGet reads keys a hundred at a time, retrying what DynamoDB leaves
// unprocessed, and calls fn for each item found.
func (st *Store) batchGet(ctx context.Context, keys []item, consistent bool, projectionExpr string, fn func(item)) error {
	for start := 0; start < len(keys); start += 100 {
		ka := types.KeysAndAttributes{Keys: keys[start:min(start+100, len(keys))], ConsistentRead: aws.Bool(consistent)}
		if projectionExpr != "" {
			ka.ProjectionExpression = aws.String(projectionExpr)
			ka.ExpressionAttributeNames = exprNames([]string{projectionExpr}, nil)
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

func nilIfEmpty(values item) item {
	if len(values) == 0 {
		return nil
	}
	return values
}

// FromConfig returns a Store on the named table with a client built from
// cfg, aimed at endpoint when it is not "".
func FromConfig(cfg aws.Config, endpoint, table string) *Store {
	return New(dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), table)
}
