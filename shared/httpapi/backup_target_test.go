package httpapi_test

import (
	"testing"
)

// target is the backup engine's route for an organization's project.
func target(org, project string) string {
	return "/internal/v1/organizations/" + org + "/projects/" + project + "/backup-target"
}

var engine = caller{sub: "backup-engine", role: "backup-engine"}

// TestBackupTarget: the backup engine resolves an organization's project's
// credential with its secret key and health; a locked credential is 409
// for a backup and its secret is not read, and read-only for a restore;
// lastUsedAt is recorded without a version or a history entry; no user
// token of any role may resolve.
func TestBackupTarget(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		body := createBody("org-1", "for-backups")
		id := e.must(201, partner, "POST", "/v1/backup-credentials", body).json(t)["id"].(string)
		path := "/v1/backup-credentials/" + id
		e.must(200, partner, "PUT", path+"/projects/p-1", map[string]any{"name": "shop"})
		before := e.must(200, partner, "GET", path, nil).json(t)

		got := e.must(200, engine, "GET", target("org-1", "p-1"), nil).json(t)
		health, _ := got["health"].(map[string]any)
		if got["credentialId"] != id || got["secretAccessKey"] != body["s3SecretKey"] || got["accessKeyId"] != body["s3AccessKeyId"] ||
			got["authType"] != "accessKey" || got["sessionToken"] != nil || got["mode"] != "read-write" || health["status"] != "healthy" {
			t.Errorf("backup target = %v", got)
		}
		after := e.must(200, partner, "GET", path, nil).json(t)
		if after["lastUsedAt"] == nil || after["version"] != before["version"] {
			t.Errorf("after a resolution: lastUsedAt %v, version %v (was %v)", after["lastUsedAt"], after["version"], before["version"])
		}
		if h := e.must(200, partner, "GET", path+"/history", nil).json(t)["data"].([]any); h[0].(map[string]any)["action"] != "project-associated" {
			t.Errorf("a resolution wrote history: %v", h[0])
		}
		// A use is recorded at most every few minutes: the next resolution
		// writes nothing.
		e.calls.Take()
		e.must(200, engine, "GET", target("org-1", "p-1")+"?purpose=restore", nil)
		if n := e.calls.Take(); n["DynamoDB.TransactWriteItems"]+n["DynamoDB.PutItem"]+n["DynamoDB.UpdateItem"] != 0 {
			t.Errorf("a second resolution within minutes wrote: %v", n)
		}

		for _, c := range []caller{partner, manager, reader} {
			if r := e.do(c, "GET", target("org-1", "p-1"), nil); r.status != 403 || r.code() != "forbidden" {
				t.Errorf("%s: %d %s, want 403", c.role, r.status, r.body)
			}
		}
		e.must(404, engine, "GET", target("org-1", "p-unknown"), nil)
		e.must(404, engine, "GET", target("org-2", "p-1"), nil)
		if r := e.do(engine, "GET", target("org-1", "p-1")+"?purpose=archive", nil); r.status != 400 || r.code() != "validation_failed" {
			t.Errorf("purpose=archive: %d %s, want 400", r.status, r.body)
		}

		e.must(200, partner, "POST", path+"/lock", nil)
		e.calls.Take()
		if r := e.do(engine, "GET", target("org-1", "p-1")+"?purpose=backup", nil); r.status != 409 || r.code() != "locked" {
			t.Errorf("locked: %d %s, want 409 locked", r.status, r.body)
		}
		if n := e.calls.Take()["Secrets Manager.GetSecretValue"]; n != 0 {
			t.Errorf("a locked credential's secret was read %d times", n)
		}
		restore := e.must(200, engine, "GET", target("org-1", "p-1")+"?purpose=restore", nil).json(t)
		if restore["mode"] != "read-only" || restore["secretAccessKey"] != body["s3SecretKey"] {
			t.Errorf("restore with a locked credential = %v, want read-only with its keys", restore)
		}
		e.must(200, partner, "POST", path+"/unlock", nil)
		e.must(204, partner, "DELETE", path+"/projects/p-1", nil)
		e.must(404, engine, "GET", target("org-1", "p-1"), nil)
	})
}

// TestProjectsBelongToTheirOrganization: the same project ID in two
// organizations is two projects. Neither organization can take, block or
// redirect the other's, in whichever order they associate and dissociate,
// and the backup engine resolves each to its own organization's
// credential, secret included.
func TestProjectsBelongToTheirOrganization(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		mine, theirs := createBody("org-1", "mine"), createBody("org-9", "theirs")
		a := e.must(201, partner, "POST", "/v1/backup-credentials", mine).json(t)["id"].(string)
		b := e.must(201, other, "POST", "/v1/backup-credentials", theirs).json(t)["id"].(string)

		// org-9 associates p-shop first; org-1's own p-shop is another
		// project.
		e.must(200, other, "PUT", "/v1/backup-credentials/"+b+"/projects/p-shop", map[string]any{"name": "squatted"})
		e.must(200, partner, "PUT", "/v1/backup-credentials/"+a+"/projects/p-shop", map[string]any{"name": "shop"})
		if got := e.must(200, engine, "GET", target("org-1", "p-shop"), nil).json(t); got["credentialId"] != a ||
			got["organizationId"] != "org-1" || got["secretAccessKey"] != mine["s3SecretKey"] {
			t.Errorf("org-1's p-shop resolves to %v, want org-1's credential", got)
		}
		if got := e.must(200, engine, "GET", target("org-9", "p-shop"), nil).json(t); got["credentialId"] != b {
			t.Errorf("org-9's p-shop resolves to %v", got["credentialId"])
		}
		// org-1 dissociates p-web; org-9 associates the same ID at once:
		// org-1's p-web is not associated, not redirected.
		e.must(200, partner, "PUT", "/v1/backup-credentials/"+a+"/projects/p-web", map[string]any{"name": "web"})
		e.must(204, partner, "DELETE", "/v1/backup-credentials/"+a+"/projects/p-web", nil)
		e.must(200, other, "PUT", "/v1/backup-credentials/"+b+"/projects/p-web", map[string]any{"name": "taken"})
		e.must(404, engine, "GET", target("org-1", "p-web"), nil)
		// Dissociating in one organization leaves the other's alone.
		e.must(204, other, "DELETE", "/v1/backup-credentials/"+b+"/projects/p-shop", nil)
		if got := e.must(200, engine, "GET", target("org-1", "p-shop"), nil).json(t); got["credentialId"] != a {
			t.Errorf("after org-9 dissociated its p-shop, org-1's resolves to %v", got["credentialId"])
		}
		ps := e.must(200, partner, "GET", "/v1/backup-credentials/"+a, nil).json(t)["projects"].([]any)
		if len(ps) != 1 || ps[0].(map[string]any)["name"] != "shop" {
			t.Errorf("org-1's credential has %v", ps)
		}
		// Another organization's credential is not found, whatever the
		// project.
		e.must(404, other, "PUT", "/v1/backup-credentials/"+a+"/projects/p-shop", map[string]any{"name": "x"})
		e.must(404, other, "DELETE", "/v1/backup-credentials/"+a+"/projects/p-shop", nil)
	})
}
