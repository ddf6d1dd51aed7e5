// Command health-scan is the scheduled half of the health pass: on an
// EventBridge schedule it scans the stored credentials and queues their IDs
// for health-check, sweeping orphaned secrets when a pass's scan is done.
// It links no provider code: it never checks a key itself.
package main

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/acme/backup-credentials/shared/app"
	"github.com/acme/backup-credentials/shared/health"
	"github.com/acme/backup-credentials/shared/secrets"
)

func main() {
	cfg, err := app.Load(os.LookupEnv, "")
	if err != nil {
		log.Fatal(err)
	}
	app.JSONLogs(os.Stdout)
	vault := secrets.FromConfig(cfg.AWS, cfg.Endpoint("SECRETS_MANAGER"),
		secrets.Options{Prefix: cfg.SecretPrefix, KMSKeyID: cfg.KMSKeyID, RecoveryDays: cfg.SecretRecoveryDays})
	scanner := &health.Scanner{Store: cfg.Store(), Secrets: vault, Margin: 10 * time.Second,
		Queue: health.NewSQS(cfg.AWS, cfg.Endpoint("SQS"), cfg.HealthQueueURL)}
	lambda.Start(func(ctx context.Context, _ events.EventBridgeEvent) (health.Summary, error) {
		return scanner.Run(ctx)
	})
}
