// Package keys gives a function's service the configured dependencies that
// handle keys: the Secrets Manager vault, the provider checks and the role
// assumer. It is apart from package app so that a function which uses none
// of them links neither Secrets Manager nor STS.
package keys

import (
	"github.com/acme/backup-credentials/shared/app"
	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/provider"
	"github.com/acme/backup-credentials/shared/secrets"
)

// Vault returns the configured Secrets Manager vault of secret keys.
func Vault(c app.Config) *secrets.Store {
	return secrets.FromConfig(c.AWS, c.Endpoint("SECRETS_MANAGER"),
		secrets.Options{Prefix: c.SecretPrefix, KMSKeyID: c.KMSKeyID, RecoveryDays: c.SecretRecoveryDays})
}

// Secrets gives a service the configured vault.
func Secrets(c app.Config) backup.Option { return backup.WithSecrets(Vault(c)) }

// Checker gives a service the provider checks, with the configured
// endpoint allow-list and timeout.
func Checker(c app.Config) backup.Option {
	return backup.WithChecker(provider.New(c.AllowCIDRs, c.CheckTimeout, c.Endpoint("STS")))
}

// Roles gives a service STS's AssumeRole as the configured trust principal.
func Roles(c app.Config) backup.Option {
	return backup.WithRoles(provider.NewRoles(c.AWS, c.Endpoint("STS"), c.TrustPrincipal, c.CheckTimeout), c.TrustPrincipal)
}
