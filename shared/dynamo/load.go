package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/backup-credentials/shared/backup"
)

// LoadCredentials writes credentials' items into table as they are, 25 a
// call, with
// no name claim, organization count or history: for loading a table with
// many credentials to measure what reads and checks them (the bench's
// health pass on moto, where a create's transaction copies the whole
// table). The service never calls it; its creates are CreateCredential.
func LoadCredentials(ctx context.Context, api *dynamodb.Client, table string, cs []*backup.Credential) error {
	for start := 0; start < len(cs); start += 25 {
		var reqs []types.WriteRequest
		for _, c := range cs[start:min(start+25, len(cs))] {
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: credentialItem(c)}})
		}
		for len(reqs) > 0 {
			out, err := api.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}})
			if err != nil {
				return failed("load credentials", err)
			}
			reqs = out.UnprocessedItems[table]
		}
	}
	return nil
}
