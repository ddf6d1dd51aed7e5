package dynamo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

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

// MakeDefault moves the organization's default to id in one transaction: the
// organization's pointer (conditioned on the default read), the new default
// and the previous one.
func (st *Store) MakeDefault(ctx context.Context, id string, orgs []string, e backup.HistoryEntry) (*backup.Credential, error) {
	var result *backup.Credential
	err := st.optimistic(ctx, "make default "+id, func() error {
		credItem, orgItems, err := st.readWith(ctx, id, orgs, orgKey)
		if err != nil {
			return failed("make default "+id, err)
		}
		c, err := visible(credItem, id, orgs)
		if err != nil {
			return err
		}
		if c.IsDefault {
			result = c
			return nil
		}
		if c.IsLocked {
			return backup.Errorf(backup.ELocked, "The credential is locked; unlock it to make it the default.")
		}
		prev := getS(orgItems["ORG#"+c.OrganizationID], "defaultCredentialId")
		values := changeValues(e, item{":v": n(c.Version), ":true": b(true)})
		credUpdate := "SET #isDefault = :true, " + changeExpr
		orgCond, orgValues := "attribute_not_exists(#defaultCredentialId) OR #defaultCredentialId = :none", item{":id": s(id), ":none": s("")}
		if prev != "" {
			orgCond, orgValues = "#defaultCredentialId = :prev", item{":id": s(id), ":prev": s(prev)}
		}
		items := []types.TransactWriteItem{
			{Update: &types.Update{TableName: st.table, Key: credKey(id),
				UpdateExpression: aws.String(credUpdate), ConditionExpression: aws.String("#version = :v"),
				ExpressionAttributeNames: exprNames([]string{credUpdate, "#version"}, nil), ExpressionAttributeValues: values}},
			{Update: &types.Update{TableName: st.table, Key: orgKey(c.OrganizationID),
				UpdateExpression: aws.String("SET #defaultCredentialId = :id"), ConditionExpression: aws.String(orgCond),
				ExpressionAttributeNames:  exprNames([]string{"#defaultCredentialId"}, nil),
				ExpressionAttributeValues: orgValues}},
			st.historyPut(id, c.OrganizationID, e),
		}
		if prev != "" && prev != id {
			pe := backup.HistoryEntry{At: e.At, By: e.By, ByID: e.ByID, Action: backup.ActionUpdated, Fields: []string{"isDefault"}}
			pv := changeValues(pe, item{":false": b(false)})
			prevUpdate := "SET #isDefault = :false, " + changeExpr
			items = append(items, types.TransactWriteItem{Update: &types.Update{TableName: st.table, Key: credKey(prev),
				UpdateExpression: aws.String(prevUpdate), ConditionExpression: aws.String("attribute_exists(PK)"),
				ExpressionAttributeNames: exprNames([]string{prevUpdate}, nil), ExpressionAttributeValues: pv}},
				st.historyPut(prev, c.OrganizationID, pe))
		}
		if err := st.transact(ctx, items...); err != nil {
			return err
		}
		c.IsDefault = true
		result = changed(c, e)
		return nil
	})
	return result, err
}

// AssociateProject gives a project to a credential in one transaction with
// the project's pointer (conditioned on the owner read) and, when it moves,
// the credential it leaves.
func (st *Store) AssociateProject(ctx context.Context, id string, orgs []string, p backup.Project, e backup.HistoryEntry) (*backup.Credential, error) {
	var result *backup.Credential
	err := st.optimistic(ctx, "associate "+p.ID+" with "+id, func() error {
		credItem, projItems, err := st.readWith(ctx, id, []string{p.ID}, projectKey)
		if err != nil {
			return failed("associate "+p.ID+" with "+id, err)
		}
		c, err := visible(credItem, id, orgs)
		if err != nil {
			return err
		}
		if c.IsLocked {
			return backup.Errorf(backup.ELocked, "The credential is locked; unlock it to give it projects.")
		}
		projItem := projItems["PROJ#"+p.ID]
		if org := getS(projItem, "organizationId"); projItem != nil && org != c.OrganizationID {
			return inOtherOrganization(p.ID)
		}
		prev := getS(projItem, "credentialId")
		i := slices.IndexFunc(c.Projects, func(x backup.Project) bool { return x.ID == p.ID })
		if prev == id && i >= 0 && c.Projects[i].Name == p.Name {
			result = c
			return nil
		}
		added := int64(1)
		if prev == id && i >= 0 {
			added = 0
		}
		if added == 1 && len(c.Projects) >= st.MaxProjectsPerCredential {
			return backup.Errorf(backup.EQuotaExceeded, "The credential has %d projects, the most it may have.", st.MaxProjectsPerCredential)
		}
		extra := map[string]string{"#pid": p.ID}
		values := changeValues(e, item{":v": n(c.Version), ":name": s(p.Name), ":added": n(added),
			":maxp": n(int64(st.MaxProjectsPerCredential - int(added)))})
		update := "SET #projects.#pid = :name, #projectCount = #projectCount + :added, " + changeExpr
		pi := projectKey(p.ID)
		pi["credentialId"] = s(id)
		pi["organizationId"] = s(c.OrganizationID)
		projCond, projValues := "attribute_not_exists(PK)", item{}
		if prev != "" {
			projCond, projValues = "#credentialId = :prev AND #organizationId = :org", item{":prev": s(prev), ":org": s(c.OrganizationID)}
		}
		items := []types.TransactWriteItem{
			{Update: &types.Update{TableName: st.table, Key: credKey(id),
				UpdateExpression: aws.String(update), ConditionExpression: aws.String("#version = :v AND #projectCount <= :maxp"),
				ExpressionAttributeNames: exprNames([]string{update, "#version #projectCount"}, extra), ExpressionAttributeValues: values}},
			{Put: &types.Put{TableName: st.table, Item: pi, ConditionExpression: aws.String(projCond),
				ExpressionAttributeNames: exprNames([]string{projCond}, nil), ExpressionAttributeValues: nilIfEmpty(projValues)}},
			st.historyPut(id, c.OrganizationID, e),
		}
		if prev != "" && prev != id {
			pe := backup.HistoryEntry{At: e.At, By: e.By, ByID: e.ByID, Action: backup.ActionProjectDissociated, Fields: []string{"projects"}}
			items = append(items, st.removeProject(prev, p.ID, pe, "attribute_exists(#projects.#pid)", item{}),
				st.historyPut(prev, c.OrganizationID, pe))
		}
		if err := st.transact(ctx, items...); err != nil {
			return err
		}
		if i >= 0 {
			c.Projects[i].Name = p.Name
		} else {
			c.Projects = append(c.Projects, p)
			slices.SortFunc(c.Projects, func(a, b backup.Project) int { return strings.Compare(a.ID, b.ID) })
		}
		result = changed(c, e)
		return nil
	})
	return result, err
}

func inOtherOrganization(projectID string) error {
	return backup.Errorf(backup.EProjectInOtherOrganization,
		"Project %q belongs to another organization; a project's backups use a credential of its own organization.", projectID)
}

func nilIfEmpty(values item) item {
	if len(values) == 0 {
		return nil
	}
	return values
}

// removeProject is the update that takes a project from a credential.
func (st *Store) removeProject(id, projectID string, e backup.HistoryEntry, cond string, values item) types.TransactWriteItem {
	values = changeValues(e, values)
	update := "REMOVE #projects.#pid SET #projectCount = #projectCount - :one, " + changeExpr
	return types.TransactWriteItem{Update: &types.Update{TableName: st.table, Key: credKey(id),
		UpdateExpression: aws.String(update), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames:  exprNames([]string{update, cond}, map[string]string{"#pid": projectID}),
		ExpressionAttributeValues: values}}
}

// DissociateProject takes a project from a credential and deletes the
// project's pointer in one transaction.
func (st *Store) DissociateProject(ctx context.Context, id string, orgs []string, projectID string, e backup.HistoryEntry) error {
	return st.optimistic(ctx, "dissociate "+projectID+" from "+id, func() error {
		c, err := st.GetCredential(ctx, id, orgs)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(c.Projects, func(p backup.Project) bool { return p.ID == projectID }) {
			return backup.Errorf(backup.ENotFound, "Project %q is not associated with this credential.", projectID)
		}
		return st.transact(ctx,
			st.removeProject(id, projectID, e, "#version = :v", item{":v": n(c.Version)}),
			types.TransactWriteItem{Delete: &types.Delete{TableName: st.table, Key: projectKey(projectID),
				ConditionExpression:       aws.String("#credentialId = :id"),
				ExpressionAttributeNames:  exprNames([]string{"#credentialId"}, nil),
				ExpressionAttributeValues: item{":id": s(id)}}},
			st.historyPut(id, c.OrganizationID, e),
		)
	})
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
			// An empty string, not REMOVE: top-level REMOVE is lost by the
			// in-process emulator, and "" reads as "no default" everywhere.
			orgUpdate += ", #defaultCredentialId = :none"
			orgCond = "#defaultCredentialId = :id"
			orgValues[":id"], orgValues[":none"] = s(id), s("")
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

// ListCredentials queries the byOrg index once per organization it visits.
func (st *Store) ListCredentials(ctx context.Context, q backup.ListQuery) (*backup.ListPage, error) {
	page := &backup.ListPage{Items: []*backup.Credential{}}
	queries := 0
	for oi, org := range q.Organizations {
		after := ""
		if q.After != nil && q.After.Org == org {
			after = q.After.Key
		}
		for {
			if queries == st.ListPages {
				// Enough read for one request: go on from here next time.
				page.Next = &backup.Position{Org: org, Key: after}
				return page, nil
			}
			queries++
			want := q.Limit - len(page.Items)
			in := &dynamodb.QueryInput{TableName: st.table, IndexName: aws.String(indexByOrg),
				ProjectionExpression:      aws.String(listProjection + ", #" + attrGSI1SK),
				ExpressionAttributeValues: item{":pk": s("ORG#" + org)}}
			cond := "#" + attrGSI1PK + " = :pk"
			if after != "" {
				cond += " AND #" + attrGSI1SK + " > :after"
				in.ExpressionAttributeValues[":after"] = s(after)
			}
			in.KeyConditionExpression = aws.String(cond)
			exprs := []string{listProjection, "#" + attrGSI1SK, cond}
			if q.Search != "" {
				in.FilterExpression = aws.String("contains(#searchText, :q)")
				in.ExpressionAttributeValues[":q"] = s(q.Search)
				exprs = append(exprs, "#searchText")
			} else {
				in.Limit = aws.Int32(int32(want + 1))
			}
			in.ExpressionAttributeNames = exprNames(exprs, nil)
			out, err := st.api.Query(ctx, in)
			if err != nil {
				return nil, failed("list credentials of "+org, err)
			}
			for _, it := range out.Items {
				if len(page.Items) == q.Limit {
					page.Next = &backup.Position{Org: org, Key: after}
					return page, nil
				}
				c, err := credentialFrom(it)
				if err != nil {
					return nil, err
				}
				page.Items = append(page.Items, c)
				after = getS(it, attrGSI1SK)
			}
			if out.LastEvaluatedKey == nil {
				break
			}
			if len(page.Items) == q.Limit {
				page.Next = &backup.Position{Org: org, Key: after}
				return page, nil
			}
			// DynamoDB stopped at its 1 MB page; what it read past the last
			// item returned did not match, so go on from where it stopped.
			after = getS(out.LastEvaluatedKey, attrGSI1SK)
		}
		if len(page.Items) == q.Limit && oi < len(q.Organizations)-1 {
			page.Next = &backup.Position{Org: org, Key: after}
			return page, nil
		}
	}
	return page, nil
}

// Organizations reads the organizations' items in one batch per hundred.
func (st *Store) Organizations(ctx context.Context, orgs []string) ([]backup.Organization, error) {
	keys := make([]item, len(orgs))
	for i, o := range orgs {
		keys[i] = orgKey(o)
	}
	byID := map[string]item{}
	if err := st.batchGet(ctx, keys, false, "", func(it item) {
		byID[strings.TrimPrefix(getS(it, attrPK), "ORG#")] = it
	}); err != nil {
		return nil, failed("read organizations", err)
	}
	out := make([]backup.Organization, 0, len(orgs))
	for _, o := range orgs {
		it := byID[o]
		org := backup.Organization{ID: o, CredentialCount: int(getN(it, "credentialCount"))}
		if d := getS(it, "defaultCredentialId"); d != "" {
			org.DefaultCredentialID = &d
		}
		out = append(out, org)
	}
	return out, nil
}

func idempotencyKey(scope string) item {
	h := sha256.Sum256([]byte(scope))
	return key("IDEM#"+hex.EncodeToString(h[:]), "IDEM")
}

// idempotencyStale is how long a claim may stay in progress before another
// request may take it over (its create died).
const idempotencyStale = time.Minute

// ClaimIdempotencyKey puts a claim unless a live one exists, and returns the
// live one.
func (st *Store) ClaimIdempotencyKey(ctx context.Context, scope, hash string, now time.Time) (*backup.IdempotencyRecord, error) {
	it := idempotencyKey(scope)
	it["hash"] = s(hash)
	it["state"] = s("pending")
	it["claimedAt"] = n(now.Unix())
	it[attrExpiresAt] = n(now.Add(st.IdempotencyTTL).Unix())
	cond := "attribute_not_exists(PK) OR #expiresAt < :now OR (#state = :pending AND #claimedAt < :stale)"
	_, err := st.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: st.table, Item: it,
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeNames:            exprNames([]string{cond}, nil),
		ExpressionAttributeValues:           item{":now": n(now.Unix()), ":pending": s("pending"), ":stale": n(now.Add(-idempotencyStale).Unix())},
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
		if old, err = st.getItem(ctx, idempotencyKey(scope), ""); err != nil {
			return nil, failed("read idempotency key", err)
		}
		if old == nil { // expired and removed in between: claim again
			return st.ClaimIdempotencyKey(ctx, scope, hash, now)
		}
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

// FromConfig returns a Store on the named table with a client built from
// cfg, aimed at endpoint when it is not "".
func FromConfig(cfg aws.Config, endpoint, table string) *Store {
	return New(dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), table)
}
