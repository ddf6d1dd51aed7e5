package inmem

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The hidden entry of every map (and element of every empty list) counts
// in minidyn's size(): a condition on the size of a map would see one more
// than DynamoDB does. sizes rewrites a condition's size comparisons on the
// stored item's padded maps and lists to compare with one more, so that
// size(leases) <= :n holds exactly when DynamoDB's would. It runs under the
// write lock: the item it reads is the one the write is judged on.

var sizeCompare = regexp.MustCompile(`\bsize\s*\(\s*([#\w.]+)\s*\)\s*(<=|<>|>=|=|<|>)\s*(:\w+)`)

var sizeCall = regexp.MustCompile(`\bsize\s*\(\s*([^)]*?)\s*\)`)

// sizes rewrites the size comparisons of the conditions of a write.
func (q *quirks) sizes(ctx context.Context, params any) error {
	switch p := params.(type) {
	case *dynamodb.UpdateItemInput:
		return q.conditionSizes(ctx, p.TableName, p.Key, p.ConditionExpression, p.ExpressionAttributeNames, &p.ExpressionAttributeValues)
	case *dynamodb.DeleteItemInput:
		return q.conditionSizes(ctx, p.TableName, p.Key, p.ConditionExpression, p.ExpressionAttributeNames, &p.ExpressionAttributeValues)
	case *dynamodb.PutItemInput:
		if p.ConditionExpression != nil && sizeCall.MatchString(*p.ConditionExpression) {
			return fmt.Errorf("inmem: size() in a PutItem condition is not supported")
		}
	case *dynamodb.TransactWriteItemsInput:
		for _, it := range p.TransactItems {
			var err error
			switch {
			case it.Update != nil:
				u := it.Update
				err = q.conditionSizes(ctx, u.TableName, u.Key, u.ConditionExpression, u.ExpressionAttributeNames, &u.ExpressionAttributeValues)
			case it.Delete != nil:
				d := it.Delete
				err = q.conditionSizes(ctx, d.TableName, d.Key, d.ConditionExpression, d.ExpressionAttributeNames, &d.ExpressionAttributeValues)
			case it.ConditionCheck != nil:
				c := it.ConditionCheck
				err = q.conditionSizes(ctx, c.TableName, c.Key, c.ConditionExpression, c.ExpressionAttributeNames, &c.ExpressionAttributeValues)
			case it.Put != nil && it.Put.ConditionExpression != nil && sizeCall.MatchString(*it.Put.ConditionExpression):
				err = fmt.Errorf("inmem: size() in a Put condition is not supported")
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// conditionSizes rewrites the size comparisons of one condition on the
// item at key whose operand is a padded map or list.
func (q *quirks) conditionSizes(ctx context.Context, table *string, key map[string]types.AttributeValue, cond *string, names map[string]string, values *map[string]types.AttributeValue) error {
	if cond == nil || !sizeCall.MatchString(*cond) {
		return nil
	}
	out, err := q.raw.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return err
	}
	padded := func(path string) bool { return isPadded(lookup(out.Item, path, names)) }
	// Every size() of a padded value must be of the form rewritten.
	rest := sizeCompare.ReplaceAllString(*cond, "")
	for _, m := range sizeCall.FindAllStringSubmatch(rest, -1) {
		if padded(m[1]) {
			return fmt.Errorf("inmem: size(%s) is supported only as size(path) <op> :value", m[1])
		}
	}
	var bad error
	n := 0
	*cond = sizeCompare.ReplaceAllStringFunc(*cond, func(s string) string {
		m := sizeCompare.FindStringSubmatch(s)
		if !padded(m[1]) {
			return s
		}
		v, ok := (*values)[m[3]].(*types.AttributeValueMemberN)
		if !ok {
			bad = fmt.Errorf("inmem: size(%s) is compared with %s, not a number", m[1], m[3])
			return s
		}
		i, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			bad = err
			return s
		}
		n++
		ph := fmt.Sprintf(":inmemSize%d", n)
		if *values == nil {
			*values = map[string]types.AttributeValue{}
		}
		(*values)[ph] = &types.AttributeValueMemberN{Value: strconv.FormatInt(i+1, 10)}
		// The value compared with stays named (DynamoDB refuses an unused
		// one), in a comparison that always holds.
		return "(size(" + m[1] + ") " + m[2] + " " + ph + " AND " + m[3] + " = " + m[3] + ")"
	})
	if bad != nil {
		return bad
	}
	return nil
}

// lookup finds the value at a dotted path (of names or placeholders) in
// an item, or nil.
func lookup(item map[string]types.AttributeValue, path string, names map[string]string) types.AttributeValue {
	var v types.AttributeValue = &types.AttributeValueMemberM{Value: item}
	for _, part := range strings.Split(path, ".") {
		if n, ok := names[part]; ok {
			part = n
		}
		m, ok := v.(*types.AttributeValueMemberM)
		if !ok {
			return nil
		}
		if v = m.Value[part]; v == nil {
			return nil
		}
	}
	return v
}

// isPadded reports whether a stored value holds what pad adds: every map
// does, and a list only when empty.
func isPadded(v types.AttributeValue) bool {
	switch v := v.(type) {
	case *types.AttributeValueMemberM:
		return v.Value[hidden] != nil
	case *types.AttributeValueMemberL:
		if len(v.Value) != 1 {
			return false
		}
		m, ok := v.Value[0].(*types.AttributeValueMemberM)
		return ok && m.Value[emptyList] != nil
	}
	return false
}
