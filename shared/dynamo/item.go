package dynamo

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/backup-credentials/shared/backup"
)

// Attribute names and key prefixes.
const (
	attrPK        = "PK"
	attrSK        = "SK"
	attrGSI1PK    = "gsi1pk"
	attrGSI1SK    = "gsi1sk"
	attrExpiresAt = "expiresAt"
	indexByOrg    = "byOrgListV2"
	sortSep       = "\x01"
)

type item = map[string]types.AttributeValue

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}
func key(pk, sk string) item      { return item{attrPK: s(pk), attrSK: s(sk)} }
func credKey(id string) item      { return key("CRED#"+id, "CRED") }
func nameKey(org, nk string) item { return key("NAME#"+org+"#"+nk, "NAME") }
func orgKey(org string) item      { return key("ORG#"+org, "ORG") }

// A project is its organization's: the same ID in two organizations is two
// projects. Its pointer to its credential is keyed by both, in the
// organization's partition, so no organization can name, claim or redirect
// another's project.
func projectKey(org, pid string) item { return key("ORG#"+org, projectPrefix+pid) }

// A credential's partition holds, besides the credential ("CRED") and its
// history ("HIST#..."), what hangs off it: one item per associated project
// and one for its last use. Their sort keys begin with "#", which sorts
// before "CRED", so one Query (SK between "#" and "CRED") reads the
// credential with all of it, and a history Query that starts at "CRED"
// never meets them.
const (
	attachedPrefix = "#"
	projectPrefix  = "PROJ#"
)

// associationKey keys a project's entry in its credential's partition.
func associationKey(id, pid string) item { return key("CRED#"+id, attachedPrefix+projectPrefix+pid) }

// useKey keys the record of when the backup engine last resolved a
// credential: an item of its own, so recording a use never rewrites the
// credential (nor makes a stream record the publisher reads).
func useKey(id string) item { return key("CRED#"+id, attachedPrefix+"USE") }

// legacyProjectKeys are the keys a project's pointer had before it was
// keyed by its organization: PROJ#<project ID> (naming its organization)
// and, before that, PROJ#<org>#<project ID>. Tables not migrated yet still
// hold them; reads follow them and writes remove them.
func legacyProjectKeys(org, pid string) []item {
	return []item{key("PROJ#"+pid, "PROJ"), key("PROJ#"+org+"#"+pid, "PROJ")}
}
func sortKey(c *backup.Credential) string {
	return backup.NameKey(c.Name) + sortSep + c.ID
}

func timeString(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// searchText is what search matches: name, access key ID, endpoint and ID,
// lower-cased, separated by a character no search may contain.
func searchText(c *backup.Credential) string {
	return strings.ToLower(strings.Join([]string{c.Name, c.AccessKeyID, c.Endpoint, c.ID}, "\n"))
}

// The stored items of a credential, as DynamoDB holds them: attribute
// names are the tags.

// credentialRecord is a credential's item.
type credentialRecord struct {
	PK             string `dynamodbav:"PK"`
	SK             string `dynamodbav:"SK"`
	ID             string `dynamodbav:"id"`
	OrganizationID string `dynamodbav:"organizationId"`
	IsDefault      bool   `dynamodbav:"isDefault"`
	IsLocked       bool   `dynamodbav:"isLocked"`
	// Projects is the project map of items written before projects became
	// items of their own (project ID -> name); make migrate moves it out.
	Projects     map[string]string `dynamodbav:"projects,omitempty"`
	ProjectCount int64             `dynamodbav:"projectCount"`
	CreatedAt    string            `dynamodbav:"createdAt"`
	CreatedBy    string            `dynamodbav:"createdBy"`
	GSI1PK       string            `dynamodbav:"gsi1pk"`
	LastUsedAt   string            `dynamodbav:"lastUsedAt,omitempty"`
	// RotationDueFor is the keysChangedAt whose crossing of the rotation age
	// was announced.
	RotationDueFor string `dynamodbav:"rotationDueFor,omitempty"`
	mutableRecord
}

// mutableRecord is what an update of a credential may replace.
type mutableRecord struct {
	Name          string  `dynamodbav:"s3Name"`
	AccessKeyID   string  `dynamodbav:"s3AccessKeyId"`
	Endpoint      string  `dynamodbav:"s3Endpoint"`
	Region        string  `dynamodbav:"s3Region"`
	CACertificate *string `dynamodbav:"s3CaCertificate,omitempty"`
	// RoleARN is present for a role credential only (its authType);
	// KeysChangedAt for a key credential only.
	RoleARN        *string      `dynamodbav:"s3RoleArn,omitempty"`
	KeysChangedAt  string       `dynamodbav:"keysChangedAt,omitempty"`
	Health         healthRecord `dynamodbav:"health"`
	LastModified   string       `dynamodbav:"lastModified"`
	LastModifiedBy string       `dynamodbav:"lastModifiedBy"`
	Version        int64        `dynamodbav:"version"`
	SecretVersion  string       `dynamodbav:"secretVersion"`
	GSI1SK         string       `dynamodbav:"gsi1sk"`
	SearchText     string       `dynamodbav:"searchText"`
}

// healthRecord is a credential's last check.
type healthRecord struct {
	Status    string `dynamodbav:"status"`
	Message   string `dynamodbav:"message"`
	CheckedAt string `dynamodbav:"checkedAt,omitempty"`
	// LastHealthyAt is absent until the current keys are seen working.
	LastHealthyAt string `dynamodbav:"lastHealthyAt,omitempty"`
}

func healthOf(h backup.Health) healthRecord {
	r := healthRecord{Status: h.Status, Message: h.Message}
	if h.CheckedAt != nil {
		r.CheckedAt = timeString(*h.CheckedAt)
	}
	if h.LastHealthyAt != nil {
		r.LastHealthyAt = timeString(*h.LastHealthyAt)
	}
	return r
}

func mutableOf(c *backup.Credential) mutableRecord {
	r := mutableRecord{Name: c.Name, AccessKeyID: c.AccessKeyID, Endpoint: c.Endpoint, Region: c.Region,
		CACertificate: c.CACertificate, Health: healthOf(c.Health), LastModified: timeString(c.LastModified),
		LastModifiedBy: c.LastModifiedBy, Version: c.Version, SecretVersion: c.SecretVersion,
		GSI1SK: sortKey(c), SearchText: searchText(c)}
	if c.IsRole() {
		r.RoleARN = c.RoleARN
	}
	if c.KeysChangedAt != nil && !c.IsRole() {
		r.KeysChangedAt = timeString(*c.KeysChangedAt)
	}
	return r
}

// marshal turns a record into an item. Records hold strings, numbers,
// booleans and maps of them only, which always marshal.
func marshal(v any) item {
	it, err := attributevalue.MarshalMap(v)
	if err != nil {
		panic(fmt.Sprintf("dynamo: marshal %T: %v", v, err))
	}
	return it
}

// credentialItem is the whole item of a new credential, which has no
// projects yet.
func credentialItem(c *backup.Credential) item {
	return marshal(credentialRecord{PK: "CRED#" + c.ID, SK: "CRED", ID: c.ID, OrganizationID: c.OrganizationID,
		IsDefault: c.IsDefault, IsLocked: c.IsLocked, CreatedAt: timeString(c.CreatedAt), CreatedBy: c.CreatedBy,
		GSI1PK: "ORG#" + c.OrganizationID, mutableRecord: mutableOf(c)})
}

// mutableAttrs are the attributes an update may replace (no s3CaCertificate
// when there is none: the update removes it).
func mutableAttrs(c *backup.Credential) item { return marshal(mutableOf(c)) }

// ListAttributes are the attributes the index a list reads projects besides
// its keys: what a list answer shows (how the credential authenticates and
// its keys' age included), and what search matches (template.yaml declares
// the same). Never the secret version.
var ListAttributes = []string{"id", "organizationId", "s3Name", "s3AccessKeyId", "s3Endpoint", "s3Region", "s3CaCertificate",
	"isDefault", "isLocked", "projects", "health", "createdAt", "createdBy", "lastModified", "lastModifiedBy", "version", "searchText",
	"lastUsedAt", "s3RoleArn", "keysChangedAt", "rotationDueFor"}

// listAttributes are what a list reads of each credential.
var listAttributes = append(slices.DeleteFunc(slices.Clone(ListAttributes), func(a string) bool { return a == "searchText" }), attrGSI1SK)

// credentialAttributes are what a credential is read from.
var credentialAttributes = []string{"id", "organizationId", "s3Name", "s3AccessKeyId", "s3Endpoint", "s3Region", "s3CaCertificate",
	"isDefault", "isLocked", "projects", "projectCount", "health", "createdAt", "createdBy", "lastModified", "lastModifiedBy",
	"version", "secretVersion", "lastUsedAt", "s3RoleArn", "keysChangedAt", "rotationDueFor"}

func getS(it item, k string) string {
	if v, ok := it[k].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(it item, k string) int64 {
	if v, ok := it[k].(*types.AttributeValueMemberN); ok {
		x, _ := strconv.ParseInt(v.Value, 10, 64)
		return x
	}
	return 0
}

func getBool(it item, k string) bool {
	v, ok := it[k].(*types.AttributeValueMemberBOOL)
	return ok && v.Value
}

func getTime(it item, k string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, getS(it, k))
	if err != nil {
		return time.Time{}, fmt.Errorf("attribute %s: %w", k, err)
	}
	return t, nil
}

// credentialFrom reads a credential item.
func credentialFrom(it item) (*backup.Credential, error) {
	var r credentialRecord
	if err := attributevalue.UnmarshalMap(it, &r); err != nil {
		return nil, fmt.Errorf("read credential: %w", err)
	}
	c := &backup.Credential{
		ID: r.ID, OrganizationID: r.OrganizationID, Name: r.Name, AccessKeyID: r.AccessKeyID, Endpoint: r.Endpoint,
		Region: r.Region, IsDefault: r.IsDefault, IsLocked: r.IsLocked, CreatedBy: r.CreatedBy,
		LastModifiedBy: r.LastModifiedBy, Version: r.Version, SecretVersion: r.SecretVersion, Projects: []backup.Project{},
		Health: backup.Health{Status: r.Health.Status, Message: r.Health.Message}, AuthType: backup.AuthAccessKey,
	}
	if r.CACertificate != nil && *r.CACertificate != "" { // "" in items written before meant none
		c.CACertificate = r.CACertificate
	}
	for id, name := range r.Projects {
		if id != "$" { // the never-empty entry of items written before
			c.Projects = append(c.Projects, backup.Project{ID: id, Name: name})
		}
	}
	sort.Slice(c.Projects, func(i, j int) bool { return c.Projects[i].ID < c.Projects[j].ID })
	if c.Health.Status == "" {
		c.Health.Status = backup.HealthUnknown
	}
	if at, err := time.Parse(time.RFC3339, r.Health.CheckedAt); err == nil {
		c.Health.CheckedAt = &at
	}
	if at, err := time.Parse(time.RFC3339, r.Health.LastHealthyAt); err == nil {
		c.Health.LastHealthyAt = &at
	}
	if at, err := time.Parse(time.RFC3339, r.LastUsedAt); err == nil {
		c.LastUsedAt = &at
	}
	var err error
	if c.CreatedAt, err = time.Parse(time.RFC3339, r.CreatedAt); err != nil {
		return nil, fmt.Errorf("read credential %s: createdAt: %w", c.ID, err)
	}
	if c.LastModified, err = time.Parse(time.RFC3339, r.LastModified); err != nil {
		return nil, fmt.Errorf("read credential %s: lastModified: %w", c.ID, err)
	}
	readAuth(c, r.RoleARN, r.KeysChangedAt, r.RotationDueFor)
	return c, nil
}

// attach adds to a credential what hangs off it in its partition: its
// projects (beside those of a legacy project map) and its last use.
func attach(c *backup.Credential, attached []item) {
	for _, it := range attached {
		sk := getS(it, attrSK)
		switch {
		case strings.HasPrefix(sk, attachedPrefix+projectPrefix):
			id := strings.TrimPrefix(sk, attachedPrefix+projectPrefix)
			if !slices.ContainsFunc(c.Projects, func(p backup.Project) bool { return p.ID == id }) {
				c.Projects = append(c.Projects, backup.Project{ID: id, Name: getS(it, "name")})
			}
		case sk == attachedPrefix+"USE":
			if at, err := time.Parse(time.RFC3339, getS(it, "lastUsedAt")); err == nil && (c.LastUsedAt == nil || at.After(*c.LastUsedAt)) {
				c.LastUsedAt = &at
			}
		}
	}
	sort.Slice(c.Projects, func(i, j int) bool { return c.Projects[i].ID < c.Projects[j].ID })
}

// legacyProjects returns the IDs in the project map of a credential item
// written before projects became items of their own.
func legacyProjects(it item) map[string]bool {
	m, _ := it["projects"].(*types.AttributeValueMemberM)
	if m == nil {
		return nil
	}
	out := map[string]bool{}
	for id := range m.Value {
		if id != "$" {
			out[id] = true
		}
	}
	return out
}

// associationRecord is a project's item in its credential's partition.
type associationRecord struct {
	PK   string `dynamodbav:"PK"`
	SK   string `dynamodbav:"SK"`
	Name string `dynamodbav:"name"`
}

// readAuth reads how a credential authenticates: a role when it has a role
// ARN; keys otherwise, set when keysChangedAt says (at creation, for items
// written before it was recorded).
func readAuth(c *backup.Credential, roleARN *string, keysChangedAt, rotationDueFor string) {
	if roleARN != nil && *roleARN != "" {
		c.AuthType, c.RoleARN, c.AccessKeyID, c.KeysChangedAt = backup.AuthRole, roleARN, "", nil
		return
	}
	c.AuthType, c.RoleARN = backup.AuthAccessKey, nil
	at := c.CreatedAt
	if t, err := time.Parse(time.RFC3339, keysChangedAt); err == nil {
		at = t
	}
	c.KeysChangedAt = &at
	c.RotationAnnounced = rotationDueFor != "" && rotationDueFor == timeString(at)
}
