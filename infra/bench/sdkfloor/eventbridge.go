//go:build eventbridge

package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
)

func init() { clients = append(clients, eventBridge) }

// eventBridge lists one event bus.
func eventBridge(cfg aws.Config, endpoint string) func(context.Context) error {
	c := eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) { o.BaseEndpoint = base(endpoint) })
	return func(ctx context.Context) error {
		_, err := c.ListEventBuses(ctx, &eventbridge.ListEventBusesInput{Limit: aws.Int32(1)})
		return err
	}
}
