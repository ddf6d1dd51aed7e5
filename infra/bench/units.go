package main

import (
	"context"
	"math"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go/middleware"

	"github.com/acme/backup-credentials/shared/testkit"
)

// Units are what one or more AWS calls are billed by besides the call
// itself: DynamoDB's on-demand read and write request units, and the
// secrets Secrets Manager returned (BatchGetSecretValue returns up to 20
// in one call; whether it is billed per call or per secret is not
// published, so the cost model bounds it both ways).
type Units struct {
	RRU     float64 `json:"readRequestUnits"`
	WRU     float64 `json:"writeRequestUnits"`
	Secrets float64 `json:"secretsReturned"`
}

func (u Units) plus(v Units) Units {
	return Units{RRU: u.RRU + v.RRU, WRU: u.WRU + v.WRU, Secrets: u.Secrets + v.Secrets}
}

// unitsOf prices one call by DynamoDB's rules: a read is one unit per 4 KB
// of each item read (Query and Scan: of the items together), half for an
// eventually consistent one (an index's always is); a write one unit per
// KB of the item (every item this service writes is under 1 KB:
// infra/bench/report.md), twice in a transaction, and once more for a
// credential's item, whose entry in the list index every write changes (a
// bound: a write that changes no listed attribute writes no entry).
func unitsOf(in, out any) Units {
	var u Units
	read := func(items []map[string]types.AttributeValue, consistent bool) {
		bytes := 0
		for _, it := range items {
			bytes += testkit.ItemSize(it)
		}
		r := math.Ceil(float64(max(bytes, 1)) / 4096)
		if !consistent {
			r /= 2
		}
		u.RRU += r
	}
	write := func(key map[string]types.AttributeValue, transact bool) {
		w := 1.0
		if sk, ok := key["SK"].(*types.AttributeValueMemberS); ok && sk.Value == "CRED" {
			w++
		}
		if transact {
			w *= 2
		}
		u.WRU += w
	}
	switch in := in.(type) {
	case *dynamodb.GetItemInput:
		if o, ok := out.(*dynamodb.GetItemOutput); ok {
			read([]map[string]types.AttributeValue{o.Item}, aws.ToBool(in.ConsistentRead))
		}
	case *dynamodb.BatchGetItemInput:
		if o, ok := out.(*dynamodb.BatchGetItemOutput); ok {
			for table, items := range o.Responses {
				for _, it := range items {
					read([]map[string]types.AttributeValue{it}, aws.ToBool(in.RequestItems[table].ConsistentRead))
				}
			}
		}
	case *dynamodb.QueryInput:
		if o, ok := out.(*dynamodb.QueryOutput); ok {
			read(o.Items, aws.ToBool(in.ConsistentRead) && in.IndexName == nil)
		}
	case *dynamodb.ScanInput:
		if o, ok := out.(*dynamodb.ScanOutput); ok {
			read(o.Items, aws.ToBool(in.ConsistentRead))
		}
	case *dynamodb.PutItemInput:
		write(in.Item, false)
	case *dynamodb.UpdateItemInput:
		write(in.Key, false)
	case *dynamodb.DeleteItemInput:
		write(in.Key, false)
	case *dynamodb.TransactWriteItemsInput:
		for _, it := range in.TransactItems {
			switch {
			case it.Put != nil:
				write(it.Put.Item, true)
			case it.Update != nil:
				write(it.Update.Key, true)
			case it.Delete != nil:
				write(it.Delete.Key, true)
			case it.ConditionCheck != nil:
				u.RRU += 2 // a transactional read of an item under 4 KB
			}
		}
	case *dynamodb.BatchWriteItemInput:
		for _, reqs := range in.RequestItems {
			for _, r := range reqs {
				if r.PutRequest != nil {
					write(r.PutRequest.Item, false)
				} else if r.DeleteRequest != nil {
					write(r.DeleteRequest.Key, false)
				}
			}
		}
	case *secretsmanager.BatchGetSecretValueInput:
		if o, ok := out.(*secretsmanager.BatchGetSecretValueOutput); ok {
			u.Secrets += float64(len(o.SecretValues))
		}
	case *secretsmanager.GetSecretValueInput:
		u.Secrets++
	}
	return u
}

// meter counts calls by service and operation, and their units.
type meter struct {
	mu    sync.Mutex
	calls map[string]int
	units Units
	byOp  map[string]Units
}

func (m *meter) middleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("meter",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			op := awsmiddleware.GetServiceID(ctx) + "." + awsmiddleware.GetOperationName(ctx)
			u := unitsOf(in.Parameters, out.Result)
			m.mu.Lock()
			defer m.mu.Unlock()
			if m.calls == nil {
				m.calls = map[string]int{}
			}
			m.calls[op]++
			m.units = m.units.plus(u)
			if m.byOp == nil {
				m.byOp = map[string]Units{}
			}
			m.byOp[op] = m.byOp[op].plus(u)
			return out, md, err
		}), middleware.After)
}

// add counts a call made by a stand-in (the event source mapping's).
func (m *meter) add(op string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.calls == nil {
		m.calls = map[string]int{}
	}
	m.calls[op]++
}

// service is the AWS service of "Service.Operation".
func service(op string) string {
	s, _, _ := strings.Cut(op, ".")
	return s
}
