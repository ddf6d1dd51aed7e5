package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// MigrateProjects moves the projects of a table written before a project
// was keyed by its organization and held in items of its own: each entry of
// a credential item's project map becomes the project's entry in the
// credential's partition and its pointer under ORG#<org>, PROJ#<project
// ID>, and the pointers it had before (PROJ#<project ID>, PROJ#<org>#<project
// ID>) go, one transaction per project; an emptied map is removed; a legacy
// pointer that no credential's map names is removed when the project has
// its current pointer to the same credential, and reported otherwise.
//
// It returns how many projects it moved and what it left in place. It is
// safe to run again, and while the service runs: the service reads both
// forms until then, and each of its writes to a project moves it.
func (st *Store) MigrateProjects(ctx context.Context) (moved int, left []string, err error) {
	ex := build(expression.NewBuilder().WithFilter(expression.Or(
		expression.Name(attrSK).Equal(expression.Value("PROJ")),
		expression.And(expression.Name(attrSK).Equal(expression.Value("CRED")), expression.AttributeExists(expression.Name("projects"))))))
	in := &dynamodb.ScanInput{TableName: st.table, FilterExpression: ex.Filter(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(), ConsistentRead: aws.Bool(true)}
	var pointers []item
	for {
		out, err := st.api.Scan(ctx, in)
		if err != nil {
			return moved, left, failed("scan for projects to migrate", err)
		}
		for _, it := range out.Items {
			if getS(it, attrSK) == "PROJ" {
				pointers = append(pointers, it)
				continue
			}
			n, l, err := st.migrateCredential(ctx, it)
			moved, left = moved+n, append(left, l...)
			if err != nil {
				return moved, left, err
			}
		}
		if out.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	for _, p := range pointers {
		l, err := st.migratePointer(ctx, p)
		if err != nil {
			return moved, left, err
		}
		left = append(left, l...)
	}
	return moved, left, nil
}

// migrateCredential moves each project of a credential item's legacy map,
// then removes the emptied map.
func (st *Store) migrateCredential(ctx context.Context, it item) (moved int, left []string, err error) {
	id, org := getS(it, "id"), getS(it, "organizationId")
	m, _ := it["projects"].(*types.AttributeValueMemberM)
	for pid, v := range m.Value {
		name, _ := v.(*types.AttributeValueMemberS)
		if pid == "$" || name == nil {
			continue // the never-empty entry of items written before
		}
		ptr, err := st.pointer(ctx, org, pid)
		if err != nil {
			return moved, left, failed("read the pointer of project "+pid, err)
		}
		if ptr.owner != "" && ptr.owner != id {
			left = append(left, fmt.Sprintf("project %s of %s: credential %s lists it, its pointer names %s", pid, org, id, ptr.owner))
			continue
		}
		pi := projectKey(org, pid)
		pi["credentialId"] = s(id)
		items := []types.TransactWriteItem{
			st.put(marshal(associationRecord{PK: "CRED#" + id, SK: attachedPrefix + projectPrefix + pid, Name: name.Value}), anyItem),
			st.update(credKey(id), build(expression.NewBuilder().WithUpdate(expression.Remove(projectName(pid))).
				WithCondition(expression.AttributeExists(projectName(pid))))),
			st.put(pi, expression.Or(absent, claimedBy(id))),
		}
		items = append(items, st.dropLegacyPointers(ptr.legacy, id)...)
		switch err := st.transact(ctx, items...); {
		case err == nil:
			moved++
		case failedAt(err, 1):
			// moved meanwhile, by the service or another run
		case retryable(err):
			left = append(left, fmt.Sprintf("project %s of %s: changed while it moved; run the migration again", pid, org))
		default:
			return moved, left, failed("move project "+pid, err)
		}
	}
	_, err = st.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: st.table, Key: credKey(id),
		UpdateExpression: aws.String("REMOVE projects"), ConditionExpression: aws.String("size(projects) = :zero"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":zero": n(0)}})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return moved, left, failed("remove the emptied project map of "+id, err)
	}
	return moved, left, nil
}

// migratePointer removes a legacy pointer that no credential's map named,
// when the project's current pointer names the same credential; anything
// else it reports.
func (st *Store) migratePointer(ctx context.Context, p item) ([]string, error) {
	pk, id := getS(p, attrPK), getS(p, "credentialId")
	org, pid := getS(p, "organizationId"), strings.TrimPrefix(pk, "PROJ#")
	if o, rest, old := strings.Cut(pid, "#"); old {
		org, pid = o, rest
	}
	now, err := st.getItem(ctx, projectKey(org, pid), "credentialId")
	if err != nil {
		return nil, failed("read the pointer of project "+pid, err)
	}
	if getS(now, "credentialId") != id {
		still, err := st.getItem(ctx, key(pk, "PROJ"), "credentialId")
		if err != nil {
			return nil, failed("read the pointer of project "+pid, err)
		}
		if still == nil {
			return nil, nil // moved with its credential's map
		}
		return []string{fmt.Sprintf("project %s of %s: pointer %s names credential %s, which does not list it", pid, org, pk, id)}, nil
	}
	err = st.transact(ctx, st.del(key(pk, "PROJ"), claimedBy(id)))
	if err != nil && !retryable(err) {
		return nil, failed("remove the legacy pointer "+pk, err)
	}
	return nil, nil
}
