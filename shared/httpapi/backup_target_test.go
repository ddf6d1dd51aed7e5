package httpapi_test

import (
	"testing"
)

// TestBackupTarget: the backup engine resolves a project's credential with
// its secret key; a locked credential is 409 and its secret is not read;
// lastUsedAt is recorded without a version or a history entry; no user
// token of any role may resolve.
func TestBackupTarget(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		engine := caller{sub: "backup-engine", role: "backup-engine"}
		body := createBody("org-1", "for-backups")
		id := e.must(201, partner, "POST", "/v1/backup-credentials", body).json(t)["id"].(string)
		path := "/v1/backup-credentials/" + id
		e.must(200, partner, "PUT", path+"/projects/p-1", map[string]any{"name": "shop"})
		before := e.must(200, partner, "GET", path, nil).json(t)

		got := e.must(200, engine, "GET", "/internal/v1/projects/p-1/backup-target", nil).json(t)
		if got["credentialId"] != id || got["secretAccessKey"] != body["s3SecretKey"] || got["accessKeyId"] != body["s3AccessKeyId"] ||
			got["authType"] != "accessKey" || got["sessionToken"] != nil {
			t.Errorf("backup target = %v", got)
		}
		after := e.must(200, partner, "GET", path, nil).json(t)
		if after["lastUsedAt"] == nil || after["version"] != before["version"] {
			t.Errorf("after a resolution: lastUsedAt %v, version %v (was %v)", after["lastUsedAt"], after["version"], before["version"])
		}
		if h := e.must(200, partner, "GET", path+"/history", nil).json(t)["data"].([]any); h[0].(map[string]any)["action"] != "project-associated" {
			t.Errorf("a resolution wrote history: %v", h[0])
		}

		for _, c := range []caller{partner, manager, reader} {
			if r := e.do(c, "GET", "/internal/v1/projects/p-1/backup-target", nil); r.status != 403 || r.code() != "forbidden" {
				t.Errorf("%s: %d %s, want 403", c.role, r.status, r.body)
			}
		}
		e.must(404, engine, "GET", "/internal/v1/projects/p-unknown/backup-target", nil)

		e.must(200, partner, "POST", path+"/lock", nil)
		e.calls.Take()
		if r := e.do(engine, "GET", "/internal/v1/projects/p-1/backup-target", nil); r.status != 409 || r.code() != "locked" {
			t.Errorf("locked: %d %s, want 409 locked", r.status, r.body)
		}
		if n := e.calls.Take()["Secrets Manager.GetSecretValue"]; n != 0 {
			t.Errorf("a locked credential's secret was read %d times", n)
		}
		e.must(200, partner, "POST", path+"/unlock", nil)
		e.must(204, partner, "DELETE", path+"/projects/p-1", nil)
		e.must(404, engine, "GET", "/internal/v1/projects/p-1/backup-target", nil)
	})
}
