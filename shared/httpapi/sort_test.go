package httpapi_test

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// sorted is one credential as the sort test made it.
type sorted struct {
	org, id, name, endpoint string
	created, modified       time.Time
}

// TestListSorts: every sort, both ways, walked at several page sizes,
// answers each organization's credentials in the order of its field and
// then ID (descending as a whole), organizations in order; a cursor works
// only with the sort it was issued for; an unknown sort is 400.
func TestListSorts(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		made := makeSortable(t, e)
		for _, field := range []string{"name", "createdAt", "lastModified", "s3Endpoint"} {
			for _, sort := range []string{field, "-" + field} {
				want := expectedOrder(made, sort)
				for _, limit := range []int{1, 2, 100} {
					if got := walkList(t, e, "sort="+url.QueryEscape(sort), limit); !slices.Equal(got, want) {
						t.Errorf("sort=%s limit %d: walked\n %v\nwant\n %v", sort, limit, got, want)
					}
				}
			}
		}
		for _, sort := range []string{"-createdAt", "-name"} {
			got, want := walkList(t, e, "sort="+sort+"&search=eu-central", 1), expectedOrder(filterEndpoint(made, "eu-central"), sort)
			if !slices.Equal(got, want) {
				t.Errorf("sort=%s with a search walked %v, want %v", sort, got, want)
			}
		}
		listSortRefusals(t, e)
	})
}

// makeSortable creates credentials whose names, endpoints, creation and
// change times order differently, with ties in endpoint and creation time.
func makeSortable(t *testing.T, e *env) []sorted {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	defer e.clock.Set(time.Time{})
	var made []sorted
	for _, c := range []struct {
		org, name, region string
		at                int
	}{
		{"org-1", "bravo", "eu-west-1", 3}, {"org-1", "Alpha", "us-east-1", 1}, {"org-1", "charlie", "eu-central-1", 2},
		{"org-1", "delta", "eu-central-1", 2}, {"org-2", "echo", "ap-south-1", 0}, {"org-2", "Foxtrot", "eu-central-1", 5},
	} {
		e.clock.Set(t0.Add(time.Duration(c.at) * time.Second))
		body := createBody(c.org, c.name)
		body["s3Endpoint"], body["s3Region"] = "https://s3."+c.region+".amazonaws.com", c.region
		id := e.must(201, partner, "POST", "/v1/backup-credentials", body).json(t)["id"].(string)
		made = append(made, sorted{c.org, id, c.name, body["s3Endpoint"].(string), e.clock.Now(), e.clock.Now()})
	}
	e.clock.Set(t0.Add(time.Minute))
	e.must(200, partner, "PATCH", "/v1/backup-credentials/"+made[1].id, map[string]any{"s3Name": "Alpha2"})
	made[1].name, made[1].modified = "Alpha2", t0.Add(time.Minute)
	return made
}

// expectedOrder is the model of a sort: organizations in order, then the
// field and the ID, the whole reversed for a descending sort.
func expectedOrder(made []sorted, sort string) []string {
	field, desc := strings.TrimPrefix(sort, "-"), strings.HasPrefix(sort, "-")
	value := func(s sorted) string {
		switch field {
		case "createdAt":
			return s.created.Format(time.RFC3339Nano)
		case "lastModified":
			return s.modified.Format(time.RFC3339Nano)
		case "s3Endpoint":
			return s.endpoint
		}
		return strings.ToLower(s.name)
	}
	ms := slices.Clone(made)
	slices.SortFunc(ms, func(a, b sorted) int {
		n := cmp.Or(cmp.Compare(value(a), value(b)), cmp.Compare(a.id, b.id))
		if desc {
			n = -n
		}
		return cmp.Or(cmp.Compare(a.org, b.org), n)
	})
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.name
	}
	return out
}

func filterEndpoint(made []sorted, part string) []sorted {
	return slices.DeleteFunc(slices.Clone(made), func(s sorted) bool { return !strings.Contains(s.endpoint, part) })
}

// walkList follows nextCursor from the first page of a list with query and
// returns the names in the order it met them.
func walkList(t *testing.T, e *env, query string, limit int) []string {
	t.Helper()
	got, _ := walkPages(t, e, query, limit)
	return got
}

// walkPages is walkList, and how many pages it read.
func walkPages(t *testing.T, e *env, query string, limit int) ([]string, int) {
	t.Helper()
	var got []string
	cursor := ""
	for pages := 1; pages <= 20; pages++ {
		path := fmt.Sprintf("/v1/backup-credentials?%s&limit=%d", query, limit)
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := e.must(200, partner, "GET", path, nil).json(t)
		for _, c := range r["data"].([]any) {
			got = append(got, c.(map[string]any)["s3Name"].(string))
		}
		if r["nextCursor"] == nil {
			return got, pages
		}
		cursor = r["nextCursor"].(string)
	}
	t.Fatalf("%s: no last page after 20", query)
	return nil, 0
}

// listSortRefusals: unknown sorts and cursors of another sort are 400
// naming the parameter; sort=name is the default, cursors included.
func listSortRefusals(t *testing.T, e *env) {
	for _, bad := range []string{"size", "--name", "Name", "+name", "name,createdAt", "-"} {
		r := e.do(partner, "GET", "/v1/backup-credentials?sort="+url.QueryEscape(bad), nil)
		if r.status != 400 || !strings.Contains(string(r.body), `"sort"`) {
			t.Errorf("sort=%s answered %d %s, want 400 naming sort", bad, r.status, r.body)
		}
	}
	cursorOf := func(query string) string {
		return e.must(200, partner, "GET", "/v1/backup-credentials?limit=1&"+query, nil).json(t)["nextCursor"].(string)
	}
	byCreated := cursorOf("sort=createdAt")
	for _, other := range []string{"", "sort=name", "sort=-createdAt", "sort=lastModified"} {
		r := e.do(partner, "GET", "/v1/backup-credentials?limit=1&cursor="+byCreated+"&"+other, nil)
		if r.status != 400 || !strings.Contains(string(r.body), `"cursor"`) {
			t.Errorf("a sort=createdAt cursor with %q answered %d %s, want 400 naming cursor", other, r.status, r.body)
		}
	}
	e.must(200, partner, "GET", "/v1/backup-credentials?limit=1&sort=name&cursor="+cursorOf(""), nil)
}
