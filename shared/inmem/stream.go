package inmem

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/backup-credentials/shared/stream"
)

// A Stream is the in-process table's stream, which minidyn does not have:
// the quirks middleware, which writes one at a time, records the images of
// each item a write changed, before and after, as DynamoDB Streams would
// (NEW_AND_OLD_IMAGES). Unlike DynamoDB it also records a write that left
// an item as it was; the events made from the stream ignore those. Records
// are kept until delivered.
type Stream struct {
	mu      sync.Mutex
	records []stream.Record
	seq     int64
}

// images reads the items at keys, as they are, without the emulator's
// hidden entries; nil for an item that does not exist.
func (q *quirks) images(ctx context.Context, keys []tableKey) ([]map[string]types.AttributeValue, error) {
	out := make([]map[string]types.AttributeValue, len(keys))
	for i, k := range keys {
		got, err := q.raw.GetItem(ctx, &dynamodb.GetItemInput{TableName: k.table, Key: k.key, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return nil, fmt.Errorf("stream image: %w", err)
		}
		if got.Item != nil {
			unpad(got.Item)
			out[i] = got.Item
		}
	}
	return out, nil
}

// tableKey is the key of an item a write touches.
type tableKey struct {
	table *string
	key   map[string]types.AttributeValue
}

// writeKeys are the keys of the items a write may change.
func writeKeys(params any) []tableKey {
	keyOf := func(it map[string]types.AttributeValue) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"PK": it["PK"], "SK": it["SK"]}
	}
	switch p := params.(type) {
	case *dynamodb.PutItemInput:
		return []tableKey{{p.TableName, keyOf(p.Item)}}
	case *dynamodb.UpdateItemInput:
		return []tableKey{{p.TableName, p.Key}}
	case *dynamodb.DeleteItemInput:
		return []tableKey{{p.TableName, p.Key}}
	case *dynamodb.TransactWriteItemsInput:
		var keys []tableKey
		for _, it := range p.TransactItems {
			switch {
			case it.Put != nil:
				keys = append(keys, tableKey{it.Put.TableName, keyOf(it.Put.Item)})
			case it.Update != nil:
				keys = append(keys, tableKey{it.Update.TableName, it.Update.Key})
			case it.Delete != nil:
				keys = append(keys, tableKey{it.Delete.TableName, it.Delete.Key})
			}
		}
		return keys
	}
	return nil
}

// add records the items that changed between two readings.
func (s *Stream) add(before, after []map[string]types.AttributeValue) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range before {
		if before[i] == nil && after[i] == nil {
			continue // a write that failed its condition, or a delete of nothing
		}
		s.seq++
		s.records = append(s.records, stream.Record{Seq: strconv.FormatInt(s.seq, 10), Old: before[i], New: after[i]})
	}
}

// Drain delivers the records not delivered yet, in batches of up to limit,
// as the event source mapping would. When a batch is not all taken it
// stops and returns why; the next Drain starts at the first record not
// taken.
func (s *Stream) Drain(ctx context.Context, limit int, deliver func(context.Context, []stream.Record) (string, error)) error {
	for {
		s.mu.Lock()
		batch := s.records[:min(limit, len(s.records))]
		s.mu.Unlock()
		if len(batch) == 0 {
			return nil
		}
		failed, err := deliver(ctx, batch)
		taken := len(batch)
		for i, r := range batch {
			if r.Seq == failed {
				taken = i
			}
		}
		s.mu.Lock()
		s.records = s.records[taken:]
		s.mu.Unlock()
		if taken < len(batch) {
			return fmt.Errorf("delivery stopped at record %s: %w", failed, err)
		}
	}
}
