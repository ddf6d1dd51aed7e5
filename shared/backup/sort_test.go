package backup

import (
	"slices"
	"testing"
	"time"
)

func TestParseSort(t *testing.T) {
	for in, want := range map[string]Sort{"": {SortName, false}, "name": {SortName, false}, "-name": {SortName, true},
		"createdAt": {SortCreatedAt, false}, "-lastModified": {SortLastModified, true}, "-s3Endpoint": {SortEndpoint, true}} {
		if got, ok := ParseSort(in); !ok || got != want || (in != "" && got.String() != in) {
			t.Errorf("ParseSort(%q) = %+v, %v; want %+v", in, got, ok, want)
		}
	}
	for _, bad := range []string{"-", "--name", "Name", "created_at", "+name", " name", "name,createdAt"} {
		if got, ok := ParseSort(bad); ok {
			t.Errorf("ParseSort(%q) = %+v, want refused", bad, got)
		}
	}
}

// TestSortOrders: a descending sort is the ascending one reversed, ties
// broken by ID; a time sorts to the nanosecond; After resumes just past a
// position, and a position with no ID is its organization's start.
func TestSortOrders(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cs := []*Credential{
		{ID: "bc_3", Name: "b", Endpoint: "https://B.example", CreatedAt: t0, LastModified: t0.Add(2 * time.Nanosecond)},
		{ID: "bc_1", Name: "A", Endpoint: "https://a.example", CreatedAt: t0, LastModified: t0.Add(time.Nanosecond)},
		{ID: "bc_2", Name: "c", Endpoint: "https://b.example", CreatedAt: t0.Add(-time.Hour), LastModified: t0.Add(time.Hour)},
	}
	ids := func(s Sort) []string {
		sorted := slices.Clone(cs)
		slices.SortFunc(sorted, s.Compare)
		out := []string{}
		for _, c := range sorted {
			out = append(out, c.ID)
		}
		return out
	}
	for field, want := range map[string][]string{SortName: {"bc_1", "bc_3", "bc_2"}, SortCreatedAt: {"bc_2", "bc_1", "bc_3"},
		SortLastModified: {"bc_1", "bc_3", "bc_2"}, SortEndpoint: {"bc_1", "bc_2", "bc_3"}} {
		up, down := ids(Sort{Field: field}), ids(Sort{Field: field, Desc: true})
		slices.Reverse(down)
		if !slices.Equal(up, want) || !slices.Equal(down, want) {
			t.Errorf("sort %s: up %v, down reversed %v, want %v", field, up, down, want)
		}
	}
	s := Sort{Field: SortCreatedAt}
	p := s.PositionOf(cs[1])
	if s.After(cs[1], p) || !s.After(cs[0], p) || s.After(cs[2], p) || !s.After(cs[2], Position{Org: "o"}) {
		t.Errorf("After around %+v is wrong", p)
	}
}
