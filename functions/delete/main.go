// Command delete serves the delete route of the backup credentials API as a
// Lambda function behind API Gateway: the credential store, and the vault
// whose secret it deletes (with the recovery window).
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
	log.Fatal(app.ServeLambda(cfg, "delete", keys.Secrets(cfg)))
}
