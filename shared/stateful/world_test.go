package stateful_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"pgregory.net/rapid"

	"github.com/acme/backup-credentials/shared/backup"
)

// A world is one generated sequence: the same calls on every storage, in
// lockstep, and the model that says what each answer must be.
type world struct {
	t       *rapid.T
	ctx     context.Context
	st      []*storage
	m       *model
	p       *provider
	secrets []string // the sequence's secret keys, good and bad
	steps   int
	// answers counts the answers by route and status.
	answers map[string]int
	// quiet leaves the checks after each step out of the sequence's log.
	quiet bool
	// trace is every call and job of the sequence, with the answer the
	// model wanted, kept when the sequence fails (recorded.go).
	trace []step
}

var idSegment = regexp.MustCompile(`\{cred-\d+\}|bc_0+`)

// route names a request's route: its path without IDs or query.
func route(path string) string {
	path, _, _ = strings.Cut(path, "?")
	return idSegment.ReplaceAllString(path, "{id}")
}

// bogus is a well-formed credential ID that names nothing.
const bogus = "bc_00000000000000000000000000"

// call sends a request to every storage. Every storage must give the same
// answer (IDs and times normalized), never a 5xx, and no secret key but in
// the backup engine's answer. It returns the first storage's answer.
func (w *world) call(caller, method, path, body string, headers ...string) response {
	w.t.Helper()
	hs := map[string]string{}
	for i := 0; i+1 < len(headers); i += 2 {
		hs[headers[i]] = headers[i+1]
	}
	rs := w.callEach(caller, method, path, body, hs)
	first := rs[0]
	for i, r := range rs[1:] {
		if r.norm != first.norm {
			w.t.Fatalf("the storages differ on %s %s as %s %s:\n %s: %d %s\n %s: %d %s", method, path, caller, compact(body),
				w.st[0].name, first.status, first.norm, w.st[i+1].name, r.status, r.norm)
		}
	}
	return first
}

// callEach makes a call on every storage and returns each answer: none may
// be a 5xx or carry a secret key, and all must have one status.
func (w *world) callEach(caller, method, path, body string, hs map[string]string) []response {
	w.t.Helper()
	w.trace = append(w.trace, step{Caller: caller, Method: method, Path: path, Body: body, Headers: hs})
	rs := make([]response, len(w.st))
	for i, st := range w.st {
		r := st.serve(caller, method, path, body, hs)
		if r.status >= 500 && r.status != http.StatusBadGateway { // 502: an endpoint that does not answer, which the model says
			w.t.Fatalf("%s %s as %s %s on %s: %d %s", method, path, caller, compact(body), st.name, r.status, r.raw)
		}
		if !(strings.HasSuffix(strings.SplitN(path, "?", 2)[0], "/backup-target") && r.status == 200) {
			for _, s := range w.secrets {
				if strings.Contains(r.raw, s) {
					w.t.Fatalf("%s %s on %s: the answer carries a secret key: %s", method, path, st.name, r.raw)
				}
			}
		}
		if rs[i] = r; r.status != rs[0].status {
			w.t.Fatalf("the storages differ on %s %s as %s %s:\n %s: %d %s\n %s: %d %s", method, path, caller, compact(body),
				w.st[0].name, rs[0].status, rs[0].norm, st.name, r.status, r.norm)
		}
	}
	first := rs[0]
	w.trace[len(w.trace)-1].Want = first.status
	if !w.quiet {
		w.t.Logf("%s %s as %s %s -> %d %s", method, path, caller, compact(body), first.status, compact(first.norm))
	}
	k := fmt.Sprintf("%s %s %d", method, route(path), first.status)
	if errs, _ := first.object()["errors"].([]any); len(errs) > 0 {
		k += fmt.Sprint(" ", errs[0].(map[string]any)["field"])
	}
	w.answers[k]++
	return rs
}

// expect fails the sequence unless the answer has the status and, for an
// error, the code the model says.
func (w *world) expect(r response, status int, code, why string) {
	w.t.Helper()
	w.trace[len(w.trace)-1].Want = status
	if r.status != status || code != "" && r.code() != code {
		w.t.Fatalf("answered %d %s; the model says %d %s: %s", r.status, r.raw, status, code, why)
	}
}

// expectResource fails unless the answer shows c as the model has it.
func (w *world) expectResource(r response, c *mcred) {
	w.t.Helper()
	if ok, diff := sameResource(r.body, c); !ok {
		w.t.Fatalf("the answer shows %s otherwise than the model: %s", c.alias, diff)
	}
}

// pick draws a credential alias: mostly one made so far (deleted ones
// too), sometimes one that names nothing.
func (w *world) pick(t *rapid.T) (alias, path string) {
	if len(w.m.order) == 0 || chance(t, 10, "nothing") {
		return "", "/v1/backup-credentials/" + bogus
	}
	a := draw(t, w.m.order, "credential")
	return a, "/v1/backup-credentials/{" + a + "}"
}

// chance draws whether something rare happens, about percent times in a
// hundred (rapid draws small numbers more often than large ones, so the
// rare outcome is the large numbers: a little rarer than said, never more
// frequent).
func chance(t *rapid.T, percent int, label string) bool {
	return rapid.IntRange(0, 99).Draw(t, label) >= 100-percent
}

// callerFor draws who acts on a credential: mostly a writer of its
// organization, sometimes anyone.
func (w *world) callerFor(t *rapid.T, alias string, from []string) string {
	if c := w.m.creds[alias]; c != nil && !chance(t, 20, "anyone") {
		var own []string
		for _, name := range []string{"pa", "ma", "pc"} {
			if member(name, c.org) {
				own = append(own, name)
			}
		}
		return draw(t, own, "caller")
	}
	return draw(t, from, "caller")
}

// secret draws a secret key of the sequence: one of three good ones, or
// now and then a bad one the provider refuses.
func (w *world) secret(t *rapid.T) string {
	if chance(t, 10, "wrong secret") {
		return w.secrets[len(w.secrets)-1]
	}
	return draw(t, w.secrets[:len(w.secrets)-1], "secret")
}

// often draws from a pool whose first value is the usual one and the rest
// come now and then (a bad region, an endpoint that does not answer).
func often[E any](t *rapid.T, from []E, label string) E {
	if !chance(t, 25, label+" unusual") {
		return from[0]
	}
	return draw(t, from, label)
}

// refused returns the status and code of a change the caller may not make
// on alias, or 0 when it may: a credential the caller cannot see is 404
// whatever its role; one it sees but may not change is 403.
func (w *world) refused(caller, alias string) (int, string) {
	c := w.m.visible(caller, alias)
	switch {
	case c == nil:
		return 404, backup.ENotFound
	case !writes(caller):
		return 403, backup.EForbidden
	}
	return 0, ""
}

// allowed holds r to the refusal of a caller who may not change alias
// (see refused) and returns nil, or returns the credential it may change.
func (w *world) allowed(r response, caller, alias, why string) *mcred {
	if status, code := w.refused(caller, alias); status != 0 {
		w.expect(r, status, code, why)
		return nil
	}
	return w.m.creds[alias]
}

func member(caller, org string) bool { return slices.Contains(callers[caller].Organizations, org) }

// createInput is what a create draws.
type createInput struct {
	org, name, accessKey, secret, endpoint, region, roleARN string
	role, withCA                                            bool
	// n is the drawn name; idemKey the Idempotency-Key, "" for none.
	n       nameCase
	idemKey string
}

func (in createInput) json() string {
	b := map[string]any{"organizationId": in.org, "s3Name": in.name, "s3Endpoint": in.endpoint, "s3Region": in.region}
	if in.role {
		b["authType"], b["s3RoleArn"] = backup.AuthRole, in.roleARN
	} else {
		b["s3AccessKeyId"], b["s3SecretKey"] = in.accessKey, in.secret
	}
	if in.withCA {
		b["s3CaCertificate"] = testCA
	}
	return body(b)
}

// Create draws a create of keys or a role, with or without an
// Idempotency-Key, and holds the answer to the model.
func (w *world) Create(t *rapid.T) {
	caller := draw(t, []string{"pa", "ma", "pc"}, "caller")
	if chance(t, 15, "anyone") {
		caller = draw(t, writers, "any caller")
	}
	in := w.drawCreate(t, caller)
	var headers []string
	if in.idemKey != "" {
		headers = []string{"Idempotency-Key", in.idemKey}
	}
	r := w.call(caller, "POST", "/v1/backup-credentials", in.json(), headers...)
	if w.createRefused(r, caller, in) {
		return
	}
	w.expect(r, 201, "", "a create")
	m := w.m
	c := &mcred{alias: fmt.Sprintf("cred-%d", len(m.order)+1), org: in.org, name: in.n.stored, key: in.n.key, role: in.role,
		accessKey: in.accessKey, secret: in.secret, roleARN: in.roleARN, endpoint: in.endpoint, region: in.region,
		projects: map[string]string{}, health: backup.HealthHealthy, createdBy: callers[caller].Name}
	if in.withCA {
		ca := testCA
		c.ca = &ca
	}
	m.creds[c.alias], m.order = c, append(m.order, c.alias)
	fields := []string{"s3Name", "s3AccessKeyId", "s3SecretKey", "s3Endpoint", "s3Region"}
	if in.role {
		fields = []string{"s3Name", "authType", "s3RoleArn", "s3Endpoint", "s3Region"}
	}
	eventFields := append(slices.Clone(fields), "isDefault", "isLocked")
	if in.withCA {
		fields, eventFields = append(fields, "s3CaCertificate"), append(eventFields, "s3CaCertificate")
	}
	c.version = 0
	m.change(c, caller, backup.ActionCreated, fields, backup.EventCreated, eventFields)
	w.expectResource(r, c)
	if in.idemKey != "" {
		m.idems[[2]string{callers[caller].UserID, in.idemKey}] = idem{body: in.json(), answer: r.norm}
	}
}

// drawCreate draws what caller creates: mostly in its own organization,
// with a valid name, keys or a role.
func (w *world) drawCreate(t *rapid.T, caller string) createInput {
	org := draw(t, organizations, "org")
	if own := callers[caller].Organizations; len(own) > 0 && !chance(t, 15, "another organization") {
		org = draw(t, own, "own org")
	}
	n := names[len(names)-1]
	if !chance(t, 5, "invalid name") {
		n = draw(t, names[:len(names)-1], "name")
	}
	in := createInput{org: org, name: n.in, n: n, endpoint: often(t, endpoints, "endpoint"),
		region: often(t, regions, "region"), role: chance(t, 25, "role")}
	if in.role {
		in.roleARN = often(t, roleARNs, "roleArn")
	} else {
		in.accessKey, in.secret, in.withCA = draw(t, accessKeys, "accessKey"), w.secret(t), chance(t, 20, "ca")
	}
	in.idemKey = draw(t, idemKeys, "idempotencyKey")
	return in
}

// createRefused holds r to what answers a create other than a new
// credential (a refusal or the replay of an Idempotency-Key), in the
// contract's order, and says whether there was one.
func (w *world) createRefused(r response, caller string, in createInput) bool {
	switch {
	case !writes(caller):
		w.expect(r, 403, backup.EForbidden, "a reader creates")
	case !validName(in.name) || !validRegion(in.region) || in.role && !awsEndpoint(in.endpoint):
		w.expect(r, 400, backup.EInvalid, "invalid input")
	case in.role && ownAccount(in.roleARN):
		w.expect(r, 400, backup.EInvalid, "a role of the service's own account")
	case !member(caller, in.org):
		w.expect(r, 403, backup.EForbidden, "another organization")
	default:
		if prev, ok := w.m.idems[[2]string{callers[caller].UserID, in.idemKey}]; in.idemKey != "" && ok {
			w.expectReplay(r, in, prev)
			return true
		}
		return w.createConflicts(r, in)
	}
	return true
}

// expectReplay holds r to the answer of a create sent again with its
// Idempotency-Key: the first answer, or 422 for another body.
func (w *world) expectReplay(r response, in createInput, prev idem) {
	if prev.body != in.json() {
		w.expect(r, 422, backup.EIdempotencyReused, "the key with another body")
		return
	}
	w.expect(r, 201, "", "a replay")
	if r.norm != prev.answer {
		w.t.Fatalf("a replay answered\n %s\nthe first answer was\n %s", r.norm, prev.answer)
	}
}

// createConflicts holds r to the provider's verdict, the name and the
// organization's quota, and says whether one refused the create.
func (w *world) createConflicts(r response, in createInput) bool {
	inOrg, taken := 0, false
	for _, c := range w.m.live() {
		if c.org == in.org {
			inOrg++
			taken = taken || c.key == in.n.key
		}
	}
	probe := &mcred{role: in.role, roleARN: in.roleARN, endpoint: in.endpoint, accessKey: in.accessKey}
	switch status := w.m.status(probe); {
	case !in.role && strings.HasPrefix(in.secret, "wrong-") && status != backup.HealthUnreachable:
		w.expect(r, 422, backup.EInvalidCredentials, "a secret the provider refuses")
	case status == backup.HealthInvalid:
		w.expect(r, 422, backup.EInvalidCredentials, "keys or a role the provider refuses")
	case status == backup.HealthUnreachable:
		w.expect(r, 502, backup.EUnreachable, "an endpoint that does not answer")
	case taken:
		w.expect(r, 409, backup.ENameTaken, "a name the organization has")
	case inOrg >= maxCredentials:
		w.expect(r, 409, backup.EQuotaExceeded, "the organization is full")
	default:
		return false
	}
	return true
}

// Get reads one credential.
func (w *world) Get(t *rapid.T) {
	alias, path := w.pick(t)
	caller := w.callerFor(t, alias, readers)
	r := w.call(caller, "GET", path, "")
	if c := w.m.visible(caller, alias); c != nil {
		w.expect(r, 200, "", "a credential the caller sees")
		w.expectResource(r, c)
		return
	}
	w.expect(r, 404, backup.ENotFound, "a credential the caller does not see")
}

// Lock locks or unlocks a credential.
func (w *world) Lock(t *rapid.T) {
	alias, path := w.pick(t)
	caller, lock := w.callerFor(t, alias, writers), rapid.Bool().Draw(t, "lock")
	action, event, verb := backup.ActionUnlocked, backup.EventUnlocked, "/unlock"
	if lock {
		action, event, verb = backup.ActionLocked, backup.EventLocked, "/lock"
	}
	r := w.call(caller, "POST", path+verb, "")
	c := w.allowed(r, caller, alias, "may not change it")
	if c == nil {
		return
	}
	switch {
	case lock && c.isLocked:
		w.expect(r, 409, backup.EAlreadyLocked, "locked already")
	case !lock && !c.isLocked:
		w.expect(r, 409, backup.EAlreadyUnlocked, "not locked")
	default:
		w.expect(r, 200, "", "a lock or unlock")
		c.isLocked = lock
		w.m.change(c, caller, action, []string{"isLocked"}, event, []string{"isLocked"})
		w.expectResource(r, c)
	}
}

// MakeDefault makes a credential its organization's default.
func (w *world) MakeDefault(t *rapid.T) {
	alias, path := w.pick(t)
	caller := w.callerFor(t, alias, writers)
	r := w.call(caller, "POST", path+"/make-default", "")
	c := w.allowed(r, caller, alias, "may not change it")
	if c == nil {
		return
	}
	switch {
	case c.isDefault:
		w.expect(r, 200, "", "the default already")
	case c.isLocked:
		w.expect(r, 409, backup.ELocked, "locked")
		return
	default:
		w.expect(r, 200, "", "a new default")
		if prev := w.m.defaults[c.org]; prev != "" {
			p := w.m.creds[prev]
			p.isDefault = false
			w.m.change(p, caller, backup.ActionUpdated, []string{"isDefault"}, backup.EventDefaultChanged, []string{"isDefault"})
		}
		c.isDefault = true
		w.m.defaults[c.org] = alias
		w.m.change(c, caller, backup.ActionMadeDefault, []string{"isDefault"}, backup.EventDefaultChanged, []string{"isDefault"})
	}
	w.expectResource(r, c)
}

// Associate gives a project of the credential's organization to a
// credential, moving it from the one that had it.
func (w *world) Associate(t *rapid.T) {
	alias, path := w.pick(t)
	caller := w.callerFor(t, alias, writers)
	pid, name := draw(t, projectIDs, "project"), draw(t, projectNames[:len(projectNames)-1], "projectName")
	if chance(t, 5, "no project name") {
		name = ""
	}
	r := w.call(caller, "PUT", path+"/projects/"+pid, body(map[string]any{"name": name}))
	m := w.m
	// A writer's body is checked before the credential is looked for: its
	// 400 says nothing of what exists.
	switch c := m.visible(caller, alias); {
	case !writes(caller) && c == nil:
		w.expect(r, 404, backup.ENotFound, "a credential the caller does not see")
		return
	case !writes(caller):
		w.expect(r, 403, backup.EForbidden, "a reader")
		return
	case name == "":
		w.expect(r, 400, backup.EInvalid, "no project name")
		return
	case c == nil:
		w.expect(r, 404, backup.ENotFound, "a credential the caller does not see")
		return
	case c.isLocked:
		w.expect(r, 409, backup.ELocked, "locked")
		return
	}
	c := m.creds[alias]
	prev := m.projects[[2]string{c.org, pid}]
	switch {
	case prev == alias && c.projects[pid] == name:
		w.expect(r, 200, "", "associated already")
	case prev != alias && len(c.projects) >= maxProjects:
		w.expect(r, 409, backup.EQuotaExceeded, "the credential is full")
		return
	default:
		w.expect(r, 200, "", "an association")
		if prev != "" && prev != alias {
			p := m.creds[prev]
			delete(p.projects, pid)
			m.change(p, caller, backup.ActionProjectDissociated, []string{"projects"}, backup.EventProjectDissociated, []string{"projects"})
		}
		c.projects[pid] = name
		m.projects[[2]string{c.org, pid}] = alias
		m.change(c, caller, backup.ActionProjectAssociated, []string{"projects"}, backup.EventProjectAssociated, []string{"projects"})
	}
	w.expectResource(r, c)
}

// Dissociate takes a project from a credential.
func (w *world) Dissociate(t *rapid.T) {
	alias, path := w.pick(t)
	caller := w.callerFor(t, alias, writers)
	pid := draw(t, projectIDs, "project")
	r := w.call(caller, "DELETE", path+"/projects/"+pid, "")
	c := w.allowed(r, caller, alias, "may not change it")
	if c == nil {
		return
	}
	if _, ok := c.projects[pid]; !ok {
		w.expect(r, 404, backup.ENotFound, "not associated")
		return
	}
	w.expect(r, 204, "", "a dissociation")
	delete(c.projects, pid)
	delete(w.m.projects, [2]string{c.org, pid})
	w.m.change(c, caller, backup.ActionProjectDissociated, []string{"projects"}, backup.EventProjectDissociated, []string{"projects"})
}

// Delete deletes a credential.
func (w *world) Delete(t *rapid.T) {
	alias, path := w.pick(t)
	caller := w.callerFor(t, alias, writers)
	r := w.call(caller, "DELETE", path, "")
	c := w.allowed(r, caller, alias, "may not change it")
	if c == nil {
		return
	}
	switch {
	case c.isLocked:
		w.expect(r, 409, backup.ELocked, "locked")
	case len(c.projects) > 0:
		w.expect(r, 409, backup.EInUse, "has projects")
	default:
		w.expect(r, 204, "", "a delete")
		c.deleted = true
		if w.m.defaults[c.org] == alias {
			delete(w.m.defaults, c.org)
		}
		w.m.events = append(w.m.events, mevent{alias, backup.EventDeleted, c.version, []string{}})
	}
}

// Check checks a credential's stored keys now.
func (w *world) Check(t *rapid.T) {
	alias, path := w.pick(t)
	caller := w.callerFor(t, alias, writers)
	r := w.call(caller, "POST", path+"/check", "")
	c := w.allowed(r, caller, alias, "may not check it")
	if c == nil {
		return
	}
	w.expect(r, 200, "", "a check")
	w.m.recordHealth(c)
	w.expectResource(r, c)
}

// Validate checks keys or a role without storing anything.
func (w *world) Validate(t *rapid.T) {
	caller := draw(t, writers, "caller")
	role := chance(t, 25, "role")
	endpoint, region := often(t, endpoints, "endpoint"), often(t, regions, "region")
	b := map[string]any{"s3Endpoint": endpoint, "s3Region": region}
	probe := &mcred{role: role, endpoint: endpoint}
	var org, secret string
	if role {
		probe.roleARN, org = often(t, roleARNs, "roleArn"), draw(t, organizations, "org")
		b["authType"], b["s3RoleArn"], b["organizationId"] = backup.AuthRole, probe.roleARN, org
	} else {
		probe.accessKey, secret = draw(t, accessKeys, "accessKey"), w.secret(t)
		b["s3AccessKeyId"], b["s3SecretKey"] = probe.accessKey, secret
	}
	r := w.call(caller, "POST", "/v1/backup-credentials/validate", body(b))
	status := w.m.status(probe)
	switch {
	case !writes(caller):
		w.expect(r, 403, backup.EForbidden, "a reader")
	case !validRegion(region) || role && !awsEndpoint(endpoint):
		w.expect(r, 400, backup.EInvalid, "invalid input")
	case role && ownAccount(probe.roleARN):
		w.expect(r, 400, backup.EInvalid, "a role of the service's own account")
	case role && !member(caller, org):
		w.expect(r, 403, backup.EForbidden, "another organization")
	case status == backup.HealthUnreachable:
		w.expect(r, 502, backup.EUnreachable, "an endpoint that does not answer")
	case status == backup.HealthInvalid || strings.HasPrefix(secret, "wrong-"):
		w.expect(r, 422, backup.EInvalidCredentials, "refused")
	default:
		w.expect(r, 200, "", "accepted")
	}
}

// History walks a credential's history in pages.
func (w *world) History(t *rapid.T) {
	alias, path := w.pick(t)
	caller := w.callerFor(t, alias, readers)
	w.walkHistory(caller, alias, path, rapid.IntRange(1, 3).Draw(t, "limit"))
}

func (w *world) walkHistory(caller, alias, path string, limit int) {
	c := w.m.visible(caller, alias)
	got, ok := w.pages(caller, fmt.Sprintf("%s/history?limit=%d", path, limit), limit, "history", func(r response) bool {
		if c == nil {
			w.expect(r, 404, backup.ENotFound, "a credential the caller does not see")
		}
		return c == nil
	})
	if !ok {
		return
	}
	for _, e := range got {
		m, _ := e.(map[string]any)
		delete(m, "at")
	}
	want := []any{}
	for i := len(c.history) - 1; i >= 0; i-- {
		want = append(want, c.history[i])
	}
	if got == nil {
		got = []any{}
	}
	if canonical(got) != canonical(want) {
		w.t.Fatalf("the history of %s:\n got %s\nwant %s", alias, canonical(got), canonical(want))
	}
}

// pages walks the pages of a GET from q (which has no cursor), at most
// limit items each, and returns their data; refused holds the first answer
// to a refusal when there is one, and the walk ends (false). Cursors are
// opaque and differ between storages: a request names the storage's own
// as {cursor}.
func (w *world) pages(caller, q string, limit int, what string, refused func(response) bool) ([]any, bool) {
	var got []any
	path := q
	for range 100 {
		r := w.call(caller, "GET", path, "")
		if refused(r) {
			return nil, false
		}
		w.expect(r, 200, "", "a "+what+" page")
		page := r.object()
		data, _ := page["data"].([]any)
		if len(data) > limit {
			w.t.Fatalf("a %s page of %d items for limit %d", what, len(data), limit)
		}
		got = append(got, data...)
		if page["nextCursor"] == nil {
			break
		}
		path = q + "&cursor={cursor}"
	}
	return got, true
}

// List walks a list in pages, with or without an organization, a search
// and a sort.
func (w *world) List(t *rapid.T) {
	caller := draw(t, readers, "caller")
	org := ""
	if rapid.Bool().Draw(t, "byOrganization") {
		org = draw(t, organizations, "org")
	}
	w.walkList(caller, org, draw(t, searches, "search"), draw(t, sorts, "sort"), rapid.IntRange(1, 3).Draw(t, "limit"))
}

func (w *world) walkList(caller, org, search, sort string, limit int) {
	q := fmt.Sprintf("/v1/backup-credentials?limit=%d", limit)
	if org != "" {
		q += "&organizationId=" + org
	}
	if search != "" {
		q += "&search=" + search
	}
	if sort != "" {
		q += "&sort=" + sort
	}
	refused := func(r response) bool {
		if org != "" && !member(caller, org) {
			w.expect(r, 403, backup.EForbidden, "another organization")
			return true
		}
		return false
	}
	order, _ := backup.ParseSort(sort)
	walk := w.pages
	if order.Field != backup.SortName {
		walk = func(caller, q string, limit int, what string, refused func(response) bool) ([]any, bool) {
			return w.sortedPages(caller, q, limit, order, refused)
		}
	}
	got, ok := walk(caller, q, limit, "list", refused)
	if !ok {
		return
	}
	var want []*mcred
	s := strings.ToLower(strings.TrimSpace(search))
	for _, c := range w.m.live() {
		if !member(caller, c.org) || org != "" && c.org != org {
			continue
		}
		if s == "" || strings.Contains(strings.ToLower(c.name), s) || strings.Contains(strings.ToLower(c.accessKey), s) ||
			strings.Contains(strings.ToLower(c.endpoint), s) || strings.HasPrefix("bc_", s) {
			want = append(want, c)
		}
	}
	slices.SortFunc(want, func(a, b *mcred) int {
		if a.org != b.org {
			return strings.Compare(a.org, b.org)
		}
		if sort == "-name" {
			return strings.Compare(b.key, a.key)
		}
		return strings.Compare(a.key, b.key)
	})
	if order.Field != backup.SortName {
		// The model keeps no times: sortedPages held each storage's answer
		// to its own values' order; here it must hold what the model holds.
		got = slices.Clone(got)
		slices.SortStableFunc(got, func(a, b any) int {
			am, bm := a.(map[string]any), b.(map[string]any)
			return cmp.Or(strings.Compare(am["organizationId"].(string), bm["organizationId"].(string)),
				strings.Compare(backup.NameKey(am["s3Name"].(string)), backup.NameKey(bm["s3Name"].(string))))
		})
	}
	if len(got) != len(want) {
		w.t.Fatalf("the list as %s (organization %q, search %q) has %d credentials, the model %d", caller, org, search, len(got), len(want))
	}
	for i, c := range want {
		if ok, diff := sameResource(got[i], c); !ok {
			w.t.Fatalf("the list's credential %d: %s", i, diff)
		}
	}
}

// sortedPages walks a list in a sort by creation, change or endpoint,
// which each storage breaks ties in by its own times and IDs: every
// storage's walk must be in its own values' order (inOrder), and all must
// hold the same credentials and page the same way. It returns the first
// storage's items, normalized.
func (w *world) sortedPages(caller, q string, limit int, order backup.Sort, refused func(response) bool) ([]any, bool) {
	raw, norm := make([][]any, len(w.st)), make([][]string, len(w.st))
	var got []any
	path := q
	for range 100 {
		rs := w.callEach(caller, "GET", path, "", map[string]string{})
		if refused(rs[0]) {
			return nil, false
		}
		more := false
		for i, r := range rs {
			w.expect(r, 200, "", "a sorted list page")
			var page struct {
				Data       []any
				NextCursor *string
			}
			_ = json.Unmarshal([]byte(r.raw), &page)
			data, _ := r.object()["data"].([]any)
			if len(data) > limit {
				w.t.Fatalf("a list page of %d items for limit %d on %s", len(data), limit, w.st[i].name)
			}
			raw[i] = append(raw[i], page.Data...)
			for _, d := range data {
				norm[i] = append(norm[i], canonical(d))
			}
			if i == 0 {
				got, more = append(got, data...), page.NextCursor != nil
			} else if more != (page.NextCursor != nil) {
				w.t.Fatalf("%s: %s says there is more, %s does not", path, w.st[0].name, w.st[i].name)
			}
		}
		if !more {
			break
		}
		path = q + "&cursor={cursor}"
	}
	for i := range w.st {
		w.inOrder(w.st[i].name, raw[i], order)
		if slices.Sort(norm[i]); i > 0 && !slices.Equal(norm[i], norm[0]) {
			w.t.Fatalf("%s as %s: the storages list different credentials:\n %s: %v\n %s: %v", q, caller, w.st[0].name, norm[0], w.st[i].name, norm[i])
		}
	}
	return got, true
}

// inOrder holds a list's answer to its sort: organizations in order, and
// within each the sort's field, then the ID, descending as a whole.
func (w *world) inOrder(storage string, got []any, order backup.Sort) {
	key := func(v any) (org, value, id string) {
		m := v.(map[string]any)
		value, _ = m[order.Field].(string)
		if order.Field == backup.SortEndpoint {
			value = strings.ToLower(value)
		}
		return m["organizationId"].(string), value, m["id"].(string)
	}
	for i := 1; i < len(got); i++ {
		po, pv, pid := key(got[i-1])
		o, v, id := key(got[i])
		n := cmp.Or(strings.Compare(pv, v), strings.Compare(pid, id))
		if order.Desc {
			n = -n
		}
		if po > o || po == o && n >= 0 {
			w.t.Fatalf("sort=%s on %s: %s (%s %s) comes before %s (%s %s)", order, storage, pid, po, pv, id, o, v)
		}
	}
}

// Organizations reads the caller's organizations.
func (w *world) Organizations(t *rapid.T) {
	w.organizations(draw(t, readers, "caller"))
}

func (w *world) organizations(caller string) {
	r := w.call(caller, "GET", "/v1/organizations", "")
	w.expect(r, 200, "", "organizations")
	orgs := slices.Clone(callers[caller].Organizations)
	slices.Sort(orgs)
	want := []any{}
	for _, o := range orgs {
		count := 0
		for _, c := range w.m.live() {
			if c.org == o {
				count++
			}
		}
		var def any
		if d := w.m.defaults[o]; d != "" {
			def = d
		}
		want = append(want, map[string]any{"id": o, "credentialCount": count, "defaultCredentialId": def,
			"externalId": "<external ID>", "trustPrincipal": trustPrincipal})
	}
	if got := canonical(r.object()["data"]); got != canonical(want) {
		w.t.Fatalf("organizations of %s:\n got %s\nwant %s", caller, got, canonical(want))
	}
}

// BackupTarget resolves an organization's project for the backup engine.
func (w *world) BackupTarget(t *rapid.T) {
	caller := "engine"
	if rapid.IntRange(0, 5).Draw(t, "asUser") == 0 {
		caller = draw(t, writers, "caller")
	}
	org, pid := draw(t, organizations, "org"), draw(t, projectIDs, "project")
	if keys := sortedKeys(w.projectKeys()); len(keys) > 0 && !chance(t, 25, "any project") {
		org, pid, _ = strings.Cut(draw(t, keys, "associated project"), "/")
	}
	w.backupTarget(caller, org, pid, draw(t, []string{"", "", "backup", "restore", "restore", "archive"}, "purpose"))
}

func (w *world) backupTarget(caller, org, pid, purpose string) {
	path := "/internal/v1/organizations/" + org + "/projects/" + pid + "/backup-target"
	if purpose != "" {
		path += "?purpose=" + purpose
	}
	r := w.call(caller, "GET", path, "")
	alias := w.m.projects[[2]string{org, pid}]
	switch {
	case caller != "engine":
		w.expect(r, 403, backup.EForbidden, "not the backup engine")
		return
	case purpose == "archive":
		w.expect(r, 400, backup.EInvalid, "an unknown purpose")
		return
	case alias == "":
		w.expect(r, 404, backup.ENotFound, "no credential of the organization has the project")
		return
	}
	c := w.m.creds[alias]
	if c.isLocked && purpose != "restore" {
		w.expect(r, 409, backup.ELocked, "a backup with a locked credential")
		return
	}
	w.expect(r, 200, "", "a resolution")
	c.used = true
	mode := backup.ModeReadWrite
	if c.isLocked {
		mode = backup.ModeReadOnly
	}
	want := map[string]any{"credentialId": c.alias, "organizationId": c.org, "s3Name": c.name, "s3Endpoint": c.endpoint,
		"s3Region": c.region, "s3CaCertificate": nil, "authType": backup.AuthAccessKey, "accessKeyId": c.accessKey,
		"secretAccessKey": c.secret, "sessionToken": nil, "expiresAt": nil, "mode": mode}
	if c.ca != nil {
		want["s3CaCertificate"] = *c.ca
	}
	if c.role {
		want["authType"], want["accessKeyId"], want["secretAccessKey"] = backup.AuthRole, "ASIATEMPORARY", "temporary-backup-credentials-"+c.alias
		want["sessionToken"], want["expiresAt"] = "session-token", "<time>"
	}
	got := r.object()
	h, _ := got["health"].(map[string]any)
	delete(got, "health")
	if canonical(got) != canonical(want) || h == nil || h["status"] != c.health {
		w.t.Fatalf("the backup target of %s/%s:\n got %s %v\nwant %s health %s", org, pid, canonical(got), h, canonical(want), c.health)
	}
}

// HealthRun runs the scheduled health check over every credential.
func (w *world) HealthRun(t *rapid.T) {
	w.trace = append(w.trace, step{Job: "health run"})
	live := len(w.m.live())
	for _, st := range w.st {
		sum, err := st.runner.Run(w.ctx)
		if err != nil || !sum.ok(live) {
			w.t.Fatalf("the health run on %s: %+v, %v; the model has %d credentials", st.name, sum, err, live)
		}
	}
	w.t.Logf("health run over %d credentials", live)
	for _, c := range w.m.live() {
		// Refused keys are checked again after a day; every check here
		// is of this test's minutes.
		if c.health != backup.HealthInvalid {
			w.m.recordHealth(c)
		}
	}
}

// Revoke makes the provider refuse, or accept again, an access key.
func (w *world) Revoke(t *rapid.T) {
	key, revoked := draw(t, accessKeys, "accessKey"), rapid.Bool().Draw(t, "revoked")
	w.p.revoke(key, revoked)
	w.m.revoked[key] = revoked
	w.trace = append(w.trace, step{Job: "revoke", Key: key, Revoked: revoked})
	w.t.Logf("the provider %s %s", map[bool]string{true: "refuses", false: "accepts"}[revoked], key)
}

// Drain publishes what each storage's stream holds, and holds the events
// to each other and to the model's: per credential, in order, each once,
// none with a secret.
func (w *world) Drain(*rapid.T) {
	w.trace = append(w.trace, step{Job: "drain"})
	var first map[string][]string
	drained := 0
	for i, st := range w.st {
		evs, err := st.drain(w.ctx)
		if err != nil {
			w.t.Fatalf("draining %s's stream: %v", st.name, err)
		}
		ids := map[string]bool{}
		for _, e := range evs {
			if ids[e.ID] {
				w.t.Fatalf("event %s twice on %s", e.ID, st.name)
			}
			ids[e.ID] = true
			raw, _ := json.Marshal(e)
			for _, s := range w.secrets {
				if strings.Contains(string(raw), s) {
					w.t.Fatalf("event %s on %s carries a secret key", e.ID, st.name)
				}
			}
		}
		norm := st.events(evs)
		if i == 0 {
			first, drained = norm, len(evs)
			w.expectEvents(st, evs)
			continue
		}
		for _, a := range append(sortedKeys(first), sortedKeys(norm)...) {
			if !slices.Equal(first[a], norm[a]) {
				w.t.Fatalf("the storages' events of %s differ:\n %s: %v\n %s: %v", a, w.st[0].name, first[a], st.name, norm[a])
			}
		}
	}
	w.t.Logf("%d events drained", drained)
	w.m.events = nil
}

// expectEvents holds one storage's events to the model's, per credential.
func (w *world) expectEvents(st *storage, evs []backup.Event) {
	got, want := map[string][]string{}, map[string][]string{}
	for _, e := range evs {
		fields := e.Fields
		if fields == nil {
			fields = []string{}
		}
		a, ok := st.ids[e.CredentialID]
		if !ok {
			a = "<an ID never answered>"
		}
		got[a] = append(got[a], mevent{a, e.DetailType, int(e.Version), fields}.String())
	}
	for _, e := range w.m.events {
		if e.fields == nil {
			e.fields = []string{}
		}
		want[e.cred] = append(want[e.cred], e.String())
	}
	for _, a := range append(sortedKeys(got), sortedKeys(want)...) {
		if !slices.Equal(got[a], want[a]) {
			w.t.Fatalf("the events of %s:\n got %v\nwant %v", a, got[a], want[a])
		}
	}
}

// Invariants runs after every step: the organizations' counts and
// defaults, so at most one default per organization, as the model has
// them.
func (w *world) Invariants(*rapid.T) {
	w.steps++
	w.quiet = true
	defer func() { w.quiet = false }()
	w.organizations("observer")
}

// Everything holds the whole service to the model at the end of a
// sequence: every list, credential, history and backup target, and the
// events not drained yet.
func (w *world) Everything() {
	w.walkList("pa", "", "", "", 100) // the List action walks pages of 1 to 3
	w.walkList("pc", "", "", "", 100)
	for _, a := range w.m.order {
		c := w.m.creds[a]
		caller := "pa"
		if c.org == "org-c" {
			caller = "pc"
		}
		path := "/v1/backup-credentials/{" + a + "}"
		r := w.call(caller, "GET", path, "")
		if c.deleted {
			w.expect(r, 404, backup.ENotFound, "deleted")
		} else {
			w.expect(r, 200, "", "a credential")
			w.expectResource(r, c)
		}
		w.walkHistory(caller, a, path, 100) // the History action walks pages of 1 to 3
	}
	for _, k := range sortedKeys(w.projectKeys()) {
		org, pid, _ := strings.Cut(k, "/")
		w.backupTarget("engine", org, pid, "restore")
	}
	w.backupTarget("engine", "org-c", "p-none", "")
	w.Drain(nil)
}

// projectKeys names each associated project "<org>/<project>".
func (w *world) projectKeys() map[string]bool {
	out := map[string]bool{}
	for k := range w.m.projects {
		out[k[0]+"/"+k[1]] = true
	}
	return out
}
