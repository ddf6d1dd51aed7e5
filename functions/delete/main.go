// Command delete serves the delete route of the backup credentials API as a
// Lambda function behind API Gateway: the credential store, and the vault
// whose secret it deletes (with the recovery window).
package main

import (
	"github.com/acme/backup-credentials/shared/app"
	"github.com/acme/backup-credentials/shared/app/keys"
)

func main() { app.Main("delete", keys.Secrets) }
