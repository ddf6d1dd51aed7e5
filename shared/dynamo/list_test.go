package dynamo

import (
	"context"
	"fmt"
	"strings"
	"testing"

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
	page, err := st.ListCredentials(context.Background(), backup.ListQuery{Organizations: []string{"org-1"}, Search: "m", Limit: 10})
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
		page, err := st.ListCredentials(context.Background(), q)
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
