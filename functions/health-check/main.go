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
	"github.com/acme/backup-credentials/shared/app/keys"
	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/health"
)

func main() {
	cfg, err := app.Load(os.LookupEnv, "")
	if err != nil {
		log.Fatal(err)
	}
	app.JSONLogs(os.Stdout)
	store := cfg.Store()
	vault := keys.Vault(cfg)
	svc, err := cfg.Service(store, backup.WithSecrets(vault), keys.Checker(cfg), keys.Roles(cfg))
	if err != nil {
		log.Fatal(err)
	}
	runner := &health.Runner{Store: store, Secrets: vault, Service: svc,
		Concurrency: cfg.HealthConcurrency, PerHost: cfg.HealthHost, Margin: cfg.CheckTimeout + 2*time.Second}
	lambda.Start(func(ctx context.Context, _ events.EventBridgeEvent) (health.Summary, error) {
		return runner.Run(ctx)
	})
}
