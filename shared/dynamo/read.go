package dynamo

import (
	"context"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/acme/backup-credentials/shared/backup"
)

// Reading credentials: one, the items a write needs with it, and which exist.

// GetCredential returns a credential of one of orgs, or ENotFound.
func (st *Store) GetCredential(ctx context.Context, id string, orgs []string) (*backup.Credential, error) {
	sc, err := st.visible(ctx, id, orgs)
	if err != nil {
		return nil, err
	}
	return sc.Credential, nil
}

// readCredential reads a credential with its projects and last use in one
// consistent Query of its partition (paged past DynamoDB's 1 MB); nil when
// there is none.
func (st *Store) readCredential(ctx context.Context, id string) (*stored, error) {
	cond := expression.Key(attrPK).Equal(expression.Value("CRED#" + id)).
		And(expression.Key(attrSK).Between(expression.Value(attachedPrefix), expression.Value("CRED")))
	ex := build(expression.NewBuilder().WithKeyCondition(cond).
		WithProjection(names(append(slices.Clone(credentialAttributes), attachedAttributes...)...)))
	in := &dynamodb.QueryInput{TableName: st.table, KeyConditionExpression: ex.KeyCondition(), ProjectionExpression: ex.Projection(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(), ConsistentRead: aws.Bool(true)}
	var credItem item
	var attached []item
	for {
		out, err := st.api.Query(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, it := range out.Items {
			if getS(it, attrSK) == "CRED" {
				credItem = it
			} else {
				attached = append(attached, it)
			}
		}
		if out.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	if credItem == nil {
		return nil, nil
	}
	c, err := credentialFrom(credItem)
	if err != nil {
		return nil, err
	}
	attach(c, attached)
	return &stored{Credential: c, projectCount: getN(credItem, "projectCount"), legacy: legacyProjects(credItem)}, nil
}

// visible reads a credential of one of orgs, treating one of another
// organization as absent: ENotFound.
func (st *Store) visible(ctx context.Context, id string, orgs []string) (*stored, error) {
	sc, err := st.readCredential(ctx, id)
	if err != nil {
		return nil, failed("read credential "+id, err)
	}
	if sc == nil || !slices.Contains(orgs, sc.OrganizationID) {
		return nil, backup.NotFound(id)
	}
	return sc, nil
}

// readCredentialWith reads a credential (as readCredential does) and, at
// the same time, the items at keys, so a write that needs both waits for
// one round trip.
func (st *Store) readCredentialWith(ctx context.Context, id string, orgs []string, keys ...item) (*stored, map[string]item, error) {
	others := map[string]item{}
	done := make(chan error, 1)
	go func() {
		done <- st.batchGet(ctx, keys, true, nil, func(it item) { others[getS(it, attrPK)+"\x00"+getS(it, attrSK)] = it })
	}()
	sc, err := st.visible(ctx, id, orgs)
	if berr := <-done; berr != nil && err == nil {
		err = failed("read credential "+id, berr)
	}
	if err != nil {
		return nil, nil, err
	}
	return sc, others, nil
}

// itemAt returns the item read at key k from what readCredentialWith read.
func itemAt(found map[string]item, k item) item {
	return found[getS(k, attrPK)+"\x00"+getS(k, attrSK)]
}

// asRead completes a credential item that a write answered with what hangs
// off it: the projects and last use of read when the item is still at its
// version (every change of projects moves it), else as they are now.
func (st *Store) asRead(ctx context.Context, it item, read *backup.Credential) (*backup.Credential, error) {
	c, err := credentialFrom(it)
	if err != nil {
		return nil, err
	}
	if c.Version == read.Version {
		c.Projects, c.LastUsedAt = read.Projects, read.LastUsedAt
		return c, nil
	}
	sc, err := st.readCredential(ctx, c.ID)
	switch {
	case err != nil:
		return nil, failed("read credential "+c.ID, err)
	case sc == nil:
		return nil, backup.NotFound(c.ID)
	}
	return sc.Credential, nil
}

// CredentialsExist reports which of ids name a stored credential that has
// a secret: a role credential has none, so a secret left from its keys is
// an orphan too.
func (st *Store) CredentialsExist(ctx context.Context, ids []string) (map[string]bool, error) {
	keys := make([]item, len(ids))
	for i, id := range ids {
		keys[i] = credKey(id)
	}
	found := map[string]bool{}
	if err := st.batchGet(ctx, keys, true, []string{"id", "s3RoleArn"}, func(it item) {
		found[getS(it, "id")] = getS(it, "s3RoleArn") == ""
	}); err != nil {
		return nil, failed("read credentials", err)
	}
	return found, nil
}
