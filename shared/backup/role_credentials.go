package backup

import (
	"context"
	"strings"
	"time"
)

// Role credentials: the service assumes a role in the customer's account
// with the organization's external ID, instead of storing keys. And key
// age: keys older than the rotation age are due for rotation.

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
	if s.roles == nil {
		return nil, CheckResult{}, Errorf(EInvalid, "Role credentials are not enabled in this deployment.")
	}
	ext, err := s.store.ExternalID(ctx, org)
	if err != nil {
		return nil, CheckResult{}, err
	}
	return s.roles.AssumeRole(ctx, RoleSession{RoleARN: roleARN, ExternalID: ext, SessionName: SessionName(id), Region: region, Duration: d})
}

// foreignRole refuses a role in the service's own AWS account (the account
// of its trust principal, which anyone can read in GET /v1/organizations):
// the service would assume its own roles for a tenant, and tell them which
// exist. "" is no role.
func (s *Service) foreignRole(roleARN string) error {
	if roleARN == "" || s.trustPrincipal == "" || AccountOf(roleARN) != AccountOf(s.trustPrincipal) {
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
