// Package tail reads a table's DynamoDB stream as Lambda's event source
// mapping does, for the local API on moto and for tests: records in order,
// per shard, in batches, delivered again from the first one a batch could
// not take.
package tail

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/acme/backup-credentials/shared/stream"
)

// Deliver takes a batch in order and returns the sequence number of the
// first record it did not take, or "" when it took them all.
type Deliver func(ctx context.Context, recs []stream.Record) (string, error)

// A Tail follows one table's stream from its oldest record. Like Lambda's
// poller it keeps each shard's iterator from one poll to the next, and
// makes a new one from the last record taken only when it has none or the
// one it kept is refused (expired).
type Tail struct {
	api *dynamodbstreams.Client
	arn string
	// after is, per shard, the last record taken; next the iterator the
	// last poll ended with.
	after map[string]string
	next  map[string]*string
}

// New returns a Tail of the table's stream.
func New(ctx context.Context, cfg aws.Config, table string) (*Tail, error) {
	out, err := dynamodb.NewFromConfig(cfg).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return nil, fmt.Errorf("describe table %s: %w", table, err)
	}
	if out.Table.LatestStreamArn == nil {
		return nil, fmt.Errorf("table %s has no stream", table)
	}
	return &Tail{api: dynamodbstreams.NewFromConfig(cfg), arn: *out.Table.LatestStreamArn, after: map[string]string{}, next: map[string]*string{}}, nil
}

// Drain delivers every record written so far that is not taken yet to
// deliver, in batches of up to limit. When a batch is not all taken it stops and
// returns why; the next Drain starts again at the first record not taken.
func (t *Tail) Drain(ctx context.Context, limit int, deliver Deliver) error {
	desc, err := t.api.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(t.arn)})
	if err != nil {
		return fmt.Errorf("describe stream: %w", err)
	}
	for _, sh := range desc.StreamDescription.Shards {
		if err := t.drainShard(ctx, aws.ToString(sh.ShardId), int32(limit), deliver); err != nil {
			return err
		}
	}
	return nil
}

// iterator returns the shard's kept iterator, or a new one from the last
// record taken.
func (t *Tail) iterator(ctx context.Context, shard string) (*string, error) {
	if it := t.next[shard]; it != nil {
		return it, nil
	}
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(t.arn), ShardId: aws.String(shard),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon}
	if seq := t.after[shard]; seq != "" {
		in.ShardIteratorType, in.SequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, aws.String(seq)
	}
	it, err := t.api.GetShardIterator(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("shard iterator: %w", err)
	}
	return it.ShardIterator, nil
}

func (t *Tail) drainShard(ctx context.Context, shard string, limit int32, deliver Deliver) error {
	iter, err := t.iterator(ctx, shard)
	if err != nil {
		return err
	}
	for iter != nil {
		out, err := t.api.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(limit)})
		var expired *types.ExpiredIteratorException
		switch {
		case errors.As(err, &expired):
			t.next[shard] = nil // made anew from the last record taken, next time
			return fmt.Errorf("get records: %w", err)
		case err != nil:
			return fmt.Errorf("get records: %w", err)
		}
		if len(out.Records) == 0 {
			t.next[shard] = out.NextShardIterator
			return nil
		}
		recs := make([]stream.Record, 0, len(out.Records))
		for _, r := range out.Records {
			rec := stream.Record{Seq: aws.ToString(r.Dynamodb.SequenceNumber)}
			if rec.Old, err = image(r.Dynamodb.OldImage); err == nil {
				rec.New, err = image(r.Dynamodb.NewImage)
			}
			if err != nil {
				return fmt.Errorf("record %s: %w", rec.Seq, err)
			}
			recs = append(recs, rec)
		}
		failed, err := deliver(ctx, recs)
		for _, r := range recs {
			if r.Seq == failed {
				t.next[shard] = nil // delivered again from the first record not taken
				return fmt.Errorf("delivery stopped at record %s: %w", failed, err)
			}
			t.after[shard] = r.Seq
		}
		iter = out.NextShardIterator
	}
	t.next[shard] = nil
	return nil
}

func image(m map[string]types.AttributeValue) (map[string]ddbtypes.AttributeValue, error) {
	if len(m) == 0 {
		return nil, nil
	}
	return attributevalue.FromDynamoDBStreamsMap(m)
}
