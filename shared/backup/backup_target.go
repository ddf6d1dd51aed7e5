package backup

import (
	"context"
	"fmt"
	"time"
)

// Purposes of a backup target, and the modes it answers: a lock stops
// backups, not restores.
const (
	PurposeBackup  = "backup"
	PurposeRestore = "restore"
	ModeReadWrite  = "read-write"
	ModeReadOnly   = "read-only"
)

// BackupTarget resolves an organization's project's credential for the
// backup engine, with its secret key read by the version the metadata
// names, for a backup (the default) or a restore. A locked credential is
// ELocked for a backup, and its secret is not read; for a restore it is
// answered read-only. The use is recorded at most every few minutes, and a
// failure to record it never fails the answer. It returns EForbidden (not
// the backup engine), EInvalid (purpose), ENotFound, ELocked or
// EUnavailable.
func (s *Service) BackupTarget(ctx context.Context, caller Caller, org, projectID, purpose string) (*BackupTarget, error) {
	if caller.Role != RoleBackupEngine {
		return nil, Errorf(EForbidden, "Only the backup engine may resolve a project's credential.")
	}
	switch purpose {
	case "":
		purpose = PurposeBackup
	case PurposeBackup, PurposeRestore:
	default:
		return nil, &Error{Code: EInvalid, Message: "The query parameter purpose is not valid.",
			Fields: []FieldError{{Field: "purpose", Message: `must be "backup" or "restore"`}}}
	}
	if !ValidOrganizationID(org) || !ValidProjectID(projectID) {
		return nil, Errorf(ENotFound, "No backup credential of organization %q is associated with project %q.", truncate(org, 64), truncate(projectID, 64))
	}
	c, err := s.store.ResolveProject(ctx, org, projectID)
	if err != nil {
		return nil, err
	}
	mode := ModeReadWrite
	if c.IsLocked {
		if purpose == PurposeBackup {
			return nil, Errorf(ELocked, "Backup is disabled: the credential is locked.")
		}
		mode = ModeReadOnly
	}
	t := &BackupTarget{CredentialID: c.ID, OrganizationID: c.OrganizationID, Name: c.Name, Endpoint: c.Endpoint,
		Region: c.Region, CACertificate: c.CACertificate, AuthType: c.AuthType, Mode: mode, Health: c.Health}
	if err := s.targetKeys(ctx, c, t); err != nil {
		return nil, err
	}
	if err := s.store.RecordUse(context.WithoutCancel(ctx), c, s.now()); err != nil {
		s.logger.ErrorContext(ctx, "record the backup engine's use; the answer stands", "credentialId", c.ID, "error", err)
	}
	return t, nil
}

// targetKeys gives a backup target its keys: the stored ones, read by the
// version the metadata names, or a role's temporary ones (one hour).
func (s *Service) targetKeys(ctx context.Context, c *Credential, t *BackupTarget) error {
	if !c.IsRole() {
		secret, err := s.vault().GetSecret(ctx, c.ID, c.SecretVersion)
		if err != nil {
			return Unavailable(fmt.Errorf("read secret of %s: %w", c.ID, err))
		}
		t.AccessKeyID, t.SecretAccessKey = c.AccessKeyID, secret
		return nil
	}
	creds, r, err := s.assume(ctx, c.ID, c.OrganizationID, deref(c.RoleARN), c.Region, BackupSession)
	if err != nil {
		return err
	}
	if creds == nil {
		_, err := s.verdict(r)
		return err
	}
	expires := creds.Expires.UTC().Format(time.RFC3339)
	t.AccessKeyID, t.SecretAccessKey, t.SessionToken, t.ExpiresAt = creds.AccessKeyID, creds.SecretAccessKey, &creds.SessionToken, &expires
	return nil
}
