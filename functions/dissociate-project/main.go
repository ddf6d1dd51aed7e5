// Command dissociate-project serves the dissociate-project route of the backup credentials API as a
// Lambda function behind API Gateway, on the credential store alone.
package main

import (
	"log"
	"os"

	"github.com/acme/backup-credentials/shared/app"
)

func main() {
	cfg, err := app.Load(os.LookupEnv, "")
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(app.ServeLambda(cfg, "dissociate-project"))
}
