package httpapi_test

import (
	"fmt"
	"testing"
)

// TestQuotas: an organization's credentials and a credential's projects are
// bounded by conditions of the writes that would pass the bounds.
func TestQuotas(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		e.store.MaxCredentialsPerOrganization, e.store.MaxProjectsPerCredential = 2, 2
		a := e.create("org-1", "first")
		e.create("org-1", "second")
		if r := e.do(partner, "POST", "/v1/backup-credentials", createBody("org-1", "third")); r.status != 409 || r.code() != "quota_exceeded" {
			t.Fatalf("third credential: %d %s, want 409 quota_exceeded", r.status, r.body)
		}
		e.create("org-2", "elsewhere") // another organization counts apart
		path := "/v1/backup-credentials/" + a
		e.must(200, partner, "PUT", path+"/projects/p-1", map[string]any{"name": "one"})
		e.must(200, partner, "PUT", path+"/projects/p-2", map[string]any{"name": "two"})
		if r := e.do(partner, "PUT", path+"/projects/p-3", map[string]any{"name": "three"}); r.status != 409 || r.code() != "quota_exceeded" {
			t.Fatalf("third project: %d %s, want 409 quota_exceeded", r.status, r.body)
		}
		e.must(200, partner, "PUT", path+"/projects/p-2", map[string]any{"name": "renamed"}) // no new project
		e.must(204, partner, "DELETE", path+"/projects/p-2", nil)
		e.must(200, partner, "PUT", path+"/projects/p-3", map[string]any{"name": "three"})
		e.must(204, partner, "DELETE", path+"/projects/p-1", nil)
		e.must(204, partner, "DELETE", path+"/projects/p-3", nil)
		e.must(204, partner, "DELETE", path, nil)
		e.create("org-1", "third") // room again
	})
}

// TestTransactionConflict injects DynamoDB's TransactionConflict (which the
// serialized emulator never answers) into every writing action: a few are
// retried and the action succeeds; a conflict that does not end is 503 with
// Retry-After, never a rule's error such as name_taken.
func TestTransactionConflict(t *testing.T) {
	e := newEnv(t, "moto")
	e.store.Attempts = 6
	id := e.create("org-1", "contended")
	path := "/v1/backup-credentials/" + id
	actions := []struct {
		name, method, path string
		body               func() any
		status             int
	}{
		{"create", "POST", "/v1/backup-credentials", func() any { return createBody("org-1", "created-"+newSecret()[7:20]) }, 201},
		{"rename", "PATCH", path, func() any { return map[string]any{"s3Name": "renamed-" + newSecret()[7:20]} }, 200},
		{"rotate keys", "PATCH", path, func() any { return map[string]any{"s3SecretKey": newSecret()} }, 200},
		{"lock", "POST", path + "/lock", nil, 200},
		{"unlock", "POST", path + "/unlock", nil, 200},
		{"make default", "POST", path + "/make-default", nil, 200},
		{"associate", "PUT", path + "/projects/p-1", func() any { return map[string]any{"name": "shop"} }, 200},
		{"dissociate", "DELETE", path + "/projects/p-1", nil, 204},
	}
	for _, a := range actions {
		t.Run(a.name, func(t *testing.T) {
			var body any
			if a.body != nil {
				body = a.body()
			}
			e.faults.conflict(-1)
			r := e.do(partner, a.method, a.path, body)
			if r.status != 503 || r.code() != "unavailable" || r.header.Get("Retry-After") == "" {
				t.Errorf("endless conflict: %d %s, want 503 unavailable with Retry-After", r.status, r.body)
			}
			e.faults.conflict(2)
			if a.body != nil {
				body = a.body()
			}
			if r := e.do(partner, a.method, a.path, body); r.status != a.status {
				t.Errorf("two conflicts: %d %s, want %d", r.status, r.body, a.status)
			}
			e.faults.clear()
		})
	}
	e.faults.conflict(2)
	other := e.create("org-1", "to-delete")
	e.faults.conflict(2)
	e.must(204, partner, "DELETE", "/v1/backup-credentials/"+other, nil)
	e.faults.clear()
}

// TestOddOrganizationClaims: an empty organizations claim sees nothing and
// changes nothing, with no query built on an empty list; an organization
// named twice counts once; 150 organizations (over DynamoDB's 100 keys a
// batch and 100 values an IN) work.
func TestOddOrganizationClaims(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		id := e.create("org-1", "seen")
		none := caller{sub: "u-none", role: "partner"}
		e.calls.Take()
		if r := e.must(200, none, "GET", "/v1/backup-credentials", nil).json(t); len(r["data"].([]any)) != 0 {
			t.Errorf("no organizations lists %v", r)
		}
		if r := e.must(200, none, "GET", "/v1/organizations", nil).json(t); len(r["data"].([]any)) != 0 {
			t.Errorf("no organizations: %v", r)
		}
		if got := e.calls.Take(); len(got) != 0 {
			t.Errorf("an empty claim made AWS calls %v", got)
		}
		e.must(404, none, "GET", "/v1/backup-credentials/"+id, nil)
		e.must(404, none, "POST", "/v1/backup-credentials/"+id+"/lock", nil)
		e.must(403, none, "POST", "/v1/backup-credentials", createBody("org-1", "not mine"))

		twice := caller{sub: "u-twice", role: "partner", orgs: []string{"org-1", "org-1"}}
		if r := e.must(200, twice, "GET", "/v1/organizations", nil).json(t); len(r["data"].([]any)) != 1 {
			t.Errorf("an organization named twice: %v", r)
		}
		if r := e.must(200, twice, "GET", "/v1/backup-credentials", nil).json(t); len(r["data"].([]any)) != 1 {
			t.Errorf("an organization named twice lists %v", r)
		}

		many := caller{sub: "u-many", role: "partner"}
		for i := range 150 {
			many.orgs = append(many.orgs, fmt.Sprintf("org-%03d", i))
		}
		many.orgs = append(many.orgs, "org-1")
		if r := e.must(200, many, "GET", "/v1/organizations", nil).json(t); len(r["data"].([]any)) != 151 {
			t.Errorf("151 organizations: %d answered", len(r["data"].([]any)))
		}
		var found []any
		cursor := ""
		for range 200 {
			q := "/v1/backup-credentials?limit=100"
			if cursor != "" {
				q += "&cursor=" + cursor
			}
			r := e.must(200, many, "GET", q, nil).json(t)
			found = append(found, r["data"].([]any)...)
			if r["nextCursor"] == nil {
				break
			}
			cursor = r["nextCursor"].(string)
		}
		if len(found) != 1 {
			t.Errorf("151 organizations list %d credentials, want 1", len(found))
		}
		e.must(200, many, "POST", "/v1/backup-credentials/"+id+"/lock", nil)
	})
}
