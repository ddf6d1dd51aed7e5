package backup

import (
	"context"
	"fmt"
	"time"
)

// checkKeys asks the provider and turns a refusal into the error a person
// can act on. It returns the health to record.
func (s *Service) checkKeys(ctx context.Context, k Keys) (Health, error) {
	r, err := s.provider().Check(ctx, k)
	if err != nil {
		return Health{}, err
	}
	return s.verdict(r)
}

// Check checks a credential's stored keys now and records the result. An
// invalid or unreachable result is recorded, not returned as an error. It
// returns ENotFound, EForbidden or EUnavailable.
func (s *Service) Check(ctx context.Context, caller Caller, id string) (*Credential, error) {
	if err := s.changeable(ctx, caller, id); err != nil {
		return nil, err
	}
	c, err := s.store.GetCredential(ctx, id, caller.Organizations)
	if err != nil {
		return nil, err
	}
	h, err := s.CheckHealth(ctx, c)
	if err != nil {
		return nil, err
	}
	return s.shown(s.store.RecordHealth(ctx, c, h))
}

// CheckHealth asks the provider about a stored credential and returns the
// health to record. A missing secret is recorded as invalid.
func (s *Service) CheckHealth(ctx context.Context, c *Credential) (Health, error) {
	if c.IsRole() {
		return s.CheckHealthWith(ctx, c, "", false)
	}
	secret, err := s.vault().GetSecret(ctx, c.ID, c.SecretVersion)
	switch {
	case ErrorCode(err) == ENotFound:
		return s.CheckHealthWith(ctx, c, "", false)
	case err != nil:
		return Health{}, Unavailable(fmt.Errorf("read secret of %s: %w", c.ID, err))
	}
	return s.CheckHealthWith(ctx, c, secret, true)
}

// CheckHealthWith checks a credential with its secret key already read
// (found false: the vault has no such secret), so that a caller checking
// many reads their secrets in batches. A role credential needs no secret.
func (s *Service) CheckHealthWith(ctx context.Context, c *Credential, secret string, found bool) (Health, error) {
	at := s.now()
	if c.IsRole() {
		_, r, err := s.assume(ctx, c.ID, c.OrganizationID, deref(c.RoleARN), c.Region, CheckSession)
		if err != nil {
			return Health{}, err
		}
		return checked(r, at), nil
	}
	if !found {
		return Health{Status: HealthInvalid, CheckedAt: &at,
			Message: "The secret key of this credential is missing from the vault; enter the keys again."}, nil
	}
	r, err := s.provider().Check(ctx, Keys{AccessKeyID: c.AccessKeyID, SecretKey: secret,
		Endpoint: c.Endpoint, Region: c.Region, CACertificate: deref(c.CACertificate)})
	if err != nil {
		if ErrorCode(err) != EEndpointNotAllowed {
			return Health{}, err
		}
		r = CheckResult{Status: HealthUnreachable, Message: ErrorMessage(err)}
	}
	return checked(r, at), nil
}

// checked is the health a check's result at a time records: a healthy one
// is also when the keys were last seen working.
func checked(r CheckResult, at time.Time) Health {
	h := Health{Status: r.Status, CheckedAt: &at, Message: r.Message}
	if r.Status == HealthHealthy {
		h.LastHealthyAt = &at
	}
	return h
}

// Validate checks keys with the provider without storing anything. It
// returns the provider's message, or EForbidden, EInvalid,
// EInvalidCredentials, EUnreachable or EEndpointNotAllowed.
func (s *Service) Validate(ctx context.Context, caller Caller, in KeysInput) (string, error) {
	if err := caller.requireWrite(); err != nil {
		return "", err
	}
	if err := in.Validate(); err != nil {
		return "", err
	}
	if err := s.foreignRole(in.RoleARN); err != nil {
		return "", err
	}
	if in.AuthType == AuthRole {
		if !caller.Member(in.OrganizationID) {
			return "", Errorf(EForbidden, "You are not a member of organization %q.", in.OrganizationID)
		}
		h, err := s.checkRole(ctx, "validate", in.OrganizationID, in.RoleARN, in.Region)
		return h.Message, err
	}
	h, err := s.checkKeys(ctx, Keys{AccessKeyID: in.AccessKeyID, SecretKey: in.SecretKey,
		Endpoint: in.Endpoint, Region: in.Region, CACertificate: deref(in.CACertificate)})
	return h.Message, err
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
	return checked(r, s.now()), nil
}
