// Command associate-project serves the associate-project route of the backup credentials API as a
// Lambda function behind API Gateway. It builds only the clients associate-project uses.
package main

import (
	"log"
	"os"

	"github.com/acme/backup-credentials/shared/app"
	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/dynamo"
)

func main() {
	cfg, err := app.Load(os.LookupEnv, "")
	if err != nil {
		log.Fatal(err)
	}
	store := dynamo.FromConfig(cfg.AWS, cfg.Endpoint("DYNAMODB"), cfg.Table)
	app.ServeLambda(cfg, &backup.Service{Store: store}, "associate-project")
}
