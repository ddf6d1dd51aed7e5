// Command health-check re-checks every stored credential on an EventBridge
// schedule and records each result (the table's stream announces changes).
package main

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/acme/backup-credentials/shared/app"
	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/dynamo"
	"github.com/acme/backup-credentials/shared/health"
	"github.com/acme/backup-credentials/shared/provider"
	"github.com/acme/backup-credentials/shared/secrets"
)

func main() {
	cfg, err := app.Load(os.LookupEnv, "")
	if err != nil {
		log.Fatal(err)
	}
	app.JSONLogs(os.Stdout)
	store := dynamo.FromConfig(cfg.AWS, cfg.Endpoint("DYNAMODB"), cfg.Table)
	vault := secrets.FromConfig(cfg.AWS, cfg.Endpoint("SECRETS_MANAGER"), cfg.SecretPrefix, cfg.KMSKeyID)
	vault.RecoveryDays = cfg.SecretRecoveryDays
	runner := &health.Runner{
		Store: store, Secrets: vault,
		Service: &backup.Service{Store: store, Secrets: vault, Checker: provider.New(cfg.AllowCIDRs, cfg.CheckTimeout, cfg.Endpoint("STS")),
			Roles:          provider.NewRoles(cfg.AWS, cfg.Endpoint("STS"), cfg.TrustPrincipal, cfg.CheckTimeout),
			TrustPrincipal: cfg.TrustPrincipal, KeyRotationDays: cfg.KeyRotationDays},
		Concurrency: cfg.HealthConcurrency, PerHost: cfg.HealthHost, Margin: cfg.CheckTimeout + 2*time.Second,
	}
	lambda.Start(func(ctx context.Context, _ events.EventBridgeEvent) (health.Summary, error) {
		return runner.Run(ctx)
	})
}
