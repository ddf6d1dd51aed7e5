package httpapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/acme/backup-credentials/shared/backup"
)

const (
	roleARN   = "arn:aws:iam::444455556666:role/backups"
	deniedARN = "arn:aws:iam::444455556666:role/denied-no-trust"
)

func roleBody(org, name, arn string) map[string]any {
	return map[string]any{"organizationId": org, "s3Name": name, "authType": "role", "s3RoleArn": arn,
		"s3Endpoint": "https://s3.eu-central-1.amazonaws.com", "s3Region": "eu-central-1"}
}

// hasSecret reports whether a credential has a secret that can be read.
func (e *env) hasSecret(id string) bool {
	_, err := e.secrets.GetSecret(context.Background(), id, "")
	if err != nil && backup.ErrorCode(err) != backup.ENotFound {
		e.t.Fatal(err)
	}
	return err == nil
}

// TestRoleCredentials: a role credential is created, checked, validated and
// resolved by assuming its role with the organization's external ID and a
// session named after it; no secret is ever stored for it; a refusal is 422
// and says what the trust policy must name; PATCH turns keys into a role and
// back, deleting or creating the secret, and a refused change leaves the
// credential as it was.
func TestRoleCredentials(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		id, other := roleCreate(t, e)
		roleRefusals(t, e)
		roleValidate(t, e, other)
		roleCheckAndResolve(t, e, id)
		roleSwitches(t, e, id)
	})
}

// roleCreate creates a role credential of org-1 with one session, named
// after it, with org-1's external ID, and no secret; it returns its ID and
// org-2's external ID.
func roleCreate(t *testing.T, e *env) (id, other string) {
	orgs := e.must(200, partner, "GET", "/v1/organizations", nil).json(t)["data"].([]any)
	ext := orgs[0].(map[string]any)["externalId"].(string)
	other = orgs[1].(map[string]any)["externalId"].(string)
	if ext == other || !strings.HasPrefix(ext, "bcx-") {
		t.Fatalf("external IDs %q and %q, want one per organization", ext, other)
	}

	e.calls.Take()
	c := e.must(201, partner, "POST", "/v1/backup-credentials", roleBody("org-1", "role-backups", roleARN)).json(t)
	id = c["id"].(string)
	if c["authType"] != "role" || c["s3RoleArn"] != roleARN || c["s3AccessKeyId"] != nil || c["keysChangedAt"] != nil ||
		c["rotationDue"] != false || c["health"].(map[string]any)["status"] != "healthy" {
		t.Errorf("role credential = %v", c)
	}
	if n := e.calls.Take()["Secrets Manager.CreateSecret"]; n != 0 || e.hasSecret(id) {
		t.Errorf("a role credential stored a secret (%d CreateSecret)", n)
	}
	want := backup.RoleSession{RoleARN: roleARN, ExternalID: ext, SessionName: "backup-credentials-" + id,
		Region: "eu-central-1", Duration: backup.CheckSession}
	if got := e.roles.taken(); len(got) != 1 || got[0] != want {
		t.Errorf("sessions = %+v, want %+v", got, want)
	}
	if got := e.must(200, partner, "GET", "/v1/backup-credentials?organizationId=org-1", nil).json(t)["data"].([]any); got[0].(map[string]any)["authType"] != "role" {
		t.Errorf("list shows %v", got[0])
	}

	return id, other
}

// roleRefusals: a role STS refuses is 422 and stores nothing; bad input is
// 400.
func roleRefusals(t *testing.T, e *env) {
	// Refused: 422, the detail names what the trust policy needs; nothing stored.
	r := e.do(partner, "POST", "/v1/backup-credentials", roleBody("org-1", "no-trust", deniedARN))
	if r.status != 422 || r.code() != "invalid_credentials" || !strings.Contains(string(r.body), "AccessDenied") {
		t.Errorf("refused role: %d %s", r.status, r.body)
	}
	if n := len(e.must(200, partner, "GET", "/v1/backup-credentials?organizationId=org-1", nil).json(t)["data"].([]any)); n != 1 {
		t.Errorf("%d credentials after a refused create, want 1", n)
	}

	// Bad input.
	for name, body := range map[string]map[string]any{
		"keys with a role":    merge(roleBody("org-1", "x-role", roleARN), map[string]any{"s3AccessKeyId": "AKIAX", "s3SecretKey": "s"}),
		"not AWS S3":          merge(roleBody("org-1", "x-role", roleARN), map[string]any{"s3Endpoint": "https://minio.example.com"}),
		"an EC2 host":         merge(roleBody("org-1", "x-role", roleARN), map[string]any{"s3Endpoint": "https://ec2-203-0-113-5.compute-1.amazonaws.com"}),
		"a VPC endpoint host": merge(roleBody("org-1", "x-role", roleARN), map[string]any{"s3Endpoint": "https://vpce-0a1b.s3.us-east-1.vpce.amazonaws.com"}),
		"markup in the path":  merge(roleBody("org-1", "x-role", roleARN), map[string]any{"s3Endpoint": `https://s3.amazonaws.com/"><img/src/onerror=alert(1)>`}),
		"not a role ARN":      roleBody("org-1", "x-role", "arn:aws:iam::123:user/bob"),
		"no role ARN":         merge(roleBody("org-1", "x-role", roleARN), map[string]any{"s3RoleArn": ""}),
		"unknown authType":    merge(roleBody("org-1", "x-role", roleARN), map[string]any{"authType": "token"}),
		"a role ARN for keys": merge(createBody("org-1", "x-keys"), map[string]any{"s3RoleArn": roleARN}),
	} {
		if r := e.do(partner, "POST", "/v1/backup-credentials", body); r.status != 400 || r.code() != "validation_failed" {
			t.Errorf("%s: %d %s, want 400", name, r.status, r.body)
		}
	}

}

// roleValidate: validate needs the organization, for its external ID.
func roleValidate(t *testing.T, e *env, other string) {
	// Validate: the organization is needed for its external ID.
	e.roles.taken()
	v := map[string]any{"authType": "role", "s3RoleArn": roleARN, "s3Endpoint": "https://s3.eu-central-1.amazonaws.com", "s3Region": "eu-central-1"}
	e.must(400, partner, "POST", "/v1/backup-credentials/validate", v)
	e.must(403, partner, "POST", "/v1/backup-credentials/validate", merge(v, map[string]any{"organizationId": "org-9"}))
	e.must(200, partner, "POST", "/v1/backup-credentials/validate", merge(v, map[string]any{"organizationId": "org-2"}))
	if got := e.roles.taken(); len(got) != 1 || got[0].ExternalID != other || got[0].SessionName != "backup-credentials-validate" {
		t.Errorf("validate sessions = %+v", got)
	}
	e.must(422, partner, "POST", "/v1/backup-credentials/validate", merge(v, map[string]any{"organizationId": "org-1", "s3RoleArn": deniedARN}))

}

// roleCheckAndResolve: check assumes the role; the backup engine gets
// temporary keys, and no secret is read; another organization sees nothing.
func roleCheckAndResolve(t *testing.T, e *env, id string) {
	// Check, and the backup engine's temporary keys.
	e.roles.taken()
	e.must(200, partner, "POST", "/v1/backup-credentials/"+id+"/check", nil)
	e.must(200, partner, "PUT", "/v1/backup-credentials/"+id+"/projects/p-role", map[string]any{"name": "shop"})
	e.calls.Take()
	got := e.must(200, engine, "GET", target("org-1", "p-role"), nil).json(t)
	expires, _ := time.Parse(time.RFC3339, got["expiresAt"].(string))
	if got["authType"] != "role" || got["accessKeyId"] != "ASIATEMPORARY" || got["sessionToken"] != "session-token" ||
		time.Until(expires) < 55*time.Minute || time.Until(expires) > 61*time.Minute {
		t.Errorf("backup target = %v", got)
	}
	if n := e.calls.Take()["Secrets Manager.GetSecretValue"]; n != 0 {
		t.Errorf("a role's backup target read %d secrets", n)
	}
	if got := e.roles.taken(); len(got) != 2 || got[0].Duration != backup.CheckSession || got[1].Duration != backup.BackupSession {
		t.Errorf("sessions of check and resolve = %+v", got)
	}
	e.must(204, partner, "DELETE", "/v1/backup-credentials/"+id+"/projects/p-role", nil)

	// Tenancy: another organization's caller sees nothing of it.
	outsider := caller{"u-out", "partner", []string{"org-3"}, ""}
	e.must(404, outsider, "GET", "/v1/backup-credentials/"+id, nil)
	e.must(404, outsider, "PATCH", "/v1/backup-credentials/"+id, map[string]any{"s3RoleArn": deniedARN})

}

// roleSwitches turns the role into keys and back, refused changes first:
// they change nothing.
func roleSwitches(t *testing.T, e *env, id string) {
	// Role to keys, refused keys first: nothing changes.
	path := "/v1/backup-credentials/" + id
	e.must(422, partner, "PATCH", path, map[string]any{"authType": "accessKey", "s3AccessKeyId": "AKIAROLE2KEYS", "s3SecretKey": "wrong-secret"})
	if got := e.must(200, partner, "GET", path, nil).json(t); got["authType"] != "role" || e.hasSecret(id) {
		t.Errorf("after a refused switch: %v, secret %v", got, e.hasSecret(id))
	}
	e.must(400, partner, "PATCH", path, map[string]any{"authType": "accessKey", "s3AccessKeyId": "AKIAROLE2KEYS"})
	secret := newSecret()
	keys := e.must(200, partner, "PATCH", path, map[string]any{"authType": "accessKey", "s3AccessKeyId": "AKIAROLE2KEYS", "s3SecretKey": secret}).json(t)
	if keys["authType"] != "accessKey" || keys["s3RoleArn"] != nil || keys["s3AccessKeyId"] != "AKIAROLE2KEYS" || keys["keysChangedAt"] == nil || !e.hasSecret(id) {
		t.Errorf("role to keys = %v (secret %v)", keys, e.hasSecret(id))
	}
	if got, _ := e.secrets.GetSecret(context.Background(), id, ""); got != secret {
		t.Error("the secret stored is not the one sent")
	}

	// Keys to a role that refuses: nothing changes; then one that accepts.
	e.must(422, partner, "PATCH", path, map[string]any{"authType": "role", "s3RoleArn": deniedARN})
	if got := e.must(200, partner, "GET", path, nil).json(t); got["authType"] != "accessKey" || !e.hasSecret(id) {
		t.Errorf("after a refused switch: %v", got)
	}
	e.must(400, partner, "PATCH", path, map[string]any{"authType": "role"})
	role := e.must(200, partner, "PATCH", path, map[string]any{"authType": "role", "s3RoleArn": roleARN}).json(t)
	if role["authType"] != "role" || role["s3AccessKeyId"] != nil || role["keysChangedAt"] != nil || e.hasSecret(id) {
		t.Errorf("keys to role = %v (secret %v)", role, e.hasSecret(id))
	}
	// And back to keys once more: the deleted secret is restored.
	e.must(200, partner, "PATCH", path, map[string]any{"authType": "accessKey", "s3AccessKeyId": "AKIAAGAIN", "s3SecretKey": newSecret()})
	if !e.hasSecret(id) {
		t.Error("no secret after the second switch to keys")
	}
	h := e.must(200, partner, "GET", path+"/history", nil).json(t)["data"].([]any)
	if f := h[0].(map[string]any)["fields"].([]any); !containsAll(f, "authType", "s3AccessKeyId", "s3SecretKey") {
		t.Errorf("history of the switch names %v", f)
	}
}

func merge(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func containsAll(got []any, want ...string) bool {
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			return false
		}
	}
	return true
}

// TestRotationDue: keys older than the rotation age show rotationDue, on an
// injected clock; a role never does; new keys are not due.
func TestRotationDue(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		id := e.create("org-1", "old-keys")
		roleID := e.must(201, partner, "POST", "/v1/backup-credentials", roleBody("org-1", "a-role", roleARN)).json(t)["id"].(string)
		path := "/v1/backup-credentials/" + id
		if got := e.must(200, partner, "GET", path, nil).json(t); got["rotationDue"] != false {
			t.Errorf("new keys: %v", got)
		}
		later := time.Now().Add(91 * 24 * time.Hour)
		e.clock.Set(later)
		defer e.clock.Set(time.Time{})
		if got := e.must(200, partner, "GET", path, nil).json(t); got["rotationDue"] != true {
			t.Errorf("keys 91 days old: rotationDue %v", got["rotationDue"])
		}
		for _, c := range e.must(200, partner, "GET", "/v1/backup-credentials?organizationId=org-1", nil).json(t)["data"].([]any) {
			m := c.(map[string]any)
			if m["rotationDue"] != (m["id"] == id) {
				t.Errorf("list: %s rotationDue %v", m["s3Name"], m["rotationDue"])
			}
		}
		if got := e.must(200, partner, "GET", "/v1/backup-credentials/"+roleID, nil).json(t); got["rotationDue"] != false {
			t.Errorf("a role is due: %v", got)
		}
		fresh := e.must(200, partner, "PATCH", path, map[string]any{"s3AccessKeyId": "AKIANEWKEYS", "s3SecretKey": newSecret()}).json(t)
		if fresh["rotationDue"] != false {
			t.Errorf("new keys are due: %v", fresh)
		}
		e.service(backup.WithKeyRotationDays(0))
		e.clock.Set(later.Add(200 * 24 * time.Hour))
		if got := e.must(200, partner, "GET", path, nil).json(t); got["rotationDue"] != false {
			t.Errorf("KEY_ROTATION_DAYS 0 still shows due: %v", got)
		}
	})
}

// TestFaultSwitchToKeysLeavesNoSecret: a role credential given keys whose
// metadata write fails without saying whether it committed (on moto, the
// fault injected) stays a role, and the secret made for the keys is left
// to the orphan sweep, which counts a role credential's secret as an
// orphan; a locked credential is not switched; a switch to a role whose
// secret deletion fails leaves the secret to the sweep too.
func TestFaultSwitchToKeysLeavesNoSecret(t *testing.T) {
	e := newEnv(t, "moto")
	id := e.must(201, partner, "POST", "/v1/backup-credentials", roleBody("org-1", "a-role", roleARN)).json(t)["id"].(string)
	path := "/v1/backup-credentials/" + id
	e.faults.set("DynamoDB.TransactWriteItems", "InternalServerError", -1)
	r := e.do(partner, "PATCH", path, map[string]any{"authType": "accessKey", "s3AccessKeyId": "AKIAFAULT", "s3SecretKey": newSecret()})
	e.faults.clear()
	if r.status != 503 {
		t.Fatalf("switch with a failing write: %d %s, want 503", r.status, r.body)
	}
	if got := e.must(200, partner, "GET", path, nil).json(t); got["authType"] != "role" {
		t.Errorf("after the failed switch: %v", got)
	}
	if exist, err := e.store.CredentialsExist(context.Background(), []string{id}); err != nil || exist[id] {
		t.Errorf("the sweep sees the role credential's secret as in use (%v, %v)", exist, err)
	}
	e.must(200, partner, "POST", path+"/lock", nil)
	if r := e.do(partner, "PATCH", path, map[string]any{"authType": "accessKey", "s3AccessKeyId": "AKIALOCKED", "s3SecretKey": newSecret()}); r.status != 409 {
		t.Errorf("switch of a locked credential: %d", r.status)
	}
	e.must(200, partner, "POST", path+"/unlock", nil)

	e.must(200, partner, "PATCH", path, map[string]any{"authType": "accessKey", "s3AccessKeyId": "AKIAKEYS", "s3SecretKey": newSecret()})
	e.faults.set("Secrets Manager.DeleteSecret", "InternalServiceError", -1)
	e.must(200, partner, "PATCH", path, map[string]any{"authType": "role", "s3RoleArn": roleARN})
	e.faults.clear()
	if !e.hasSecret(id) {
		t.Fatal("the injected failure did not keep the secret")
	}
	exist, err := e.store.CredentialsExist(context.Background(), []string{id})
	if err != nil || exist[id] {
		t.Errorf("the sweep sees the role credential's secret as in use (%v, %v)", exist, err)
	}
}

// TestRoleInTheServicesOwnAccount: a role in the service's own account (the
// account of its trust principal, public in GET /v1/organizations) is 400
// on create, validate and PATCH, and is never assumed: a tenant learns
// nothing of the service's roles.
func TestRoleInTheServicesOwnAccount(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		own := "arn:aws:iam::" + backup.AccountOf(e.trustPrincipal) + ":role/OrganizationAccountAccessRole"
		id := e.create("org-1", "keys")
		e.roles.taken()
		for name, r := range map[string]response{
			"create": e.do(partner, "POST", "/v1/backup-credentials", roleBody("org-1", "own-role", own)),
			"validate": e.do(partner, "POST", "/v1/backup-credentials/validate", map[string]any{"authType": "role", "s3RoleArn": own,
				"organizationId": "org-1", "s3Endpoint": "https://s3.eu-central-1.amazonaws.com", "s3Region": "eu-central-1"}),
			"patch": e.do(partner, "PATCH", "/v1/backup-credentials/"+id, map[string]any{"authType": "role", "s3RoleArn": own}),
		} {
			if r.status != 400 || r.code() != "validation_failed" || !strings.Contains(string(r.body), `"field":"s3RoleArn"`) {
				t.Errorf("%s with a role of the service's account: %d %s, want 400 naming s3RoleArn", name, r.status, r.body)
			}
		}
		if got := e.roles.taken(); len(got) != 0 {
			t.Errorf("roles of the service's account were assumed: %+v", got)
		}
	})
}
