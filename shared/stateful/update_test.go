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
	// nameIdx is the drawn entry of names, -1 when no name is given.
	nameIdx int
	// ifMatch is "", "current", "stale" or "*".
	ifMatch string
}

// toRole and toKeys: the patch turns c's keys into a role, or back.
func (p patch) toRole(c *mcred) bool {
	return p.authType != nil && *p.authType == backup.AuthRole && !c.role
}

func (p patch) toKeys(c *mcred) bool {
	return p.authType != nil && *p.authType == backup.AuthAccessKey && c.role
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
	p := w.drawPatch(t)
	c := w.m.creds[alias]
	r := w.call(caller, "PATCH", path, p.json(), p.headers(c)...)
	if w.updateRefused(r, caller, alias, c, p) {
		return
	}
	after, fields := p.apply(c)
	if len(fields) == 0 {
		w.expect(r, 200, "", "nothing changes")
		w.expectResource(r, c)
		return
	}
	checked, refused := w.providerRefused(r, c, &after, p)
	if refused {
		return
	}
	for _, o := range w.m.live() {
		if o != c && o.org == c.org && o.key == after.key {
			w.expect(r, 409, backup.ENameTaken, "a name the organization has")
			return
		}
	}
	w.expect(r, 200, "", "an update")
	if checked {
		after.health = backup.HealthHealthy
	}
	events := eventFields(c, &after, p)
	*c = after
	w.m.change(c, caller, backup.ActionUpdated, fields, backup.EventUpdated, events)
	w.expectResource(r, c)
}

// drawPatch draws the members of a PATCH and its If-Match.
func (w *world) drawPatch(t *rapid.T) patch {
	p := patch{nameIdx: -1}
	if chance(t, 40, "name?") {
		p.nameIdx = rapid.IntRange(0, len(names)-1).Draw(t, "name")
		p.name = &names[p.nameIdx].in
	}
	p.accessKey, p.endpoint = maybe(t, "accessKey", accessKeys), maybe(t, "endpoint", endpoints)
	p.region = maybe(t, "region", regions)
	p.authType = maybe(t, "authType", []string{backup.AuthRole, backup.AuthAccessKey})
	p.roleARN, p.ca = maybe(t, "roleArn", roleARNs), draw(t, []string{"", "", "", "set", "null"}, "ca")
	p.nullName = chance(t, 3, "nullName")
	if chance(t, 40, "secret?") {
		s := w.secret(t)
		p.secret = &s
	}
	p.ifMatch = draw(t, []string{"", "", "current", "stale", "*"}, "ifMatch")
	return p
}

// headers are the PATCH's If-Match for c (nil when c is not in the model).
func (p patch) headers(c *mcred) []string {
	switch p.ifMatch {
	case "current", "stale":
		v := 1
		if c != nil {
			v = c.version
		}
		if p.ifMatch == "stale" {
			v += 7
		}
		return []string{"If-Match", fmt.Sprintf("%q", fmt.Sprint(v))}
	case "*":
		return []string{"If-Match", "*"}
	}
	return nil
}

// updateRefused holds r to the refusals that come before anything
// changes, in the contract's order, and says whether there was one.
func (w *world) updateRefused(r response, caller, alias string, c *mcred, p patch) bool {
	if p.nullName {
		w.expect(r, 400, backup.EInvalid, "null where a string is expected")
		return true
	}
	if status, code := w.refused(caller, alias); status != 0 {
		w.expect(r, status, code, "may not change it")
		return true
	}
	if p.ifMatch == "stale" {
		w.expect(r, 412, backup.EPrecondition, "a stale If-Match")
		return true
	}
	role := c.role && !p.toKeys(c) || p.toRole(c)
	switch {
	case !w.patchValid(c, p, role):
		w.expect(r, 400, backup.EInvalid, "invalid members")
	case p.roleARN != nil && ownAccount(*p.roleARN):
		w.expect(r, 400, backup.EInvalid, "a role of the service's own account")
	case c.isLocked:
		w.expect(r, 409, backup.ELocked, "locked")
	default:
		return false
	}
	return true
}

// apply returns c as the patch leaves it, and the fields it changes as
// history names them.
func (p patch) apply(c *mcred) (mcred, []string) {
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
		stored := names[p.nameIdx].stored
		set("s3Name", &after.name, &stored)
		after.key = names[p.nameIdx].key
	}
	set("s3AccessKeyId", &after.accessKey, p.accessKey)
	set("s3Endpoint", &after.endpoint, p.endpoint)
	set("s3Region", &after.region, p.region)
	if ca, changed := p.caAfter(c); changed {
		after.ca = ca
		fields = append(fields, "s3CaCertificate")
	}
	if p.secret != nil {
		fields = append(fields, "s3SecretKey")
	}
	switch {
	case p.toRole(c):
		after.role, after.accessKey, after.secret, after.ca = true, "", "", nil
		fields = append(fields, "authType")
		if c.ca != nil && !slices.Contains(fields, "s3CaCertificate") {
			fields = append(fields, "s3CaCertificate")
		}
	case p.toKeys(c):
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
	return after, fields
}

// caAfter returns the CA the patch gives c (nil for none), and whether it
// changes c's.
func (p patch) caAfter(c *mcred) (*string, bool) {
	oldCA, newCA := "", ""
	if c.ca != nil {
		oldCA = *c.ca
	}
	if p.ca == "set" {
		newCA = testCA
	}
	if p.ca == "" || newCA == oldCA {
		return c.ca, false
	}
	if p.ca == "set" {
		return &newCA, true
	}
	return nil, true
}

// providerRefused holds r to the provider's verdict when the update is
// checked (anything but a rename of keys), and says whether it was checked
// and whether the provider refused.
func (w *world) providerRefused(r response, c, after *mcred, p patch) (checked, refused bool) {
	switch {
	case after.role && (p.toRole(c) || p.roleARN != nil || p.endpoint != nil || p.region != nil):
		if w.m.status(after) == backup.HealthInvalid {
			w.expect(r, 422, backup.EInvalidCredentials, "a role STS refuses")
			return true, true
		}
		return true, false
	case p.secret != nil:
		switch status := w.m.status(after); {
		case status == backup.HealthUnreachable:
			w.expect(r, 502, backup.EUnreachable, "an endpoint that does not answer")
			return true, true
		case status == backup.HealthInvalid || strings.HasPrefix(*p.secret, "wrong-"):
			w.expect(r, 422, backup.EInvalidCredentials, "keys the provider refuses")
			return true, true
		}
		return true, false
	}
	return false, false
}

// eventFields are the fields the update's event names: what the images
// show changed (the secret's version moves with a new secret key, and goes
// with the keys).
func eventFields(c, after *mcred, p patch) []string {
	var out []string
	for _, f := range []struct {
		name    string
		changed bool
	}{
		{"s3Name", after.name != c.name}, {"authType", after.role != c.role}, {"s3RoleArn", after.roleARN != c.roleARN},
		{"s3AccessKeyId", after.accessKey != c.accessKey}, {"s3SecretKey", p.secret != nil || p.toRole(c)},
		{"s3Endpoint", after.endpoint != c.endpoint}, {"s3Region", after.region != c.region},
		{"s3CaCertificate", (after.ca == nil) != (c.ca == nil)},
	} {
		if f.changed {
			out = append(out, f.name)
		}
	}
	return out
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
