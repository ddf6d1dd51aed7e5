package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Store keeps credential metadata and enforces every rule of the contract in
// its writes, atomically. Methods that take orgs treat a credential of any
// other organization as absent (ENotFound).
type Store interface {
	// CreateCredential stores a new credential and its first history entry.
	// It returns ENameTaken when the organization has the name already.
	// scope, when not "", is the Idempotency-Key claim the same write
	// completes with c. A write whose outcome is unknown (no answer came)
	// and that a read cannot confirm returns an error matching
	// ErrOutcomeUnknown: the create may yet take effect.
	CreateCredential(ctx context.Context, c *Credential, e HistoryEntry, scope string) error
	// GetCredential returns a credential, or ENotFound.
	GetCredential(ctx context.Context, id string, orgs []string) (*Credential, error)
	// ListCredentials returns one page of credentials.
	ListCredentials(ctx context.Context, q ListQuery) (*ListPage, error)
	// UpdateCredential replaces old with c, provided the stored credential is
	// still at old.Version and unlocked. It returns ENotFound, ELocked,
	// ENameTaken or EPrecondition.
	UpdateCredential(ctx context.Context, old, c *Credential, e HistoryEntry) error
	// SetLocked locks or unlocks a credential and returns it. It returns
	// ENotFound, EAlreadyLocked or EAlreadyUnlocked.
	SetLocked(ctx context.Context, id string, orgs []string, locked bool, e HistoryEntry) (*Credential, error)
	// MakeDefault makes a credential its organization's only default and
	// returns it. It returns ENotFound or ELocked.
	MakeDefault(ctx context.Context, id string, orgs []string, e HistoryEntry) (*Credential, error)
	// AssociateProject gives a project to a credential, moving it from any
	// other credential of the organization, and returns the credential. It
	// returns ENotFound or ELocked.
	AssociateProject(ctx context.Context, id string, orgs []string, p Project, e HistoryEntry) (*Credential, error)
	// DissociateProject takes a project from a credential. It returns
	// ENotFound when the credential or the association does not exist.
	DissociateProject(ctx context.Context, id string, orgs []string, projectID string, e HistoryEntry) error
	// DeleteCredential deletes an unlocked credential without projects and
	// returns what it was. It returns ENotFound, ELocked or EInUse.
	DeleteCredential(ctx context.Context, id string, orgs []string, e HistoryEntry) (*Credential, error)
	// RecordHealth records the result of a check of checked, never
	// re-creating a deleted credential, overwriting a newer result, or
	// recording a result about keys, an endpoint or a region the credential
	// no longer has; it returns the credential as it is. It returns ENotFound.
	RecordHealth(ctx context.Context, checked *Credential, h Health) (*Credential, error)
	// History returns up to limit entries of a credential's history, newest
	// first, from after (a position it returned, "" for the newest), and the
	// position of the next page ("" on the last). It returns ENotFound, or
	// EInvalid for a position it did not make.
	History(ctx context.Context, id string, orgs []string, limit int, after string) ([]HistoryEntry, string, error)
	// ResolveProject returns the credential an organization's project is
	// associated with, never one of another organization, or ENotFound.
	ResolveProject(ctx context.Context, org, projectID string) (*Credential, error)
	// RecordUse records that the backup engine resolved c at the given time,
	// at most every few minutes: no version, no history, no change event.
	// Its failure is the caller's to log, not to answer.
	RecordUse(ctx context.Context, c *Credential, at time.Time) error
	// Organizations summarizes the given organizations, in their order,
	// each with its external ID (made the first time it is needed).
	Organizations(ctx context.Context, orgs []string) ([]Organization, error)
	// ExternalID returns an organization's external ID for the trust
	// policies of its roles: random, made the first time it is asked for,
	// the same ever after.
	ExternalID(ctx context.Context, org string) (string, error)
	// MarkRotationDue records that the keys of c were found due for
	// rotation at the given time, provided it still has them. It returns
	// EPrecondition otherwise.
	MarkRotationDue(ctx context.Context, c *Credential, at time.Time) error
	// ClaimIdempotencyKey claims scope for a create with the body hash. It
	// returns nil when the claim is new, else the record that holds it.
	ClaimIdempotencyKey(ctx context.Context, scope, hash string, now time.Time) (*IdempotencyRecord, error)
	// ReleaseIdempotencyKey gives up a claim whose create failed.
	ReleaseIdempotencyKey(ctx context.Context, scope string) error
}

// SecretStore keeps secret keys, one secret per credential, each change a new
// version that the credential's metadata names.
type SecretStore interface {
	// CreateSecret stores the first version of a credential's secret key and
	// returns its version.
	CreateSecret(ctx context.Context, id, org, secretKey string) (version string, err error)
	// PutSecret stores a new version, pending (not current), and returns
	// it. token identifies the change: the same token and key store nothing
	// new, so a retried change does not pile up versions. Readers ask for
	// the version the credential's metadata names, so a version whose
	// metadata write failed is never read.
	PutSecret(ctx context.Context, id, secretKey, token string) (version string, err error)
	// PromoteSecret makes version the current one (and the one current
	// before it the previous), once the metadata names it.
	PromoteSecret(ctx context.Context, id, version string) error
	// GetSecret returns one version of a secret key, or ENotFound.
	GetSecret(ctx context.Context, id, version string) (string, error)
	// DeleteSecret deletes a credential's secret at once, without recovery.
	DeleteSecret(ctx context.Context, id string) error
}

// Checker asks an S3 provider whether it accepts keys. It returns a result
// for every answer the provider gives (or fails to give), and an error only
// when it may not ask: EEndpointNotAllowed, or an internal failure.
type Checker interface {
	Check(ctx context.Context, k Keys) (CheckResult, error)
}

// Service carries out the API's actions for a caller.
type Service struct {
	Store   Store
	Secrets SecretStore
	Checker Checker
	// Roles assumes role credentials' roles; nil refuses role credentials.
	// TrustPrincipal is the ARN it assumes them as, which the roles' trust
	// policies name.
	Roles          RoleAssumer
	TrustPrincipal string
	// KeyRotationDays is the age past which keys are due for rotation; 0
	// turns it off.
	KeyRotationDays int
	Logger          *slog.Logger
	Now             func() time.Time
	// IdempotencyWait is how long a create waits for a simultaneous create
	// with the same Idempotency-Key before answering EUnavailable; 5 s when
	// zero.
	IdempotencyWait time.Duration
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Second)
	}
	return time.Now().UTC().Truncate(time.Second)
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Service) entry(c Caller, action string, fields ...string) HistoryEntry {
	if fields == nil {
		fields = []string{}
	}
	return HistoryEntry{At: s.now(), By: c.DisplayName(), ByID: c.UserID, Action: action, Fields: fields}
}

// notFound is the answer for any ID the caller cannot see.
func notFound(id string) error {
	return Errorf(ENotFound, "No backup credential %q exists.", truncate(id, 64))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// checkKeys asks the provider and turns a refusal into the error a person
// can act on. It returns the health to record.
func (s *Service) checkKeys(ctx context.Context, k Keys) (Health, error) {
	r, err := s.Checker.Check(ctx, k)
	if err != nil {
		return Health{}, err
	}
	return s.verdict(r)
}

// mayChange returns nil when the caller may change credential id. Visibility
// is decided before the role: a reader gets ENotFound for a credential it
// cannot see, as anyone would, and EForbidden only for one it can.
func (s *Service) mayChange(ctx context.Context, caller Caller, id string) error {
	if caller.CanWrite() {
		return nil
	}
	if !ValidID(id) {
		return notFound(id)
	}
	if _, err := s.Store.GetCredential(ctx, id, caller.Organizations); err != nil {
		return err
	}
	return caller.requireWrite()
}

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
	wait := s.IdempotencyWait
	if wait == 0 {
		wait = 5 * time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		rec, err := s.Store.ClaimIdempotencyKey(ctx, scope, hash, time.Now())
		switch {
		case err != nil:
			return nil, false, err
		case rec == nil:
			c, err := s.shown(s.create(ctx, caller, in, scope))
			// A create that may yet take effect keeps its claim: the write
			// that creates also completes it, so a retry replays the answer.
			if err != nil && !errors.Is(err, ErrOutcomeUnknown) {
				if rerr := s.Store.ReleaseIdempotencyKey(context.WithoutCancel(ctx), scope); rerr != nil {
					s.logger().ErrorContext(ctx, "release idempotency key", "error", rerr)
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
		c.SecretVersion, err = s.Secrets.CreateSecret(ctx, c.ID, c.OrganizationID, in.SecretKey)
		if err != nil {
			return nil, Unavailable(fmt.Errorf("create secret of %s: %w", c.ID, err))
		}
	}
	if err := s.Store.CreateCredential(ctx, c, e, scope); err != nil {
		// The secret goes only when the metadata is known not to be
		// written; when no answer came, the credential may exist, and a
		// secret that is truly orphaned is the sweep's.
		if !c.IsRole() && !errors.Is(err, ErrOutcomeUnknown) {
			if derr := s.Secrets.DeleteSecret(context.WithoutCancel(ctx), c.ID); derr != nil {
				s.logger().ErrorContext(ctx, "remove secret after failed create; the orphan sweep will retry",
					"credentialId", c.ID, "error", derr)
			}
		}
		return nil, err
	}
	return c, nil
}

// Unavailable marks a backing service's failure as EUnavailable, keeping the
// cause for the log.
func Unavailable(err error) error {
	if code := ErrorCode(err); code != EInternal {
		return err
	}
	return &wrapped{err: Errorf(EUnavailable, "A backing service failed; nothing was changed. Retry shortly."), cause: err}
}

// wrapped is an *Error that keeps its cause for logs.
type wrapped struct {
	err   *Error
	cause error
}

func (w *wrapped) Error() string   { return w.err.Code + ": " + w.cause.Error() }
func (w *wrapped) Unwrap() []error { return []error{w.err, w.cause} }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Get returns a credential the caller can see, or ENotFound.
func (s *Service) Get(ctx context.Context, caller Caller, id string) (*Credential, error) {
	if !ValidID(id) {
		return nil, notFound(id)
	}
	return s.shown(s.Store.GetCredential(ctx, id, caller.Organizations))
}

// List returns a page of the caller's credentials and the cursor of the next
// page, "" on the last. It returns EForbidden or EInvalid.
func (s *Service) List(ctx context.Context, caller Caller, req ListRequest) ([]*Credential, string, error) {
	var f fieldErrors
	search := strings.ToLower(strings.TrimSpace(req.Search))
	if len(req.Search) > SearchMax || !utf8.ValidString(req.Search) || hasControl(req.Search) {
		f.add("search", "must be printable text of at most %d bytes", SearchMax)
	}
	limit := req.Limit
	switch {
	case limit == 0:
		limit = LimitDefault
	case limit < 1 || limit > LimitMax:
		f.add("limit", "must be between 1 and %d", LimitMax)
	}
	if err := f.err(); err != nil {
		return nil, "", err
	}
	orgs := slices.Sorted(slices.Values(slices.Compact(slices.Sorted(slices.Values(caller.Organizations)))))
	if req.OrganizationID != "" {
		if !caller.Member(req.OrganizationID) {
			return nil, "", Errorf(EForbidden, "You are not a member of organization %q.", truncate(req.OrganizationID, 128))
		}
		orgs = []string{req.OrganizationID}
	}
	bind := []string{"list", caller.UserID, req.OrganizationID, search}
	q := ListQuery{Organizations: orgs, Search: search, Limit: limit}
	if req.Cursor != "" {
		after, err := DecodeCursor(req.Cursor, bind...)
		if err != nil {
			return nil, "", err
		}
		q.After = after
		q.Organizations = slices.DeleteFunc(slices.Clone(orgs), func(o string) bool { return o < after.Org })
	}
	if len(q.Organizations) == 0 {
		return []*Credential{}, "", nil
	}
	page, err := s.Store.ListCredentials(ctx, q)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if page.Next != nil {
		next = EncodeCursor(*page.Next, bind...)
	}
	for _, c := range page.Items {
		_, _ = s.shown(c, nil)
	}
	return page.Items, next, nil
}

// Update changes the fields the input names, checking the keys with the
// provider again when keys, endpoint, region or CA change. ifMatch, when not
// nil, is the version the caller last saw. It returns ENotFound, EForbidden,
// EInvalid, ELocked, ENameTaken, EPrecondition, EInvalidCredentials,
// EUnreachable, EEndpointNotAllowed or EUnavailable.
func (s *Service) Update(ctx context.Context, caller Caller, id string, in PatchInput, ifMatch *int64) (*Credential, error) {
	if err := s.mayChange(ctx, caller, id); err != nil {
		return nil, err
	}
	if !ValidID(id) {
		return nil, notFound(id)
	}
	for attempt := 0; ; attempt++ {
		c, err := s.update(ctx, caller, id, in, ifMatch)
		if ErrorCode(err) != EPrecondition || ifMatch != nil || attempt >= 4 {
			return c, err
		}
	}
}

func (s *Service) update(ctx context.Context, caller Caller, id string, in PatchInput, ifMatch *int64) (*Credential, error) {
	old, err := s.Store.GetCredential(ctx, id, caller.Organizations)
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
			c.SecretVersion, err = s.Secrets.CreateSecret(ctx, id, c.OrganizationID, *in.SecretKey)
		} else {
			c.SecretVersion, err = s.Secrets.PutSecret(ctx, id, *in.SecretKey, secretToken(old, *in.SecretKey))
		}
		if err != nil {
			return nil, Unavailable(fmt.Errorf("put secret of %s: %w", id, err))
		}
	}
	c.Version = old.Version + 1
	c.LastModified, c.LastModifiedBy = e.At, e.By
	if err := s.Store.UpdateCredential(ctx, old, &c, e); err != nil {
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
		if err := s.Secrets.PromoteSecret(context.WithoutCancel(ctx), id, c.SecretVersion); err != nil {
			s.logger().ErrorContext(ctx, "make the new secret version current", "credentialId", id, "error", err)
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
	if err := s.Secrets.DeleteSecret(context.WithoutCancel(ctx), id); err != nil {
		s.logger().ErrorContext(ctx, what+"; the orphan sweep will retry", "credentialId", id, "error", err)
	}
}

// secretToken names a key change: the credential, the version it changes
// from, and the new key, hashed, so a retry of the same change stores no new
// version and a different change never reuses one.
func secretToken(old *Credential, secretKey string) string {
	h := sha256.Sum256([]byte("bc-secret\x00" + old.ID + "\x00" + strconv.FormatInt(old.Version, 10) + "\x00" + old.SecretVersion + "\x00" + secretKey))
	return hex.EncodeToString(h[:16])
}

// Delete deletes an unlocked credential without projects, metadata first,
// then its secret. A secret left behind by a failure is removed by the
// orphan sweep. It returns ENotFound, EForbidden, ELocked or EInUse.
func (s *Service) Delete(ctx context.Context, caller Caller, id string) error {
	if err := s.mayChange(ctx, caller, id); err != nil {
		return err
	}
	if !ValidID(id) {
		return notFound(id)
	}
	c, err := s.Store.DeleteCredential(ctx, id, caller.Organizations, s.entry(caller, ActionDeleted))
	if err != nil {
		return err
	}
	if !c.IsRole() {
		s.dropSecret(ctx, id, "delete secret after metadata")
	}
	return nil
}

// SetLocked locks or unlocks a credential. It returns ENotFound, EForbidden,
// EAlreadyLocked or EAlreadyUnlocked.
func (s *Service) SetLocked(ctx context.Context, caller Caller, id string, locked bool) (*Credential, error) {
	if err := s.mayChange(ctx, caller, id); err != nil {
		return nil, err
	}
	if !ValidID(id) {
		return nil, notFound(id)
	}
	action := ActionUnlocked
	if locked {
		action = ActionLocked
	}
	return s.shown(s.Store.SetLocked(ctx, id, caller.Organizations, locked, s.entry(caller, action, "isLocked")))
}

// MakeDefault makes a credential its organization's default. It returns
// ENotFound, EForbidden or ELocked.
func (s *Service) MakeDefault(ctx context.Context, caller Caller, id string) (*Credential, error) {
	if err := s.mayChange(ctx, caller, id); err != nil {
		return nil, err
	}
	if !ValidID(id) {
		return nil, notFound(id)
	}
	return s.shown(s.Store.MakeDefault(ctx, id, caller.Organizations, s.entry(caller, ActionMadeDefault, "isDefault")))
}

// AssociateProject enables a project's backup with a credential. It returns
// ENotFound, EForbidden, EInvalid or ELocked.
func (s *Service) AssociateProject(ctx context.Context, caller Caller, id, projectID string, in ProjectInput) (*Credential, error) {
	if err := s.mayChange(ctx, caller, id); err != nil {
		return nil, err
	}
	if !ValidID(id) {
		return nil, notFound(id)
	}
	if err := in.Validate(projectID); err != nil {
		return nil, err
	}
	p := Project{ID: projectID, Name: strings.TrimSpace(in.Name)}
	return s.shown(s.Store.AssociateProject(ctx, id, caller.Organizations, p, s.entry(caller, ActionProjectAssociated, "projects")))
}

// DissociateProject disables a project's backup with a credential. It
// returns ENotFound or EForbidden.
func (s *Service) DissociateProject(ctx context.Context, caller Caller, id, projectID string) error {
	if err := s.mayChange(ctx, caller, id); err != nil {
		return err
	}
	if !ValidID(id) {
		return notFound(id)
	}
	if !ValidProjectID(projectID) {
		return Errorf(ENotFound, "Project %q is not associated with this credential.", truncate(projectID, 64))
	}
	return s.Store.DissociateProject(ctx, id, caller.Organizations, projectID, s.entry(caller, ActionProjectDissociated, "projects"))
}

// Check checks a credential's stored keys now and records the result. An
// invalid or unreachable result is recorded, not returned as an error. It
// returns ENotFound, EForbidden or EUnavailable.
func (s *Service) Check(ctx context.Context, caller Caller, id string) (*Credential, error) {
	if err := s.mayChange(ctx, caller, id); err != nil {
		return nil, err
	}
	if !ValidID(id) {
		return nil, notFound(id)
	}
	c, err := s.Store.GetCredential(ctx, id, caller.Organizations)
	if err != nil {
		return nil, err
	}
	h, err := s.CheckHealth(ctx, c)
	if err != nil {
		return nil, err
	}
	return s.shown(s.Store.RecordHealth(ctx, c, h))
}

// CheckHealth asks the provider about a stored credential and returns the
// health to record. A missing secret is recorded as invalid.
func (s *Service) CheckHealth(ctx context.Context, c *Credential) (Health, error) {
	at := s.now()
	if c.IsRole() {
		_, r, err := s.assume(ctx, c.ID, c.OrganizationID, deref(c.RoleARN), c.Region, CheckSession)
		if err != nil {
			return Health{}, err
		}
		return Health{Status: r.Status, CheckedAt: &at, Message: r.Message}, nil
	}
	secret, err := s.Secrets.GetSecret(ctx, c.ID, c.SecretVersion)
	switch {
	case ErrorCode(err) == ENotFound:
		return Health{Status: HealthInvalid, CheckedAt: &at,
			Message: "The secret key of this credential is missing from the vault; enter the keys again."}, nil
	case err != nil:
		return Health{}, Unavailable(fmt.Errorf("read secret of %s: %w", c.ID, err))
	}
	r, err := s.Checker.Check(ctx, Keys{AccessKeyID: c.AccessKeyID, SecretKey: secret,
		Endpoint: c.Endpoint, Region: c.Region, CACertificate: deref(c.CACertificate)})
	if err != nil {
		if ErrorCode(err) != EEndpointNotAllowed {
			return Health{}, err
		}
		r = CheckResult{Status: HealthUnreachable, Message: ErrorMessage(err)}
	}
	return Health{Status: r.Status, CheckedAt: &at, Message: r.Message}, nil
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

// History returns a page of a credential's history, newest first, and the
// cursor of the next page. It returns ENotFound or EInvalid.
func (s *Service) History(ctx context.Context, caller Caller, id string, limit int, cursor string) ([]HistoryEntry, string, error) {
	if !ValidID(id) {
		return nil, "", notFound(id)
	}
	switch {
	case limit == 0:
		limit = LimitDefault
	case limit < 1 || limit > LimitMax:
		return nil, "", &Error{Code: EInvalid, Message: "The request is not valid.",
			Fields: []FieldError{{Field: "limit", Message: fmt.Sprintf("must be between 1 and %d", LimitMax)}}}
	}
	bind := []string{"history", caller.UserID, id}
	after := ""
	if cursor != "" {
		p, err := DecodeCursor(cursor, bind...)
		if err != nil {
			return nil, "", err
		}
		after = p.Key
	}
	entries, next, err := s.Store.History(ctx, id, caller.Organizations, limit, after)
	if err != nil {
		return nil, "", err
	}
	if next != "" {
		next = EncodeCursor(Position{Key: next}, bind...)
	}
	return entries, next, nil
}

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
	c, err := s.Store.ResolveProject(ctx, org, projectID)
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
	if err := s.Store.RecordUse(context.WithoutCancel(ctx), c, s.now()); err != nil {
		s.logger().ErrorContext(ctx, "record the backup engine's use; the answer stands", "credentialId", c.ID, "error", err)
	}
	return t, nil
}

// targetKeys gives a backup target its keys: the stored ones, read by the
// version the metadata names, or a role's temporary ones (one hour).
func (s *Service) targetKeys(ctx context.Context, c *Credential, t *BackupTarget) error {
	if !c.IsRole() {
		secret, err := s.Secrets.GetSecret(ctx, c.ID, c.SecretVersion)
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

// Organizations summarizes the caller's organizations.
func (s *Service) Organizations(ctx context.Context, caller Caller) ([]Organization, error) {
	orgs := slices.Compact(slices.Sorted(slices.Values(caller.Organizations)))
	if len(orgs) == 0 {
		return []Organization{}, nil
	}
	out, err := s.Store.Organizations(ctx, orgs)
	for i := range out {
		out[i].TrustPrincipal = s.TrustPrincipal
	}
	return out, err
}
