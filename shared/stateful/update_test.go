package stateful_test

import (
	"fmt"
	"slices"
	"strings"

	"pgregory.net/rapid"

	"github.com/acme/backup-credentials/shared/backup"
)

// A patch is what an update draws: each member given or not; ca is "" for
// absent, "set" or "null".
type patch struct {
	name, accessKey, secret, endpoint, region, authType, roleARN *string
	ca                                                           string
	nullName                                                     bool
}

func (p patch) json() string {
	b := map[string]any{}
	put := func(k string, v *string) {
		if v != nil {
			b[k] = *v
		}
	}
	put("s3Name", p.name)
	put("s3AccessKeyId", p.accessKey)
	put("s3SecretKey", p.secret)
	put("s3Endpoint", p.endpoint)
	put("s3Region", p.region)
	put("authType", p.authType)
	put("s3RoleArn", p.roleARN)
	switch p.ca {
	case "set":
		b["s3CaCertificate"] = testCA
	case "null":
		b["s3CaCertificate"] = nil
	}
	if p.nullName {
		b["s3Name"] = nil
	}
	return body(b)
}

// maybe draws whether a member is given (one time in five), and its
// value, mostly the usual one.
func maybe(t *rapid.T, label string, from []string) *string {
	if !chance(t, 20, label+"?") {
		return nil
	}
	v := often(t, from, label)
	return &v
}

// Update draws a PATCH of any members, with a current, stale, missing or
// "*" If-Match, and holds the answer to the model, which follows the
// contract's order: the body, visibility, role, If-Match, the members, the
// lock, the provider, the name.
func (w *world) Update(t *rapid.T) {
	alias, path := w.pick(t)
	caller := w.callerFor(t, alias, writers)
	nameIdx := -1
	if chance(t, 40, "name?") {
		nameIdx = rapid.IntRange(0, len(names)-1).Draw(t, "name")
	}
	p := patch{accessKey: maybe(t, "accessKey", accessKeys), endpoint: maybe(t, "endpoint", endpoints),
		region: maybe(t, "region", regions), authType: maybe(t, "authType", []string{backup.AuthRole, backup.AuthAccessKey}),
		roleARN: maybe(t, "roleArn", roleARNs), ca: draw(t, []string{"", "", "", "set", "null"}, "ca"),
		nullName: chance(t, 3, "nullName")}
	if nameIdx >= 0 {
		p.name = &names[nameIdx].in
	}
	if chance(t, 40, "secret?") {
		s := w.secret(t)
		p.secret = &s
	}
	ifMatch := draw(t, []string{"", "", "current", "stale", "*"}, "ifMatch")
	m := w.m
	c := m.creds[alias]
	var headers []string
	switch ifMatch {
	case "current", "stale":
		v := 1
		if c != nil {
			v = c.version
		}
		if ifMatch == "stale" {
			v += 7
		}
		headers = []string{"If-Match", fmt.Sprintf("%q", fmt.Sprint(v))}
	case "*":
		headers = []string{"If-Match", "*"}
	}
	r := w.call(caller, "PATCH", path, p.json(), headers...)
	if p.nullName {
		w.expect(r, 400, backup.EInvalid, "null where a string is expected")
		return
	}
	if status, code := w.refused(caller, alias); status != 0 {
		w.expect(r, status, code, "may not change it")
		return
	}
	if ifMatch == "stale" {
		w.expect(r, 412, backup.EPrecondition, "a stale If-Match")
		return
	}
	toRole := p.authType != nil && *p.authType == backup.AuthRole && !c.role
	toKeys := p.authType != nil && *p.authType == backup.AuthAccessKey && c.role
	role := c.role && !toKeys || toRole
	if !w.patchValid(c, p, role) {
		w.expect(r, 400, backup.EInvalid, "invalid members")
		return
	}
	if p.roleARN != nil && ownAccount(*p.roleARN) {
		w.expect(r, 400, backup.EInvalid, "a role of the service's own account")
		return
	}
	if c.isLocked {
		w.expect(r, 409, backup.ELocked, "locked")
		return
	}
	// What would change, and what the credential would be.
	after := *c
	after.projects, after.history = c.projects, c.history
	var fields []string
	set := func(field string, dst *string, v *string) {
		if v != nil && *v != *dst {
			*dst = *v
			fields = append(fields, field)
		}
	}
	if p.name != nil {
		stored := names[nameIdx].stored
		set("s3Name", &after.name, &stored)
		after.key = names[nameIdx].key
	}
	set("s3AccessKeyId", &after.accessKey, p.accessKey)
	set("s3Endpoint", &after.endpoint, p.endpoint)
	set("s3Region", &after.region, p.region)
	oldCA, newCA := "", ""
	if c.ca != nil {
		oldCA = *c.ca
	}
	if p.ca == "set" {
		newCA = testCA
	}
	if p.ca != "" && newCA != oldCA {
		after.ca = nil
		if p.ca == "set" {
			ca := testCA
			after.ca = &ca
		}
		fields = append(fields, "s3CaCertificate")
	}
	if p.secret != nil {
		fields = append(fields, "s3SecretKey")
	}
	switch {
	case toRole:
		after.role, after.accessKey, after.secret, after.ca = true, "", "", nil
		fields = append(fields, "authType")
		if c.ca != nil && !slices.Contains(fields, "s3CaCertificate") {
			fields = append(fields, "s3CaCertificate")
		}
	case toKeys:
		after.role, after.roleARN = false, ""
		fields = append(fields, "authType")
	}
	if p.roleARN != nil && *p.roleARN != c.roleARN {
		after.roleARN = *p.roleARN
		fields = append(fields, "s3RoleArn")
	}
	if p.secret != nil {
		after.secret = *p.secret
	}
	if len(fields) == 0 {
		w.expect(r, 200, "", "nothing changes")
		w.expectResource(r, c)
		return
	}
	checked := false
	switch {
	case after.role && (toRole || p.roleARN != nil || p.endpoint != nil || p.region != nil):
		checked = true
		if m.status(&after) == backup.HealthInvalid {
			w.expect(r, 422, backup.EInvalidCredentials, "a role STS refuses")
			return
		}
	case p.secret != nil:
		checked = true
		switch status := m.status(&after); {
		case status == backup.HealthUnreachable:
			w.expect(r, 502, backup.EUnreachable, "an endpoint that does not answer")
			return
		case status == backup.HealthInvalid || strings.HasPrefix(*p.secret, "wrong-"):
			w.expect(r, 422, backup.EInvalidCredentials, "keys the provider refuses")
			return
		}
	}
	for _, o := range m.live() {
		if o != c && o.org == c.org && o.key == after.key {
			w.expect(r, 409, backup.ENameTaken, "a name the organization has")
			return
		}
	}
	w.expect(r, 200, "", "an update")
	// The event names what the images show changed: the secret's version
	// moves with a new secret key, and goes with the keys.
	var eventFields []string
	for _, f := range []struct {
		name    string
		changed bool
	}{
		{"s3Name", after.name != c.name}, {"authType", after.role != c.role}, {"s3RoleArn", after.roleARN != c.roleARN},
		{"s3AccessKeyId", after.accessKey != c.accessKey}, {"s3SecretKey", p.secret != nil || toRole},
		{"s3Endpoint", after.endpoint != c.endpoint}, {"s3Region", after.region != c.region},
		{"s3CaCertificate", (after.ca == nil) != (c.ca == nil)},
	} {
		if f.changed {
			eventFields = append(eventFields, f.name)
		}
	}
	if checked {
		after.health = backup.HealthHealthy
	}
	*c = after
	m.change(c, caller, backup.ActionUpdated, fields, backup.EventUpdated, eventFields)
	w.expectResource(r, c)
}

// patchValid says whether the service accepts a PATCH's members for c:
// role is what c is after it.
func (w *world) patchValid(c *mcred, p patch, role bool) bool {
	if p.name != nil && !validName(*p.name) || p.region != nil && !validRegion(*p.region) {
		return false
	}
	endpoint := c.endpoint
	if p.endpoint != nil {
		endpoint = *p.endpoint
	}
	if p.authType == nil {
		// the credential stays what it is
	}
	if role {
		return p.accessKey == nil && p.secret == nil && (p.roleARN != nil || c.role) && awsEndpoint(endpoint) && p.ca != "set"
	}
	if p.roleARN != nil {
		return false
	}
	if c.role {
		return p.accessKey != nil && p.secret != nil
	}
	if p.accessKey != nil && *p.accessKey != c.accessKey && p.secret == nil {
		return false
	}
	moves := p.endpoint != nil && *p.endpoint != c.endpoint || p.region != nil && *p.region != c.region ||
		p.ca == "set" && c.ca == nil || p.ca == "null" && c.ca != nil || p.ca == "set" && c.ca != nil && *c.ca != testCA
	return p.secret != nil || !moves
}
