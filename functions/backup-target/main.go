// Command backup-target serves the backup engine's route of the backup
// credentials API as a Lambda function behind API Gateway (AWS_IAM
// authorization): a project's credential with its secret key (or a role's
// temporary keys), unless it is locked and the purpose is a backup. It
// builds the credential store, the vault and the role assumer.
package main

import (
	"github.com/acme/backup-credentials/shared/app"
	"github.com/acme/backup-credentials/shared/app/keys"
)

func main() { app.Main("backup-target", keys.Secrets, keys.Roles) }
