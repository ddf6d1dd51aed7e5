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
	p := patch(old, in)
	if len(p.fields) == 0 {
		return s.shown(old, nil)
	}
	if err := s.recheck(ctx, &p, in); err != nil {
		return nil, err
	}
	e := s.entry(caller, ActionUpdated, p.fields...)
	c := &p.c
	if in.SecretKey != nil {
		c.KeysChangedAt = &e.At
		if err := s.putSecret(ctx, &p, *in.SecretKey); err != nil {
			return nil, err
		}
	}
	c.Version = old.Version + 1
	c.LastModified, c.LastModifiedBy = e.At, e.By
	if err := s.store.UpdateCredential(ctx, old, c, e); err != nil {
		if p.toKeys && refused(err) {
			// Known not written: the secret goes. When the outcome is
			// unknown it stays: if the write did not commit, the orphan
			// sweep removes the secret of a role credential.
			s.dropSecret(ctx, id, "remove the secret of a change to keys that failed")
		}
		return nil, err // a new version stays pending; the current one is what the metadata names
	}
	s.settleSecret(ctx, p, in.SecretKey != nil)
	return s.shown(c, nil)
}

// A patched credential is the credential as a PATCH leaves it, before it
// is checked and written.
type patched struct {
	old *Credential
	c   Credential
	// fields are the changed fields, as history names them.
	fields []string
	// toRole and toKeys: the PATCH turns keys into a role, or back.
	toRole, toKeys bool
}

// patch applies in to a copy of old.
func patch(old *Credential, in PatchInput) patched {
	p := patched{old: old, c: *old}
	c := &p.c
	c.Projects = slices.Clone(old.Projects)
	set := func(field string, dst *string, v *string) {
		if v != nil && *v != *dst {
			*dst = *v
			p.fields = append(p.fields, field)
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
		p.fields = append(p.fields, "s3CaCertificate")
	}
	if in.SecretKey != nil {
		p.fields = append(p.fields, "s3SecretKey")
	}
	p.toRole = in.authType(old) == AuthRole && !old.IsRole()
	p.toKeys = in.authType(old) == AuthAccessKey && old.IsRole()
	switch {
	case p.toRole:
		c.AuthType, c.AccessKeyID, c.SecretVersion, c.KeysChangedAt, c.CACertificate = AuthRole, "", "", nil, nil
		p.fields = append(p.fields, "authType")
		if old.CACertificate != nil && !slices.Contains(p.fields, "s3CaCertificate") {
			p.fields = append(p.fields, "s3CaCertificate") // the role drops it, unless the PATCH did
		}
	case p.toKeys:
		c.AuthType, c.RoleARN = AuthAccessKey, nil
		p.fields = append(p.fields, "authType")
	}
	if in.RoleARN != nil && *in.RoleARN != deref(old.RoleARN) {
		c.RoleARN = in.RoleARN
		p.fields = append(p.fields, "s3RoleArn")
	}
	return p
}

// recheck checks the patched credential with the provider when it is more
// than a rename: anything else changes the keys or where they go. A key
// change carries the secret key (Validate saw to it; update never reads a
// stored secret); a role is checked as create checks it.
func (s *Service) recheck(ctx context.Context, p *patched, in PatchInput) error {
	c := &p.c
	var err error
	switch {
	case c.IsRole() && (p.toRole || in.RoleARN != nil || in.Endpoint != nil || in.Region != nil):
		c.Health, err = s.checkRole(ctx, c.ID, c.OrganizationID, *c.RoleARN, c.Region)
	case in.SecretKey != nil:
		c.Health, err = s.checkKeys(ctx, Keys{AccessKeyID: c.AccessKeyID, SecretKey: *in.SecretKey,
			Endpoint: c.Endpoint, Region: c.Region, CACertificate: deref(c.CACertificate)})
	}
	return err
}

// putSecret stores the new secret key before the metadata names it: a new
// secret when the credential was a role (its secret was deleted then), else
// a pending version of its secret.
func (s *Service) putSecret(ctx context.Context, p *patched, secret string) error {
	var err error
	if p.toKeys {
		p.c.SecretVersion, err = s.vault().CreateSecret(ctx, p.c.ID, p.c.OrganizationID, secret)
	} else {
		p.c.SecretVersion, err = s.vault().PutSecret(ctx, p.c.ID, secret, secretToken(p.old, secret))
	}
	if err != nil {
		return Unavailable(fmt.Errorf("put secret of %s: %w", p.c.ID, err))
	}
	return nil
}

// settleSecret follows a written update in Secrets Manager: the keys of a
// credential that became a role go (with the recovery window; if this
// fails the orphan sweep removes them), and a new version of a key change
// becomes the current one (if this fails, reads are still right, as they
// ask for the version the metadata names; the label follows at the next
// key change).
func (s *Service) settleSecret(ctx context.Context, p patched, newSecret bool) {
	switch {
	case p.toRole:
		s.dropSecret(ctx, p.c.ID, "delete the secret of a credential that became a role")
	case newSecret && !p.toKeys:
		if err := s.vault().PromoteSecret(context.WithoutCancel(ctx), p.c.ID, p.c.SecretVersion); err != nil {
			s.logger.ErrorContext(ctx, "make the new secret version current", "credentialId", p.c.ID, "error", err)
		}
	}
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
