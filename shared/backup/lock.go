package backup

import "context"

// SetLocked locks or unlocks a credential. It returns ENotFound, EForbidden,
// EAlreadyLocked or EAlreadyUnlocked.
func (s *Service) SetLocked(ctx context.Context, caller Caller, id string, locked bool) (*Credential, error) {
	if err := s.changeable(ctx, caller, id); err != nil {
		return nil, err
	}
	action := ActionUnlocked
	if locked {
		action = ActionLocked
	}
	return s.shown(s.store.SetLocked(ctx, id, caller.Organizations, locked, s.entry(caller, action, "isLocked")))
}
