// Command health-check is the queue's half of the health pass: an SQS event
// source mapping hands it batches of messages of credential IDs, and it
// checks each credential's keys under the per-host cap and records the
// result (the table's stream announces changes).
package main

import (
	"log"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/acme/backup-credentials/shared/app"
	"github.com/acme/backup-credentials/shared/app/keys"
	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/health"
	"github.com/acme/backup-credentials/shared/health/checker"
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
	k := &checker.Checker{Store: store, Slots: store, Secrets: vault, Service: svc,
		Queue:       health.NewSQS(cfg.AWS, cfg.Endpoint("SQS"), cfg.HealthQueueURL),
		Concurrency: cfg.HealthConcurrency, PerHost: cfg.HealthHost, Margin: cfg.CheckTimeout + 2*time.Second}
	lambda.Start(k.HandleSQS)
}
