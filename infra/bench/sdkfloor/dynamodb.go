package main

import (
	"context"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// dynamoDB reads the item the bench's fixture keys in SDK_FLOOR_KEY (a
// partition key; the sort key is CRED) from TABLE_NAME.
func dynamoDB(cfg aws.Config, endpoint string) func(context.Context) error {
	ddb := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = base(endpoint) })
	in := &dynamodb.GetItemInput{TableName: aws.String(os.Getenv("TABLE_NAME")), Key: map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: os.Getenv("SDK_FLOOR_KEY")}, "SK": &types.AttributeValueMemberS{Value: "CRED"}}}
	return func(ctx context.Context) error {
		_, err := ddb.GetItem(ctx, in)
		return err
	}
}
