package backup

import (
	"context"
	"fmt"
	"time"
)

// RotationDue reports whether a credential's keys are older than the
// rotation age (KeyRotationDays; 0 turns it off). A role never is.
func (s *Service) RotationDue(c *Credential) bool {
	return !c.IsRole() && s.keyRotationDays > 0 && c.KeysChangedAt != nil &&
		s.now().Sub(*c.KeysChangedAt) > time.Duration(s.keyRotationDays)*24*time.Hour
}

// shown completes a credential for an answer: whether its keys are due.
func (s *Service) shown(c *Credential, err error) (*Credential, error) {
	if c != nil {
		c.RotationDue = s.RotationDue(c)
	}
	return c, err
}

// AnnounceRotation records, once per crossing, that a credential's keys
// became due for rotation (the table's stream announces it). It reports
// whether it recorded it now.
func (s *Service) AnnounceRotation(ctx context.Context, c *Credential) (bool, error) {
	if !s.RotationDue(c) || c.RotationAnnounced {
		return false, nil
	}
	if err := s.store.MarkRotationDue(ctx, c, s.now()); err != nil {
		if code := ErrorCode(err); code == ENotFound || code == EPrecondition {
			return false, nil // deleted, or new keys meanwhile
		}
		return false, fmt.Errorf("mark rotation due of %s: %w", c.ID, err)
	}
	return true, nil
}
