// Command publish-changes announces each committed change of the table on
// the event bus: the table's DynamoDB stream is its event source.
package main

import (
	"log"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/acme/backup-credentials/shared/app"
	"github.com/acme/backup-credentials/shared/eventbus"
	"github.com/acme/backup-credentials/shared/stream"
)

func main() {
	cfg, err := app.Load(os.LookupEnv, "")
	if err != nil {
		log.Fatal(err)
	}
	app.JSONLogs(os.Stdout)
	pub := stream.New(eventbus.FromConfig(cfg.AWS, cfg.Endpoint("EVENTBRIDGE"), cfg.EventBus), slog.Default())
	lambda.Start(pub.Handle)
}
