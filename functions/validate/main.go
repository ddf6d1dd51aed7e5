// Command validate serves the validate route of the backup credentials API as a
// Lambda function behind API Gateway. It builds only the clients validate uses.
package main

import (
	"log"
	"os"

	"github.com/acme/backup-credentials/shared/app"
	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/dynamo"
	"github.com/acme/backup-credentials/shared/provider"
)

func main() {
	cfg, err := app.Load(os.LookupEnv, "")
	if err != nil {
		log.Fatal(err)
	}
	// The store only for a role's check: its organization's external ID.
	app.ServeLambda(cfg, &backup.Service{Store: dynamo.FromConfig(cfg.AWS, cfg.Endpoint("DYNAMODB"), cfg.Table),
		Checker: provider.New(cfg.AllowCIDRs, cfg.CheckTimeout, cfg.Endpoint("STS")),
		Roles:   provider.NewRoles(cfg.AWS, cfg.Endpoint("STS"), cfg.TrustPrincipal, cfg.CheckTimeout),
	}, "validate")
}
