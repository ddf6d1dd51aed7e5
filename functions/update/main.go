// Command update serves the update route of the backup credentials API as a
// Lambda function behind API Gateway: the credential store, the vault, the
// provider checks and the role assumer.
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
	log.Fatal(app.ServeLambda(cfg, "update", keys.Secrets(cfg), keys.Checker(cfg), keys.Roles(cfg)))
}
