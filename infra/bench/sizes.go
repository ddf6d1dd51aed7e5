package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/dynamo"
	"github.com/acme/backup-credentials/shared/inmem"
	"github.com/acme/backup-credentials/shared/testkit"
)

// ItemSizes is the stored size of a credential's item and of its entry in
// the list index, after some number of changes.
type ItemSizes struct {
	Changes    int `json:"changes"`
	ItemBytes  int `json:"itemBytes"`
	IndexBytes int `json:"indexEntryBytes"`
}

// itemSizes makes a credential, changes it (lock and unlock, by a caller
// whose display name is 2,000 characters long, cut to 128) and sizes its
// items by DynamoDB's rules after 0 and after 10,000 changes. The store runs
// on the in-process emulator: the sizes are computed, not the emulator's.
func itemSizes() ([]ItemSizes, error) {
	ctx := context.Background()
	ddb, err := inmem.DynamoDB(ctx, "sizes")
	if err != nil {
		return nil, err
	}
	store := dynamo.New(ddb, "sizes")
	svc, err := backup.New(store, backup.WithSecrets(inmem.NewSecretStore()), backup.WithChecker(acceptAll{}))
	if err != nil {
		return nil, err
	}
	caller := backup.Caller{UserID: "u-bench", Name: strings.Repeat("N", 2000), Role: backup.RolePartner, Organizations: []string{"org-1"}}
	c, _, err := svc.Create(ctx, caller, backup.CreateInput{OrganizationID: "org-1", Name: "prod-backups", AccessKeyID: "AKIAIOSFODNN7EXAMPLE",
		SecretKey: "bench-secret", Endpoint: "https://s3.eu-central-1.amazonaws.com", Region: "eu-central-1"}, "")
	if err != nil {
		return nil, err
	}
	size := func(changes int) (ItemSizes, error) {
		out, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("sizes"), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "CRED#" + c.ID}, "SK": &types.AttributeValueMemberS{Value: "CRED"}}})
		if err != nil {
			return ItemSizes{}, err
		}
		index := map[string]types.AttributeValue{}
		for k, v := range out.Item {
			if slices.Contains(dynamo.ListAttributes, k) || k == "PK" || k == "SK" || k == "gsi1pk" || k == "gsi1sk" {
				index[k] = v
			}
		}
		return ItemSizes{Changes: changes, ItemBytes: testkit.ItemSize(out.Item), IndexBytes: testkit.ItemSize(index)}, nil
	}
	first, err := size(0)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	for i := range 10_000 {
		if _, err := svc.SetLocked(ctx, caller, c.ID, i%2 == 0); err != nil {
			return nil, fmt.Errorf("change %d: %w", i, err)
		}
	}
	last, err := size(10_000)
	if err != nil {
		return nil, err
	}
	fmt.Printf("10,000 changes in %s\n", time.Since(start).Round(time.Millisecond))
	return []ItemSizes{first, last}, nil
}
