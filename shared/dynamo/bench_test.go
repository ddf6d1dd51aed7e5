package dynamo

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/acme/backup-credentials/shared/backup"
)

func sample() *backup.Credential {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	c := &backup.Credential{ID: "bc_01JD8X0000000000000000000X", OrganizationID: "org-1", Name: "prod-backups",
		AccessKeyID: "AKIAIOSFODNN7EXAMPLE", Endpoint: "https://s3.eu-central-1.amazonaws.com", Region: "eu-central-1",
		Projects:  []backup.Project{{ID: "p-1", Name: "shop"}, {ID: "p-2", Name: "blog"}},
		Health:    backup.Health{Status: backup.HealthHealthy, CheckedAt: &now, Message: "ok"},
		CreatedAt: now, CreatedBy: "Jane", LastModified: now, LastModifiedBy: "Jane", Version: 3, SecretVersion: "v1"}
	return c
}

// BenchmarkCredentialItem marshals a credential into its item, as every
// create does.
func BenchmarkCredentialItem(b *testing.B) {
	c := sample()
	b.ReportAllocs()
	for b.Loop() {
		_ = credentialItem(c)
	}
}

// BenchmarkCredentialFrom reads a credential from its item, as every read
// does for every item.
func BenchmarkCredentialFrom(b *testing.B) {
	c := sample()
	it := credentialItem(c)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := credentialFrom(it); err != nil {
			b.Fatal(err)
		}
	}
}

// TestItemRoundTrip: a credential item holds the credential without its
// projects, which are items of their own that attach adds.
func TestItemRoundTrip(t *testing.T) {
	c := sample()
	it := credentialItem(c)
	if _, ok := it["projects"]; ok {
		t.Errorf("the credential item holds its projects: %v", it["projects"])
	}
	got, err := credentialFrom(it)
	if err != nil {
		t.Fatal(err)
	}
	attach(got, []item{
		marshal(associationRecord{PK: "CRED#" + c.ID, SK: "#PROJ#p-2", Name: "blog"}),
		marshal(associationRecord{PK: "CRED#" + c.ID, SK: "#PROJ#p-1", Name: "shop"}),
		{attrPK: s("CRED#" + c.ID), attrSK: s("#USE"), "lastUsedAt": s("2026-11-25T11:00:00Z")},
	})
	if got.Name != c.Name || got.Version != c.Version || len(got.Projects) != 2 || got.Projects[0].Name != "shop" ||
		!got.Health.CheckedAt.Equal(*c.Health.CheckedAt) || got.SecretVersion != "v1" || got.CACertificate != nil ||
		got.LastUsedAt == nil || got.LastUsedAt.Hour() != 11 {
		t.Errorf("round trip = %+v", got)
	}
}

// pagedPartition answers a Query of a credential's partition two items at
// a time, as DynamoDB does past 1 MB.
type pagedPartition struct {
	API
	items   []item
	queries int
}

func (p *pagedPartition) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	p.queries++
	start := 0
	if in.ExclusiveStartKey != nil {
		for i, it := range p.items {
			if getS(it, attrSK) == getS(in.ExclusiveStartKey, attrSK) {
				start = i + 1
			}
		}
	}
	end := min(start+2, len(p.items))
	out := &dynamodb.QueryOutput{Items: p.items[start:end]}
	if end < len(p.items) {
		out.LastEvaluatedKey = key(getS(p.items[end-1], attrPK), getS(p.items[end-1], attrSK))
	}
	return out, nil
}

// TestReadCredentialPages: a credential whose projects pass one Query page
// is read whole, the credential item last (its sort key is after theirs).
func TestReadCredentialPages(t *testing.T) {
	c := sample()
	var items []item
	for i := range 5 {
		items = append(items, marshal(associationRecord{PK: "CRED#" + c.ID, SK: fmt.Sprintf("#PROJ#p-%d", i), Name: fmt.Sprint("project ", i)}))
	}
	items = append(items, credentialItem(c))
	api := &pagedPartition{items: items}
	sc, err := New(api, "t").readCredential(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sc == nil || len(sc.Projects) != 5 || sc.Projects[4].Name != "project 4" || api.queries != 3 {
		t.Errorf("read %+v in %d queries", sc, api.queries)
	}
}
