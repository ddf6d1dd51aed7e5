package dynamo

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/backup-credentials/shared/backup"
)

// Projects: a project's pointer to its credential moves with it, in one
// transaction.

// AssociateProject gives a project to a credential in one transaction with
// the project's pointer (conditioned on the owner read) and, when it moves,
// the credential it leaves.
func (st *Store) AssociateProject(ctx context.Context, id string, orgs []string, p backup.Project, e backup.HistoryEntry) (*backup.Credential, error) {
	var result *backup.Credential
	err := st.optimistic(ctx, "associate "+p.ID+" with "+id, func() error {
		credItem, projItems, err := st.readWith(ctx, id, []string{p.ID}, projectKey)
		if err != nil {
			return failed("associate "+p.ID+" with "+id, err)
		}
		c, err := visible(credItem, id, orgs)
		if err != nil {
			return err
		}
		if c.IsLocked {
			return backup.Errorf(backup.ELocked, "The credential is locked; unlock it to give it projects.")
		}
		projItem := projItems["PROJ#"+p.ID]
		if org := getS(projItem, "organizationId"); projItem != nil && org != c.OrganizationID {
			return inOtherOrganization(p.ID)
		}
		prev := getS(projItem, "credentialId")
		i := slices.IndexFunc(c.Projects, func(x backup.Project) bool { return x.ID == p.ID })
		if prev == id && i >= 0 && c.Projects[i].Name == p.Name {
			result = c
			return nil
		}
		added := int64(1)
		if prev == id && i >= 0 {
			added = 0
		}
		if added == 1 && len(c.Projects) >= st.MaxProjectsPerCredential {
			return backup.Errorf(backup.EQuotaExceeded, "The credential has %d projects, the most it may have.", st.MaxProjectsPerCredential)
		}
		count := expression.Name("projectCount")
		pi := projectKey(p.ID)
		pi["credentialId"] = s(id)
		pi["organizationId"] = s(c.OrganizationID)
		projCond := absent
		if prev != "" {
			projCond = expression.And(claimedBy(prev), expression.Name("organizationId").Equal(expression.Value(c.OrganizationID)))
		}
		items := []types.TransactWriteItem{
			st.update(credKey(id), build(expression.NewBuilder().
				WithUpdate(change(expression.Set(projectName(p.ID), expression.Value(p.Name)).
					Set(count, count.Plus(expression.Value(added))), e)).
				WithCondition(expression.And(atVersion(c.Version),
					count.LessThanEqual(expression.Value(st.MaxProjectsPerCredential-int(added))))))),
			st.put(pi, projCond),
			st.historyPut(id, c.OrganizationID, c.Version+1, e),
		}
		if prev != "" && prev != id {
			pe := backup.HistoryEntry{At: e.At, By: e.By, ByID: e.ByID, Action: backup.ActionProjectDissociated, Fields: []string{"projects"}}
			items = append(items, st.removeProject(prev, p.ID, pe, expression.AttributeExists(projectName(p.ID))),
				st.historyPut(prev, c.OrganizationID, 0, pe))
		}
		if err := st.transact(ctx, items...); err != nil {
			return err
		}
		if i >= 0 {
			c.Projects[i].Name = p.Name
		} else {
			c.Projects = append(c.Projects, p)
			slices.SortFunc(c.Projects, func(a, b backup.Project) int { return strings.Compare(a.ID, b.ID) })
		}
		result = changed(c, e)
		return nil
	})
	return result, err
}

func inOtherOrganization(projectID string) error {
	return backup.Errorf(backup.EProjectInOtherOrganization,
		"Project %q belongs to another organization; a project's backups use a credential of its own organization.", projectID)
}

// projectName names a project's entry in a credential's projects map. A
// project ID may hold dots, which are no path here.
func projectName(projectID string) expression.NameBuilder {
	return expression.Name("projects").AppendName(expression.NameNoDotSplit(projectID))
}

// removeProject is the update that takes a project from a credential, on
// condition.
func (st *Store) removeProject(id, projectID string, e backup.HistoryEntry, cond expression.ConditionBuilder) types.TransactWriteItem {
	count := expression.Name("projectCount")
	return st.update(credKey(id), build(expression.NewBuilder().
		WithUpdate(change(expression.Remove(projectName(projectID)).Set(count, count.Minus(expression.Value(1))), e)).
		WithCondition(cond)))
}

// DissociateProject takes a project from a credential and deletes the
// project's pointer in one transaction.
func (st *Store) DissociateProject(ctx context.Context, id string, orgs []string, projectID string, e backup.HistoryEntry) error {
	return st.optimistic(ctx, "dissociate "+projectID+" from "+id, func() error {
		c, err := st.GetCredential(ctx, id, orgs)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(c.Projects, func(p backup.Project) bool { return p.ID == projectID }) {
			return backup.Errorf(backup.ENotFound, "Project %q is not associated with this credential.", projectID)
		}
		return st.transact(ctx,
			st.removeProject(id, projectID, e, atVersion(c.Version)),
			st.del(projectKey(projectID), claimedBy(id)),
			st.historyPut(id, c.OrganizationID, c.Version+1, e),
		)
	})
}

// ResolveProject returns the credential a project's pointer names, in any
// organization (for the backup engine), or ENotFound. Two consistent reads:
// the pointer, then the credential it names.
func (st *Store) ResolveProject(ctx context.Context, projectID string) (*backup.Credential, error) {
	p, err := st.getItem(ctx, projectKey(projectID), "credentialId")
	if err != nil {
		return nil, failed("resolve project "+projectID, err)
	}
	id := getS(p, "credentialId")
	if id == "" {
		return nil, backup.Errorf(backup.ENotFound, "No backup credential is associated with project %q.", projectID)
	}
	it, err := st.getItem(ctx, credKey(id), credentialAttributes...)
	if err != nil {
		return nil, failed("resolve project "+projectID, err)
	}
	if it == nil {
		return nil, backup.Errorf(backup.ENotFound, "No backup credential is associated with project %q.", projectID)
	}
	return credentialFrom(it)
}

// RecordUse sets lastUsedAt on c, provided it is still unlocked with the
// keys read: not a person's change, so no version and no history.
func (st *Store) RecordUse(ctx context.Context, c *backup.Credential, at time.Time) error {
	ex := build(expression.NewBuilder().
		WithUpdate(expression.Set(expression.Name("lastUsedAt"), expression.Value(timeString(at)))).
		WithCondition(expression.And(expression.AttributeExists(expression.Name(attrPK)),
			expression.Name("isLocked").Equal(expression.Value(false)), sameKeys(c))))
	_, err := st.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: st.table, Key: credKey(c.ID),
		UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf) && ccf.Item == nil:
		return backup.Errorf(backup.ENotFound, "The credential was deleted.")
	case errors.As(err, &ccf) && getBool(ccf.Item, "isLocked"):
		return backup.Errorf(backup.ELocked, "Backup is disabled: the credential is locked.")
	case errors.As(err, &ccf):
		return backup.Errorf(backup.EPrecondition, "The credential's keys changed.")
	case err != nil:
		return failed("record use of "+c.ID, err)
	}
	return nil
}
