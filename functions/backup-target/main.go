// Command backup-target serves the backup engine's route of the backup
// credentials API as a Lambda function behind API Gateway (AWS_IAM
// authorization): a project's credential with its secret key (or a role's
// temporary keys), unless it is locked and the purpose is a backup. It
// builds the credential store, the vault and the role assumer.
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
	log.Fatal(app.ServeLambda(cfg, "backup-target", keys.Secrets(cfg), keys.Roles(cfg)))
}
