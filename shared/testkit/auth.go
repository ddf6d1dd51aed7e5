package testkit

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/httpapi"
)

// tokenPrefix marks a test token, so that no JWT is ever read as one.
const tokenPrefix = "test."

// Token returns the bearer token Auth reads as c: the caller in plain
// JSON, not signed, so that tests of the API need no token issuer.
func Token(c backup.Caller) string {
	b, _ := json.Marshal(c)
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// Auth is an httpapi.Authenticator of the tokens Token makes. Tests of the
// token formats the service meets (API Gateway's claims, the local API's
// JWTs) are with those authenticators.
type Auth struct{}

// Authenticate reads the caller from the bearer token.
func (Auth) Authenticate(r *http.Request) (backup.Caller, error) {
	raw, err := httpapi.BearerToken(r)
	if err != nil {
		return backup.Caller{}, err
	}
	var c backup.Caller
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(raw, tokenPrefix))
	if err != nil || !strings.HasPrefix(raw, tokenPrefix) || json.Unmarshal(b, &c) != nil || c.UserID == "" {
		return backup.Caller{}, backup.Errorf(backup.EUnauthorized, "The token is not valid.")
	}
	return c, nil
}
