package httpapi_test

import (
	"maps"
	"testing"
)

// calls asserts the AWS calls the last request made.
func (e *env) calls_(want map[string]int) {
	e.t.Helper()
	got := e.calls.Take()
	if !maps.Equal(got, want) {
		e.t.Errorf("AWS calls = %v, want %v", got, want)
	}
}

// The AWS operations the walk-through counts.
const (
	get      = "DynamoDB.GetItem"
	batch    = "DynamoDB.BatchGetItem"
	query    = "DynamoDB.Query"
	update   = "DynamoDB.UpdateItem"
	transact = "DynamoDB.TransactWriteItems"
)

// TestWalkthrough walks the README's story through HTTP and holds every
// action to its number of AWS calls.
func TestWalkthrough(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		id := walkCreate(t, e)
		walkReadAndChange(t, e, id)
		walkHistoryAndProjects(t, e, id)
		walkOrganizations(t, e, id)
		e.must(204, partner, "DELETE", "/v1/backup-credentials/"+id, nil)
		e.calls_(map[string]int{query: 1, transact: 1, "Secrets Manager.DeleteSecret": 1})

		e.must(404, partner, "GET", "/v1/backup-credentials/"+id, nil)
		r := e.must(200, partner, "GET", "/v1/organizations", nil)
		if o := r.json(t)["data"].([]any)[0].(map[string]any); o["credentialCount"] != 0.0 || o["defaultCredentialId"] != nil {
			t.Errorf("after delete, organization = %v", o)
		}
	})
}

// walkCreate creates the credential: one transaction, one secret, one
// provider check.
func walkCreate(t *testing.T, e *env) string {
	r := e.must(201, partner, "POST", "/v1/backup-credentials", createBody("org-1", "prod-backups"))
	c := r.json(t)
	id := c["id"].(string)
	e.calls_(map[string]int{transact: 1, "Secrets Manager.CreateSecret": 1})
	if e.checker.calls.Load() != 1 {
		t.Errorf("provider checks = %d, want 1", e.checker.calls.Load())
	}
	if got := r.header.Get("Location"); got != "/v1/backup-credentials/"+id {
		t.Errorf("Location = %q", got)
	}
	if c["version"] != 1.0 || c["createdBy"] != "Name of u-partner" || c["isDefault"] != false || c["isLocked"] != false {
		t.Errorf("created = %v", c)
	}
	if h := c["health"].(map[string]any); h["status"] != "healthy" || h["checkedAt"] == nil {
		t.Errorf("health = %v", h)
	}

	return id
}

// walkReadAndChange reads, lists, makes default, locks and unlocks.
func walkReadAndChange(t *testing.T, e *env, id string) {
	var r response
	// One Query of its partition reads the credential with its projects.
	r = e.must(200, partner, "GET", "/v1/backup-credentials/"+id, nil)
	e.calls_(map[string]int{query: 1})
	if r.header.Get("ETag") != `"1"` {
		t.Errorf("ETag = %q", r.header.Get("ETag"))
	}

	r = e.must(200, partner, "GET", "/v1/backup-credentials?organizationId=org-1", nil)
	// The index page, then each credential's projects, at once.
	e.calls_(map[string]int{query: 2})
	if data := r.json(t)["data"].([]any); len(data) != 1 {
		t.Errorf("list = %v", data)
	}

	// The credential and its organization's item, read at once.
	r = e.must(200, partner, "POST", "/v1/backup-credentials/"+id+"/make-default", nil)
	e.calls_(map[string]int{query: 1, batch: 1, transact: 1})
	if got := r.json(t); got["isDefault"] != true || got["version"] != 2.0 {
		t.Errorf("made default = %v", got)
	}

	// A history entry is an item of its own, written by the change's
	// transaction: lock reads, then writes both.
	r = e.must(200, partner, "POST", "/v1/backup-credentials/"+id+"/lock", nil)
	e.calls_(map[string]int{query: 1, transact: 1})
	if got := r.json(t); got["isLocked"] != true || got["version"] != 3.0 {
		t.Errorf("locked = %v", got)
	}

	e.deleteRefused(t, id, "locked")

	e.must(200, partner, "POST", "/v1/backup-credentials/"+id+"/unlock", nil)
	e.calls_(map[string]int{query: 1, transact: 1})

}

// walkHistoryAndProjects reads the history, and associates and dissociates
// a project.
func walkHistoryAndProjects(t *testing.T, e *env, id string) {
	// One Query reads the credential (visibility) and the newest entries.
	r := e.must(200, partner, "GET", "/v1/backup-credentials/"+id+"/history?limit=2", nil)
	e.calls_(map[string]int{query: 1})
	if h := r.json(t); len(h["data"].([]any)) != 2 || h["nextCursor"] == nil ||
		h["data"].([]any)[0].(map[string]any)["action"] != "unlocked" || h["data"].([]any)[0].(map[string]any)["byId"] != "u-partner" {
		t.Errorf("history = %v", h)
	}

	// The credential, then the project's pointer under its
	// organization (and where a table not migrated yet kept it).
	r = e.must(200, partner, "PUT", "/v1/backup-credentials/"+id+"/projects/p-1", map[string]any{"name": "shop"})
	e.calls_(map[string]int{query: 1, batch: 1, transact: 1})
	if ps := r.json(t)["projects"].([]any); len(ps) != 1 || ps[0].(map[string]any)["name"] != "shop" {
		t.Errorf("projects = %v", ps)
	}

	e.deleteRefused(t, id, "in_use")

	e.must(204, partner, "DELETE", "/v1/backup-credentials/"+id+"/projects/p-1", nil)
	e.calls_(map[string]int{query: 1, transact: 1})
	if ps := e.must(200, partner, "GET", "/v1/backup-credentials/"+id, nil).json(t)["projects"].([]any); len(ps) != 0 {
		t.Errorf("projects after dissociate = %v", ps)
	}
	e.calls.Take()

}

// walkOrganizations lists the caller's organizations: the first time makes
// each one's external ID, then it stays.
func walkOrganizations(t *testing.T, e *env, id string) {
	r := e.must(200, partner, "GET", "/v1/organizations", nil)
	// The first time: each organization's external ID is made.
	e.calls_(map[string]int{batch: 1, update: len(partner.orgs)})
	first := r.json(t)["data"].([]any)
	r = e.must(200, partner, "GET", "/v1/organizations", nil)
	e.calls_(map[string]int{batch: 1})
	orgs := r.json(t)["data"].([]any)
	for i := range orgs {
		o, f := orgs[i].(map[string]any), first[i].(map[string]any)
		if ext, _ := o["externalId"].(string); len(ext) < 32 || ext != f["externalId"] || o["trustPrincipal"] != e.trustPrincipal {
			t.Errorf("organization %v: want a stable external ID and the trust principal %q (first answer %v)", o, e.trustPrincipal, f)
		}
	}
	if o := orgs[0].(map[string]any); o["id"] != "org-1" || o["credentialCount"] != 1.0 || o["defaultCredentialId"] != id {
		t.Errorf("organizations = %v", orgs)
	}

}

// deleteRefused: a delete of id is 409 with code (its AWS calls are not
// counted).
func (e *env) deleteRefused(t *testing.T, id, code string) {
	t.Helper()
	if r := e.must(409, partner, "DELETE", "/v1/backup-credentials/"+id, nil); r.code() != code {
		t.Errorf("delete: %s, want %s", r.body, code)
	}
	e.calls.Take()
}
