//go:build secretsmanager

package main

import (
	"context"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

func init() { clients = append(clients, secretsManager) }

// secretsManager reads the secret named in SDK_FLOOR_SECRET.
func secretsManager(cfg aws.Config, endpoint string) func(context.Context) error {
	sm := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = base(endpoint) })
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(os.Getenv("SDK_FLOOR_SECRET"))}
	return func(ctx context.Context) error {
		_, err := sm.GetSecretValue(ctx, in)
		return err
	}
}
