package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/backup-credentials/shared/awstime"
	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/dynamo"
)

// A Record is one change of one item, as the stream holds it: its sequence
// number and the item's images before (Old) and after (New); nil is absent.
type Record struct {
	Seq      string
	Old, New map[string]types.AttributeValue
	// err is why the record could not be read: it fails in its place.
	err error
}

// A Bus takes events. Put puts them in order and returns how many, from the
// first, are taken; when that is not all, the error says why.
type Bus interface {
	Put(ctx context.Context, evs []backup.Event) (int, error)
}

// Publisher announces the changes of stream records on a Bus.
type Publisher struct {
	Bus    Bus
	Logger *slog.Logger
}

// New returns a Publisher that puts events on bus and logs to logger.
func New(bus Bus, logger *slog.Logger) *Publisher {
	if bus == nil || logger == nil {
		panic("stream: New needs a bus and a logger")
	}
	return &Publisher{Bus: bus, Logger: logger}
}

// Publish announces the changes of recs, in order. It returns the sequence
// number of the first record whose change is not announced ("" when all
// are), so that delivery starts again there, and why.
func (p *Publisher) Publish(ctx context.Context, recs []Record) (string, error) {
	var (
		evs  []backup.Event
		seqs []string // the record of each event
	)
	for _, r := range recs {
		var ev *backup.Event
		err := r.err
		if err == nil {
			ev, err = dynamo.EventOf(r.Old, r.New)
		}
		if err != nil {
			// A record that cannot be read fails here every time: it goes,
			// after the mapping's retries, to its on-failure destination.
			if n, perr := p.put(ctx, evs); n < len(evs) {
				return seqs[n], perr
			}
			return r.Seq, fmt.Errorf("record %s: %w", r.Seq, err)
		}
		if ev != nil {
			evs, seqs = append(evs, *ev), append(seqs, r.Seq)
		}
	}
	if n, err := p.put(ctx, evs); n < len(evs) {
		return seqs[n], err
	}
	return "", nil
}

// put puts evs on the bus; the caller reports what it could not.
func (p *Publisher) put(ctx context.Context, evs []backup.Event) (int, error) {
	if len(evs) == 0 {
		return 0, nil
	}
	return p.Bus.Put(ctx, evs)
}

// Handle is the Lambda handler of the table's event source mapping (with
// ReportBatchItemFailures): the batch's changes are announced in order, and
// a failure names the first record not announced, from which the mapping
// delivers again; the records before it are done.
func (p *Publisher) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	began := time.Now()
	ctx, clock := awstime.Start(ctx)
	recs := make([]Record, 0, len(ev.Records))
	var resp events.DynamoDBEventResponse
	for _, r := range ev.Records {
		rec := Record{Seq: r.Change.SequenceNumber}
		var oldErr, newErr error
		rec.Old, oldErr = itemOf(r.Change.OldImage)
		rec.New, newErr = itemOf(r.Change.NewImage)
		rec.err = errors.Join(oldErr, newErr)
		recs = append(recs, rec)
	}
	seq, err := p.Publish(ctx, recs)
	inAWS, calls := clock.Spent()
	attrs := []any{"records", len(recs), "durationMs", awstime.Millis(time.Since(began)),
		"awsMs", awstime.Millis(inAWS), "awsCalls", calls}
	if seq != "" {
		resp.BatchItemFailures = []events.DynamoDBBatchItemFailure{{ItemIdentifier: seq}}
		p.Logger.ErrorContext(ctx, "stream batch: delivered again from a record", append(attrs, "retryFrom", seq, "error", err)...)
		return resp, nil
	}
	p.Logger.InfoContext(ctx, "stream batch", attrs...)
	return resp, nil
}

// itemOf converts an image as Lambda delivers it to the SDK's item.
func itemOf(img map[string]events.DynamoDBAttributeValue) (map[string]types.AttributeValue, error) {
	if len(img) == 0 {
		return nil, nil
	}
	out := make(map[string]types.AttributeValue, len(img))
	for k, v := range img {
		av, err := valueOf(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

func valueOf(v events.DynamoDBAttributeValue) (types.AttributeValue, error) {
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}, nil
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}, nil
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}, nil
	case events.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}, nil
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}, nil
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}, nil
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}, nil
	case events.DataTypeMap:
		m, err := itemOf(v.Map())
		if m == nil {
			m = map[string]types.AttributeValue{}
		}
		return &types.AttributeValueMemberM{Value: m}, err
	case events.DataTypeList:
		l := make([]types.AttributeValue, 0, len(v.List()))
		for _, x := range v.List() {
			av, err := valueOf(x)
			if err != nil {
				return nil, err
			}
			l = append(l, av)
		}
		return &types.AttributeValueMemberL{Value: l}, nil
	}
	return nil, fmt.Errorf("unknown type %d", v.DataType())
}

// LogBus puts events on a log, one line each, as they would be published:
// for the local API.
type LogBus struct{ Logger *slog.Logger }

// Put logs each event; it never fails.
func (l LogBus) Put(ctx context.Context, evs []backup.Event) (int, error) {
	for i, ev := range evs {
		detail, err := json.Marshal(ev)
		if err != nil {
			return i, err
		}
		l.Logger.InfoContext(ctx, "event", "source", backup.EventSource, "detailType", ev.DetailType, "detail", json.RawMessage(detail))
	}
	return len(evs), nil
}
