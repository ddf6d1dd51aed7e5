package backup

import "context"

// Get returns a credential the caller can see, or ENotFound.
func (s *Service) Get(ctx context.Context, caller Caller, id string) (*Credential, error) {
	if !ValidID(id) {
		return nil, NotFound(id)
	}
	return s.shown(s.store.GetCredential(ctx, id, caller.Organizations))
}
