package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/testkit"
)

// routeCalls is one request per route of the contract, on credential id.
func routeCalls(id string) []struct {
	method, path string
	body         any
	change       bool
} {
	return []struct {
		method, path string
		body         any
		change       bool
	}{
		{"GET", "/v1/backup-credentials/" + id, nil, false},
		{"GET", "/v1/backup-credentials/" + id + "/history", nil, false},
		{"PATCH", "/v1/backup-credentials/" + id, map[string]any{"s3Name": "taken-over"}, true},
		{"DELETE", "/v1/backup-credentials/" + id, nil, true},
		{"POST", "/v1/backup-credentials/" + id + "/lock", nil, true},
		{"POST", "/v1/backup-credentials/" + id + "/unlock", nil, true},
		{"POST", "/v1/backup-credentials/" + id + "/make-default", nil, true},
		{"POST", "/v1/backup-credentials/" + id + "/check", nil, true},
		{"PUT", "/v1/backup-credentials/" + id + "/projects/p-1", map[string]any{"name": "shop"}, true},
		{"DELETE", "/v1/backup-credentials/" + id + "/projects/p-1", nil, true},
	}
}

// TestTenancy holds every route to the contract's answers for callers who
// may not see or change a credential, and checks nothing changed.
func TestTenancy(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		id := e.create("org-1", "prod")
		before := e.must(200, partner, "GET", "/v1/backup-credentials/"+id, nil).body
		// Tokens the authenticator refuses: every route asks it (forged,
		// expired and alg-none JWTs are localauth's tests).
		noSubject := testkit.Token(backup.Caller{Role: "partner", Organizations: []string{"org-1"}})
		unprefixed := strings.TrimPrefix(partner.token(), "test.")
		for _, rc := range routeCalls(id) {
			name := rc.method + " " + strings.Replace(rc.path, id, "{id}", 1)
			t.Run(name, func(t *testing.T) {
				if r := e.do(other, rc.method, rc.path, rc.body); r.status != 404 || r.code() != "not_found" {
					t.Errorf("other organization: %d %s, want 404", r.status, r.body)
				}
				// Visibility before role: a reader of another organization
				// learns as little as a partner of it.
				if r := e.do(otherReader, rc.method, rc.path, rc.body); r.status != 404 || r.code() != "not_found" {
					t.Errorf("user role of another organization: %d %s, want 404", r.status, r.body)
				}
				if rc.change {
					if r := e.do(reader, rc.method, rc.path, rc.body); r.status != 403 || r.code() != "forbidden" {
						t.Errorf("user role: %d %s, want 403", r.status, r.body)
					}
				} else if r := e.do(reader, rc.method, rc.path, rc.body); r.status != 200 {
					t.Errorf("user role reading: %d %s, want 200", r.status, r.body)
				}
				if r := e.do(caller{}, rc.method, rc.path, rc.body); r.status != 401 || r.code() != "unauthorized" {
					t.Errorf("no token: %d %s, want 401", r.status, r.body)
				}
				for _, tok := range []string{noSubject, unprefixed, "garbage"} {
					if r := e.do(caller{}, rc.method, rc.path, rc.body, "Authorization", "Bearer "+tok); r.status != 401 {
						t.Errorf("bad token: %d %s, want 401", r.status, r.body)
					}
				}
			})
		}
		for _, rc := range []struct {
			method, path string
			body         any
			status       int
		}{
			{"POST", "/v1/backup-credentials", createBody("org-1", "mine now"), 403},
			{"GET", "/v1/backup-credentials?organizationId=org-1", nil, 403},
			{"POST", "/v1/backup-credentials/validate", map[string]any{"s3AccessKeyId": "AKIAX", "s3SecretKey": "x", "s3Endpoint": "https://s3.amazonaws.com", "s3Region": "us-east-1"}, 403},
		} {
			c := other
			if rc.method == "POST" && strings.HasSuffix(rc.path, "validate") {
				c = reader
			}
			if r := e.do(c, rc.method, rc.path, rc.body); r.status != rc.status || r.code() != "forbidden" {
				t.Errorf("%s %s: %d %s, want %d", rc.method, rc.path, r.status, r.body, rc.status)
			}
		}
		if r := e.must(200, other, "GET", "/v1/backup-credentials", nil).json(t); len(r["data"].([]any)) != 0 {
			t.Errorf("other organization lists %v", r["data"])
		}
		if r := e.must(200, other, "GET", "/v1/backup-credentials?search=prod", nil).json(t); len(r["data"].([]any)) != 0 {
			t.Errorf("other organization finds %v", r["data"])
		}
		if after := e.must(200, partner, "GET", "/v1/backup-credentials/"+id, nil).body; !bytes.Equal(before, after) {
			t.Errorf("refused calls changed the credential:\n%s\n%s", before, after)
		}
	})
}

// TestBadInput sends hostile input to every kind of route: each gets a clear
// problem and nothing changes.
func TestBadInput(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		id := e.create("org-1", "prod")
		before := e.must(200, partner, "GET", "/v1/backup-credentials/"+id, nil).body
		big := `{"s3Name":"` + strings.Repeat("x", 1<<20) + `"}`
		tests := []struct {
			name, method, path string
			body               any
			status             int
			code               string
		}{
			{"malformed JSON", "POST", "/v1/backup-credentials", `{"s3Name": `, 400, "validation_failed"},
			{"not an object", "POST", "/v1/backup-credentials", `[1,2]`, 400, "validation_failed"},
			{"wrong type", "POST", "/v1/backup-credentials", `{"s3Name": 12}`, 400, "validation_failed"},
			{"unknown field", "POST", "/v1/backup-credentials", `{"s3Name": "abc", "admin": true}`, 400, "validation_failed"},
			{"invalid UTF-8", "POST", "/v1/backup-credentials", "{\"s3Name\": \"ab\xff\xfe\"}", 400, "validation_failed"},
			{"two objects", "POST", "/v1/backup-credentials", `{}{}`, 400, "validation_failed"},
			{"empty body", "POST", "/v1/backup-credentials", ``, 400, "validation_failed"},
			{"1 MiB body", "POST", "/v1/backup-credentials", big, 413, "payload_too_large"},
			{"1 MiB patch", "PATCH", "/v1/backup-credentials/" + id, big, 413, "payload_too_large"},
			{"patch wrong type", "PATCH", "/v1/backup-credentials/" + id, `{"s3Region": ["eu"]}`, 400, "validation_failed"},
			{"patch unknown field", "PATCH", "/v1/backup-credentials/" + id, `{"isLocked": false}`, 400, "validation_failed"},
			{"search of 10,000", "GET", "/v1/backup-credentials?search=" + strings.Repeat("a", 10000), nil, 400, "validation_failed"},
			{"limit 0", "GET", "/v1/backup-credentials?limit=0", nil, 400, "validation_failed"},
			{"limit 1000", "GET", "/v1/backup-credentials?limit=1000", nil, 400, "validation_failed"},
			{"limit word", "GET", "/v1/backup-credentials?limit=ten", nil, 400, "validation_failed"},
			{"tampered cursor", "GET", "/v1/backup-credentials?cursor=" + tamperedCursor(), nil, 400, "validation_failed"},
			{"garbage cursor", "GET", "/v1/backup-credentials?cursor=!!not-base64!!", nil, 400, "validation_failed"},
			{"history limit 0", "GET", "/v1/backup-credentials/" + id + "/history?limit=0", nil, 400, "validation_failed"},
			{"id with slash", "GET", "/v1/backup-credentials/a%2Fb", nil, 404, "not_found"},
			{"id with dots", "GET", "/v1/backup-credentials/..", nil, 404, "not_found"},
			{"dot segments", "DELETE", "/v1/backup-credentials/x/../" + id, nil, 404, "not_found"},
			{"id of 1,000", "GET", "/v1/backup-credentials/" + strings.Repeat("b", 1000), nil, 404, "not_found"},
			{"id of 1,000 delete", "DELETE", "/v1/backup-credentials/" + strings.Repeat("b", 1000), nil, 404, "not_found"},
			{"unknown route", "GET", "/v1/nothing", nil, 404, "not_found"},
			{"lower-case id", "GET", "/v1/backup-credentials/" + strings.ToLower(id), nil, 404, "not_found"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := e.do(partner, tt.method, tt.path, tt.body)
				if r.status != tt.status || r.code() != tt.code {
					t.Fatalf("got %d %.300s, want %d %s", r.status, r.body, tt.status, tt.code)
				}
				if r.header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("Content-Type = %q", r.header.Get("Content-Type"))
				}
				p := r.json(t)
				if p["title"] == "" || p["detail"] == "" || p["status"] != float64(tt.status) {
					t.Errorf("problem = %v", p)
				}
			})
		}
		if after := e.must(200, partner, "GET", "/v1/backup-credentials/"+id, nil).body; !bytes.Equal(before, after) {
			t.Errorf("bad input changed the credential")
		}
		if n := len(e.must(200, partner, "GET", "/v1/backup-credentials", nil).json(t)["data"].([]any)); n != 1 {
			t.Errorf("bad input created credentials: %d", n)
		}
	})
}

// tamperedCursor is a well-formed cursor pointing into org-9, signed with a
// made-up binding.
func tamperedCursor() string {
	b, _ := json.Marshal(map[string]string{"o": "org-9", "k": "", "i": "", "b": "AAAAAAAAAAAAAAAA"})
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestIdempotencyKey(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		body := createBody("org-1", "prod")
		first := e.must(201, partner, "POST", "/v1/backup-credentials", body, "Idempotency-Key", "k-1")
		checks := e.checker.calls.Load()
		again := e.must(201, partner, "POST", "/v1/backup-credentials", body, "Idempotency-Key", "k-1")
		if !bytes.Equal(first.body, again.body) || again.header.Get("Location") != first.header.Get("Location") {
			t.Errorf("replay answered\n%s\nnot\n%s", again.body, first.body)
		}
		if e.checker.calls.Load() != checks {
			t.Error("a replay asked the provider again")
		}
		body["s3Name"] = "other name"
		if r := e.do(partner, "POST", "/v1/backup-credentials", body, "Idempotency-Key", "k-1"); r.status != 422 || r.code() != "idempotency_key_reused" {
			t.Errorf("reused key: %d %s", r.status, r.body)
		}
		// Another caller's identical key is another key.
		e.must(201, manager, "POST", "/v1/backup-credentials", body, "Idempotency-Key", "k-1")
		// A failed create frees the key for a retry.
		bad := createBody("org-1", "third")
		bad["s3SecretKey"] = "wrong-secret"
		e.must(422, partner, "POST", "/v1/backup-credentials", bad, "Idempotency-Key", "k-2")
		bad["s3SecretKey"] = newSecret()
		e.must(201, partner, "POST", "/v1/backup-credentials", bad, "Idempotency-Key", "k-2")
		// Simultaneous retries create once.
		par := createBody("org-1", "parallel")
		var wg sync.WaitGroup
		ids := make([]string, 5)
		for i := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.do(partner, "POST", "/v1/backup-credentials", par, "Idempotency-Key", "k-3")
				if r.status == http.StatusCreated {
					ids[i] = r.json(t)["id"].(string)
				} else {
					t.Errorf("parallel retry: %d %s", r.status, r.body)
				}
			}()
		}
		wg.Wait()
		for _, id := range ids[1:] {
			if id != ids[0] {
				t.Errorf("parallel retries created %v", ids)
			}
		}
		if n := len(e.must(200, partner, "GET", "/v1/backup-credentials?organizationId=org-1", nil).json(t)["data"].([]any)); n != 4 {
			t.Errorf("stored %d credentials, want 4", n)
		}
	})
}
