// Package eventbus puts change events on an EventBridge bus.
package eventbus

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/stream"
)

// API is the part of the EventBridge client the bus uses.
type API interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Bus is one EventBridge event bus.
type Bus struct {
	API  API
	Name string
}

var _ stream.Bus = (*Bus)(nil)

// Put puts events ten per call, in order, and returns how many from the
// first were taken: up to the first entry EventBridge refused (entries
// after it that it took are put again with it: consumers drop them by
// eventId).
func (b *Bus) Put(ctx context.Context, evs []backup.Event) (int, error) {
	for start := 0; start < len(evs); start += 10 {
		chunk := evs[start:min(start+10, len(evs))]
		entries := make([]types.PutEventsRequestEntry, 0, len(chunk))
		for _, ev := range chunk {
			detail, err := json.Marshal(ev)
			if err != nil {
				return start, fmt.Errorf("event %s: %w", ev.ID, err)
			}
			entries = append(entries, types.PutEventsRequestEntry{
				EventBusName: aws.String(b.Name), Source: aws.String(backup.EventSource),
				DetailType: aws.String(ev.DetailType), Detail: aws.String(string(detail)),
			})
		}
		out, err := b.API.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			return start, fmt.Errorf("put events: %w", err)
		}
		for i, r := range out.Entries {
			if r.ErrorCode != nil {
				return start + i, fmt.Errorf("put event %s: %s: %s", chunk[i].ID, aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage))
			}
		}
		if out.FailedEntryCount > 0 {
			return start, fmt.Errorf("put events: %d of %d failed", out.FailedEntryCount, len(entries))
		}
	}
	return len(evs), nil
}

// FromConfig returns the bus named name with a client built from cfg,
// aimed at endpoint when it is not "".
func FromConfig(cfg aws.Config, endpoint, name string) *Bus {
	return &Bus{Name: name, API: eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})}
}
