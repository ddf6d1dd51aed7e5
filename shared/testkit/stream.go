package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// StreamEvent returns every record of a table's stream as the JSON of the
// event Lambda's event source mapping delivers ({"Records": [...]}): the
// GetRecords answer as moto sent it, whose records have that shape.
func StreamEvent(ctx context.Context, cfg aws.Config, table string) ([]byte, error) {
	var raw []byte
	capture := func(stack *middleware.Stack) error {
		return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("captureBody",
			func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleDeserialize(ctx, in)
				if resp, ok := out.RawResponse.(*smithyhttp.Response); ok && err == nil {
					raw, err = io.ReadAll(resp.Body)
					resp.Body = io.NopCloser(bytes.NewReader(raw))
				}
				return out, md, err
			}), middleware.After)
	}
	desc, err := dynamodb.NewFromConfig(cfg).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return nil, fmt.Errorf("describe table: %w", err)
	}
	api := dynamodbstreams.NewFromConfig(cfg)
	sd, err := api.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: desc.Table.LatestStreamArn})
	if err != nil {
		return nil, fmt.Errorf("describe stream: %w", err)
	}
	it, err := api.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: desc.Table.LatestStreamArn,
		ShardId: sd.StreamDescription.Shards[0].ShardId, ShardIteratorType: "TRIM_HORIZON"})
	if err != nil {
		return nil, fmt.Errorf("shard iterator: %w", err)
	}
	if _, err := api.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator},
		func(o *dynamodbstreams.Options) { o.APIOptions = append(o.APIOptions, capture) }); err != nil {
		return nil, fmt.Errorf("get records: %w", err)
	}
	var check struct{ Records []json.RawMessage }
	if err := json.Unmarshal(raw, &check); err != nil || len(check.Records) == 0 {
		return nil, fmt.Errorf("no records in %s (%v)", raw, err)
	}
	return raw, nil
}
