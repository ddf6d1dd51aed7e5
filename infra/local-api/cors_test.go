package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/acme/backup-credentials/infra/local-api/localauth"
	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/dynamo"
	"github.com/acme/backup-credentials/shared/httpapi"
	"github.com/acme/backup-credentials/shared/inmem"
)

// corsServer serves the real API, in process, behind cors(origins).
func corsServer(t *testing.T, origins string) (*httptest.Server, string) {
	t.Helper()
	ctx := context.Background()
	ddb, err := inmem.DynamoDB(ctx, "cors")
	if err != nil {
		t.Fatal(err)
	}
	svc := &backup.Service{Store: dynamo.New(ddb, "cors"), Secrets: inmem.NewSecretStore()}
	api := &httpapi.API{Service: svc, Auth: localauth.Auth{Secret: []byte("s"), Claims: httpapi.DefaultClaims}}
	srv := httptest.NewServer(cors(splitList(origins), api.Handler()))
	t.Cleanup(srv.Close)
	tok, err := localauth.Token([]byte("s"), "u-1", "U", backup.RolePartner, []string{"org-1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return srv, tok
}

func TestCORS(t *testing.T) {
	const ui = "http://localhost:5173"
	tests := []struct {
		name, origins, origin, wantAllowOrigin string
	}{
		{"any origin by default", "*", ui, "*"},
		{"a listed origin", "http://other.test, " + ui, ui, ui},
		{"an origin not listed", "http://other.test", ui, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, tok := corsServer(t, tt.origins)
			// The preflight a browser sends before a PATCH with If-Match.
			pre, _ := http.NewRequest("OPTIONS", srv.URL+"/v1/backup-credentials/bc_x", nil)
			pre.Header.Set("Origin", tt.origin)
			pre.Header.Set("Access-Control-Request-Method", "PATCH")
			pre.Header.Set("Access-Control-Request-Headers", "authorization, content-type, if-match")
			resp, err := http.DefaultClient.Do(pre)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tt.wantAllowOrigin {
				t.Fatalf("preflight Access-Control-Allow-Origin %q, want %q", got, tt.wantAllowOrigin)
			}
			if tt.wantAllowOrigin != "" {
				allowHeaders := resp.Header.Get("Access-Control-Allow-Headers")
				for _, h := range []string{"Authorization", "Content-Type", "If-Match", "Idempotency-Key"} {
					if !strings.Contains(allowHeaders, h) {
						t.Errorf("preflight allows headers %q, missing %s", allowHeaders, h)
					}
				}
				if resp.StatusCode != 204 || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "PATCH") {
					t.Errorf("preflight: status %d, methods %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Methods"))
				}
			}
			// The call itself, whose headers the UI reads.
			req, _ := http.NewRequest("GET", srv.URL+"/v1/organizations", nil)
			req.Header.Set("Origin", tt.origin)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err = http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != tt.wantAllowOrigin {
				t.Fatalf("call: status %d, Access-Control-Allow-Origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
			}
			if tt.wantAllowOrigin != "" {
				for _, h := range []string{"ETag", "Location", "X-Request-Id"} {
					if !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), h) {
						t.Errorf("Access-Control-Expose-Headers %q lacks %s", resp.Header.Get("Access-Control-Expose-Headers"), h)
					}
				}
			}
		})
	}
}
