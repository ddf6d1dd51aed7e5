// Command validate serves the validate route of the backup credentials API
// as a Lambda function behind API Gateway: the provider checks, the role
// assumer, and the credential store for organizations' external IDs.
package main

import (
	"github.com/acme/backup-credentials/shared/app"
	"github.com/acme/backup-credentials/shared/app/keys"
)

func main() { app.Main("validate", keys.Checker, keys.Roles) }
