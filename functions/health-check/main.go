// Command health-check re-checks every stored credential on an EventBridge
// schedule, records each result and announces changes.
package main

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/acme/backup-credentials/shared/app"
	"github.com/acme/backup-credentials/shared/health"
)

func main() {
	cfg, err := app.Load(os.LookupEnv, "")
	if err != nil {
		log.Fatal(err)
	}
	awsCfg, err := app.AWSConfig(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	runner := app.NewHealthRunner(awsCfg, cfg, true)
	lambda.Start(func(ctx context.Context, _ events.EventBridgeEvent) (health.Summary, error) {
		return runner.Run(ctx)
	})
}
