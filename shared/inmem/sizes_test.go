package inmem

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestSizeConditionsCountAsDynamoDB: a condition on the size of a map or a
// list holds exactly when DynamoDB's would, though the adapter keeps a
// hidden entry in every map and empty list: empty, emptied by updates,
// nested, and in a transaction.
func TestSizeConditionsCountAsDynamoDB(t *testing.T) {
	ctx := context.Background()
	c, err := DynamoDB(ctx, "sizes")
	if err != nil {
		t.Fatal(err)
	}
	table := aws.String("sizes")
	key := map[string]types.AttributeValue{"PK": s("A"), "SK": s("X")}
	n := func(i int) types.AttributeValue { return &types.AttributeValueMemberN{Value: fmt.Sprint(i)} }
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: map[string]types.AttributeValue{
		"PK": s("A"), "SK": s("X"),
		"m":     &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"a": s("1"), "b": s("2")}},
		"blank": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
		"lst":   &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
		"outr":  &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"inr": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"x": s("1")}}}},
		"nm":    s("four"),
	}}); err != nil {
		t.Fatal(err)
	}
	holds := func(cond string, v int) bool {
		t.Helper()
		in := &dynamodb.UpdateItemInput{TableName: table, Key: key,
			UpdateExpression: aws.String("SET touched = :t"), ConditionExpression: aws.String(cond),
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": s("yes"), ":v": n(v)}}
		if strings.Contains(cond, "#m") {
			in.ExpressionAttributeNames = map[string]string{"#m": "m"}
		}
		_, err := c.UpdateItem(ctx, in)
		var ccf *types.ConditionalCheckFailedException
		if err != nil && !errors.As(err, &ccf) {
			t.Fatalf("%s with %d: %v", cond, v, err)
		}
		return err == nil
	}
	for _, c := range []struct {
		cond string
		v    int
		want bool
	}{
		{"size(#m) = :v", 2, true}, {"size(#m) <= :v", 1, false}, {"size (m) < :v", 3, true}, {"size(#m) <> :v", 2, false},
		{"size(blank) = :v", 0, true}, {"size(blank) > :v", 0, false}, {"size(lst) = :v", 0, true},
		{"size(outr.inr) = :v", 1, true}, {"size(outr) >= :v", 2, false}, {"size(nm) = :v", 4, true},
		{"attribute_exists(m) AND size(#m) <= :v", 2, true},
	} {
		if got := holds(c.cond, c.v); got != c.want {
			t.Errorf("%s with :v = %d holds: %v, want %v", c.cond, c.v, got, c.want)
		}
	}
	// A map emptied entry by entry is of size 0.
	if _, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: key, UpdateExpression: aws.String("REMOVE m.a, m.b")}); err != nil {
		t.Fatal(err)
	}
	if !holds("size(#m) <= :v", 0) {
		t.Error("an emptied map is not of size 0")
	}
	_, err = c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{ConditionCheck: &types.ConditionCheck{TableName: table, Key: key, ConditionExpression: aws.String("size(blank) = :zero"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":zero": n(0)}}},
		{Put: &types.Put{TableName: table, Item: map[string]types.AttributeValue{"PK": s("B"), "SK": s("X")}}},
	}})
	if err != nil {
		t.Errorf("a transaction on an empty map's size 0: %v", err)
	}
}
