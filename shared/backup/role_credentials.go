package backup

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Role credentials: the service assumes a role in the customer's account
// with the organization's external ID, instead of storing keys. And key
// age: keys older than the rotation age are due for rotation.

// RoleAssumer assumes customers' roles as the service's trust principal. It
// returns temporary credentials when the role may be assumed, and a result
// that says what happened either way (invalid when STS refused, unreachable
// when it did not answer); an error only when it could not ask.
type RoleAssumer interface {
	AssumeRole(ctx context.Context, r RoleSession) (*TempCredentials, CheckResult, error)
}

// Durations of a role's sessions: the shortest STS allows for a check, an
// hour for a backup.
const (
	CheckSession  = 15 * time.Minute
	BackupSession = time.Hour
)

// SessionName is the name of the sessions the service opens on a
// credential's role, as the customer's CloudTrail shows them.
func SessionName(id string) string { return "backup-credentials-" + id }

// assume assumes a credential's role (id, or "validate" for keys not stored
// yet) with its organization's external ID.
func (s *Service) assume(ctx context.Context, id, org, roleARN, region string, d time.Duration) (*TempCredentials, CheckResult, error) {
	if s.Roles == nil {
		return nil, CheckResult{}, Errorf(EInvalid, "Role credentials are not enabled in this deployment.")
	}
	ext, err := s.Store.ExternalID(ctx, org)
	if err != nil {
		return nil, CheckResult{}, err
	}
	return s.Roles.AssumeRole(ctx, RoleSession{RoleARN: roleARN, ExternalID: ext, SessionName: SessionName(id), Region: region, Duration: d})
}

// foreignRole refuses a role in the service's own AWS account (the account
// of its trust principal, which anyone can read in GET /v1/organizations):
// the service would assume its own roles for a tenant, and tell them which
// exist. "" is no role.
func (s *Service) foreignRole(roleARN string) error {
	if roleARN == "" || s.TrustPrincipal == "" || AccountOf(roleARN) != AccountOf(s.TrustPrincipal) {
		return nil
	}
	return &Error{Code: EInvalid, Message: "The request is not valid.", Fields: []FieldError{{Field: "s3RoleArn",
		Message: "must be a role in your organization's own AWS account, not in this service's account (the account of its trustPrincipal)"}}}
}

// AccountOf returns the account of an IAM ARN (arn:<partition>:iam::<account>:...),
// or "" when it names none.
func AccountOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[4]
}

// checkRole checks that a role may be assumed, turning a refusal into the
// error a person can act on, and returns the health to record.
func (s *Service) checkRole(ctx context.Context, id, org, roleARN, region string) (Health, error) {
	_, r, err := s.assume(ctx, id, org, roleARN, region, CheckSession)
	if err != nil {
		return Health{}, err
	}
	return s.verdict(r)
}

// verdict turns a check's result into the health to record, or the error
// that refuses the keys or role.
func (s *Service) verdict(r CheckResult) (Health, error) {
	switch r.Status {
	case HealthInvalid:
		return Health{}, Errorf(EInvalidCredentials, "%s", r.Message)
	case HealthUnreachable:
		return Health{}, Errorf(EUnreachable, "%s", r.Message)
	}
	at := s.now()
	return Health{Status: r.Status, CheckedAt: &at, Message: r.Message}, nil
}

// RotationDue reports whether a credential's keys are older than the
// rotation age (KeyRotationDays; 0 turns it off). A role never is.
func (s *Service) RotationDue(c *Credential) bool {
	return !c.IsRole() && s.KeyRotationDays > 0 && c.KeysChangedAt != nil &&
		s.now().Sub(*c.KeysChangedAt) > time.Duration(s.KeyRotationDays)*24*time.Hour
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
	if err := s.Store.MarkRotationDue(ctx, c, s.now()); err != nil {
		if code := ErrorCode(err); code == ENotFound || code == EPrecondition {
			return false, nil // deleted, or new keys meanwhile
		}
		return false, fmt.Errorf("mark rotation due of %s: %w", c.ID, err)
	}
	return true, nil
}
