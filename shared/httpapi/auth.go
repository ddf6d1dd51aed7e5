package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/golang-jwt/jwt/v5"

	"github.com/acme/backup-credentials/shared/backup"
)

// An Authenticator tells who is calling. It returns EUnauthorized when
// nobody verifiable is.
type Authenticator interface {
	Authenticate(r *http.Request) (backup.Caller, error)
}

// ClaimNames names the JWT claims the caller is read from.
type ClaimNames struct {
	Name          string
	Organizations string
	Role          string
}

// DefaultClaims are the claim names of the contract.
var DefaultClaims = ClaimNames{Name: "name", Organizations: "organizations", Role: "role"}

func unauthorized(why string) error {
	return backup.Errorf(backup.EUnauthorized, "%s", why)
}

// callerFrom reads a caller from claims, whichever form they come in.
func callerFrom(claims map[string]any, names ClaimNames) (backup.Caller, error) {
	str := func(k string) string {
		if v, ok := claims[k].(string); ok {
			return v
		}
		return ""
	}
	c := backup.Caller{UserID: str("sub"), Name: str(names.Name), Role: str(names.Role)}
	if c.UserID == "" {
		return backup.Caller{}, unauthorized("The token has no subject (sub).")
	}
	switch v := claims[names.Organizations].(type) {
	case []any:
		for _, o := range v {
			if s, ok := o.(string); ok && s != "" {
				c.Organizations = append(c.Organizations, s)
			}
		}
	case string:
		c.Organizations = parseOrganizations(v)
	}
	return c, nil
}

// parseOrganizations reads the organizations claim as a string: a JSON array,
// API Gateway's flattened "[a b]", or a comma-separated list.
func parseOrganizations(v string) []string {
	v = strings.TrimSpace(v)
	var out []string
	if strings.HasPrefix(v, "[") {
		if json.Unmarshal([]byte(v), &out) == nil {
			return out
		}
		v = strings.TrimSuffix(strings.TrimPrefix(v, "["), "]")
		return strings.Fields(v)
	}
	for _, o := range strings.Split(v, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// GatewayAuth reads the claims API Gateway's JWT authorizer verified.
type GatewayAuth struct{ Claims ClaimNames }

// Authenticate reads the caller from the request's API Gateway context.
func (a GatewayAuth) Authenticate(r *http.Request) (backup.Caller, error) {
	rc, ok := core.GetAPIGatewayV2ContextFromContext(r.Context())
	if !ok || rc.Authorizer == nil || rc.Authorizer.JWT == nil {
		return backup.Caller{}, unauthorized("The request carries no verified token.")
	}
	claims := make(map[string]any, len(rc.Authorizer.JWT.Claims))
	for k, v := range rc.Authorizer.JWT.Claims {
		claims[k] = v
	}
	return callerFrom(claims, a.Claims)
}

// LocalAuth verifies HS256 bearer tokens itself, as the local API does.
type LocalAuth struct {
	Secret []byte
	Claims ClaimNames
}

// Authenticate verifies the bearer token and reads the caller from it. A
// refusal names its reason: no token, malformed, bad signature, expired or
// not yet valid.
func (a LocalAuth) Authenticate(r *http.Request) (backup.Caller, error) {
	raw, err := bearer(r)
	if err != nil {
		return backup.Caller{}, err
	}
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return a.Secret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
	if err != nil {
		return backup.Caller{}, unauthorized(tokenProblem(err))
	}
	return callerFrom(claims, a.Claims)
}

// bearer returns the token of an Authorization header of the Bearer scheme,
// whose name is matched case-insensitively (RFC 9110).
func bearer(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	scheme, raw, _ := strings.Cut(strings.TrimSpace(h), " ")
	raw = strings.TrimSpace(raw)
	switch {
	case h == "":
		return "", unauthorized("Send Authorization: Bearer <JWT>.")
	case !strings.EqualFold(scheme, "Bearer") || raw == "":
		return "", unauthorized("The Authorization header is malformed: send Bearer <JWT>.")
	}
	return raw, nil
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

// LocalToken signs a token the local API accepts, valid for ttl.
func LocalToken(secret []byte, sub, name, role string, orgs []string, ttl time.Duration) (string, error) {
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
