package backup

import (
	"context"
	"slices"
	"strings"
	"unicode/utf8"
)

// List returns a page of the caller's credentials and the cursor of the next
// page, "" on the last. It returns EForbidden or EInvalid.
func (s *Service) List(ctx context.Context, caller Caller, req ListRequest) ([]*Credential, string, error) {
	var f fieldErrors
	search := strings.ToLower(strings.TrimSpace(req.Search))
	if len(req.Search) > SearchMax || !utf8.ValidString(req.Search) || hasControl(req.Search) {
		f.add("search", "must be printable text of at most %d bytes", SearchMax)
	}
	order, ok := ParseSort(req.Sort)
	if !ok {
		f.add("sort", "must be one of %s, each with a leading - for descending", strings.Join(SortFields, ", "))
	}
	limit := req.Limit
	switch {
	case limit == 0:
		limit = LimitDefault
	case limit < 1 || limit > LimitMax:
		f.add("limit", "must be between 1 and %d", LimitMax)
	}
	if err := f.err(); err != nil {
		return nil, "", err
	}
	orgs := slices.Sorted(slices.Values(slices.Compact(slices.Sorted(slices.Values(caller.Organizations)))))
	if req.OrganizationID != "" {
		if !caller.Member(req.OrganizationID) {
			return nil, "", Errorf(EForbidden, "You are not a member of organization %q.", truncate(req.OrganizationID, 128))
		}
		orgs = []string{req.OrganizationID}
	}
	bind := []string{"list", caller.UserID, req.OrganizationID, search}
	if order != (Sort{Field: SortName}) {
		bind = append(bind, order.String()) // cursors issued before sorting still work
	}
	q := ListQuery{Organizations: orgs, Search: search, Sort: order, Limit: limit}
	if req.Cursor != "" {
		after, err := DecodeCursor(req.Cursor, bind...)
		if err != nil {
			return nil, "", err
		}
		q.After = after
		q.Organizations = slices.DeleteFunc(slices.Clone(orgs), func(o string) bool { return o < after.Org })
	}
	if len(q.Organizations) == 0 {
		return []*Credential{}, "", nil
	}
	page, err := s.store.ListCredentials(ctx, q)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if page.Next != nil {
		next = EncodeCursor(*page.Next, bind...)
	}
	for _, c := range page.Items {
		_, _ = s.shown(c, nil)
	}
	return page.Items, next, nil
}
