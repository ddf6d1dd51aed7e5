// Command organizations serves the organizations route of the backup credentials API as a
// Lambda function behind API Gateway. It builds only the clients organizations uses.
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
	app.ServeLambda(cfg, &backup.Service{Store: store}, "organizations")
}
