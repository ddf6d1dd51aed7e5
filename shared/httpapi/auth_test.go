package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/acme/backup-credentials/shared/backup"
)

func TestParseOrganizations(t *testing.T) {
	tests := []struct {
		claim string
		want  []string
	}{
		{`["org-1","org-2"]`, []string{"org-1", "org-2"}},
		{`[org-1 org-2]`, []string{"org-1", "org-2"}},
		{`org-1, org-2,`, []string{"org-1", "org-2"}},
		{`org-1`, []string{"org-1"}},
		{``, nil},
	}
	for _, tt := range tests {
		if got := parseOrganizations(tt.claim); !slices.Equal(got, tt.want) {
			t.Errorf("parseOrganizations(%q) = %q, want %q", tt.claim, got, tt.want)
		}
	}
}

// TestGatewayAuth reads the caller as API Gateway's JWT authorizer hands it
// over, with Cognito's claim names.
func TestGatewayAuth(t *testing.T) {
	auth := GatewayAuth{Claims: ClaimNames{Name: "name", Organizations: "custom:organizations", Role: "custom:role"}}
	rc := events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"}, Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{
			"sub": "u-1", "custom:organizations": "org-1,org-2", "custom:role": "manager"}}}}
	var accessor core.RequestAccessorV2
	r, err := accessor.EventToRequestWithContext(context.Background(), events.APIGatewayV2HTTPRequest{
		RawPath: "/v1/organizations", RequestContext: rc, Headers: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := auth.Authenticate(r)
	if err != nil || c.UserID != "u-1" || c.DisplayName() != "u-1" || !c.CanWrite() || !slices.Equal(c.Organizations, []string{"org-1", "org-2"}) {
		t.Errorf("caller = %+v, %v", c, err)
	}
	if _, err := auth.Authenticate(httptest.NewRequest("GET", "/", nil)); err == nil {
		t.Error("a request without authorizer context was authenticated")
	}
}

// TestRequestIDFromGateway: behind API Gateway, X-Request-Id and the log
// line carry API Gateway's own request ID, so one ID finds a request in the
// gateway's access log and the function's log.
func TestRequestIDFromGateway(t *testing.T) {
	var logs strings.Builder
	api := &API{Auth: GatewayAuth{Claims: DefaultClaims}, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
	var accessor core.RequestAccessorV2
	r, err := accessor.EventToRequestWithContext(context.Background(), events.APIGatewayV2HTTPRequest{
		RawPath: "/v1/organizations", Headers: map[string]string{},
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "Kx9fBjYpFiAEJ2w=",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"}}})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	api.Handler("organizations").ServeHTTP(w, r)
	if got := w.Header().Get("X-Request-Id"); got != "Kx9fBjYpFiAEJ2w=" {
		t.Errorf("X-Request-Id %q, want API Gateway's request ID", got)
	}
	if !strings.Contains(logs.String(), `"requestId":"Kx9fBjYpFiAEJ2w="`) || !strings.Contains(logs.String(), `"status":401`) {
		t.Errorf("log %s lacks the request line with API Gateway's ID", logs.String())
	}
}

// TestRoleAndOrganizationClaims: the role may come from a list claim such as
// cognito:groups (the strongest known role counts), in every form API
// Gateway or a token hands it over; organizations named twice count once.
func TestRoleAndOrganizationClaims(t *testing.T) {
	names := ClaimNames{Name: "name", Organizations: "organizations", Role: "cognito:groups"}
	tests := []struct {
		name  string
		role  any
		orgs  any
		want  string
		wantO []string
	}{
		{"groups as a JSON list", []any{"user", "manager"}, []any{"org-1", "org-1"}, "manager", []string{"org-1"}},
		{"groups flattened by API Gateway", "[user partner]", "[org-1 org-2 org-1]", "partner", []string{"org-1", "org-2"}},
		{"groups as a JSON string", `["partner","admins"]`, "org-2, org-2", "partner", []string{"org-2"}},
		{"one role", "user", "org-1", "user", []string{"org-1"}},
		{"groups naming no role", []any{"admins", "ops"}, "", "", nil},
		{"an unknown role", "owner", "org-1", "owner", []string{"org-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := CallerFromClaims(map[string]any{"sub": "u", "cognito:groups": tt.role, "organizations": tt.orgs}, names)
			if err != nil {
				t.Fatal(err)
			}
			if c.Role != tt.want || !slices.Equal(c.Organizations, tt.wantO) {
				t.Errorf("role %q, organizations %q; want %q, %q", c.Role, c.Organizations, tt.want, tt.wantO)
			}
			if c.CanWrite() != (tt.want == "manager" || tt.want == "partner") {
				t.Errorf("CanWrite = %v", c.CanWrite())
			}
		})
	}
}

// TestGatewayBackupEngine: on the backup engine's route, API Gateway's IAM
// authorizer names the principal; only the principals the deployment lists
// are the backup engine. A user's JWT never is, whatever its role claim.
func TestGatewayBackupEngine(t *testing.T) {
	auth := GatewayAuth{Claims: DefaultClaims, BackupEngines: []string{"arn:aws:iam::123456789012:role/backup-engine"}}
	request := func(rc events.APIGatewayV2HTTPRequestContext) *http.Request {
		var accessor core.RequestAccessorV2
		rc.HTTP = events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"}
		r, err := accessor.EventToRequestWithContext(context.Background(), events.APIGatewayV2HTTPRequest{
			RawPath: "/internal/v1/organizations/org-1/projects/p-1/backup-target", RequestContext: rc, Headers: map[string]string{}})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	iam := func(arn string) events.APIGatewayV2HTTPRequestContext {
		return events.APIGatewayV2HTTPRequestContext{Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{UserARN: arn, CallerID: "AROAEXAMPLE"}}}
	}
	tests := []struct {
		name string
		rc   events.APIGatewayV2HTTPRequestContext
		role string
	}{
		{"a listed principal", iam("arn:aws:iam::123456789012:role/backup-engine"), backup.RoleBackupEngine},
		{"another principal", iam("arn:aws:iam::123456789012:role/someone"), ""},
		{"a JWT claiming the role", events.APIGatewayV2HTTPRequestContext{Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"sub": "u", "role": "backup-engine"}}}}, ""},
	}
	for _, tt := range tests {
		c, err := auth.Authenticate(request(tt.rc))
		if err != nil || c.Role != tt.role {
			t.Errorf("%s: caller %+v, %v; want role %q", tt.name, c, err, tt.role)
		}
	}
}
