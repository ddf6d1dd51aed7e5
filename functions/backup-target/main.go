// Command backup-target serves the backup engine's route of the backup
// credentials API as a Lambda function behind API Gateway (AWS_IAM
// authorization): a project's credential with its secret key (or a role's
// temporary keys), unless it is locked. It builds only the clients it uses.
package main

import (
	"log"
	"os"

	"github.com/acme/backup-credentials/shared/app"
	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/dynamo"
	"github.com/acme/backup-credentials/shared/provider"
	"github.com/acme/backup-credentials/shared/secrets"
)

func main() {
	cfg, err := app.Load(os.LookupEnv, "")
	if err != nil {
		log.Fatal(err)
	}
	store := dynamo.FromConfig(cfg.AWS, cfg.Endpoint("DYNAMODB"), cfg.Table)
	app.ServeLambda(cfg, &backup.Service{Store: store,
		Secrets: secrets.FromConfig(cfg.AWS, cfg.Endpoint("SECRETS_MANAGER"), cfg.SecretPrefix, cfg.KMSKeyID),
		Roles:   provider.NewRoles(cfg.AWS, cfg.Endpoint("STS"), cfg.TrustPrincipal, cfg.CheckTimeout),
	}, "backup-target")
}
