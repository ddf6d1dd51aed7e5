package dynamo

import (
	"context"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/acme/backup-credentials/shared/backup"
)

// Listing credentials and summarizing organizations.

// ListCredentials reads a page of credentials from the list index, which
// holds all a list shows. It queries each organization it visits,
// the first query of each at once (as many as the request may make), so a
// caller of several organizations waits for one round trip, not one per
// organization; what a full page leaves unread is dropped.
//
// By name, either way, pages come straight from the index, which is in name
// order. In another order a page reads its organizations whole (an
// organization holds at most MAX_CREDENTIALS_PER_ORGANIZATION, 100 by
// default: one Query) and sorts them.
func (st *Store) ListCredentials(ctx context.Context, q backup.ListQuery) (*backup.ListPage, error) {
	read := st.listPage
	if q.Sort.Field != backup.SortName {
		read = st.sortedPage
	}
	page, err := read(ctx, q)
	if err != nil {
		return nil, err
	}
	if err := st.attachAll(ctx, page.Items); err != nil {
		return nil, failed("list the projects of credentials", err)
	}
	st.fitAnswer(page, q.Sort)
	return page, nil
}

// fitAnswer ends a page early when its answer would pass ListBytes (a
// credential with 1,000 long-named projects is over half a megabyte, and a
// Lambda answer is at most 6 MB): the page keeps at least one credential,
// and the next starts after the last it keeps.
func (st *Store) fitAnswer(page *backup.ListPage, order backup.Sort) {
	size := 0
	for i, c := range page.Items {
		size += 1024
		for _, p := range c.Projects {
			size += len(p.ID) + len(p.Name) + 32
		}
		if size > st.ListBytes && i > 0 {
			last := page.Items[i-1]
			page.Items = page.Items[:i]
			page.Next = &backup.Position{Org: last.OrganizationID, Key: sortKey(last)}
			if order.Field != backup.SortName {
				next := order.PositionOf(last)
				page.Next = &next
			}
			return
		}
	}
}

// attachReads bounds the reads of credentials' projects in flight for one
// list page.
const attachReads = 8

// attachAll reads what hangs off each credential of a page (its projects
// and last use), eventually consistent as the list index is, a few
// credentials at a time.
func (st *Store) attachAll(ctx context.Context, cs []*backup.Credential) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	slots := make(chan struct{}, attachReads)
	errs := make(chan error, len(cs))
	for _, c := range cs {
		go func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			attached, err := st.attached(ctx, c.ID)
			if err == nil {
				attach(c, attached)
			}
			errs <- err
		}()
	}
	var first error
	for range cs {
		if err := <-errs; err != nil && first == nil {
			first = err
			cancel()
		}
	}
	return first
}

// attached reads the items hanging off a credential: its projects and its
// last use.
func (st *Store) attached(ctx context.Context, id string) ([]item, error) {
	ex := build(expression.NewBuilder().WithKeyCondition(expression.Key(attrPK).Equal(expression.Value("CRED#" + id)).
		And(expression.KeyBeginsWith(expression.Key(attrSK), attachedPrefix))).
		WithProjection(names(attrSK, "name", "lastUsedAt")))
	in := &dynamodb.QueryInput{TableName: st.table, KeyConditionExpression: ex.KeyCondition(), ProjectionExpression: ex.Projection(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()}
	var out []item
	for {
		page, err := st.api.Query(ctx, in)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if page.LastEvaluatedKey == nil {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// listPage reads a page of credentials from the list index.
func (st *Store) listPage(ctx context.Context, q backup.ListQuery) (*backup.ListPage, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // a full page stops the queries it does not need
	page := &backup.ListPage{Items: []*backup.Credential{}}
	// startOf is the index key an organization's credentials are read after.
	startOf := func(org string) string {
		if q.After != nil && q.After.Org == org {
			return q.After.Key
		}
		return ""
	}
	queries := 0
	ahead := make([]<-chan queried, len(q.Organizations))
	for i, org := range q.Organizations[:min(len(q.Organizations), st.ListPages)] {
		ahead[i] = st.queryAsync(ctx, org, startOf(org), q, q.Limit)
		queries++
	}
	for oi, org := range q.Organizations {
		after := startOf(org)
		for {
			var r queried
			if ahead[oi] != nil {
				r, ahead[oi] = <-ahead[oi], nil
			} else {
				if queries == st.ListPages {
					// Enough read for one request: go on from here next time.
					page.Next = &backup.Position{Org: org, Key: after}
					return page, nil
				}
				queries++
				r.out, r.err = st.query(ctx, org, after, q, q.Limit-len(page.Items))
			}
			if r.err != nil {
				return nil, failed("list credentials of "+org, r.err)
			}
			for _, it := range r.out.Items {
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
			if r.out.LastEvaluatedKey == nil {
				break
			}
			if len(page.Items) == q.Limit {
				page.Next = &backup.Position{Org: org, Key: after}
				return page, nil
			}
			// DynamoDB stopped at its 1 MB page; what it read past the last
			// item returned did not match, so go on from where it stopped.
			after = getS(r.out.LastEvaluatedKey, attrGSI1SK)
		}
		if len(page.Items) == q.Limit && oi < len(q.Organizations)-1 {
			page.Next = &backup.Position{Org: org, Key: after}
			return page, nil
		}
	}
	return page, nil
}

// queried is the outcome of one query of the index.
type queried struct {
	out *dynamodb.QueryOutput
	err error
}

// queryAsync queries the index in a goroutine of its own.
func (st *Store) queryAsync(ctx context.Context, org, after string, q backup.ListQuery, want int) <-chan queried {
	done := make(chan queried, 1)
	go func() {
		out, err := st.query(ctx, org, after, q, want)
		done <- queried{out, err}
	}()
	return done
}

// query reads an organization's credentials after the index key after, in
// q's direction: want of them and one more (to tell whether there are
// more), or, with a search, a DynamoDB page of matches.
func (st *Store) query(ctx context.Context, org, after string, q backup.ListQuery, want int) (*dynamodb.QueryOutput, error) {
	search := q.Search
	cond := expression.Key(attrGSI1PK).Equal(expression.Value("ORG#" + org))
	switch {
	case after != "" && q.Sort.Desc:
		cond = cond.And(expression.Key(attrGSI1SK).LessThan(expression.Value(after)))
	case after != "":
		cond = cond.And(expression.Key(attrGSI1SK).GreaterThan(expression.Value(after)))
	}
	b := expression.NewBuilder().WithKeyCondition(cond).WithProjection(names(listAttributes...))
	if search != "" {
		b = b.WithFilter(expression.Contains(expression.Name("searchText"), search))
	}
	ex := build(b)
	in := &dynamodb.QueryInput{TableName: st.table, IndexName: aws.String(indexByOrg),
		KeyConditionExpression: ex.KeyCondition(), FilterExpression: ex.Filter(), ProjectionExpression: ex.Projection(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(), ScanIndexForward: aws.Bool(!q.Sort.Desc)}
	if search == "" && want > 0 {
		in.Limit = aws.Int32(int32(want + 1))
	}
	return st.api.Query(ctx, in)
}

// sortedPage reads a page in an order the index does not keep: each
// organization it visits whole, sorted, from where the previous page
// ended, ListPages organizations at most.
func (st *Store) sortedPage(ctx context.Context, q backup.ListQuery) (*backup.ListPage, error) {
	page := &backup.ListPage{Items: []*backup.Credential{}}
	for i, org := range q.Organizations {
		if i == st.ListPages {
			page.Next = &backup.Position{Org: org} // its start
			return page, nil
		}
		cs, err := st.wholeOrganization(ctx, org, q)
		if err != nil {
			return nil, failed("list credentials of "+org, err)
		}
		slices.SortFunc(cs, q.Sort.Compare)
		for _, c := range cs {
			if q.After != nil && q.After.Org == org && !q.Sort.After(c, *q.After) {
				continue
			}
			if len(page.Items) == q.Limit {
				next := q.Sort.PositionOf(page.Items[len(page.Items)-1])
				page.Next = &next
				return page, nil
			}
			page.Items = append(page.Items, c)
		}
		if len(page.Items) == q.Limit && i < len(q.Organizations)-1 {
			next := q.Sort.PositionOf(page.Items[len(page.Items)-1])
			page.Next = &next
			return page, nil
		}
	}
	return page, nil
}

// wholeOrganization reads every credential of org that matches q's search.
func (st *Store) wholeOrganization(ctx context.Context, org string, q backup.ListQuery) ([]*backup.Credential, error) {
	var cs []*backup.Credential
	after := ""
	for {
		out, err := st.query(ctx, org, after, backup.ListQuery{Search: q.Search}, 0)
		if err != nil {
			return nil, err
		}
		for _, it := range out.Items {
			c, err := credentialFrom(it)
			if err != nil {
				return nil, err
			}
			cs = append(cs, c)
		}
		if out.LastEvaluatedKey == nil {
			return cs, nil
		}
		after = getS(out.LastEvaluatedKey, attrGSI1SK)
	}
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
