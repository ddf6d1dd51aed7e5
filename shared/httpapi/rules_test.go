package httpapi_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/secrets"
)

func TestCreateRefusals(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		with := func(k string, v any) map[string]any {
			b := createBody("org-1", "valid-name")
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
			return b
		}
		tests := []struct {
			name   string
			body   map[string]any
			status int
			code   string
			field  string
		}{
			{"name of 2", with("s3Name", "ab"), 400, "validation_failed", "s3Name"},
			{"name of 31", with("s3Name", strings.Repeat("x", 31)), 400, "validation_failed", "s3Name"},
			{"name of 2 after trim", with("s3Name", "  ab  "), 400, "validation_failed", "s3Name"},
			{"no secret", with("s3SecretKey", nil), 400, "validation_failed", "s3SecretKey"},
			{"no access key", with("s3AccessKeyId", ""), 400, "validation_failed", "s3AccessKeyId"},
			{"relative endpoint", with("s3Endpoint", "s3.amazonaws.com"), 400, "validation_failed", "s3Endpoint"},
			{"endpoint with query", with("s3Endpoint", "https://s3.example.com/?x=1"), 400, "validation_failed", "s3Endpoint"},
			{"endpoint with user", with("s3Endpoint", "https://a:b@s3.example.com"), 400, "validation_failed", "s3Endpoint"},
			{"ftp endpoint", with("s3Endpoint", "ftp://s3.example.com"), 400, "validation_failed", "s3Endpoint"},
			{"bad region", with("s3Region", "eu central"), 400, "validation_failed", "s3Region"},
			{"bad CA", with("s3CaCertificate", "not a pem"), 400, "validation_failed", "s3CaCertificate"},
			{"foreign organization", with("organizationId", "org-9"), 403, "forbidden", ""},
			{"wrong secret", with("s3SecretKey", "wrong-secret"), 422, "invalid_credentials", ""},
			{"unreachable", with("s3Endpoint", "https://down.example.com"), 502, "endpoint_unreachable", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := e.do(partner, "POST", "/v1/backup-credentials", tt.body)
				if r.status != tt.status || r.code() != tt.code {
					t.Fatalf("got %d %s, want %d %s: %s", r.status, r.code(), tt.status, tt.code, r.body)
				}
				if r.header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("Content-Type = %q", r.header.Get("Content-Type"))
				}
				if tt.field != "" && !strings.Contains(string(r.body), `"field":"`+tt.field+`"`) {
					t.Errorf("errors do not name %s: %s", tt.field, r.body)
				}
				if tt.code == "invalid_credentials" && r.json(t)["title"] != "Invalid S3 credentials" {
					t.Errorf("title = %v", r.json(t)["title"])
				}
			})
		}
		if n := len(e.must(200, partner, "GET", "/v1/backup-credentials", nil).json(t)["data"].([]any)); n != 0 {
			t.Errorf("refused creates stored %d credentials", n)
		}
	})
}

func TestNameUniquePerOrganization(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		id := e.create("org-1", "Prod Backups")
		r := e.do(partner, "POST", "/v1/backup-credentials", createBody("org-1", "prod backups"))
		if r.status != 409 || r.code() != "name_taken" {
			t.Fatalf("same name other case: %d %s", r.status, r.body)
		}
		e.create("org-2", "PROD BACKUPS")
		other := e.create("org-1", "staging")
		r = e.do(partner, "PATCH", "/v1/backup-credentials/"+other, map[string]any{"s3Name": "PROD backups"})
		if r.status != 409 || r.code() != "name_taken" {
			t.Fatalf("rename onto taken name: %d %s", r.status, r.body)
		}
		// Renaming frees the old name.
		e.must(200, partner, "PATCH", "/v1/backup-credentials/"+id, map[string]any{"s3Name": "renamed"})
		e.must(200, partner, "PATCH", "/v1/backup-credentials/"+other, map[string]any{"s3Name": "prod backups"})
		// Deleting frees the name too.
		e.must(204, partner, "DELETE", "/v1/backup-credentials/"+id, nil)
		e.create("org-1", "renamed")
	})
}

// TestLookAlikeNames: names that look alike are one name (NFKC and case
// folding), names are stored trimmed and in NFC, and invisible characters
// are refused.
func TestLookAlikeNames(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		id := e.create("org-1", " cafe\u0301 ") // NFD, padded
		got := e.must(200, partner, "GET", "/v1/backup-credentials/"+id, nil).json(t)["s3Name"]
		if got != "café" {
			t.Errorf("stored name %q, want trimmed NFC \"café\"", got)
		}
		e.create("org-1", "Straße")
		e.create("org-1", "prod\u00a0backups")
		for _, name := range []string{"café", "CAFÉ", "STRASSE", "strasse", "prod backups", "ＰＲＯＤ backups"} {
			if r := e.do(partner, "POST", "/v1/backup-credentials", createBody("org-1", name)); r.status != 409 || r.code() != "name_taken" {
				t.Errorf("%q: %d %s, want 409 name_taken", name, r.status, r.body)
			}
		}
		for _, name := range []string{"prod\u200bbackups", "prod\u202ebackups", "prod\u2028backups"} {
			if r := e.do(partner, "POST", "/v1/backup-credentials", createBody("org-1", name)); r.status != 400 {
				t.Errorf("%q: %d %s, want 400", name, r.status, r.body)
			}
		}
	})
}

func TestListOrderSearchAndPaging(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		names := map[string][]string{
			"org-2": {"zulu", "Alpha", "mike"},
			"org-1": {"Delta", "bravo", "charlie", "echo", "Foxtrot"},
		}
		ids := map[string]string{}
		for org, ns := range names {
			for _, n := range ns {
				ids[n] = e.create(org, n)
			}
		}
		want := []string{"bravo", "charlie", "Delta", "echo", "Foxtrot", "Alpha", "mike", "zulu"}
		e.calls.Take()
		e.must(200, partner, "GET", "/v1/backup-credentials", nil)
		if got := e.calls.Take(); len(got) != 1 || got["DynamoDB.Query"] != 2+len(want) {
			t.Errorf("a page over two organizations made %v, want one query each, one per credential for its projects and nothing else", got)
		}
		for _, limit := range []int{1, 2, 3, 100} {
			if got := walkList(t, e, "", limit); !slices.Equal(got, want) {
				t.Errorf("limit %d: walked %v, want %v", limit, got, want)
			}
		}
		search := func(q string) []string {
			var out []string
			for _, c := range e.must(200, partner, "GET", "/v1/backup-credentials?search="+q, nil).json(t)["data"].([]any) {
				out = append(out, c.(map[string]any)["s3Name"].(string))
			}
			return out
		}
		for _, tt := range []struct {
			q    string
			want []string
		}{
			{"ALPH", []string{"Alpha"}},
			{"akiafox", []string{"Foxtrot"}},
			{"eu-central", want},
			{strings.ToLower(ids["mike"][5:]), []string{"mike"}},
			{"nothing-matches", nil},
		} {
			if got := search(tt.q); !slices.Equal(got, tt.want) {
				t.Errorf("search %q = %v, want %v", tt.q, got, tt.want)
			}
		}
		r := e.must(200, partner, "GET", "/v1/backup-credentials?organizationId=org-2&limit=2", nil).json(t)
		if len(r["data"].([]any)) != 2 || r["nextCursor"] == nil {
			t.Errorf("org-2 page = %v", r)
		}
		// A cursor is bound to its query and caller.
		cursor := r["nextCursor"].(string)
		if r := e.do(partner, "GET", "/v1/backup-credentials?organizationId=org-1&cursor="+cursor, nil); r.status != 400 {
			t.Errorf("cursor of another query: %d", r.status)
		}
		if r := e.do(manager, "GET", "/v1/backup-credentials?organizationId=org-2&cursor="+cursor, nil); r.status != 403 {
			t.Errorf("cursor in another caller's hands: %d", r.status)
		}
	})
}

func TestUpdate(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		id := e.create("org-1", "prod")
		path := "/v1/backup-credentials/" + id
		checks := e.checker.calls.Load()
		r := e.must(200, partner, "PATCH", path, map[string]any{"s3Name": "  production ", "id": id, "organizationId": "org-1"}).json(t)
		if r["s3Name"] != "production" || r["version"] != 2.0 || r["lastModifiedBy"] != "Name of u-partner" {
			t.Errorf("renamed = %v", r)
		}
		if e.checker.calls.Load() != checks {
			t.Error("a rename alone asked the provider")
		}
		tests := []struct {
			name   string
			body   any
			header []string
			status int
			code   string
		}{
			{"change id", map[string]any{"id": "bc_01JD8X0000000000000000000X"}, nil, 400, "validation_failed"},
			{"change organization", map[string]any{"organizationId": "org-2"}, nil, 400, "validation_failed"},
			{"access key without secret", map[string]any{"s3AccessKeyId": "AKIANEW"}, nil, 400, "validation_failed"},
			{"stale If-Match", map[string]any{"s3Name": "other"}, []string{"If-Match", `"1"`}, 412, "precondition_failed"},
			{"garbage If-Match", map[string]any{"s3Name": "other"}, []string{"If-Match", `"abc"`}, 412, "precondition_failed"},
			{"new keys refused", map[string]any{"s3AccessKeyId": "AKIANEW", "s3SecretKey": "wrong-x"}, nil, 422, "invalid_credentials"},
			{"endpoint down", map[string]any{"s3Endpoint": "https://down.example.com", "s3SecretKey": newSecret()}, nil, 502, "endpoint_unreachable"},
			{"endpoint without the secret", map[string]any{"s3Endpoint": "https://s3.us-east-1.amazonaws.com"}, nil, 400, "validation_failed"},
			{"region without the secret", map[string]any{"s3Region": "us-east-1"}, nil, 400, "validation_failed"},
			{"CA without the secret", map[string]any{"s3CaCertificate": testCA}, nil, 400, "validation_failed"},
			{"null name", `{"s3Name": null}`, nil, 400, "validation_failed"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := e.do(partner, "PATCH", path, tt.body, tt.header...)
				if r.status != tt.status || r.code() != tt.code {
					t.Fatalf("got %d %s, want %d %s", r.status, r.body, tt.status, tt.code)
				}
			})
		}
		r = e.must(200, partner, "PATCH", path, map[string]any{"s3AccessKeyId": "AKIANEW", "s3SecretKey": newSecret(),
			"s3CaCertificate": testCA}, "If-Match", `"2"`).json(t)
		if r["s3AccessKeyId"] != "AKIANEW" || r["version"] != 3.0 || r["s3CaCertificate"] != testCA {
			t.Errorf("new keys = %v", r)
		}
		r = e.must(200, partner, "PATCH", path, map[string]any{"s3CaCertificate": nil, "s3SecretKey": newSecret()}).json(t)
		if r["s3CaCertificate"] != nil || r["version"] != 4.0 {
			t.Errorf("CA removed = %v", r)
		}
		// The endpoint changes with the secret key sent again, checked
		// again; the stored secret is never read to do it.
		before, reads := e.checker.calls.Load(), e.calls.Take()["Secrets Manager.GetSecretValue"]
		e.must(200, partner, "PATCH", path, map[string]any{"s3Endpoint": "https://s3.us-east-1.amazonaws.com", "s3Region": "us-east-1", "s3SecretKey": newSecret()})
		if e.checker.calls.Load() != before+1 {
			t.Error("an endpoint change did not ask the provider")
		}
		if n := e.calls.Take()["Secrets Manager.GetSecretValue"]; n != 0 || reads != 0 {
			t.Errorf("PATCH read the stored secret %d times", n+reads)
		}
		h := e.must(200, partner, "GET", path+"/history", nil).json(t)["data"].([]any)
		if first := h[0].(map[string]any); first["action"] != "updated" || !slices.Equal(toStrings(first["fields"]), []string{"s3Endpoint", "s3Region", "s3SecretKey"}) {
			t.Errorf("newest history entry = %v", first)
		}
		if second := h[2].(map[string]any); !slices.Contains(toStrings(second["fields"]), "s3SecretKey") {
			t.Errorf("key change entry = %v", second)
		}
	})
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestLockRules(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		id := e.create("org-1", "prod")
		path := "/v1/backup-credentials/" + id
		e.must(409, partner, "POST", path+"/unlock", nil)
		e.must(200, partner, "POST", path+"/lock", nil)
		tests := []struct {
			method, path string
			body         any
			code         string
		}{
			{"POST", path + "/lock", nil, "already_locked"},
			{"PATCH", path, map[string]any{"s3Name": "renamed"}, "locked"},
			{"DELETE", path, nil, "locked"},
			{"POST", path + "/make-default", nil, "locked"},
			{"PUT", path + "/projects/p-1", map[string]any{"name": "shop"}, "locked"},
		}
		for _, tt := range tests {
			if r := e.do(partner, tt.method, tt.path, tt.body); r.status != 409 || r.code() != tt.code {
				t.Errorf("%s %s on locked: %d %s, want 409 %s", tt.method, tt.path, r.status, r.body, tt.code)
			}
		}
		r := e.must(200, partner, "POST", path+"/unlock", nil).json(t)
		if r["isLocked"] != false || r["version"] != 3.0 {
			t.Errorf("unlocked = %v", r)
		}
		if r := e.do(partner, "POST", path+"/unlock", nil); r.code() != "already_unlocked" {
			t.Errorf("unlock twice: %s", r.body)
		}
	})
}

func TestDefaultMoves(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		a, b := e.create("org-1", "first"), e.create("org-1", "second")
		e.must(200, partner, "POST", "/v1/backup-credentials/"+a+"/make-default", nil)
		again := e.must(200, partner, "POST", "/v1/backup-credentials/"+a+"/make-default", nil).json(t)
		if again["version"] != 2.0 {
			t.Errorf("making the default default again changed it: %v", again)
		}
		e.must(200, partner, "POST", "/v1/backup-credentials/"+b+"/make-default", nil)
		if got := e.must(200, partner, "GET", "/v1/backup-credentials/"+a, nil).json(t); got["isDefault"] != false {
			t.Errorf("previous default = %v", got)
		}
		if got := e.must(200, partner, "GET", "/v1/backup-credentials/"+b, nil).json(t); got["isDefault"] != true {
			t.Errorf("new default = %v", got)
		}
		orgs := e.must(200, partner, "GET", "/v1/organizations", nil).json(t)["data"].([]any)
		if o := orgs[0].(map[string]any); o["defaultCredentialId"] != b || o["credentialCount"] != 2.0 {
			t.Errorf("organization = %v", o)
		}
		if o := orgs[1].(map[string]any); o["id"] != "org-2" || o["defaultCredentialId"] != nil {
			t.Errorf("organization without credentials = %v", o)
		}
	})
}

func TestProjects(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		a, b := e.create("org-1", "first"), e.create("org-1", "second")
		c := e.create("org-2", "elsewhere")
		e.must(200, partner, "PUT", "/v1/backup-credentials/"+a+"/projects/p-1", map[string]any{"name": "shop"})
		same := e.must(200, partner, "PUT", "/v1/backup-credentials/"+a+"/projects/p-1", map[string]any{"name": "shop"}).json(t)
		if same["version"] != 2.0 {
			t.Errorf("repeating an association changed the credential: %v", same)
		}
		// A project is its organization's: org-2's p-1 is another project,
		// and associating it leaves org-1's where it is.
		e.must(200, partner, "PUT", "/v1/backup-credentials/"+c+"/projects/p-1", map[string]any{"name": "other shop"})
		if ps := e.must(200, partner, "GET", "/v1/backup-credentials/"+a, nil).json(t)["projects"].([]any); len(ps) != 1 {
			t.Errorf("org-2's p-1 took org-1's: %v", ps)
		}
		moved := e.must(200, partner, "PUT", "/v1/backup-credentials/"+b+"/projects/p-1", map[string]any{"name": "shop"}).json(t)
		if ps := moved["projects"].([]any); len(ps) != 1 {
			t.Errorf("moved to = %v", moved)
		}
		if got := e.must(200, partner, "GET", "/v1/backup-credentials/"+a, nil).json(t); len(got["projects"].([]any)) != 0 || got["version"] != 3.0 {
			t.Errorf("moved from = %v, want no projects at version 3", got)
		}
		if got := e.must(200, partner, "GET", "/v1/backup-credentials/"+c, nil).json(t); len(got["projects"].([]any)) != 1 || got["version"] != 2.0 {
			t.Errorf("a move in org-1 changed org-2's credential: %v", got)
		}
		e.must(204, partner, "DELETE", "/v1/backup-credentials/"+c+"/projects/p-1", nil)
		e.must(204, partner, "DELETE", "/v1/backup-credentials/"+a, nil)
		e.must(404, partner, "DELETE", "/v1/backup-credentials/"+b+"/projects/p-2", nil)
		for _, bad := range []struct{ path, body string }{
			{"/projects/" + strings.Repeat("p", 200), `{"name":"x"}`},
			{"/projects/p-3", `{"name":""}`},
			{"/projects/p-3", `{}`},
		} {
			if r := e.do(partner, "PUT", "/v1/backup-credentials/"+b+bad.path, bad.body); r.status != 400 {
				t.Errorf("PUT %s %s: %d %s", bad.path, bad.body, r.status, r.body)
			}
		}
		h := e.must(200, partner, "GET", "/v1/backup-credentials/"+b+"/history", nil).json(t)["data"].([]any)
		if h[0].(map[string]any)["action"] != "project-associated" || h[1].(map[string]any)["action"] != "created" {
			t.Errorf("history = %v", h)
		}
		e.must(204, partner, "DELETE", "/v1/backup-credentials/"+b+"/projects/p-1", nil)
		e.must(200, partner, "PUT", "/v1/backup-credentials/"+c+"/projects/p-1", map[string]any{"name": "shop"})
		e.must(200, partner, "PUT", "/v1/backup-credentials/"+b+"/projects/p-9", map[string]any{"name": "shop"})
		// A project ID with dots is one name, not a path into the item.
		dotted := e.must(200, partner, "PUT", "/v1/backup-credentials/"+b+"/projects/team.shop:1", map[string]any{"name": "dotted"}).json(t)
		if ps := dotted["projects"].([]any); len(ps) != 2 || ps[1].(map[string]any)["id"] != "team.shop:1" {
			t.Errorf("projects = %v", ps)
		}
		e.must(204, partner, "DELETE", "/v1/backup-credentials/"+b+"/projects/team.shop:1", nil)
		if ps := e.must(200, partner, "GET", "/v1/backup-credentials/"+b, nil).json(t)["projects"].([]any); len(ps) != 1 {
			t.Errorf("after dissociating the dotted project: %v", ps)
		}
	})
}

func TestHistoryPages(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		id := e.create("org-1", "prod")
		path := "/v1/backup-credentials/" + id
		for i := 0; i < 3; i++ {
			e.must(200, partner, "POST", path+"/lock", nil)
			e.must(200, partner, "POST", path+"/unlock", nil)
		}
		e.must(200, partner, "POST", path+"/make-default", nil)
		var actions []string
		cursor := ""
		for i := 0; i < 10; i++ {
			q := path + "/history?limit=3"
			if cursor != "" {
				q += "&cursor=" + cursor
			}
			r := e.must(200, reader, "GET", q, nil).json(t)
			for _, h := range r["data"].([]any) {
				m := h.(map[string]any)
				actions = append(actions, m["action"].(string))
				if m["by"] != "Name of u-partner" || m["at"] == nil {
					t.Errorf("entry = %v", m)
				}
			}
			if r["nextCursor"] == nil {
				break
			}
			cursor = r["nextCursor"].(string)
		}
		want := []string{"made-default", "unlocked", "locked", "unlocked", "locked", "unlocked", "locked", "created"}
		if !slices.Equal(actions, want) {
			t.Errorf("history = %v, want %v", actions, want)
		}
	})
}

func TestCheckAndValidate(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		b := createBody("org-1", "prod")
		r := e.must(200, partner, "POST", "/v1/backup-credentials/validate", map[string]any{
			"s3AccessKeyId": b["s3AccessKeyId"], "s3SecretKey": b["s3SecretKey"], "s3Endpoint": b["s3Endpoint"], "s3Region": b["s3Region"]}).json(t)
		if r["valid"] != true || r["message"] == "" {
			t.Errorf("validate = %v", r)
		}
		if r := e.do(partner, "POST", "/v1/backup-credentials/validate", map[string]any{
			"s3AccessKeyId": "AKIAX", "s3SecretKey": "wrong-1", "s3Endpoint": b["s3Endpoint"], "s3Region": b["s3Region"]}); r.status != 422 || r.code() != "invalid_credentials" {
			t.Errorf("validate wrong: %d %s", r.status, r.body)
		}
		id := e.create("org-1", "prod")
		// The stored key goes bad (here: the endpoint moves away), and check records it.
		e.must(200, partner, "POST", "/v1/backup-credentials/"+id+"/check", nil)
		if err := e.secrets.DeleteSecret(t.Context(), id); err != nil {
			t.Fatal(err)
		}
		got := e.must(200, partner, "POST", "/v1/backup-credentials/"+id+"/check", nil).json(t)
		if h := got["health"].(map[string]any); h["status"] != "invalid" || !strings.Contains(h["message"].(string), "missing") {
			t.Errorf("health after the secret vanished = %v", h)
		}
		if got["version"] != 1.0 {
			t.Errorf("a check changed the version: %v", got["version"])
		}
	})
}

// testCA is a self-signed CA certificate for s3CaCertificate.
const testCA = `-----BEGIN CERTIFICATE-----
MIIBhjCCAS2gAwIBAgIUaEjjoSGpd2m5+6lrx2U68EEHk+0wCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwOQmFja3VwIFRlc3QgQ0EwHhcNMjYxMTI1MjAxNTExWhcNMzYx
MTIyMjAxNTExWjAZMRcwFQYDVQQDDA5CYWNrdXAgVGVzdCBDQTBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABHp1lvkF+Vb8t58uedF6UUjbGYBzGvFlfZen5JQqYeM8
+cEzhm9/r8oVMMe1n1ey/8At1GB0G/5bB1Gf0rlmbCKjUzBRMB0GA1UdDgQWBBRI
+FrfFTqeVZJsNeuF9uXPcsTm/jAfBgNVHSMEGDAWgBRI+FrfFTqeVZJsNeuF9uXP
csTm/jAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cAMEQCIBCDH64rYOrE
eGGElFyCkF16pcPUvaD9LbBjhrIF7azoAiBVC4vcWEfiIsK+0Wzr/OSTLax/SFsB
PY+ISDi+DrUW1w==
-----END CERTIFICATE-----`

// TestDeleteSchedulesSecret: DELETE schedules the secret's deletion with a
// recovery window (moto keeps what AWS keeps), so a mistaken delete can be
// undone, and the secret no longer reads.
func TestDeleteSchedulesSecret(t *testing.T) {
	e := newEnv(t, "moto")
	id := e.create("org-1", "short-lived")
	e.must(204, partner, "DELETE", "/v1/backup-credentials/"+id, nil)
	st := e.secrets.(*secrets.Store)
	out, err := secretsmanager.NewFromConfig(moto.Config()).DescribeSecret(context.Background(),
		&secretsmanager.DescribeSecretInput{SecretId: aws.String(st.Name(id))})
	if err != nil || out.DeletedDate == nil {
		t.Fatalf("secret after DELETE: %+v %v, want scheduled for deletion", out, err)
	}
	if _, err := st.GetSecret(context.Background(), id, ""); backup.ErrorCode(err) != backup.ENotFound {
		t.Errorf("a secret scheduled for deletion reads: %v", err)
	}
}

// TestLastHealthyAt: health.lastHealthyAt is when the current keys were
// last seen working: set by create and by every healthy check, kept by a
// check that finds them refused, moved by a key change.
func TestLastHealthyAt(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
		e.clock.Set(start)
		id := e.create("org-1", "healthy-at")
		path := "/v1/backup-credentials/" + id
		health := func(r response) (status, checked, healthy any) {
			h := r.json(t)["health"].(map[string]any)
			return h["status"], h["checkedAt"], h["lastHealthyAt"]
		}
		if s, c, h := health(e.must(200, partner, "GET", path, nil)); s != "healthy" || h != c || h != "2026-12-01T10:00:00Z" {
			t.Errorf("after create: %v %v %v", s, c, h)
		}
		e.clock.Set(start.Add(time.Hour))
		e.checker.refuse.Store(true)
		if s, c, h := health(e.must(200, partner, "POST", path+"/check", nil)); s != "invalid" || c != "2026-12-01T11:00:00Z" || h != "2026-12-01T10:00:00Z" {
			t.Errorf("a refused check: %v %v %v, want invalid, checked at 11:00, last healthy at 10:00", s, c, h)
		}
		e.checker.refuse.Store(false)
		e.clock.Set(start.Add(2 * time.Hour))
		if s, _, h := health(e.must(200, partner, "POST", path+"/check", nil)); s != "healthy" || h != "2026-12-01T12:00:00Z" {
			t.Errorf("a healthy check again: %v %v", s, h)
		}
		e.clock.Set(start.Add(3 * time.Hour))
		key, secret := "AKIANEWKEYS", newSecret()
		if s, _, h := health(e.must(200, partner, "PATCH", path, map[string]any{"s3AccessKeyId": key, "s3SecretKey": secret})); s != "healthy" || h != "2026-12-01T13:00:00Z" {
			t.Errorf("after a key change: %v %v", s, h)
		}
	})
}
