package provider_test

import (
	"context"
	"strings"
	"testing"

	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/dynamo"
	"github.com/acme/backup-credentials/shared/inmem"
	"github.com/acme/backup-credentials/shared/testkit"
)

// TestCheckRecordsRevokedKey stores a credential whose key is then deleted in
// the provider's IAM: POST .../check records health "invalid".
func TestCheckRecordsRevokedKey(t *testing.T) {
	ctx := context.Background()
	ddb, err := inmem.DynamoDB(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := backup.New(dynamo.New(ddb, "t"), backup.WithSecrets(inmem.NewSecretStore()), backup.WithChecker(checker()))
	if err != nil {
		t.Fatal(err)
	}
	user := uniqueUser("rotated")
	keys, err := testkit.CreateUser(ctx, adminCfg, user, testkit.ListBucketsPolicy)
	if err != nil {
		t.Fatal(err)
	}
	partner := backup.Caller{UserID: "u", Role: backup.RolePartner, Organizations: []string{"org-1"}}
	for _, endpoint := range []string{moto.URL, awsEndpoint} {
		c, _, err := svc.Create(ctx, partner, backup.CreateInput{OrganizationID: "org-1", Name: "via " + endpoint[:12],
			AccessKeyID: keys.AccessKeyID, SecretKey: keys.SecretKey, Endpoint: endpoint, Region: "us-east-1"}, "")
		if err != nil {
			t.Fatalf("create on %s: %v", endpoint, err)
		}
		if c.Health.Status != backup.HealthHealthy {
			t.Fatalf("created with health %+v", c.Health)
		}
	}
	if err := testkit.DeleteKey(ctx, adminCfg, user, keys.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	list, _, err := svc.List(ctx, partner, backup.ListRequest{})
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %v %v", list, err)
	}
	for _, c := range list {
		got, err := svc.Check(ctx, partner, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Health.Status != backup.HealthInvalid || !strings.Contains(got.Health.Message, "Invalid S3 credentials") {
			t.Errorf("%s: health %+v", c.Endpoint, got.Health)
		}
		if got.Version != c.Version {
			t.Errorf("a check changed the version")
		}
	}
}
