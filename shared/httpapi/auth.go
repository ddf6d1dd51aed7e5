package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"

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

// CallerFromClaims reads a caller from verified claims, whichever form they
// come in. The organizations claim is a list (an organization named twice
// counts once); the role claim is one role, or a list such as Cognito's
// cognito:groups, of which the one that may do most counts. It returns
// EUnauthorized when the claims name no subject.
func CallerFromClaims(claims map[string]any, names ClaimNames) (backup.Caller, error) {
	str := func(k string) string {
		if v, ok := claims[k].(string); ok {
			return v
		}
		return ""
	}
	c := backup.Caller{UserID: str("sub"), Name: str(names.Name), Role: strongestRole(claimList(claims[names.Role]))}
	if c.UserID == "" {
		return backup.Caller{}, unauthorized("The token has no subject (sub).")
	}
	for _, o := range claimList(claims[names.Organizations]) {
		if !slices.Contains(c.Organizations, o) {
			c.Organizations = append(c.Organizations, o)
		}
	}
	return c, nil
}

// claimList reads a claim that holds a list: a JSON array, or a string as
// parseOrganizations reads it.
func claimList(v any) []string {
	switch v := v.(type) {
	case []any:
		var out []string
		for _, o := range v {
			if s, ok := o.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return v
	case string:
		return parseOrganizations(v)
	}
	return nil
}

// strongestRole returns the role among roles that may do most; another
// value (a group that names no role) counts for nothing.
func strongestRole(roles []string) string {
	best := ""
	for _, r := range []string{backup.RoleManager, backup.RolePartner, backup.RoleUser} {
		if slices.Contains(roles, r) {
			return r
		}
	}
	if len(roles) == 1 {
		best = roles[0] // an unknown role: kept so a 403 can name it
	}
	return best
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

// GatewayAuth reads the caller API Gateway verified: the claims of a JWT
// authorizer, or, on the backup engine's route (AWS_IAM authorization), the
// IAM principal that signed the request, which is the backup engine when it
// is one of BackupEngines.
type GatewayAuth struct {
	Claims ClaimNames
	// BackupEngines are the IAM principal ARNs that may resolve projects'
	// credentials (template parameter BackupEnginePrincipals).
	BackupEngines []string
}

// Authenticate reads the caller from the request's API Gateway context.
func (a GatewayAuth) Authenticate(r *http.Request) (backup.Caller, error) {
	rc, ok := core.GetAPIGatewayV2ContextFromContext(r.Context())
	if ok && rc.Authorizer != nil && rc.Authorizer.IAM != nil {
		iam := rc.Authorizer.IAM
		who := iam.UserARN
		if who == "" {
			who = iam.CallerID
		}
		c := backup.Caller{UserID: who, Name: "backup engine"}
		if slices.Contains(a.BackupEngines, iam.UserARN) {
			c.Role = backup.RoleBackupEngine
		}
		return c, nil
	}
	if !ok || rc.Authorizer == nil || rc.Authorizer.JWT == nil {
		return backup.Caller{}, unauthorized("The request carries no verified token.")
	}
	claims := make(map[string]any, len(rc.Authorizer.JWT.Claims))
	for k, v := range rc.Authorizer.JWT.Claims {
		claims[k] = v
	}
	c, err := CallerFromClaims(claims, a.Claims)
	if c.Role == backup.RoleBackupEngine {
		c.Role = "" // a user's token never makes its bearer the backup engine
	}
	return c, err
}

// BearerToken returns the token of an Authorization header of the Bearer
// scheme, whose name is matched case-insensitively (RFC 9110). It returns
// EUnauthorized, saying what is wrong, when there is none.
func BearerToken(r *http.Request) (string, error) {
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
