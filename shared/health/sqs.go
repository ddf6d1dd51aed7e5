package health

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQSAPI is the part of the SQS client the queue uses.
type SQSAPI interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// SQS sends messages to an SQS queue, ten per call.
type SQS struct {
	API SQSAPI
	URL string
}

// MaxDelay is the longest delay SQS gives a message.
const MaxDelay = 15 * time.Minute

// sendAttempts is how often entries SQS did not take are sent again.
const sendAttempts = 4

// Send sends ms, each delayed as asked (rounded up to whole seconds, at
// most MaxDelay), and fails only when some message could not be sent.
func (q *SQS) Send(ctx context.Context, ms []Outgoing) error {
	for start := 0; start < len(ms); start += 10 {
		if err := q.sendBatch(ctx, ms[start:min(start+10, len(ms))]); err != nil {
			return err
		}
	}
	return nil
}

func (q *SQS) sendBatch(ctx context.Context, ms []Outgoing) error {
	entries := make([]types.SendMessageBatchRequestEntry, len(ms))
	for i, m := range ms {
		body, err := json.Marshal(m.Message)
		if err != nil {
			return err
		}
		delay := min((m.Delay+time.Second-1)/time.Second, MaxDelay/time.Second)
		entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(body)),
			DelaySeconds: int32(max(delay, 0))}
	}
	for attempt := 0; ; attempt++ {
		out, err := q.API.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.URL), Entries: entries})
		if err != nil {
			return fmt.Errorf("send health messages: %w", err)
		}
		if len(out.Failed) == 0 {
			return nil
		}
		if attempt+1 == sendAttempts {
			f := out.Failed[0]
			return fmt.Errorf("send health messages: %d not taken: %s %s", len(out.Failed), aws.ToString(f.Code), aws.ToString(f.Message))
		}
		again := entries[:0:0]
		for _, f := range out.Failed {
			for _, e := range entries {
				if aws.ToString(e.Id) == aws.ToString(f.Id) {
					again = append(again, e)
				}
			}
		}
		entries = again
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
		}
	}
}

// NewSQS returns the queue at url on a client of cfg (endpoint: an
// override, "" for AWS's own).
func NewSQS(cfg aws.Config, endpoint, url string) *SQS {
	return &SQS{URL: url, API: sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})}
}
