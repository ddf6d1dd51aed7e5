// Package eventbus provides the EventBridge publisher of health changes.
package eventbus

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/acme/backup-credentials/shared/health"
)

// DetailType is the detail-type of every health change event.
const DetailType = "Backup Credential Health Changed"

// Source is the source of every event.
const Source = "backup-credentials"

// API is the part of the EventBridge client the publisher uses.
type API interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Publisher puts health changes on an event bus, ten per call.
type Publisher struct {
	API API
	Bus string
}

var _ health.Publisher = (*Publisher)(nil)

// Publish puts one event per change. It fails if any entry fails.
func (p *Publisher) Publish(ctx context.Context, changes []health.Change) error {
	for start := 0; start < len(changes); start += 10 {
		var entries []types.PutEventsRequestEntry
		for _, c := range changes[start:min(start+10, len(changes))] {
			detail, err := json.Marshal(c)
			if err != nil {
				return fmt.Errorf("publish health change: %w", err)
			}
			entries = append(entries, types.PutEventsRequestEntry{
				EventBusName: aws.String(p.Bus), Source: aws.String(Source),
				DetailType: aws.String(DetailType), Detail: aws.String(string(detail)),
				Resources: []string{c.CredentialID},
			})
		}
		out, err := p.API.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			return fmt.Errorf("put events: %w", err)
		}
		if out.FailedEntryCount > 0 {
			return fmt.Errorf("put events: %d of %d failed", out.FailedEntryCount, len(entries))
		}
	}
	return nil
}

// FromConfig returns a Publisher on bus with a client built from cfg, aimed
// at endpoint when it is not "".
func FromConfig(cfg aws.Config, endpoint, bus string) *Publisher {
	return &Publisher{Bus: bus, API: eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})}
}
