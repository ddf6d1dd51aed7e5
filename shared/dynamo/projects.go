package dynamo

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/backup-credentials/shared/backup"
)

// Projects. A project is its organization's: its pointer (PK ORG#<org>, SK
// PROJ#<project ID>) names its credential, and its entry in the
// credential's partition (SK #PROJ#<project ID>) holds its name. The
// pointer, the entries and both credentials' counts and versions move
// together, in one transaction.

// AssociateProject gives a project of the credential's organization to the
// credential, moving it from another credential of the organization when it
// has one, in one transaction conditioned on the owner and versions read.
func (st *Store) AssociateProject(ctx context.Context, id string, orgs []string, p backup.Project, e backup.HistoryEntry) (*backup.Credential, error) {
	var result *backup.Credential
	op := "associate " + p.ID + " with " + id
	err := st.optimistic(ctx, op, func() error {
		sc, err := st.visible(ctx, id, orgs)
		if err != nil {
			return err
		}
		if sc.IsLocked {
			return backup.Errorf(backup.ELocked, "The credential is locked; unlock it to give it projects.")
		}
		org := sc.OrganizationID
		ptr, err := st.pointer(ctx, org, p.ID)
		if err != nil {
			return failed(op, err)
		}
		i := slices.IndexFunc(sc.Projects, func(x backup.Project) bool { return x.ID == p.ID })
		if ptr.owner == id && i >= 0 && sc.Projects[i].Name == p.Name {
			result = sc.Credential
			return nil
		}
		added := int64(1)
		if ptr.owner == id && i >= 0 {
			added = 0 // a new name
		}
		if added == 1 && len(sc.Projects) >= st.MaxProjectsPerCredential {
			return backup.Errorf(backup.EQuotaExceeded, "The credential has %d projects, the most it may have.", st.MaxProjectsPerCredential)
		}
		count := expression.Name("projectCount")
		upd := change(expression.Set(count, count.Plus(expression.Value(added))), e)
		if sc.legacy[p.ID] {
			upd = upd.Remove(projectName(p.ID))
		}
		e.Project = &p
		ptrItem := projectKey(org, p.ID)
		ptrItem["credentialId"] = s(id)
		ptrCond := absent
		if ptr.current {
			ptrCond = claimedBy(ptr.owner)
		}
		items := []types.TransactWriteItem{
			st.update(credKey(id), build(expression.NewBuilder().WithUpdate(upd).
				WithCondition(expression.And(atVersion(sc.Version),
					count.LessThanEqual(expression.Value(st.MaxProjectsPerCredential-int(added))))))),
			st.put(ptrItem, ptrCond),
			st.put(marshal(associationRecord{PK: "CRED#" + id, SK: attachedPrefix + projectPrefix + p.ID, Name: p.Name}), anyItem),
			st.historyPut(id, org, sc.Version+1, e),
		}
		items = append(items, st.dropLegacyPointers(ptr.legacy, ptr.owner)...)
		if ptr.owner != "" && ptr.owner != id {
			left, err := st.leaving(ctx, ptr.owner, org, p, e)
			if err != nil {
				return failed(op, err)
			}
			items = append(items, left...)
		}
		if err := st.transact(ctx, items...); err != nil {
			return err
		}
		if i >= 0 {
			sc.Projects[i].Name = p.Name
		} else {
			sc.Projects = append(sc.Projects, p)
			slices.SortFunc(sc.Projects, func(a, b backup.Project) int { return strings.Compare(a.ID, b.ID) })
		}
		result = changed(sc.Credential, e)
		return nil
	})
	return result, err
}

// leaving is the part of an association's transaction that takes the
// project from the credential it leaves (prev): its entry, its count, a
// new version (conditioned on the one read) and a history entry.
func (st *Store) leaving(ctx context.Context, prev, org string, p backup.Project, e backup.HistoryEntry) ([]types.TransactWriteItem, error) {
	var credItem item
	name := ""
	err := st.batchGet(ctx, []item{credKey(prev), associationKey(prev, p.ID)}, true, []string{attrSK, "version", "projects", "name"}, func(it item) {
		if getS(it, attrSK) == "CRED" {
			credItem = it
		} else {
			name = getS(it, "name")
		}
	})
	if err != nil {
		return nil, err
	}
	if credItem == nil {
		return nil, errors.New("the project's pointer names credential " + prev + ", which does not exist")
	}
	inLegacyMap := legacyProjects(credItem)[p.ID]
	if inLegacyMap {
		name = getS(credItem["projects"].(*types.AttributeValueMemberM).Value, p.ID)
	}
	v := getN(credItem, "version")
	pe := backup.HistoryEntry{At: e.At, By: e.By, ByID: e.ByID, Action: backup.ActionProjectDissociated, Fields: []string{"projects"},
		Project: &backup.Project{ID: p.ID, Name: name}}
	return []types.TransactWriteItem{
		st.removeProject(prev, p.ID, inLegacyMap, pe, atVersion(v)),
		st.del(associationKey(prev, p.ID), anyItem),
		st.historyPut(prev, org, v+1, pe),
	}, nil
}

// projectName names a project's entry in a legacy project map. A project
// ID may hold dots, which are no path here.
func projectName(projectID string) expression.NameBuilder {
	return expression.Name("projects").AppendName(expression.NameNoDotSplit(projectID))
}

// anyItem is a condition that always holds: a write that may replace an
// item or find none.
var anyItem = expression.Or(absent, expression.AttributeExists(expression.Name(attrPK)))

// removeProject is the update that takes a project from a credential (and
// from its legacy project map, when it is there), on condition.
func (st *Store) removeProject(id, projectID string, inLegacyMap bool, e backup.HistoryEntry, cond expression.ConditionBuilder) types.TransactWriteItem {
	count := expression.Name("projectCount")
	upd := change(expression.Set(count, count.Minus(expression.Value(1))), e)
	if inLegacyMap {
		upd = upd.Remove(projectName(projectID))
	}
	return st.update(credKey(id), build(expression.NewBuilder().WithUpdate(upd).WithCondition(cond)))
}

// DissociateProject takes a project from a credential and deletes its
// pointer, in one transaction conditioned on the version read.
func (st *Store) DissociateProject(ctx context.Context, id string, orgs []string, projectID string, e backup.HistoryEntry) error {
	op := "dissociate " + projectID + " from " + id
	return st.optimistic(ctx, op, func() error {
		sc, err := st.visible(ctx, id, orgs)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(sc.Projects, func(p backup.Project) bool { return p.ID == projectID })
		if i < 0 {
			return backup.Errorf(backup.ENotFound, "Project %q is not associated with this credential.", projectID)
		}
		e.Project = &sc.Projects[i]
		items := []types.TransactWriteItem{
			st.removeProject(id, projectID, sc.legacy[projectID], e, atVersion(sc.Version)),
			st.del(associationKey(id, projectID), anyItem),
			st.del(projectKey(sc.OrganizationID, projectID), expression.Or(absent, claimedBy(id))),
			st.historyPut(id, sc.OrganizationID, sc.Version+1, e),
		}
		if sc.legacy[projectID] {
			ptr, err := st.pointer(ctx, sc.OrganizationID, projectID)
			if err != nil {
				return failed(op, err)
			}
			items = append(items, st.dropLegacyPointers(ptr.legacy, id)...)
		}
		return st.transact(ctx, items...)
	})
}

// projectPointer is what a project's pointers say: the credential that has
// it ("" for none), whether that is said by the pointer under its current
// key, and the keys of the organization's legacy pointers to remove.
type projectPointer struct {
	owner   string
	current bool
	legacy  []item
}

// pointer reads a project's pointer, under its current key and, for a
// table not migrated yet, under the keys it had before: the one keyed by
// project ID alone counts only when it names this organization. One call.
func (st *Store) pointer(ctx context.Context, org, pid string) (projectPointer, error) {
	keys := append([]item{projectKey(org, pid)}, legacyProjectKeys(org, pid)...)
	var p projectPointer
	err := st.batchGet(ctx, keys, true, []string{attrPK, attrSK, "credentialId", "organizationId"}, func(it item) {
		switch pk := getS(it, attrPK); {
		case pk == "ORG#"+org:
			p.owner, p.current = getS(it, "credentialId"), true
		case pk == "PROJ#"+pid && getS(it, "organizationId") != org:
			// another organization's project of the same ID: not this one
		default:
			if !p.current {
				p.owner = getS(it, "credentialId")
			}
			p.legacy = append(p.legacy, key(pk, "PROJ"))
		}
	})
	return p, err
}

// dropLegacyPointers deletes a project's legacy pointers, provided they
// still name owner.
func (st *Store) dropLegacyPointers(keys []item, owner string) []types.TransactWriteItem {
	var out []types.TransactWriteItem
	for _, k := range keys {
		out = append(out, st.del(k, claimedBy(owner)))
	}
	return out
}

// ResolveProject returns the credential of an organization's project, or
// ENotFound: two consistent reads, the project's pointer, then its
// credential with its last use. A pointer never leads outside its
// organization, and the credential read must be of it.
func (st *Store) ResolveProject(ctx context.Context, org, projectID string) (*backup.Credential, error) {
	ptr, err := st.pointer(ctx, org, projectID)
	if err != nil {
		return nil, failed("resolve project "+projectID, err)
	}
	notAssociated := backup.Errorf(backup.ENotFound, "No backup credential of organization %q is associated with project %q.", org, projectID)
	if ptr.owner == "" {
		return nil, notAssociated
	}
	var credItem item
	var attached []item
	if err := st.batchGet(ctx, []item{credKey(ptr.owner), useKey(ptr.owner)}, true, nil, func(it item) {
		if getS(it, attrSK) == "CRED" {
			credItem = it
		} else {
			attached = append(attached, it)
		}
	}); err != nil {
		return nil, failed("resolve project "+projectID, err)
	}
	if credItem == nil || getS(credItem, "organizationId") != org {
		return nil, notAssociated
	}
	c, err := credentialFrom(credItem)
	if err != nil {
		return nil, err
	}
	attach(c, attached)
	return c, nil
}

// UseInterval is how often, at most, the backup engine's use of a
// credential is recorded.
const UseInterval = 5 * time.Minute

// RecordUse records that the backup engine resolved c at the given time,
// in an item of its own, at most once per UseInterval: provided the
// credential still exists and no use was recorded since at minus the
// interval. A write it skips or a condition that fails is not an error.
func (st *Store) RecordUse(ctx context.Context, c *backup.Credential, at time.Time) error {
	if c.LastUsedAt != nil && at.Sub(*c.LastUsedAt) < UseInterval {
		return nil
	}
	last := expression.Name("lastUsedAt")
	use := useKey(c.ID)
	use["lastUsedAt"] = s(timeString(at))
	exists := build(expression.NewBuilder().WithCondition(expression.AttributeExists(expression.Name(attrPK))))
	err := st.transact(ctx,
		st.put(use, expression.Or(absent, last.LessThanEqual(expression.Value(timeString(at.Add(-UseInterval)))))),
		types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: st.table, Key: credKey(c.ID),
			ConditionExpression: exists.Condition(), ExpressionAttributeNames: exists.Names()}},
	)
	if cancelled(err) != nil && !conflicted(err) {
		return nil // recorded meanwhile, or the credential is gone
	}
	if err != nil {
		return failed("record use of "+c.ID, err)
	}
	return nil
}
