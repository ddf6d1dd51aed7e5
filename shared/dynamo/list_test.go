package dynamo

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/acme/backup-credentials/shared/backup"
)

// pagedQuery answers every Query with at most two items and a
// LastEvaluatedKey, as DynamoDB does when it reaches its 1 MB page, and
// filters the way a FilterExpression does (after the page is read).
type pagedQuery struct {
	API
	items   []item
	queries int
}

func (p *pagedQuery) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	p.queries++
	after := "" // the value the key condition's sort key must be above
	if _, ph, ok := strings.Cut(*in.KeyConditionExpression, "> "); ok {
		ph = strings.TrimRight(strings.Fields(ph)[0], ")")
		after = getS(item{"x": in.ExpressionAttributeValues[ph]}, "x")
	}
	var read []item
	for _, it := range p.items {
		if getS(it, attrGSI1SK) > after && len(read) < 2 {
			read = append(read, it)
		}
	}
	out := &dynamodb.QueryOutput{}
	for _, it := range read {
		if in.FilterExpression == nil || getS(it, "s3Name")[0] == 'm' { // the filter is contains(searchText, "m")
			out.Items = append(out.Items, it)
		}
	}
	if len(read) == 2 && getS(read[1], attrGSI1SK) != getS(p.items[len(p.items)-1], attrGSI1SK) {
		out.LastEvaluatedKey = item{attrGSI1SK: read[1][attrGSI1SK]}
	}
	return out, nil
}

// TestListGoesOnPastPagesWithoutMatches pages through an organization whose
// DynamoDB pages hold no match, which must neither stop the list nor loop.
func TestListGoesOnPastPagesWithoutMatches(t *testing.T) {
	c := sample()
	var items []item
	for i, name := range []string{"a1", "a2", "a3", "a4", "a5", "m1", "a6", "m2"} {
		c.ID, c.Name = fmt.Sprintf("bc_%026d", i), name
		items = append(items, credentialItem(c))
	}
	api := &pagedQuery{items: items}
	st := New(api, "t")
	page, err := st.listPage(context.Background(), backup.ListQuery{Organizations: []string{"org-1"}, Search: "m", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 2 || page.Items[0].Name != "m1" || page.Items[1].Name != "m2" || page.Next != nil {
		t.Errorf("page = %+v", page)
	}
	if api.queries > 5 {
		t.Errorf("%d queries", api.queries)
	}
}

// TestListReadsBoundedPages: a search that matches little reads at most
// ListPages DynamoDB pages per request and answers a cursor to go on from;
// following the cursors finds every match once.
func TestListReadsBoundedPages(t *testing.T) {
	c := sample()
	var items []item
	for i := range 20 {
		c.ID, c.Name = fmt.Sprintf("bc_%026d", i), fmt.Sprintf("a%02d", i)
		if i == 3 || i == 17 {
			c.Name = fmt.Sprintf("m%02d", i)
		}
		items = append(items, credentialItem(c))
	}
	api := &pagedQuery{items: items}
	st := New(api, "t")
	st.ListPages = 3
	var found []string
	q := backup.ListQuery{Organizations: []string{"org-1"}, Search: "m", Limit: 10}
	for request := 1; ; request++ {
		api.queries = 0
		page, err := st.listPage(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if api.queries > st.ListPages {
			t.Fatalf("request %d read %d pages, want at most %d", request, api.queries, st.ListPages)
		}
		for _, c := range page.Items {
			found = append(found, c.Name)
		}
		if page.Next == nil {
			break
		}
		if request > 10 {
			t.Fatal("the cursors do not end")
		}
		q.After = page.Next
	}
	if fmt.Sprint(found) != "[m03 m17]" {
		t.Errorf("found %v, want [m03 m17]", found)
	}
}

// orgsQuery answers each organization's query with its items, holding every
// query until as many are in flight as the test expects together (or a
// generous time has passed), and fails the organizations in fail.
type orgsQuery struct {
	API
	items    map[string][]item // organization -> its index entries
	fail     map[string]bool
	together int
	mu       sync.Mutex
	inFlight int
	most     int
	arrived  chan struct{}
}

func (o *orgsQuery) Query(ctx context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	o.mu.Lock()
	o.inFlight++
	o.most = max(o.most, o.inFlight)
	if o.inFlight == o.together {
		close(o.arrived)
	}
	o.mu.Unlock()
	defer func() { o.mu.Lock(); o.inFlight--; o.mu.Unlock() }()
	select {
	case <-o.arrived:
	case <-time.After(5 * time.Second):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	org := ""
	for _, v := range in.ExpressionAttributeValues {
		if s := getS(item{"x": v}, "x"); strings.HasPrefix(s, "ORG#") {
			org = strings.TrimPrefix(s, "ORG#")
		}
	}
	if o.fail[org] {
		return nil, fmt.Errorf("injected: InternalServerError for %s", org)
	}
	return &dynamodb.QueryOutput{Items: o.items[org]}, nil
}

// TestListQueriesOrganizationsAtOnce: a caller of three organizations waits
// for one round trip, not three; the page keeps the organizations' order;
// a failed query of an organization the page needs fails the list, one of
// an organization past a full page does not.
func TestListQueriesOrganizationsAtOnce(t *testing.T) {
	c := sample()
	items := map[string][]item{}
	for i, org := range []string{"org-a", "org-b", "org-c"} {
		for j := range 2 {
			c.ID, c.OrganizationID, c.Name = fmt.Sprintf("bc_%025d%d", i, j), org, fmt.Sprintf("%s-%d", org, j)
			items[org] = append(items[org], credentialItem(c))
		}
	}
	orgs := []string{"org-a", "org-b", "org-c"}
	api := &orgsQuery{items: items, together: 3, arrived: make(chan struct{})}
	st := New(api, "t")
	page, err := st.listPage(context.Background(), backup.ListQuery{Organizations: orgs, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range page.Items {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, " "); got != "org-a-0 org-a-1 org-b-0 org-b-1 org-c-0 org-c-1" || page.Next != nil {
		t.Errorf("page = %s, next %+v", got, page.Next)
	}
	if api.most != 3 {
		t.Errorf("%d queries in flight at most, want the three organizations' at once", api.most)
	}

	for _, tc := range []struct {
		name    string
		fail    string
		limit   int
		wantErr bool
	}{
		{"a needed organization fails", "org-b", 10, true},
		{"an organization past a full page fails", "org-c", 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := &orgsQuery{items: items, fail: map[string]bool{tc.fail: true}, together: 3, arrived: make(chan struct{})}
			page, err := New(api, "t").listPage(context.Background(), backup.ListQuery{Organizations: orgs, Limit: tc.limit})
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want an error: %v", err, tc.wantErr)
			}
			if !tc.wantErr && (len(page.Items) != 3 || page.Next == nil || page.Next.Org != "org-b") {
				t.Errorf("page = %d items, next %+v; want 3 and to go on in org-b", len(page.Items), page.Next)
			}
		})
	}
}
