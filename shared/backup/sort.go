package backup

import (
	"cmp"
	"strings"
)

// The fields a list sorts by (?sort=, with a leading "-" for descending).
const (
	SortName         = "name"
	SortCreatedAt    = "createdAt"
	SortLastModified = "lastModified"
	SortEndpoint     = "s3Endpoint"
)

// SortFields are the fields a list sorts by, the default first.
var SortFields = []string{SortName, SortCreatedAt, SortLastModified, SortEndpoint}

// A Sort is the order of a list within each organization: by Field, then
// by ID, descending as a whole when Desc.
type Sort struct {
	Field string
	Desc  bool
}

// ParseSort reads a sort parameter: "" is by name.
func ParseSort(s string) (Sort, bool) {
	if s == "" {
		return Sort{Field: SortName}, true
	}
	desc := strings.HasPrefix(s, "-")
	field := strings.TrimPrefix(s, "-")
	for _, f := range SortFields {
		if field == f {
			return Sort{Field: f, Desc: desc}, true
		}
	}
	return Sort{}, false
}

// String is the sort as the query parameter spells it.
func (s Sort) String() string {
	if s.Desc {
		return "-" + s.Field
	}
	return s.Field
}

// sortTime is a time as a string that orders as the time does.
const sortTime = "2006-01-02T15:04:05.000000000Z"

// Value is what c sorts by: a name as the name index orders it
// (case-insensitively), times to the nanosecond in UTC, an endpoint
// lower-cased.
func (s Sort) Value(c *Credential) string {
	switch s.Field {
	case SortCreatedAt:
		return c.CreatedAt.UTC().Format(sortTime)
	case SortLastModified:
		return c.LastModified.UTC().Format(sortTime)
	case SortEndpoint:
		return strings.ToLower(c.Endpoint)
	}
	return NameKey(c.Name)
}

// Compare orders two credentials of one organization.
func (s Sort) Compare(a, b *Credential) int {
	return s.compare(s.Value(a), a.ID, s.Value(b), b.ID)
}

// After reports whether c comes after the position p in this order. A
// position with no ID is the start of its organization.
func (s Sort) After(c *Credential, p Position) bool {
	return p.ID == "" || s.compare(s.Value(c), c.ID, p.Key, p.ID) > 0
}

// PositionOf is the position just past c.
func (s Sort) PositionOf(c *Credential) Position {
	return Position{Org: c.OrganizationID, Key: s.Value(c), ID: c.ID}
}

func (s Sort) compare(av, aid, bv, bid string) int {
	n := cmp.Or(cmp.Compare(av, bv), cmp.Compare(aid, bid))
	if s.Desc {
		return -n
	}
	return n
}
