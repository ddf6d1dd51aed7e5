package stateful_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"pgregory.net/rapid"

	"github.com/acme/backup-credentials/shared/backup"
)

// Limits the sequences run with, low so that sequences reach them.
const (
	maxCredentials = 4
	maxProjects    = 3
)

// The model: plain maps that say what every answer must be.

// A mcred is a credential as the model knows it.
type mcred struct {
	alias, org string
	name, key  string // as stored, and as compared (NFKC, case-folded)
	role       bool
	accessKey  string // "" for a role
	secret     string // "" for a role
	roleARN    string // "" for keys
	endpoint   string
	region     string
	ca         *string
	isDefault  bool
	isLocked   bool
	projects   map[string]string // project ID -> name
	version    int
	history    []mentry // oldest first
	health     string
	used       bool
	createdBy  string
	modifiedBy string
	deleted    bool
}

// A mentry is one history entry.
type mentry struct {
	Action string   `json:"action"`
	Fields []string `json:"fields"`
	By     string   `json:"by"`
	ByID   string   `json:"byId"`
}

// A mevent is one change event the stream must announce.
type mevent struct {
	cred, detailType string
	version          int
	fields           []string
}

func (e mevent) String() string {
	return fmt.Sprintf("%s v%d %s %v", strings.TrimPrefix(e.detailType, "Backup Credential "), e.version, e.cred, e.fields)
}

// An idem is what a create with an Idempotency-Key left: its body and its
// answer.
type idem struct{ body, answer string }

type model struct {
	creds    map[string]*mcred // alias -> credential
	order    []string          // aliases in order of creation
	defaults map[string]string // organization -> alias
	projects map[[2]string]string
	idems    map[[2]string]idem
	revoked  map[string]bool
	events   []mevent
}

func newModel() *model {
	return &model{creds: map[string]*mcred{}, defaults: map[string]string{}, projects: map[[2]string]string{},
		idems: map[[2]string]idem{}, revoked: map[string]bool{}}
}

// live returns the credentials not deleted, in order of creation.
func (m *model) live() []*mcred {
	var out []*mcred
	for _, a := range m.order {
		if c := m.creds[a]; !c.deleted {
			out = append(out, c)
		}
	}
	return out
}

// visible returns the credential alias names if caller may see it.
func (m *model) visible(caller, alias string) *mcred {
	c := m.creds[alias]
	if c == nil || c.deleted || !slices.Contains(callers[caller].Organizations, c.org) {
		return nil
	}
	return c
}

func writes(caller string) bool {
	r := callers[caller].Role
	return r == backup.RolePartner || r == backup.RoleManager
}

// change records a person's change of c: a new version, who, the history
// entry and, when it announces itself, the event.
func (m *model) change(c *mcred, caller, action string, fields []string, event string, eventFields []string) {
	c.version++
	c.modifiedBy = callers[caller].Name
	c.history = append(c.history, mentry{Action: action, Fields: fields, By: callers[caller].Name, ByID: callers[caller].UserID})
	if event != "" {
		m.events = append(m.events, mevent{c.alias, event, c.version, eventFields})
	}
}

// status is what the provider says of a credential's keys now.
func (m *model) status(c *mcred) string {
	switch {
	case c.role && strings.Contains(c.roleARN, "denied"):
		return backup.HealthInvalid
	case c.role:
		return backup.HealthHealthy
	case strings.Contains(c.endpoint, "://down."):
		return backup.HealthUnreachable
	case m.revoked[c.accessKey]:
		return backup.HealthInvalid
	}
	return backup.HealthHealthy
}

// recordHealth records a check's result, announcing a status that moved.
func (m *model) recordHealth(c *mcred) {
	if s := m.status(c); s != c.health {
		c.health = s
		m.events = append(m.events, mevent{c.alias, backup.EventHealthChanged, c.version, []string{"health"}})
	}
}

// resource is the answer that shows c, normalized as a storage's is.
func (c *mcred) resource() map[string]any {
	projects := []any{}
	for _, id := range sortedKeys(c.projects) {
		projects = append(projects, map[string]any{"id": id, "name": c.projects[id]})
	}
	r := map[string]any{
		"id": c.alias, "organizationId": c.org, "s3Name": c.name, "s3Endpoint": c.endpoint, "s3Region": c.region,
		"s3CaCertificate": nil, "isDefault": c.isDefault, "isLocked": c.isLocked, "projects": projects,
		"createdAt": "<time>", "createdBy": c.createdBy, "lastModified": "<time>", "lastModifiedBy": c.modifiedBy,
		"lastUsedAt": nil, "version": c.version, "rotationDue": false,
		"authType": backup.AuthAccessKey, "s3AccessKeyId": c.accessKey, "s3RoleArn": nil, "keysChangedAt": "<time>",
	}
	if c.ca != nil {
		r["s3CaCertificate"] = *c.ca
	}
	if c.used {
		r["lastUsedAt"] = "<time>"
	}
	if c.role {
		r["authType"], r["s3AccessKeyId"], r["s3RoleArn"], r["keysChangedAt"] = backup.AuthRole, nil, c.roleARN, nil
	}
	return r
}

// sameResource compares an answer's credential with the model's, health
// by status (its message and time are the provider's) and by when the keys
// last worked: every credential's keys worked once (create and every key
// change check them), so lastHealthyAt is never null.
func sameResource(got any, c *mcred) (bool, string) {
	g, _ := got.(map[string]any)
	if g == nil {
		return false, "not an object"
	}
	h, _ := g["health"].(map[string]any)
	if h == nil || h["status"] != c.health || h["lastHealthyAt"] == nil {
		return false, fmt.Sprintf("health %v, want status %s and a lastHealthyAt", g["health"], c.health)
	}
	rest := map[string]any{}
	for k, v := range g {
		if k != "health" {
			rest[k] = v
		}
	}
	got, want := canonical(rest), canonical(c.resource())
	return got == want, fmt.Sprintf("\n got %s\nwant %s", got, want)
}

// A nameCase is a name as sent, as stored, and as compared.
type nameCase struct{ in, stored, key string }

// The generated inputs. Names collide after case folding; each is given
// with the form it is stored in and the key it is compared by.
var names = []nameCase{
	{"prod", "prod", "prod"}, {"PROD", "PROD", "prod"}, {" Prod ", "Prod", "prod"},
	{"café", "café", "café"}, {"CAFÉ", "CAFÉ", "café"}, {"cafe\u0301", "café", "café"},
	{"Straße", "Straße", "strasse"}, {"STRASSE", "STRASSE", "strasse"},
	{"backup-1", "backup-1", "backup-1"}, {"zulu", "zulu", "zulu"},
	{"ab", "", ""}, // too short
}

var (
	accessKeys = []string{"AKIAONE", "AKIATWO", "AKIATHREE"}
	endpoints  = []string{"https://s3.eu-central-1.amazonaws.com", "https://minio.example.com", "https://down.example.com"}
	regions    = []string{"eu-central-1", "us-east-1", "bad region"}
	roleARNs   = []string{"arn:aws:iam::444455556666:role/backups", "arn:aws:iam::444455556666:role/denied-x",
		"arn:aws:iam::111122223333:role/own"} // the last is the service's own account
	organizations = []string{"org-a", "org-b", "org-c"}
	projectIDs    = []string{"p-1", "p-2", "p-3", "p-4"}
	projectNames  = []string{"shop", "blog", "Shop 2", ""}
	// searches match names, keys and endpoints, every ID ("bc_") or none:
	// each but "bc_" has a letter that an ID (Crockford's base 32: no I, L,
	// O, U) never has, so whether it matches never depends on the IDs drawn.
	searches = []string{"", "pro", "CAFÉ", "akiaone", "minio", "bc_", "quux"}
	sorts    = []string{"", "name", "-name", "createdAt", "-createdAt", "lastModified", "-lastModified", "s3Endpoint", "-s3Endpoint"}
	idemKeys = []string{"", "", "k-1", "k-2"}
	writers  = []string{"pa", "pa", "ma", "pc", "ua", "none"}
	readers  = []string{"pa", "ma", "ua", "pc", "none"}
)

func validName(in string) bool { return in != "ab" }

func validRegion(r string) bool { return r != "bad region" }

func awsEndpoint(e string) bool { return strings.Contains(e, ".amazonaws.com") }

func ownAccount(arn string) bool { return strings.Contains(arn, ":111122223333:") }

// draw picks from a slice.
func draw[E any](t *rapid.T, from []E, label string) E {
	return rapid.SampledFrom(from).Draw(t, label)
}

// body is a request body's JSON text.
func body(m map[string]any) string {
	raw, _ := json.Marshal(m)
	return string(raw)
}
