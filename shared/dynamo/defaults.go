package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/backup-credentials/shared/backup"
)

// The organization's default credential.

// MakeDefault moves the organization's default to id in one transaction: the
// organization's pointer (conditioned on the default read), the new default
// and the previous one.
func (st *Store) MakeDefault(ctx context.Context, id string, orgs []string, e backup.HistoryEntry) (*backup.Credential, error) {
	var result *backup.Credential
	err := st.optimistic(ctx, "make default "+id, func() error {
		credItem, orgItems, err := st.readWith(ctx, id, orgs, orgKey)
		if err != nil {
			return failed("make default "+id, err)
		}
		c, err := visible(credItem, id, orgs)
		if err != nil {
			return err
		}
		if c.IsDefault {
			result = c
			return nil
		}
		if c.IsLocked {
			return backup.Errorf(backup.ELocked, "The credential is locked; unlock it to make it the default.")
		}
		prev := getS(orgItems["ORG#"+c.OrganizationID], "defaultCredentialId")
		values := changeValues(e, item{":v": n(c.Version), ":true": b(true)})
		credUpdate := "SET #isDefault = :true, " + changeExpr
		// No default: the attribute is absent ("" in items written before).
		orgCond, orgValues := "attribute_not_exists(#defaultCredentialId) OR #defaultCredentialId = :none", item{":id": s(id), ":none": s("")}
		if prev != "" {
			orgCond, orgValues = "#defaultCredentialId = :prev", item{":id": s(id), ":prev": s(prev)}
		}
		items := []types.TransactWriteItem{
			{Update: &types.Update{TableName: st.table, Key: credKey(id),
				UpdateExpression: aws.String(credUpdate), ConditionExpression: aws.String("#version = :v"),
				ExpressionAttributeNames: exprNames([]string{credUpdate, "#version"}, nil), ExpressionAttributeValues: values}},
			{Update: &types.Update{TableName: st.table, Key: orgKey(c.OrganizationID),
				UpdateExpression: aws.String("SET #defaultCredentialId = :id"), ConditionExpression: aws.String(orgCond),
				ExpressionAttributeNames:  exprNames([]string{"#defaultCredentialId"}, nil),
				ExpressionAttributeValues: orgValues}},
			st.historyPut(id, c.OrganizationID, e),
		}
		if prev != "" && prev != id {
			pe := backup.HistoryEntry{At: e.At, By: e.By, ByID: e.ByID, Action: backup.ActionUpdated, Fields: []string{"isDefault"}}
			pv := changeValues(pe, item{":false": b(false)})
			prevUpdate := "SET #isDefault = :false, " + changeExpr
			items = append(items, types.TransactWriteItem{Update: &types.Update{TableName: st.table, Key: credKey(prev),
				UpdateExpression: aws.String(prevUpdate), ConditionExpression: aws.String("attribute_exists(PK)"),
				ExpressionAttributeNames: exprNames([]string{prevUpdate}, nil), ExpressionAttributeValues: pv}},
				st.historyPut(prev, c.OrganizationID, pe))
		}
		if err := st.transact(ctx, items...); err != nil {
			return err
		}
		c.IsDefault = true
		result = changed(c, e)
		return nil
	})
	return result, err
}
