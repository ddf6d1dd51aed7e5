// Command validate serves the validate route of the backup credentials API
// as a Lambda function behind API Gateway: the provider checks, the role
// assumer, and the credential store for organizations' external IDs.
package main

import (
	"log"
	"os"

	"github.com/acme/backup-credentials/shared/app"
	"github.com/acme/backup-credentials/shared/app/keys"
)

func main() {
	cfg, err := app.Load(os.LookupEnv, "")
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(app.ServeLambda(cfg, "validate", keys.Checker(cfg), keys.Roles(cfg)))
}
