package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/backup-credentials/shared/backup"
)

// A credential's history is one item per change, beside the credential item
// in its partition (PK CRED#<id>), written by the transaction of the change
// it records. Sort keys count down from the newest, so a Query of the
// partition from the credential ("CRED") on reads it first and then the
// newest entries: one call answers a page and proves the credential
// visible. The
// credential item stays the same size however long its history grows.
//
// Items written before history moved out of the credential item keep their
// entries in its "history" list; History reads them after the items.

const histPrefix = "HIST#"

// histSK returns the sort key of an entry written at t: the nanoseconds left
// until the end of time, so newer sorts first, and random bits, so two
// entries never collide.
func histSK(t time.Time) string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%s%019d#%s", histPrefix, math.MaxInt64-t.UnixNano(), hex.EncodeToString(r[:]))
}

// historyPut is the write of one history entry, for the transaction of the
// change it records; version is the credential's after it, or 0 when the
// transaction does not know it.
func (st *Store) historyPut(id, org string, version int64, e backup.HistoryEntry) types.TransactWriteItem {
	fields := e.Fields
	if fields == nil {
		fields = []string{}
	}
	return st.put(marshal(historyRecord{PK: "CRED#" + id, SK: histSK(time.Now()), OrganizationID: org,
		At: timeString(e.At), By: e.By, ByID: e.ByID, Action: e.Action, Fields: fields, Version: version, Project: projectRecordOf(e.Project)}), absent)
}

// historyRecord is one history entry's item.
type historyRecord struct {
	PK             string   `dynamodbav:"PK"`
	SK             string   `dynamodbav:"SK"`
	OrganizationID string   `dynamodbav:"organizationId"`
	At             string   `dynamodbav:"at"`
	By             string   `dynamodbav:"by"`
	ByID           string   `dynamodbav:"byId"`
	Action         string   `dynamodbav:"action"`
	Fields         []string `dynamodbav:"fields"`
	Version        int64    `dynamodbav:"version,omitempty"`
	// Project is the project an association or dissociation moved.
	Project *projectRecord `dynamodbav:"project,omitempty"`
}

// projectRecord is a project as a history entry names it.
type projectRecord struct {
	ID   string `dynamodbav:"id"`
	Name string `dynamodbav:"name"`
}

func projectRecordOf(p *backup.Project) *projectRecord {
	if p == nil {
		return nil
	}
	return &projectRecord{ID: p.ID, Name: p.Name}
}

// entryFrom reads one history entry, an item or a legacy list element.
func entryFrom(m item) (backup.HistoryEntry, error) {
	at, err := getTime(m, "at")
	if err != nil {
		return backup.HistoryEntry{}, fmt.Errorf("read history: %w", err)
	}
	e := backup.HistoryEntry{At: at, By: getS(m, "by"), ByID: getS(m, "byId"), Action: getS(m, "action"), Fields: []string{}}
	if fl, ok := m["fields"].(*types.AttributeValueMemberL); ok {
		for _, f := range fl.Value {
			if fs, ok := f.(*types.AttributeValueMemberS); ok {
				e.Fields = append(e.Fields, fs.Value)
			}
		}
	}
	return e, nil
}

// legacyHistory reads the history list of an item written before history
// moved out, newest first.
func legacyHistory(it item) ([]backup.HistoryEntry, error) {
	l, _ := it["history"].(*types.AttributeValueMemberL)
	if l == nil {
		return nil, nil
	}
	out := make([]backup.HistoryEntry, 0, len(l.Value))
	for i := len(l.Value) - 1; i >= 0; i-- {
		m, _ := l.Value[i].(*types.AttributeValueMemberM)
		if m == nil {
			continue
		}
		e, err := entryFrom(m.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// History returns a page of a credential's history, newest first. A
// position is "H" and the sort key of the last entry item returned, or "L"
// and the index in the legacy list to go on from.
func (st *Store) History(ctx context.Context, id string, orgs []string, limit int, after string) ([]backup.HistoryEntry, string, error) {
	switch {
	case after == "" || after[0] == 'H':
		entries, legacy, next, err := st.entryPage(ctx, id, orgs, limit, after)
		if err != nil || next != "" {
			return entries, next, err
		}
		// The entry items are done: go on with the legacy list, if any.
		return st.legacyPage(ctx, id, orgs, limit, entries, legacy, 0)
	case after[0] == 'L':
		n, err := strconv.Atoi(after[1:])
		if err != nil || n < 0 {
			return nil, "", badPosition()
		}
		return st.legacyPage(ctx, id, orgs, limit, nil, nil, n)
	}
	return nil, "", badPosition()
}

// entryPage returns up to limit entry items after the position ("" for the
// first page, with the credential item, whose legacy list may follow), and
// the position after them when more entry items follow.
func (st *Store) entryPage(ctx context.Context, id string, orgs []string, limit int, after string) (entries []backup.HistoryEntry, credential item, next string, err error) {
	notVisible := func(org string) bool { return !slices.Contains(orgs, org) }
	// The credential's projects and last use sort before it: start at the
	// credential.
	cond := expression.Key(attrPK).Equal(expression.Value("CRED#" + id)).
		And(expression.Key(attrSK).GreaterThanEqual(expression.Value("CRED")))
	if after != "" {
		if !strings.HasPrefix(after[1:], histPrefix) {
			return nil, nil, "", badPosition()
		}
		cond = expression.Key(attrPK).Equal(expression.Value("CRED#" + id)).
			And(expression.Key(attrSK).GreaterThan(expression.Value(after[1:])))
	}
	// First page: the credential, then limit+1 entries to know if more
	// follow.
	want := int32(limit + 1)
	if after == "" {
		want++
	}
	ex := build(expression.NewBuilder().WithKeyCondition(cond))
	out, err := st.api.Query(ctx, &dynamodb.QueryInput{TableName: st.table, KeyConditionExpression: ex.KeyCondition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(), Limit: aws.Int32(want), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, nil, "", failed("history of "+id, err)
	}
	items := out.Items
	if after == "" {
		if len(items) == 0 || getS(items[0], attrSK) != "CRED" || notVisible(getS(items[0], "organizationId")) {
			return nil, nil, "", backup.NotFound(id)
		}
		credential, items = items[0], items[1:]
	}
	for i, it := range items {
		if notVisible(getS(it, "organizationId")) {
			return nil, nil, "", backup.NotFound(id)
		}
		if i == limit {
			return entries, nil, "H" + getS(items[i-1], attrSK), nil
		}
		e, err := entryFrom(it)
		if err != nil {
			return nil, nil, "", err
		}
		entries = append(entries, e)
	}
	if len(entries) == limit && out.LastEvaluatedKey != nil {
		return entries, nil, "H" + getS(items[len(items)-1], attrSK), nil
	}
	return entries, credential, "", nil
}

// legacyPage fills the page of entries up to limit from the credential's
// legacy history list, from index from on; credential is its item when the
// entry page read it.
func (st *Store) legacyPage(ctx context.Context, id string, orgs []string, limit int, entries []backup.HistoryEntry, credential item, from int) ([]backup.HistoryEntry, string, error) {
	if credential == nil {
		it, err := st.getItem(ctx, credKey(id), "organizationId", "history")
		if err != nil {
			return nil, "", failed("history of "+id, err)
		}
		if it == nil || !slices.Contains(orgs, getS(it, "organizationId")) {
			return nil, "", backup.NotFound(id)
		}
		credential = it
	}
	old, err := legacyHistory(credential)
	if err != nil {
		return nil, "", err
	}
	from = min(from, len(old))
	take := min(limit-len(entries), len(old)-from)
	entries = append(entries, old[from:from+take]...)
	if from+take < len(old) {
		return entries, "L" + strconv.Itoa(from+take), nil
	}
	if entries == nil {
		entries = []backup.HistoryEntry{}
	}
	return entries, "", nil
}

func badPosition() error {
	return backup.Errorf(backup.EInvalid, "The cursor is not valid for this query.")
}
