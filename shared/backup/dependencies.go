package backup

import (
	"context"
	"time"
)

// What the service needs of its adapters. Each is satisfied by an adapter
// package (dynamo, secrets, provider) or an in-process stand-in (inmem).

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

// A SecretRef names one version of a credential's secret ("" for the
// current one).
type SecretRef struct{ ID, Version string }

// SecretBatch reads many secrets at once, as the health check does: each
// secret key by credential ID, and the credentials whose secret could not
// be read (ENotFound when it is gone); an error only when a call failed as
// a whole.
type SecretBatch interface {
	GetSecrets(ctx context.Context, refs []SecretRef) (map[string]string, map[string]error, error)
}

// Checker asks an S3 provider whether it accepts keys. It returns a result
// for every answer the provider gives (or fails to give), and an error only
// when it may not ask: EEndpointNotAllowed, or an internal failure.
type Checker interface {
	Check(ctx context.Context, k Keys) (CheckResult, error)
}

// RoleAssumer assumes customers' roles as the service's trust principal. It
// returns temporary credentials when the role may be assumed, and a result
// that says what happened either way (invalid when STS refused, unreachable
// when it did not answer); an error only when it could not ask.
type RoleAssumer interface {
	AssumeRole(ctx context.Context, r RoleSession) (*TempCredentials, CheckResult, error)
}

// HealthPass is the progress of one scheduled health pass: when it started,
// when its scan finished, and its counters (PassEnqueued, PassSkipped, the
// health statuses, PassFailed, PassDeferred).
type HealthPass struct {
	ID        string
	StartedAt time.Time
	ScannedAt *time.Time
	Counts    map[string]int64
}

// The counters of a health pass besides the health statuses.
const (
	PassEnqueued = "enqueued" // credentials the scan queued for a check
	PassSkipped  = "skipped"  // refused keys checked less than a day ago
	PassFailed   = "failed"   // checks that could not be made or recorded
	PassDeferred = "deferred" // checks put back for later (host busy, second attempt)
)

// SlotRequest asks for up to Want of Limit slots of Host's cap, held until
// Expires. When none is free, Join of the checks (those without one) take
// tickets in the host's line. A backed-off host gives none.
type SlotRequest struct {
	Host              string
	Want, Join, Limit int
	Now, Expires      time.Time
}

// HostSlots is what a checker got of a host's cap: the lease to give its
// slots back with and how many (0 when none was free). When none was free:
// the first of the tickets the joining checks took in the host's line, how
// many of the line's checks were served, and how long the host's checks
// take (0 when it cannot say yet), from which a check's turn follows. When
// the host is backed off, until when.
type HostSlots struct {
	Lease          string
	Got            int
	Ticket, Served int64
	Each           time.Duration
	BackedOffUntil time.Time
}

// Wait is how long until the turn of a check with ticket in a line of
// limit slots: 0 when it has come, or when the line cannot say.
func (h HostSlots) Wait(ticket int64, limit int) time.Duration {
	if ticket <= h.Served || limit <= 0 {
		return 0
	}
	return time.Duration(ticket-h.Served) * h.Each / time.Duration(limit)
}

// SlotRelease gives back one slot of a lease (0 to the number got), with
// how many checks it served, and how many of them the host answered and in
// how long (the host's average check, which the line's waits use).
type SlotRelease struct {
	Host, Lease      string
	Slot             int
	Served, Answered int
	Busy             time.Duration
}
