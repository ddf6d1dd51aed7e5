package inmem

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// odd is an item of every shape an emulator may lose: an empty list, empty
// maps nested in a map and in a list, and each set type.
func odd(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"PK": s(pk), "SK": s("X"),
		"fields": &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
		"nested": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"empty": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
			"list":  &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
		}},
		"inList": &types.AttributeValueMemberL{Value: []types.AttributeValue{
			&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
			&types.AttributeValueMemberL{Value: []types.AttributeValue{}},
			s("x"),
		}},
		"ss": &types.AttributeValueMemberSS{Value: []string{"a", "b"}},
		"ns": &types.AttributeValueMemberNS{Value: []string{"1", "2"}},
		"bs": &types.AttributeValueMemberBS{Value: [][]byte{[]byte("a"), []byte("b")}},
	}
}

// TestItemsSurviveACancelledTransaction: the emulator restores its table
// from a copy when a transaction is cancelled; every item, whatever its
// shape, reads back as it was written, and Query and Scan of the whole
// table (which the emulator walks item by item) keep working.
func TestItemsSurviveACancelledTransaction(t *testing.T) {
	ctx := context.Background()
	c, err := DynamoDB(ctx, "quirks")
	if err != nil {
		t.Fatal(err)
	}
	table := aws.String("quirks")
	for _, pk := range []string{"A", "B"} {
		if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: odd(pk)}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: table, Item: map[string]types.AttributeValue{"PK": s("C"), "SK": s("X")}}},
		{Put: &types.Put{TableName: table, Item: odd("A"), ConditionExpression: aws.String("attribute_not_exists(PK)")}},
	}})
	var tc *types.TransactionCanceledException
	if !errors.As(err, &tc) {
		t.Fatalf("the transaction was not cancelled: %v", err)
	}
	for _, pk := range []string{"A", "B"} {
		out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: map[string]types.AttributeValue{"PK": s(pk), "SK": s("X")}})
		if err != nil {
			t.Fatalf("get %s: %v", pk, err)
		}
		if want := odd(pk); !reflect.DeepEqual(out.Item, want) {
			t.Errorf("item %s after a cancelled transaction:\n got %s\nwant %s", pk, show(out.Item), show(want))
		}
	}
	q, err := c.Query(ctx, &dynamodb.QueryInput{TableName: table, KeyConditionExpression: aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s("B")}})
	if err != nil || len(q.Items) != 1 {
		t.Errorf("query of another partition: %v items, %v", len(q.Items), err)
	}
	sc, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: table})
	if err != nil || len(sc.Items) != 2 {
		t.Errorf("scan: %v items, %v", len(sc.Items), err)
	}
}

// show writes an item out in full, for a failure's message.
func show(it map[string]types.AttributeValue) string {
	var out []string
	for k, v := range it {
		out = append(out, k+"="+showValue(v))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func showValue(v types.AttributeValue) string {
	switch v := v.(type) {
	case *types.AttributeValueMemberM:
		return "{" + show(v.Value) + "}"
	case *types.AttributeValueMemberL:
		var out []string
		for _, e := range v.Value {
			out = append(out, showValue(e))
		}
		return "[" + strings.Join(out, ",") + "]"
	}
	return fmt.Sprintf("%T%v", v, v)
}
