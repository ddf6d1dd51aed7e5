package inmem

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// quirks makes the in-process emulator (minidyn) behave as DynamoDB does
// where the store relies on it, so the store writes the schema AWS should
// hold and nothing of the emulator's:
//
//   - minidyn ignores a REMOVE of a top-level attribute: the adapter drops
//     it from the update and removes the attribute itself once the write
//     succeeded (reading the item and putting it back without it);
//   - minidyn loses a map that becomes empty, and when it rolls a cancelled
//     transaction back it restores the whole table from a copy that turns
//     every empty list and empty map, at any depth and in any item, into an
//     untyped value (which then breaks every Query and Scan, as they walk
//     the whole table): the adapter keeps a hidden entry in every map and a
//     hidden element in every empty list it writes, items and expression
//     values alike, and takes them out of everything it answers; a
//     condition on the size of such a map or list compares with one more
//     (sizes.go).
//
// Writes go one at a time, so a removal cannot interleave with another write.
type quirks struct {
	raw    *dynamodb.Client // the emulator without this middleware
	mu     sync.Mutex
	stream *Stream // nil: no stream
}

// hidden is the key of the entry that keeps a map from being empty. No
// attribute or project name the store writes can be it.
const hidden = "\x00inmem"

// removal is a top-level attribute to remove from an item after a write.
type removal struct {
	table *string
	key   map[string]types.AttributeValue
	names []string
}

func (q *quirks) middleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("inmemQuirks",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			var removals []removal
			write := true
			switch p := in.Parameters.(type) {
			case *dynamodb.PutItemInput:
				pad(p.Item)
				pad(p.ExpressionAttributeValues)
			case *dynamodb.UpdateItemInput:
				pad(p.ExpressionAttributeValues)
				removals = append(removals, q.update(p.TableName, p.Key, &p.UpdateExpression, p.ExpressionAttributeNames, p.ExpressionAttributeValues, p.ConditionExpression)...)
			case *dynamodb.TransactWriteItemsInput:
				for _, it := range p.TransactItems {
					if it.Put != nil {
						pad(it.Put.Item)
						pad(it.Put.ExpressionAttributeValues)
					}
					if u := it.Update; u != nil {
						if u.ExpressionAttributeValues == nil {
							u.ExpressionAttributeValues = map[string]types.AttributeValue{}
						}
						pad(u.ExpressionAttributeValues)
						removals = append(removals, q.update(u.TableName, u.Key, &u.UpdateExpression, u.ExpressionAttributeNames, u.ExpressionAttributeValues, u.ConditionExpression)...)
					}
				}
			case *dynamodb.DeleteItemInput:
			default:
				write = false
			}
			var keys []tableKey
			var before []map[string]types.AttributeValue
			if write {
				q.mu.Lock()
				defer q.mu.Unlock()
				if err := q.sizes(ctx, in.Parameters); err != nil {
					return middleware.InitializeOutput{}, middleware.Metadata{}, err
				}
				if q.stream != nil {
					keys = writeKeys(in.Parameters)
					var err error
					if before, err = q.images(ctx, keys); err != nil {
						return middleware.InitializeOutput{}, middleware.Metadata{}, err
					}
				}
			}
			out, md, err := next.HandleInitialize(ctx, in)
			if err == nil {
				for _, r := range removals {
					if err = q.remove(ctx, r); err != nil {
						break
					}
				}
			}
			if err == nil && keys != nil {
				after, ierr := q.images(ctx, keys)
				if ierr != nil {
					return out, md, ierr
				}
				q.stream.add(before, after)
			}
			unpadResult(out.Result)
			unpadError(err)
			return out, md, err
		}), middleware.After)
}

var removeClause = regexp.MustCompile(`(?i)\bREMOVE\s+([^=]*?)(\s+(SET|ADD|DELETE)\s|$)`)

// update takes the top-level paths out of an update's REMOVE clause and
// returns them as removals to make after the write.
func (q *quirks) update(table *string, key map[string]types.AttributeValue, expr **string, names map[string]string, values map[string]types.AttributeValue, cond *string) []removal {
	if *expr == nil {
		return nil
	}
	e := **expr
	m := removeClause.FindStringSubmatchIndex(e)
	if m == nil {
		return nil
	}
	var keep, top []string
	for _, path := range strings.Split(e[m[2]:m[3]], ",") {
		path = strings.TrimSpace(path)
		if strings.ContainsAny(path, ".[") {
			keep = append(keep, path)
			continue
		}
		name := path
		if n, ok := names[path]; ok {
			name = n
		}
		top = append(top, name)
	}
	if len(top) == 0 {
		return nil
	}
	clause := ""
	if len(keep) > 0 {
		clause = "REMOVE " + strings.Join(keep, ", ")
	}
	rest := e[:m[0]] + clause + e[m[3]:]
	if strings.TrimSpace(rest) == "" {
		// Nothing left to update: touch a hidden attribute so the write
		// (and its condition) still happens.
		rest = "SET #inmemTouched = :inmemTouched"
		names["#inmemTouched"] = hidden
		values[":inmemTouched"] = &types.AttributeValueMemberBOOL{Value: true}
	}
	*expr = aws.String(strings.TrimSpace(rest))
	// Names only the removed paths used would be unused now, which DynamoDB
	// refuses.
	for ph := range names {
		if !strings.Contains(**expr, ph) && (cond == nil || !strings.Contains(*cond, ph)) {
			delete(names, ph)
		}
	}
	return []removal{{table: table, key: key, names: top}}
}

// remove takes top-level attributes out of an item.
func (q *quirks) remove(ctx context.Context, r removal) error {
	out, err := q.raw.GetItem(ctx, &dynamodb.GetItemInput{TableName: r.table, Key: r.key, ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		return err
	}
	for _, n := range r.names {
		delete(out.Item, n)
	}
	delete(out.Item, hidden)
	_, err = q.raw.PutItem(ctx, &dynamodb.PutItemInput{TableName: r.table, Item: out.Item})
	return err
}

// pad puts the hidden entry into every map of an item (or of expression
// values), at any depth, and the hidden element into every empty list.
func pad(it map[string]types.AttributeValue) {
	for _, v := range it {
		padValue(v)
	}
}

func padValue(v types.AttributeValue) {
	switch v := v.(type) {
	case *types.AttributeValueMemberM:
		if v.Value == nil {
			v.Value = map[string]types.AttributeValue{}
		}
		pad(v.Value)
		v.Value[hidden] = &types.AttributeValueMemberBOOL{Value: true}
	case *types.AttributeValueMemberL:
		for _, e := range v.Value {
			padValue(e)
		}
		if len(v.Value) == 0 {
			v.Value = []types.AttributeValue{hiddenElement()}
		}
	}
}

// emptyList is the key of the one entry of the map that stands in an empty
// list. No attribute or project name the store writes can be it, and a map
// the store writes (padded with hidden) never looks like it.
const emptyList = "\x00inmem-empty-list"

func hiddenElement() types.AttributeValue {
	return &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{emptyList: &types.AttributeValueMemberBOOL{Value: true}}}
}

// unpad takes the hidden entries, elements and attributes out of an item.
func unpad(it map[string]types.AttributeValue) {
	delete(it, hidden)
	for k, v := range it {
		it[k] = unpadValue(v)
	}
}

func unpadValue(v types.AttributeValue) types.AttributeValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberM:
		unpad(v.Value)
	case *types.AttributeValueMemberL:
		kept := v.Value[:0]
		for _, e := range v.Value {
			if m, ok := e.(*types.AttributeValueMemberM); ok && m.Value[emptyList] != nil {
				continue
			}
			kept = append(kept, unpadValue(e))
		}
		v.Value = kept
	}
	return v
}

func unpadResult(result any) {
	switch r := result.(type) {
	case *dynamodb.GetItemOutput:
		unpad(r.Item)
	case *dynamodb.UpdateItemOutput:
		unpad(r.Attributes)
	case *dynamodb.QueryOutput:
		for _, it := range r.Items {
			unpad(it)
		}
	case *dynamodb.ScanOutput:
		for _, it := range r.Items {
			unpad(it)
		}
	case *dynamodb.BatchGetItemOutput:
		for _, items := range r.Responses {
			for _, it := range items {
				unpad(it)
			}
		}
	}
}

func unpadError(err error) {
	var tc *types.TransactionCanceledException
	if errors.As(err, &tc) {
		for _, r := range tc.CancellationReasons {
			unpad(r.Item)
		}
	}
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		unpad(ccf.Item)
	}
}
