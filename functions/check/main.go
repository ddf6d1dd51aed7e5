// Command check serves the check route of the backup credentials API as a
// Lambda function behind API Gateway: the credential store, the vault, the
// provider checks and the role assumer.
package main

import (
	"github.com/acme/backup-credentials/shared/app"
	"github.com/acme/backup-credentials/shared/app/keys"
)

func main() { app.Main("check", keys.Secrets, keys.Checker, keys.Roles) }
