package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
)

// Update changes the fields the input names, checking the keys with the
// provider again when keys, endpoint, region or CA change. ifMatch, when not
// nil, is the version the caller last saw. It returns ENotFound, EForbidden,
// EInvalid, ELocked, ENameTaken, EPrecondition, EInvalidCredentials,
// EUnreachable, EEndpointNotAllowed or EUnavailable.
func (s *Service) Update(ctx context.Context, caller Caller, id string, in PatchInput, ifMatch *int64) (*Credential, error) {
	if err := s.changeable(ctx, caller, id); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		c, err := s.update(ctx, caller, id, in, ifMatch)
		if ErrorCode(err) != EPrecondition || ifMatch != nil || attempt >= 4 {
			return c, err
		}
	}
}

func (s *Service) update(ctx context.Context, caller Caller, id string, in PatchInput, ifMatch *int64) (*Credential, error) {
	old, err := s.store.GetCredential(ctx, id, caller.Organizations)
	if err != nil {
		return nil, err
	}
	if ifMatch != nil && *ifMatch != old.Version {
		return nil, Errorf(EPrecondition, "The credential changed since version %d; it is at version %d now.", *ifMatch, old.Version)
	}
	if err := in.Validate(old); err != nil {
		return nil, err
	}
	if err := s.foreignRole(deref(in.RoleARN)); err != nil {
		return nil, err
	}
	if old.IsLocked {
		return nil, Errorf(ELocked, "The credential is locked; unlock it to change it.")
	}
	c := *old
	c.Projects = slices.Clone(old.Projects)
	var fields []string
	set := func(field string, dst *string, v *string) {
		if v != nil && *v != *dst {
			*dst = *v
			fields = append(fields, field)
		}
	}
	if in.Name != nil {
		name := NormalizeName(*in.Name)
		set("s3Name", &c.Name, &name)
	}
	set("s3AccessKeyId", &c.AccessKeyID, in.AccessKeyID)
	set("s3Endpoint", &c.Endpoint, in.Endpoint)
	set("s3Region", &c.Region, in.Region)
	if in.CACertificate.Set && deref(in.CACertificate.Value) != deref(old.CACertificate) {
		c.CACertificate = in.CACertificate.Value
		fields = append(fields, "s3CaCertificate")
	}
	if in.SecretKey != nil {
		fields = append(fields, "s3SecretKey")
	}
	toRole := in.authType(old) == AuthRole && !old.IsRole()
	toKeys := in.authType(old) == AuthAccessKey && old.IsRole()
	switch {
	case toRole:
		c.AuthType, c.AccessKeyID, c.SecretVersion, c.KeysChangedAt, c.CACertificate = AuthRole, "", "", nil, nil
		fields = append(fields, "authType")
		if old.CACertificate != nil {
			fields = append(fields, "s3CaCertificate")
		}
	case toKeys:
		c.AuthType, c.RoleARN = AuthAccessKey, nil
		fields = append(fields, "authType")
	}
	if in.RoleARN != nil && *in.RoleARN != deref(old.RoleARN) {
		c.RoleARN = in.RoleARN
		fields = append(fields, "s3RoleArn")
	}
	if len(fields) == 0 {
		return s.shown(old, nil)
	}
	// Anything but a rename changes the keys or where they go: check them
	// again (a key change carries the secret key, Validate saw to it; update
	// never reads a stored secret), or the role, with the same check as
	// create.
	switch {
	case c.IsRole() && (toRole || in.RoleARN != nil || in.Endpoint != nil || in.Region != nil):
		if c.Health, err = s.checkRole(ctx, id, c.OrganizationID, *c.RoleARN, c.Region); err != nil {
			return nil, err
		}
	case in.SecretKey != nil:
		if c.Health, err = s.checkKeys(ctx, Keys{AccessKeyID: c.AccessKeyID, SecretKey: *in.SecretKey,
			Endpoint: c.Endpoint, Region: c.Region, CACertificate: deref(c.CACertificate)}); err != nil {
			return nil, err
		}
	}
	e := s.entry(caller, ActionUpdated, fields...)
	if in.SecretKey != nil {
		c.KeysChangedAt = &e.At
		if toKeys {
			// The credential's secret was deleted when it became a role.
			c.SecretVersion, err = s.vault().CreateSecret(ctx, id, c.OrganizationID, *in.SecretKey)
		} else {
			c.SecretVersion, err = s.vault().PutSecret(ctx, id, *in.SecretKey, secretToken(old, *in.SecretKey))
		}
		if err != nil {
			return nil, Unavailable(fmt.Errorf("put secret of %s: %w", id, err))
		}
	}
	c.Version = old.Version + 1
	c.LastModified, c.LastModifiedBy = e.At, e.By
	if err := s.store.UpdateCredential(ctx, old, &c, e); err != nil {
		if toKeys && refused(err) {
			// Known not written: the secret goes. When the outcome is
			// unknown it stays: if the write did not commit, the orphan
			// sweep removes the secret of a role credential.
			s.dropSecret(ctx, id, "remove the secret of a change to keys that failed")
		}
		return nil, err // a new version stays pending; the current one is what the metadata names
	}
	switch {
	case toRole:
		// The metadata no longer names a secret: the keys go (with the
		// recovery window). If this fails the orphan sweep removes it.
		s.dropSecret(ctx, id, "delete the secret of a credential that became a role")
	case in.SecretKey != nil && !toKeys:
		// The metadata names the new version: make it the current one. If
		// this fails, reads are still right (they ask for the version the
		// metadata names); the label follows at the next key change.
		if err := s.vault().PromoteSecret(context.WithoutCancel(ctx), id, c.SecretVersion); err != nil {
			s.logger.ErrorContext(ctx, "make the new secret version current", "credentialId", id, "error", err)
		}
	}
	return s.shown(&c, nil)
}

// refused reports whether a write failed knowing it did nothing: a rule
// refused it.
func refused(err error) bool {
	switch ErrorCode(err) {
	case ELocked, EPrecondition, ENameTaken, ENotFound:
		return true
	}
	return false
}

// dropSecret deletes a credential's secret, logging a failure: the orphan
// sweep removes what is left.
func (s *Service) dropSecret(ctx context.Context, id, what string) {
	if err := s.vault().DeleteSecret(context.WithoutCancel(ctx), id); err != nil {
		s.logger.ErrorContext(ctx, what+"; the orphan sweep will retry", "credentialId", id, "error", err)
	}
}

// secretToken names a key change: the credential, the version it changes
// from, and the new key, hashed, so a retry of the same change stores no new
// version and a different change never reuses one.
func secretToken(old *Credential, secretKey string) string {
	h := sha256.Sum256([]byte("bc-secret\x00" + old.ID + "\x00" + strconv.FormatInt(old.Version, 10) + "\x00" + old.SecretVersion + "\x00" + secretKey))
	return hex.EncodeToString(h[:16])
}
