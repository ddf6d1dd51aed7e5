package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
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
		keys := make([]item, len(orgs))
		for i, o := range orgs {
			keys[i] = orgKey(o)
		}
		sc, orgItems, err := st.readCredentialWith(ctx, id, orgs, keys...)
		if err != nil {
			return err
		}
		c := sc.Credential
		if c.IsDefault {
			result = c
			return nil
		}
		if c.IsLocked {
			return backup.Errorf(backup.ELocked, "The credential is locked; unlock it to make it the default.")
		}
		prev := getS(itemAt(orgItems, orgKey(c.OrganizationID)), "defaultCredentialId")
		def := expression.Name("defaultCredentialId")
		// No default: the attribute is absent ("" in items written before).
		orgCond := expression.Or(def.AttributeNotExists(), def.Equal(expression.Value("")))
		if prev != "" {
			orgCond = def.Equal(expression.Value(prev))
		}
		items := []types.TransactWriteItem{
			st.update(credKey(id), build(expression.NewBuilder().
				WithUpdate(change(expression.Set(expression.Name("isDefault"), expression.Value(true)), e)).
				WithCondition(atVersion(c.Version)))),
			st.update(orgKey(c.OrganizationID), build(expression.NewBuilder().
				WithUpdate(expression.Set(def, expression.Value(id))).WithCondition(orgCond))),
			st.historyPut(id, c.OrganizationID, c.Version+1, e),
		}
		if prev != "" && prev != id {
			pe := backup.HistoryEntry{At: e.At, By: e.By, ByID: e.ByID, Action: backup.ActionUpdated, Fields: []string{"isDefault"}}
			items = append(items,
				st.update(credKey(prev), build(expression.NewBuilder().
					WithUpdate(change(expression.Set(expression.Name("isDefault"), expression.Value(false)), pe)).
					WithCondition(expression.AttributeExists(expression.Name(attrPK))))),
				st.historyPut(prev, c.OrganizationID, 0, pe))
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
