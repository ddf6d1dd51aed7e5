package main

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestUnitsFollowDynamoDBsRules: reads are a unit per 4 KB, half when
// eventually consistent or from an index; writes a unit per item (each under
// 1 KB), twice in a transaction, once more for a credential's index entry.
func TestUnitsFollowDynamoDBsRules(t *testing.T) {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	big := map[string]types.AttributeValue{"PK": s("CRED#x"), "SK": s("CRED"), "blob": s(strings.Repeat("x", 5000))}
	cred := map[string]types.AttributeValue{"PK": s("CRED#x"), "SK": s("CRED")}
	hist := map[string]types.AttributeValue{"PK": s("CRED#x"), "SK": s("#HIST#1")}
	for _, c := range []struct {
		name string
		in   any
		out  any
		want Units
	}{
		{"consistent get of 5 KB", &dynamodb.GetItemInput{ConsistentRead: aws.Bool(true)}, &dynamodb.GetItemOutput{Item: big}, Units{RRU: 2}},
		{"eventual get", &dynamodb.GetItemInput{}, &dynamodb.GetItemOutput{Item: cred}, Units{RRU: 0.5}},
		{"index query", &dynamodb.QueryInput{IndexName: aws.String("i"), ConsistentRead: aws.Bool(true)},
			&dynamodb.QueryOutput{Items: []map[string]types.AttributeValue{cred, cred}}, Units{RRU: 0.5}},
		{"credential update", &dynamodb.UpdateItemInput{Key: cred}, nil, Units{WRU: 2}},
		{"transaction: credential and history", &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{Item: cred}}, {Put: &types.Put{Item: hist}}}}, nil, Units{WRU: 6}},
	} {
		if got := unitsOf(c.in, c.out); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

// TestCostModelNeedsWhatItPrices: a mix naming an action not measured is an
// error, not a zero.
func TestCostModelNeedsWhatItPrices(t *testing.T) {
	if _, err := newModel([]ActionFigures{{Name: "get"}}, PassFigures{Credentials: 1}); err == nil {
		t.Error("a model was made without the list, history and writes it prices")
	}
}
