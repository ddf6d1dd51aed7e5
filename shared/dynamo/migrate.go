package dynamo

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// MigrateProjectKeys moves the project pointers of a table written before
// project IDs became platform-wide, PROJ#<org>#<project ID>, to
// PROJ#<project ID> naming the organization, one transaction each (put the
// new pointer if no project of that ID has one, delete the old if it still
// names the same credential). It returns how many it moved, and is safe to
// run again or while the service runs. A pointer whose project has a
// pointer under the new key already is left in place and reported.
func (st *Store) MigrateProjectKeys(ctx context.Context) (moved int, conflicts []string, err error) {
	ex := build(expression.NewBuilder().WithFilter(expression.Name(attrSK).Equal(expression.Value("PROJ"))))
	in := &dynamodb.ScanInput{TableName: st.table, FilterExpression: ex.Filter(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(), ConsistentRead: aws.Bool(true)}
	for {
		out, err := st.api.Scan(ctx, in)
		if err != nil {
			return moved, conflicts, failed("scan project pointers", err)
		}
		for _, it := range out.Items {
			rest := strings.TrimPrefix(getS(it, attrPK), "PROJ#")
			org, pid, old := strings.Cut(rest, "#")
			if !old {
				continue // written under the new key
			}
			credID := getS(it, "credentialId")
			next := projectKey(pid)
			next["credentialId"] = s(credID)
			next["organizationId"] = s(org)
			err := st.transact(ctx, st.put(next, absent), st.del(key(getS(it, attrPK), "PROJ"), claimedBy(credID)))
			switch {
			case failedAt(err, 0):
				conflicts = append(conflicts, fmt.Sprintf("project %s of %s: a pointer under the new key exists already", pid, org))
			case err != nil && !failedAt(err, 1): // 1: moved or dissociated meanwhile
				return moved, conflicts, failed("move project pointer "+pid, err)
			case err == nil:
				moved++
			}
		}
		if out.LastEvaluatedKey == nil {
			return moved, conflicts, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}
