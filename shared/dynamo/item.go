package dynamo

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

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
	indexByOrg    = "byOrgList"
	sortSep       = "\x01"
)

type item = map[string]types.AttributeValue

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}
func b(v bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: v} }
func key(pk, sk string) item        { return item{attrPK: s(pk), attrSK: s(sk)} }
func credKey(id string) item        { return key("CRED#"+id, "CRED") }
func nameKey(org, nk string) item   { return key("NAME#"+org+"#"+nk, "NAME") }
func orgKey(org string) item        { return key("ORG#"+org, "ORG") }

// projectKey keys a project's pointer to its credential. Project IDs are
// platform-wide, so the key has no organization: the item names it, and a
// project of one organization never reaches a credential of another.
func projectKey(pid string) item { return key("PROJ#"+pid, "PROJ") }
func sortKey(c *backup.Credential) string {
	return backup.NameKey(c.Name) + sortSep + c.ID
}

func timeString(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// searchText is what search matches: name, access key ID, endpoint and ID,
// lower-cased, separated by a character no search may contain.
func searchText(c *backup.Credential) string {
	return strings.ToLower(strings.Join([]string{c.Name, c.AccessKeyID, c.Endpoint, c.ID}, "\n"))
}

func healthItem(h backup.Health) types.AttributeValue {
	m := item{"status": s(h.Status), "message": s(h.Message)}
	if h.CheckedAt != nil {
		m["checkedAt"] = s(timeString(*h.CheckedAt))
	}
	return &types.AttributeValueMemberM{Value: m}
}

// credentialItem is the whole item of a new credential.
func credentialItem(c *backup.Credential) item {
	projects := item{}
	for _, p := range c.Projects {
		projects[p.ID] = s(p.Name)
	}
	it := credKey(c.ID)
	for k, v := range mutableAttrs(c) {
		it[k] = v
	}
	it["id"] = s(c.ID)
	it["organizationId"] = s(c.OrganizationID)
	it["isDefault"] = b(c.IsDefault)
	it["isLocked"] = b(c.IsLocked)
	it["projects"] = &types.AttributeValueMemberM{Value: projects}
	it["projectCount"] = n(int64(len(c.Projects)))
	it["createdAt"] = s(timeString(c.CreatedAt))
	it["createdBy"] = s(c.CreatedBy)
	it[attrGSI1PK] = s("ORG#" + c.OrganizationID)
	return it
}

// mutableAttrs are the attributes an update may replace.
func mutableAttrs(c *backup.Credential) item {
	it := item{
		"s3Name":         s(c.Name),
		"s3AccessKeyId":  s(c.AccessKeyID),
		"s3Endpoint":     s(c.Endpoint),
		"s3Region":       s(c.Region),
		"health":         healthItem(c.Health),
		"lastModified":   s(timeString(c.LastModified)),
		"lastModifiedBy": s(c.LastModifiedBy),
		"version":        n(c.Version),
		"secretVersion":  s(c.SecretVersion),
		attrGSI1SK:       s(sortKey(c)),
		"searchText":     s(searchText(c)),
	}
	if c.CACertificate != nil {
		it["s3CaCertificate"] = s(*c.CACertificate)
	}
	return it
}

// ListAttributes are the attributes the index a list reads projects besides
// its keys: what a list answer shows, and what search matches (template.yaml
// declares the same).
var ListAttributes = []string{"id", "organizationId", "s3Name", "s3AccessKeyId", "s3Endpoint", "s3Region", "s3CaCertificate",
	"isDefault", "isLocked", "projects", "health", "createdAt", "createdBy", "lastModified", "lastModifiedBy", "version", "searchText"}

// listProjection names what a list reads of each credential.
var listProjection = "#" + strings.Join(slices.DeleteFunc(slices.Clone(ListAttributes), func(a string) bool { return a == "searchText" }), ", #")

// credentialProjection names every attribute a credential is read from.
const credentialProjection = "id, organizationId, s3Name, s3AccessKeyId, s3Endpoint, s3Region, s3CaCertificate, " +
	"isDefault, isLocked, projects, health, createdAt, createdBy, lastModified, lastModifiedBy, version, secretVersion"

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

func getMap(it item, k string) item {
	if v, ok := it[k].(*types.AttributeValueMemberM); ok {
		return v.Value
	}
	return nil
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
	c := &backup.Credential{
		ID:             getS(it, "id"),
		OrganizationID: getS(it, "organizationId"),
		Name:           getS(it, "s3Name"),
		AccessKeyID:    getS(it, "s3AccessKeyId"),
		Endpoint:       getS(it, "s3Endpoint"),
		Region:         getS(it, "s3Region"),
		IsDefault:      getBool(it, "isDefault"),
		IsLocked:       getBool(it, "isLocked"),
		CreatedBy:      getS(it, "createdBy"),
		LastModifiedBy: getS(it, "lastModifiedBy"),
		Version:        getN(it, "version"),
		SecretVersion:  getS(it, "secretVersion"),
		Projects:       []backup.Project{},
	}
	if ca := getS(it, "s3CaCertificate"); ca != "" {
		c.CACertificate = &ca
	}
	for id, v := range getMap(it, "projects") {
		// "$" was the never-empty entry of an emulator workaround in items
		// written before; no project ID can be it.
		if name, ok := v.(*types.AttributeValueMemberS); ok && id != "$" {
			c.Projects = append(c.Projects, backup.Project{ID: id, Name: name.Value})
		}
	}
	sort.Slice(c.Projects, func(i, j int) bool { return c.Projects[i].ID < c.Projects[j].ID })
	h := getMap(it, "health")
	c.Health = backup.Health{Status: getS(h, "status"), Message: getS(h, "message")}
	if c.Health.Status == "" {
		c.Health.Status = backup.HealthUnknown
	}
	if at, err := getTime(h, "checkedAt"); err == nil {
		c.Health.CheckedAt = &at
	}
	var err error
	if c.CreatedAt, err = getTime(it, "createdAt"); err != nil {
		return nil, fmt.Errorf("read credential %s: %w", c.ID, err)
	}
	if c.LastModified, err = getTime(it, "lastModified"); err != nil {
		return nil, fmt.Errorf("read credential %s: %w", c.ID, err)
	}
	return c, nil
}
