package backup

import (
	"context"
	"slices"
)

// Organizations summarizes the caller's organizations.
func (s *Service) Organizations(ctx context.Context, caller Caller) ([]Organization, error) {
	orgs := slices.Compact(slices.Sorted(slices.Values(caller.Organizations)))
	if len(orgs) == 0 {
		return []Organization{}, nil
	}
	out, err := s.store.Organizations(ctx, orgs)
	for i := range out {
		out[i].TrustPrincipal = s.trustPrincipal
	}
	return out, err
}
