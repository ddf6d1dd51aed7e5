package httpapi_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/testkit"
)

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t, "local")
	tests := []struct {
		method, path, allow string
	}{
		{"PUT", "/v1/backup-credentials", "GET, POST"},
		{"DELETE", "/v1/organizations", "GET"},
		{"GET", "/v1/backup-credentials/bc_x/lock", "POST"},
		{"POST", "/v1/backup-credentials/bc_x/projects/p-1", "DELETE, PUT"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := e.do(partner, tt.method, tt.path, nil)
			if r.status != 405 || r.code() != "method_not_allowed" || r.header.Get("Allow") != tt.allow {
				t.Errorf("status %d, code %q, Allow %q; want 405 method_not_allowed, Allow %q", r.status, r.code(), r.header.Get("Allow"), tt.allow)
			}
		})
	}
	if r := e.do(partner, "GET", "/v1/nothing-here", nil); r.status != 404 || r.header.Get("Allow") != "" {
		t.Errorf("unknown path: status %d, Allow %q; want 404 without Allow", r.status, r.header.Get("Allow"))
	}
}

// TestUnauthorizedSaysWhy: a refused token is answered 401 with a
// WWW-Authenticate challenge and a detail that say why, whatever the
// authenticator (the JWT reasons are tested with localauth, in
// infra/local-api); the scheme's case does not matter.
func TestUnauthorizedSaysWhy(t *testing.T) {
	e := newEnv(t, "local")
	valid := partner.token()
	tests := []struct {
		name, header, challenge string
		status                  int
	}{
		{"no header", "", "Bearer", 401},
		{"not a token", "Bearer not.a.token", "not valid", 401},
		{"no subject", "Bearer " + testkit.Token(backup.Caller{Role: "partner"}), "not valid", 401},
		{"other scheme", "Basic dXNlcjpwYXNz", "header is malformed", 401},
		{"lower-case scheme", "bearer " + valid, "", 200},
		{"upper-case scheme", "BEARER " + valid, "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h []string
			if tt.header != "" {
				h = []string{"Authorization", tt.header}
			}
			r := e.do(caller{}, "GET", "/v1/organizations", nil, h...)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.status != 401 {
				return
			}
			got := r.header.Get("WWW-Authenticate")
			switch {
			case tt.header == "" && got != "Bearer":
				t.Errorf("WWW-Authenticate %q, want Bearer", got)
			case tt.header != "" && (!strings.HasPrefix(got, `Bearer error="invalid_token", error_description="`) || !strings.Contains(got, tt.challenge)):
				t.Errorf("WWW-Authenticate %q, want invalid_token naming %q", got, tt.challenge)
			case !strings.Contains(r.json(t)["detail"].(string), strings.TrimPrefix(tt.challenge, "Bearer")):
				t.Errorf("detail %q does not say %q", r.json(t)["detail"], tt.challenge)
			}
		})
	}
}

// fields returns the field names of a problem's errors[].
func fields(t *testing.T, r response) []string {
	t.Helper()
	var p struct{ Errors []struct{ Field string } }
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range p.Errors {
		out = append(out, f.Field)
	}
	slices.Sort(out)
	return out
}

func TestErrorsNameWhatToFix(t *testing.T) {
	e := newEnv(t, "local")
	id := e.create("org-1", "fix-me")

	t.Run("every invalid field", func(t *testing.T) {
		r := e.must(400, partner, "POST", "/v1/backup-credentials", map[string]any{
			"organizationId": "org-1", "s3Name": "ab", "s3AccessKeyId": "", "s3SecretKey": newSecret(),
			"s3Endpoint": "ftp://s3.example.com", "s3Region": "eu central"})
		if got, want := fields(t, r), []string{"s3AccessKeyId", "s3Endpoint", "s3Name", "s3Region"}; !slices.Equal(got, want) {
			t.Errorf("errors[] fields %q, want %q", got, want)
		}
	})
	t.Run("query parameter", func(t *testing.T) {
		for _, p := range []string{"/v1/backup-credentials?limit=0", "/v1/backup-credentials/" + id + "/history?limit=abc"} {
			r := e.must(400, partner, "GET", p, nil)
			if d := r.json(t)["detail"].(string); !strings.Contains(d, "query parameter limit") || strings.Contains(d, "body") {
				t.Errorf("%s: detail %q does not name the query parameter", p, d)
			}
			if got := fields(t, r); !slices.Equal(got, []string{"limit"}) {
				t.Errorf("%s: fields %q, want [limit]", p, got)
			}
		}
	})
	t.Run("role", func(t *testing.T) {
		r := e.must(403, reader, "POST", "/v1/backup-credentials/"+id+"/lock", nil)
		if d := r.json(t)["detail"].(string); !strings.Contains(d, `"user"`) || !strings.Contains(d, "partner and manager") {
			t.Errorf("detail %q does not name the role seen and the roles that may write", d)
		}
	})
	t.Run("If-Match", func(t *testing.T) {
		for _, h := range []string{`1`, `"one"`, `W/1`, `"0"`} {
			r := e.do(partner, "PATCH", "/v1/backup-credentials/"+id, map[string]any{"s3Name": "fix-me-2"}, "If-Match", h)
			if r.status != 412 || r.code() != "precondition_failed" {
				t.Errorf("If-Match %s: status %d, want 412", h, r.status)
			}
		}
		e.must(200, partner, "PATCH", "/v1/backup-credentials/"+id, map[string]any{"s3Name": "fix-me-2"}, "If-Match", `"1"`)
		e.must(200, partner, "PATCH", "/v1/backup-credentials/"+id, map[string]any{"s3Name": "fix-me-3"}, "If-Match", `W/"2"`)
		e.must(200, partner, "PATCH", "/v1/backup-credentials/"+id, map[string]any{"s3Name": "fix-me-4"}, "If-Match", `*`)
	})
}

// TestRequestIDsAndLogs: every answer has its own X-Request-Id, and each
// request is logged once with it, never with its body or headers.
func TestRequestIDsAndLogs(t *testing.T) {
	e := newEnv(t, "local")
	body := createBody("org-1", "logged")
	answers := []response{
		e.must(201, partner, "POST", "/v1/backup-credentials", body),
		e.must(404, partner, "GET", "/v1/backup-credentials/bc_00000000000000000000000000", nil),
		e.must(401, caller{}, "GET", "/v1/organizations", nil),
		e.must(405, partner, "PATCH", "/v1/organizations", nil),
	}
	seen := map[string]bool{}
	for i, r := range answers {
		id := r.header.Get("X-Request-Id")
		if id == "" || seen[id] {
			t.Fatalf("answer %d: X-Request-Id %q is missing or repeated", i, id)
		}
		seen[id] = true
		var line map[string]any
		n := 0
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, `"requestId":"`+id+`"`) && strings.Contains(l, `"msg":"request"`) {
				n++
				_ = json.Unmarshal([]byte(l), &line)
			}
		}
		if n != 1 {
			t.Fatalf("answer %d: %d request lines with its ID, want 1", i, n)
		}
		if line["status"] != float64(r.status) || line["method"] == nil || line["path"] == nil || line["durationMs"] == nil {
			t.Errorf("answer %d: log line %v lacks status %d, method, path or duration", i, line, r.status)
		}
		raw, _ := json.Marshal(line)
		if strings.Contains(string(raw), body["s3SecretKey"].(string)) || strings.Contains(string(raw), "Bearer") {
			t.Errorf("log line carries a secret or a token: %s", raw)
		}
	}
}

// TestStrictJSON: members named twice or in another case than the
// contract's are refused, each named, where encoding/json would take them.
func TestStrictJSON(t *testing.T) {
	e := newEnv(t, "local")
	id := e.create("org-1", "strict")
	secret := newSecret()
	tests := []struct {
		name, method, path, body string
		want                     []string
	}{
		{"twice", "POST", "/v1/backup-credentials", `{"organizationId":"org-1","s3Name":"strict-2","s3Name":"other","s3AccessKeyId":"AKIA1",
			"s3SecretKey":"` + secret + `","s3Endpoint":"https://s3.amazonaws.com","s3Region":"us-east-1"}`, []string{"s3Name"}},
		{"another case", "POST", "/v1/backup-credentials", `{"organizationid":"org-1","s3Name":"strict-2","s3AccessKeyId":"AKIA1",
			"s3SecretKey":"` + secret + `","s3Endpoint":"https://s3.amazonaws.com","S3Region":"us-east-1"}`, []string{"S3Region", "organizationid"}},
		{"patch, twice", "PATCH", "/v1/backup-credentials/" + id, `{"s3Name":"strict-3","s3Name":"strict-4"}`, []string{"s3Name"}},
		{"project, another case", "PUT", "/v1/backup-credentials/" + id + "/projects/p-1", `{"Name":"shop"}`, []string{"Name"}},
		// null where a string is expected: only s3CaCertificate takes it.
		{"patch, a null name", "PATCH", "/v1/backup-credentials/" + id, `{"s3Name":null}`, []string{"s3Name"}},
		{"patch, every string null", "PATCH", "/v1/backup-credentials/" + id, `{"id":null,"organizationId":null,"authType":null,"s3RoleArn":null,
			"s3AccessKeyId":null,"s3SecretKey":null,"s3Endpoint":null,"s3Region":null,"s3CaCertificate":null}`,
			[]string{"authType", "id", "organizationId", "s3AccessKeyId", "s3Endpoint", "s3Region", "s3RoleArn", "s3SecretKey"}},
		{"create, null strings", "POST", "/v1/backup-credentials", `{"organizationId":"org-1","s3Name":null,"s3AccessKeyId":"AKIA1",
			"s3SecretKey":"` + secret + `","s3Endpoint":"https://s3.amazonaws.com","s3Region":null,"authType":null,"s3CaCertificate":null}`,
			[]string{"authType", "s3Name", "s3Region"}},
		{"validate, null keys", "POST", "/v1/backup-credentials/validate", `{"s3AccessKeyId":null,"s3SecretKey":null,
			"s3Endpoint":"https://s3.amazonaws.com","s3Region":"us-east-1","organizationId":null,"s3RoleArn":null}`,
			[]string{"organizationId", "s3AccessKeyId", "s3RoleArn", "s3SecretKey"}},
		{"project, a null name", "PUT", "/v1/backup-credentials/" + id + "/projects/p-1", `{"name":null}`, []string{"name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.must(400, partner, tt.method, tt.path, tt.body)
			if got := fields(t, r); !slices.Equal(got, tt.want) {
				t.Errorf("fields %q, want %q: %s", got, tt.want, r.body)
			}
		})
	}
	if r := e.must(200, partner, "GET", "/v1/backup-credentials/"+id, nil).json(t); r["s3Name"] != "strict" || r["version"] != float64(1) {
		t.Errorf("a refused body changed the credential: %v", r)
	}
	// s3CaCertificate: null means "no CA", and changes nothing here.
	if r := e.must(200, partner, "PATCH", "/v1/backup-credentials/"+id, `{"s3CaCertificate":null}`).json(t); r["version"] != float64(1) {
		t.Errorf("removing a CA the credential does not have changed it: %v", r)
	}
}
