package dynamo

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/acme/backup-credentials/shared/backup"
)

// Listing credentials and summarizing organizations.

// ListCredentials reads a page of credentials from the byOrg index, one
// query per organization it visits: the index holds all a list shows.
func (st *Store) ListCredentials(ctx context.Context, q backup.ListQuery) (*backup.ListPage, error) {
	page := &backup.ListPage{Items: []*backup.Credential{}}
	queries := 0
	for oi, org := range q.Organizations {
		after := ""
		if q.After != nil && q.After.Org == org {
			after = q.After.Key
		}
		for {
			if queries == st.ListPages {
				// Enough read for one request: go on from here next time.
				page.Next = &backup.Position{Org: org, Key: after}
				return page, nil
			}
			queries++
			want := q.Limit - len(page.Items)
			cond := expression.Key(attrGSI1PK).Equal(expression.Value("ORG#" + org))
			if after != "" {
				cond = cond.And(expression.Key(attrGSI1SK).GreaterThan(expression.Value(after)))
			}
			b := expression.NewBuilder().WithKeyCondition(cond).WithProjection(names(listAttributes...))
			if q.Search != "" {
				b = b.WithFilter(expression.Contains(expression.Name("searchText"), q.Search))
			}
			ex := build(b)
			in := &dynamodb.QueryInput{TableName: st.table, IndexName: aws.String(indexByOrg),
				KeyConditionExpression: ex.KeyCondition(), FilterExpression: ex.Filter(), ProjectionExpression: ex.Projection(),
				ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()}
			if q.Search == "" {
				in.Limit = aws.Int32(int32(want + 1))
			}
			out, err := st.api.Query(ctx, in)
			if err != nil {
				return nil, failed("list credentials of "+org, err)
			}
			for _, it := range out.Items {
				if len(page.Items) == q.Limit {
					page.Next = &backup.Position{Org: org, Key: after}
					return page, nil
				}
				c, err := credentialFrom(it)
				if err != nil {
					return nil, err
				}
				page.Items = append(page.Items, c)
				after = getS(it, attrGSI1SK)
			}
			if out.LastEvaluatedKey == nil {
				break
			}
			if len(page.Items) == q.Limit {
				page.Next = &backup.Position{Org: org, Key: after}
				return page, nil
			}
			// DynamoDB stopped at its 1 MB page; what it read past the last
			// item returned did not match, so go on from where it stopped.
			after = getS(out.LastEvaluatedKey, attrGSI1SK)
		}
		if len(page.Items) == q.Limit && oi < len(q.Organizations)-1 {
			page.Next = &backup.Position{Org: org, Key: after}
			return page, nil
		}
	}
	return page, nil
}

// Organizations reads the organizations' items in one batch per hundred.
func (st *Store) Organizations(ctx context.Context, orgs []string) ([]backup.Organization, error) {
	keys := make([]item, len(orgs))
	for i, o := range orgs {
		keys[i] = orgKey(o)
	}
	byID := map[string]item{}
	if err := st.batchGet(ctx, keys, false, nil, func(it item) {
		byID[strings.TrimPrefix(getS(it, attrPK), "ORG#")] = it
	}); err != nil {
		return nil, failed("read organizations", err)
	}
	out := make([]backup.Organization, 0, len(orgs))
	for _, o := range orgs {
		it := byID[o]
		org := backup.Organization{ID: o, CredentialCount: int(getN(it, "credentialCount")), ExternalID: getS(it, attrExternalID)}
		if d := getS(it, "defaultCredentialId"); d != "" {
			org.DefaultCredentialID = &d
		}
		if org.ExternalID == "" {
			// First time this organization is shown: its external ID is made
			// now, so its admins can write trust policies before any role.
			ext, err := st.makeExternalID(ctx, o)
			if err != nil {
				return nil, err
			}
			org.ExternalID = ext
		}
		out = append(out, org)
	}
	return out, nil
}
