package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/acme/backup-credentials/infra/local-api/localauth"
	"github.com/acme/backup-credentials/shared/app"
	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/dynamo"
	"github.com/acme/backup-credentials/shared/httpapi"
	"github.com/acme/backup-credentials/shared/inmem"
	"github.com/acme/backup-credentials/shared/testkit"
)

// siteServer serves the whole local site, as make run does with in-process
// storage, with LOCAL_CORS_ORIGINS set to setting ("" for unset). It
// returns the server, a partner's token and the site's log.
func siteServer(t *testing.T, setting string) (*httptest.Server, string, *testkit.SyncBuffer) {
	t.Helper()
	ddb, err := inmem.DynamoDB(context.Background(), "site")
	if err != nil {
		t.Fatal(err)
	}
	logs := &testkit.SyncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	svc, err := backup.New(dynamo.New(ddb, "site"), backup.WithSecrets(inmem.NewSecretStore()))
	if err != nil {
		t.Fatal(err)
	}
	api := &httpapi.API{Service: svc, Auth: localauth.Auth{Secret: []byte("s"), Claims: httpapi.DefaultClaims}, Logger: logger}
	h, err := site{api: api.Handler(), secret: []byte("s"), origins: parseOrigins(setting), devTokens: true, demoSTS: true, logger: logger}.handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	tok, err := localauth.Token([]byte("s"), "u-1", "U", backup.RolePartner, []string{"org-1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return srv, tok, logs
}

// send makes a request with headers as name, value pairs; "Host" sets the
// Host header.
func send(t *testing.T, method, url, body string, headers ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			req.Host = headers[i+1]
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestCORS: by default pages on any port of localhost, 127.0.0.1 and [::1]
// may read the API's answers and nothing else may; "*" only when set so.
// The preflight answers with X-Request-Id and is logged, as every answer.
func TestCORS(t *testing.T) {
	tests := []struct {
		name, setting, origin, wantAllowOrigin string
	}{
		{"a UI dev server on localhost, by default", "", "http://localhost:5173", "http://localhost:5173"},
		{"127.0.0.1 on any port, by default", "", "http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"[::1], by default", "", "http://[::1]:4000", "http://[::1]:4000"},
		{"another loopback address is another origin", "", "http://127.0.0.2:8080", ""},
		{"a web page, by default", "", "https://evil.example", ""},
		{"a name under localhost is not in the default", "", "http://evil.localhost:3000", ""},
		{"any origin when set so", "*", "https://evil.example", "*"},
		{"a listed origin", "http://other.test, http://localhost:5173", "http://localhost:5173", "http://localhost:5173"},
		{"an origin not listed", "http://other.test", "http://localhost:5173", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, tok, logs := siteServer(t, tt.setting)
			// The preflight a browser sends before a PATCH with If-Match.
			resp := send(t, "OPTIONS", srv.URL+"/v1/backup-credentials/bc_x", "", "Origin", tt.origin,
				"Access-Control-Request-Method", "PATCH", "Access-Control-Request-Headers", "authorization, content-type, if-match")
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tt.wantAllowOrigin {
				t.Fatalf("preflight Access-Control-Allow-Origin %q, want %q", got, tt.wantAllowOrigin)
			}
			id := resp.Header.Get("X-Request-Id")
			if id == "" || !strings.Contains(logs.String(), `"requestId":"`+id+`"`) {
				t.Errorf("preflight: X-Request-Id %q, not in the log:\n%s", id, logs)
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
			resp = send(t, "GET", srv.URL+"/v1/organizations", "", "Origin", tt.origin, "Authorization", "Bearer "+tok)
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

// TestOnlyLoopbackHosts: a request whose Host is not this machine's (a page
// whose DNS name was rebound to 127.0.0.1) is 421, with a request ID;
// loopback names and addresses are served.
func TestOnlyLoopbackHosts(t *testing.T) {
	srv, tok, _ := siteServer(t, "")
	for host, want := range map[string]int{
		"rebind.evil.example":        421,
		"rebind.evil.example:3000":   421,
		"localhost.evil.example":     421,
		"10.0.0.5:3000":              421,
		"localhost:3000":             200,
		"127.0.0.1:3000":             200,
		"127.0.0.2":                  200,
		"[::1]:3000":                 200,
		"ui.localhost:3000":          200,
		srv.Listener.Addr().String(): 200,
	} {
		resp := send(t, "GET", srv.URL+"/v1/organizations", "", "Host", host, "Authorization", "Bearer "+tok)
		if resp.StatusCode != want || resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("Host %s: %d (X-Request-Id %q), want %d", host, resp.StatusCode, resp.Header.Get("X-Request-Id"), want)
		}
	}
	if resp := send(t, "GET", srv.URL+"/", "", "Host", "rebind.evil.example"); resp.StatusCode != 421 {
		t.Errorf("the page to a rebound name: %d, want 421", resp.StatusCode)
	}
}

// TestDevelopmentTokens: the token route answers the local API's own page
// (or no page), never another origin's, never with CORS, and never a
// backup-engine token.
func TestDevelopmentTokens(t *testing.T) {
	srv, _, _ := siteServer(t, "")
	own := "http://" + srv.Listener.Addr().String()
	body := `{"organizations":["org-1"],"role":"partner"}`
	for _, c := range []struct {
		name    string
		headers []string
		body    string
		want    int
	}{
		{"no page (curl)", []string{"Content-Type", "application/json"}, body, 200},
		{"the local API's own page", []string{"Content-Type", "application/json", "Origin", own, "Sec-Fetch-Site", "same-origin"}, body, 200},
		{"a UI dev server", []string{"Content-Type", "application/json", "Origin", "http://localhost:5173"}, body, 403},
		{"a web page, as text/plain", []string{"Content-Type", "text/plain", "Origin", "https://evil.example"}, body, 403},
		{"a page that sends no Origin", []string{"Content-Type", "text/plain", "Sec-Fetch-Site", "cross-site"}, body, 403},
		{"a backup-engine token", []string{"Content-Type", "application/json"}, `{"organizations":["org-1"],"role":"backup-engine"}`, 403},
	} {
		resp := send(t, "POST", srv.URL+"/local/token", c.body, c.headers...)
		if resp.StatusCode != c.want || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s: %d (Access-Control-Allow-Origin %q), want %d without CORS", c.name, resp.StatusCode,
				resp.Header.Get("Access-Control-Allow-Origin"), c.want)
		}
	}
	resp := send(t, "OPTIONS", srv.URL+"/local/token", "", "Origin", "http://localhost:5173", "Access-Control-Request-Method", "POST")
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("the token route answered a preflight with CORS")
	}
}

// TestSecurityHeaders: the page, its files, the reference and the API
// answer with nosniff, no referrer, no framing, and a content security
// policy; the page's allows no inline script or style.
func TestSecurityHeaders(t *testing.T) {
	srv, tok, _ := siteServer(t, "")
	for _, path := range []string{"/", "/ui/app.js", "/reference", "/openapi.yaml", "/v1/organizations", "/no-such-path"} {
		resp := send(t, "GET", srv.URL+path, "", "Authorization", "Bearer "+tok)
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Frame-Options") != "DENY" ||
			!strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: nosniff %q, referrer %q, frame %q, CSP %q", path, h.Get("X-Content-Type-Options"), h.Get("Referrer-Policy"),
				h.Get("X-Frame-Options"), csp)
		}
	}
	for _, path := range []string{"/", "/reference"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		var page bytes.Buffer
		_, _ = page.ReadFrom(resp.Body)
		resp.Body.Close()
		if s := page.String(); strings.Contains(s, "<style") || strings.Contains(s, " style=") ||
			strings.Contains(strings.ReplaceAll(s, `<script type="module" src=`, ""), "<script") {
			t.Errorf("%s has inline script or style, which its policy refuses", path)
		}
	}
}

// TestDemoSTSOnlyForInProcessStorage: the demo STS, which lets any role be
// assumed, answers only for storage in process; with storage elsewhere and
// no STS endpoint, roles go to AWS's STS.
func TestDemoSTSOnlyForInProcessStorage(t *testing.T) {
	elsewhere, err := app.Load(func(k string) (string, bool) {
		v, ok := map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:5000"}[k]
		return v, ok
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := rolesEndpoint(elsewhere, ""); got != "AWS" {
		t.Errorf("storage elsewhere assumes roles at %s, want AWS", got)
	}
	inProcess, _ := app.Load(func(string) (string, bool) { return "", false }, "")
	if got := rolesEndpoint(inProcess, "http://127.0.0.1:3000/local-sts"); got != "http://127.0.0.1:3000/local-sts" {
		t.Errorf("in process, roles at %s", got)
	}
	h, err := site{api: http.NotFoundHandler(), origins: parseOrigins("")}.handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	if resp := send(t, "POST", srv.URL+"/local-sts", "Action=AssumeRole&RoleArn=arn:aws:iam::444455556666:role/x"); resp.StatusCode == 200 {
		t.Errorf("the demo STS answered for storage that is not in process")
	}
}
