// Command lock serves the lock route of the backup credentials API as a
// Lambda function behind API Gateway.
package main

import (
	"context"
	"log"
	"os"

	"github.com/acme/backup-credentials/shared/app"
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
	app.ServeLambda(cfg, app.NewService(awsCfg, cfg, app.NeedStore), "lock")
}
