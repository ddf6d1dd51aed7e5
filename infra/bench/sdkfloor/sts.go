//go:build sts

package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func init() { clients = append(clients, securityTokens) }

// securityTokens asks who the floor's keys belong to.
func securityTokens(cfg aws.Config, endpoint string) func(context.Context) error {
	c := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = base(endpoint) })
	return func(ctx context.Context) error {
		_, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		return err
	}
}
