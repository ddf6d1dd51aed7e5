package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Create checks the keys with the provider, stores the secret, then the
// metadata, and removes the secret again if the metadata cannot be stored.
// With an idempotency key, a repeat of the same body answers what the first
// call answered. It returns EForbidden, EInvalid, EInvalidCredentials,
// EUnreachable, EEndpointNotAllowed, ENameTaken, EIdempotencyReused or
// EUnavailable.
func (s *Service) Create(ctx context.Context, caller Caller, in CreateInput, idempotencyKey string) (c *Credential, replayed bool, err error) {
	if err := caller.requireWrite(); err != nil {
		return nil, false, err
	}
	if err := in.Validate(); err != nil {
		return nil, false, err
	}
	if err := s.foreignRole(in.RoleARN); err != nil {
		return nil, false, err
	}
	if !caller.Member(in.OrganizationID) {
		return nil, false, Errorf(EForbidden, "You are not a member of organization %q.", in.OrganizationID)
	}
	if idempotencyKey == "" {
		c, err := s.shown(s.create(ctx, caller, in, ""))
		return c, false, err
	}
	if len(idempotencyKey) > 255 || hasControl(idempotencyKey) {
		return nil, false, &Error{Code: EInvalid, Message: "The Idempotency-Key header is not valid.",
			Fields: []FieldError{{Field: "Idempotency-Key", Message: "must be 1 to 255 printable characters"}}}
	}
	scope := caller.UserID + "\x00" + idempotencyKey
	hash := hashBody(scope, in)
	wait := s.idempotencyWait
	if wait == 0 {
		wait = 5 * time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		rec, err := s.store.ClaimIdempotencyKey(ctx, scope, hash, time.Now())
		switch {
		case err != nil:
			return nil, false, err
		case rec == nil:
			c, err := s.shown(s.create(ctx, caller, in, scope))
			// A create that may yet take effect keeps its claim: the write
			// that creates also completes it, so a retry replays the answer.
			if err != nil && !errors.Is(err, ErrOutcomeUnknown) {
				if rerr := s.store.ReleaseIdempotencyKey(context.WithoutCancel(ctx), scope); rerr != nil {
					s.logger.ErrorContext(ctx, "release idempotency key", "error", rerr)
				}
			}
			return c, false, err
		case rec.Hash != hash:
			return nil, false, Errorf(EIdempotencyReused, "This Idempotency-Key was used with another request body.")
		case rec.Credential != nil:
			c, _ := s.shown(rec.Credential, nil)
			return c, true, nil
		case time.Now().After(deadline):
			return nil, false, Errorf(EUnavailable, "A request with this Idempotency-Key is still in progress; retry shortly.")
		}
		select {
		case <-ctx.Done():
			return nil, false, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// hashBody identifies a create body for idempotency. The scope salts it, so
// the hash of a secret key cannot be looked up in a table of known hashes.
func hashBody(scope string, in CreateInput) string {
	b, _ := json.Marshal(in)
	h := sha256.Sum256(append([]byte(scope+"\x00"), b...))
	return hex.EncodeToString(h[:])
}

func (s *Service) create(ctx context.Context, caller Caller, in CreateInput, scope string) (*Credential, error) {
	at := s.now()
	c := &Credential{
		ID:             NewID(at),
		OrganizationID: in.OrganizationID,
		Name:           NormalizeName(in.Name),
		AuthType:       AuthAccessKey,
		Endpoint:       in.Endpoint,
		Region:         in.Region,
		CACertificate:  in.CACertificate,
		Projects:       []Project{},
		Version:        1,
	}
	var (
		fields []string
		err    error
	)
	if in.AuthType == AuthRole {
		c.AuthType, c.RoleARN = AuthRole, &in.RoleARN
		fields = []string{"s3Name", "authType", "s3RoleArn", "s3Endpoint", "s3Region"}
		c.Health, err = s.checkRole(ctx, c.ID, c.OrganizationID, in.RoleARN, in.Region)
	} else {
		c.AccessKeyID, c.KeysChangedAt = in.AccessKeyID, &at
		fields = []string{"s3Name", "s3AccessKeyId", "s3SecretKey", "s3Endpoint", "s3Region"}
		c.Health, err = s.checkKeys(ctx, Keys{AccessKeyID: in.AccessKeyID, SecretKey: in.SecretKey,
			Endpoint: in.Endpoint, Region: in.Region, CACertificate: deref(in.CACertificate)})
	}
	if err != nil {
		return nil, err
	}
	if in.CACertificate != nil {
		fields = append(fields, "s3CaCertificate")
	}
	e := s.entry(caller, ActionCreated, fields...)
	c.CreatedAt, c.CreatedBy, c.LastModified, c.LastModifiedBy = e.At, e.By, e.At, e.By
	if !c.IsRole() {
		c.SecretVersion, err = s.vault().CreateSecret(ctx, c.ID, c.OrganizationID, in.SecretKey)
		if err != nil {
			return nil, Unavailable(fmt.Errorf("create secret of %s: %w", c.ID, err))
		}
	}
	if err := s.store.CreateCredential(ctx, c, e, scope); err != nil {
		// The secret goes only when the metadata is known not to be
		// written; when no answer came, the credential may exist, and a
		// secret that is truly orphaned is the sweep's.
		if !c.IsRole() && !errors.Is(err, ErrOutcomeUnknown) {
			if derr := s.vault().DeleteSecret(context.WithoutCancel(ctx), c.ID); derr != nil {
				s.logger.ErrorContext(ctx, "remove secret after failed create; the orphan sweep will retry",
					"credentialId", c.ID, "error", derr)
			}
		}
		return nil, err
	}
	return c, nil
}
