//go:build sqs

package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

func init() { clients = append(clients, sqsClient) }

// sqsClient lists one queue.
func sqsClient(cfg aws.Config, endpoint string) func(context.Context) error {
	c := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = base(endpoint) })
	return func(ctx context.Context) error {
		_, err := c.ListQueues(ctx, &sqs.ListQueuesInput{MaxResults: aws.Int32(1)})
		return err
	}
}
