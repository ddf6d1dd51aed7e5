package dynamo

import (
	"context"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
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
		extra := map[string]string{"#pid": p.ID}
		values := changeValues(e, item{":v": n(c.Version), ":name": s(p.Name), ":added": n(added),
			":maxp": n(int64(st.MaxProjectsPerCredential - int(added)))})
		update := "SET #projects.#pid = :name, #projectCount = #projectCount + :added, " + changeExpr
		pi := projectKey(p.ID)
		pi["credentialId"] = s(id)
		pi["organizationId"] = s(c.OrganizationID)
		projCond, projValues := "attribute_not_exists(PK)", item{}
		if prev != "" {
			projCond, projValues = "#credentialId = :prev AND #organizationId = :org", item{":prev": s(prev), ":org": s(c.OrganizationID)}
		}
		items := []types.TransactWriteItem{
			{Update: &types.Update{TableName: st.table, Key: credKey(id),
				UpdateExpression: aws.String(update), ConditionExpression: aws.String("#version = :v AND #projectCount <= :maxp"),
				ExpressionAttributeNames: exprNames([]string{update, "#version #projectCount"}, extra), ExpressionAttributeValues: values}},
			{Put: &types.Put{TableName: st.table, Item: pi, ConditionExpression: aws.String(projCond),
				ExpressionAttributeNames: exprNames([]string{projCond}, nil), ExpressionAttributeValues: nilIfEmpty(projValues)}},
			st.historyPut(id, c.OrganizationID, e),
		}
		if prev != "" && prev != id {
			pe := backup.HistoryEntry{At: e.At, By: e.By, ByID: e.ByID, Action: backup.ActionProjectDissociated, Fields: []string{"projects"}}
			items = append(items, st.removeProject(prev, p.ID, pe, "attribute_exists(#projects.#pid)", item{}),
				st.historyPut(prev, c.OrganizationID, pe))
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

// removeProject is the update that takes a project from a credential.
func (st *Store) removeProject(id, projectID string, e backup.HistoryEntry, cond string, values item) types.TransactWriteItem {
	values = changeValues(e, values)
	update := "REMOVE #projects.#pid SET #projectCount = #projectCount - :one, " + changeExpr
	return types.TransactWriteItem{Update: &types.Update{TableName: st.table, Key: credKey(id),
		UpdateExpression: aws.String(update), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames:  exprNames([]string{update, cond}, map[string]string{"#pid": projectID}),
		ExpressionAttributeValues: values}}
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
			st.removeProject(id, projectID, e, "#version = :v", item{":v": n(c.Version)}),
			types.TransactWriteItem{Delete: &types.Delete{TableName: st.table, Key: projectKey(projectID),
				ConditionExpression:       aws.String("#credentialId = :id"),
				ExpressionAttributeNames:  exprNames([]string{"#credentialId"}, nil),
				ExpressionAttributeValues: item{":id": s(id)}}},
			st.historyPut(id, c.OrganizationID, e),
		)
	})
}
