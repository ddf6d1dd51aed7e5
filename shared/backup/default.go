package backup

import "context"

// MakeDefault makes a credential its organization's default. It returns
// ENotFound, EForbidden or ELocked.
func (s *Service) MakeDefault(ctx context.Context, caller Caller, id string) (*Credential, error) {
	if err := s.changeable(ctx, caller, id); err != nil {
		return nil, err
	}
	return s.shown(s.store.MakeDefault(ctx, id, caller.Organizations, s.entry(caller, ActionMadeDefault, "isDefault")))
}
