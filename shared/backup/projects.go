package backup

import (
	"context"
	"strings"
)

// AssociateProject enables a project's backup with a credential. It returns
// ENotFound, EForbidden, EInvalid or ELocked.
func (s *Service) AssociateProject(ctx context.Context, caller Caller, id, projectID string, in ProjectInput) (*Credential, error) {
	if err := s.changeable(ctx, caller, id); err != nil {
		return nil, err
	}
	if err := in.Validate(projectID); err != nil {
		return nil, err
	}
	p := Project{ID: projectID, Name: strings.TrimSpace(in.Name)}
	return s.shown(s.store.AssociateProject(ctx, id, caller.Organizations, p, s.entry(caller, ActionProjectAssociated, "projects")))
}

// DissociateProject disables a project's backup with a credential. It
// returns ENotFound or EForbidden.
func (s *Service) DissociateProject(ctx context.Context, caller Caller, id, projectID string) error {
	if err := s.changeable(ctx, caller, id); err != nil {
		return err
	}
	if !ValidProjectID(projectID) {
		return Errorf(ENotFound, "Project %q is not associated with this credential.", truncate(projectID, 64))
	}
	return s.store.DissociateProject(ctx, id, caller.Organizations, projectID, s.entry(caller, ActionProjectDissociated, "projects"))
}
