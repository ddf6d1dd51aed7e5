// Command organizations serves the organizations route of the backup credentials API as a
// Lambda function behind API Gateway, on the credential store alone.
package main

import (
	"github.com/acme/backup-credentials/shared/app"
)

func main() { app.Main("organizations") }
