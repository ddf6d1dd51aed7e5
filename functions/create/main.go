// Command create serves the create route of the backup credentials API as a
// Lambda function behind API Gateway: the credential store, the vault, the
// provider checks and the role assumer.
package main

import (
	"github.com/acme/backup-credentials/shared/app"
	"github.com/acme/backup-credentials/shared/app/keys"
)

func main() { app.Main("create", keys.Secrets, keys.Checker, keys.Roles) }
