package backup

import "context"

// Delete deletes an unlocked credential without projects, metadata first,
// then its secret. A secret left behind by a failure is removed by the
// orphan sweep. It returns ENotFound, EForbidden, ELocked or EInUse.
func (s *Service) Delete(ctx context.Context, caller Caller, id string) error {
	if err := s.changeable(ctx, caller, id); err != nil {
		return err
	}
	c, err := s.store.DeleteCredential(ctx, id, caller.Organizations, s.entry(caller, ActionDeleted))
	if err != nil {
		return err
	}
	if !c.IsRole() {
		s.dropSecret(ctx, id, "delete secret after metadata")
	}
	return nil
}
