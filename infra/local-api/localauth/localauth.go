// Package localauth verifies and mints the HS256 tokens of the local API.
// It lives with the local API so that no Lambda function links a JWT
// library: in AWS, API Gateway's JWT authorizer verifies tokens.
package localauth

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/httpapi"
)

// DefaultSecret is the secret LOCAL_JWT_SECRET defaults to: good only for
// storage on this machine.
const DefaultSecret = "local-dev-secret"

// Auth verifies HS256 bearer tokens signed with Secret.
type Auth struct {
	Secret []byte
	Claims httpapi.ClaimNames
}

var _ httpapi.Authenticator = Auth{}

// Authenticate verifies the bearer token and reads the caller from it. A
// refusal names its reason: no token, malformed, bad signature, expired or
// not yet valid.
func (a Auth) Authenticate(r *http.Request) (backup.Caller, error) {
	raw, err := httpapi.BearerToken(r)
	if err != nil {
		return backup.Caller{}, err
	}
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return a.Secret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
	if err != nil {
		return backup.Caller{}, backup.Errorf(backup.EUnauthorized, "%s", tokenProblem(err))
	}
	return httpapi.CallerFromClaims(claims, a.Claims)
}

// tokenProblem says in words why a token was refused.
func tokenProblem(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "The token has expired."
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "The token is not valid yet."
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "The token's signature is not valid."
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "The token is malformed."
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "The token has no expiry (exp)."
	}
	return "The token is not valid."
}

// Token signs a token Auth accepts, valid for ttl.
func Token(secret []byte, sub, name, role string, orgs []string, ttl time.Duration) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub, "name": name, "role": role, "organizations": orgs,
		"exp": time.Now().Add(ttl).Unix(), "iat": time.Now().Unix(),
	})
	s, err := t.SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}
