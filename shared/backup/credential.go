package backup

import (
	"encoding/json"
	"time"
)

// How a credential reaches its storage: stored keys, or a role in the
// customer's account that the service assumes.
const (
	AuthAccessKey = "accessKey"
	AuthRole      = "role"
)

// Health statuses of a credential, as the last check with the provider left
// them.
const (
	HealthHealthy     = "healthy"
	HealthInvalid     = "invalid"
	HealthUnreachable = "unreachable"
	HealthUnknown     = "unknown"
)

// History actions, one per kind of change a person makes.
const (
	ActionCreated            = "created"
	ActionUpdated            = "updated"
	ActionLocked             = "locked"
	ActionUnlocked           = "unlocked"
	ActionMadeDefault        = "made-default"
	ActionProjectAssociated  = "project-associated"
	ActionProjectDissociated = "project-dissociated"
	// ActionDeleted is recorded for the change events only: the history of
	// a deleted credential is not shown.
	ActionDeleted = "deleted"
)

// A Credential is an organization's S3 credential without its secret key,
// which lives only in the SecretStore.
type Credential struct {
	ID             string    `json:"id"`
	OrganizationID string    `json:"organizationId"`
	Name           string    `json:"s3Name"`
	AccessKeyID    string    `json:"s3AccessKeyId"`
	Endpoint       string    `json:"s3Endpoint"`
	Region         string    `json:"s3Region"`
	CACertificate  *string   `json:"s3CaCertificate"`
	IsDefault      bool      `json:"isDefault"`
	IsLocked       bool      `json:"isLocked"`
	Projects       []Project `json:"projects"`
	Health         Health    `json:"health"`
	CreatedAt      time.Time `json:"createdAt"`
	CreatedBy      string    `json:"createdBy"`
	LastModified   time.Time `json:"lastModified"`
	LastModifiedBy string    `json:"lastModifiedBy"`
	// LastUsedAt is when the backup engine last resolved it; not a change.
	LastUsedAt *time.Time `json:"lastUsedAt"`
	Version    int64      `json:"version"`
	// AuthType is AuthAccessKey or AuthRole; a role credential has RoleARN
	// and no keys (AccessKeyID is "", shown as null).
	AuthType string  `json:"authType"`
	RoleARN  *string `json:"s3RoleArn"`
	// KeysChangedAt is when the keys were last set (nil for a role);
	// RotationDue, whether they are older than the service's rotation age.
	KeysChangedAt *time.Time `json:"keysChangedAt"`
	RotationDue   bool       `json:"rotationDue"`

	// SecretVersion names the version of the secret key that goes with these
	// keys. It never leaves the service.
	SecretVersion string `json:"-"`
	// RotationAnnounced is whether the keys' crossing of the rotation age
	// was announced already.
	RotationAnnounced bool `json:"-"`
}

// IsRole reports whether the credential is a role, without stored keys.
func (c *Credential) IsRole() bool { return c.AuthType == AuthRole }

// MarshalJSON writes the resource: s3AccessKeyId is null for a role.
func (c Credential) MarshalJSON() ([]byte, error) {
	type plain Credential
	out := struct {
		plain
		AccessKeyID *string `json:"s3AccessKeyId"`
	}{plain: plain(c)}
	if !c.IsRole() {
		out.AccessKeyID = &c.AccessKeyID
	}
	return json.Marshal(out)
}

// A Project is a platform project whose backups use a credential.
type Project struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Health is the outcome of the last check of a credential's keys.
type Health struct {
	Status    string     `json:"status"`
	CheckedAt *time.Time `json:"checkedAt"`
	Message   string     `json:"message"`
	// LastHealthyAt is when the current keys (or role) were last seen
	// working; nil if never.
	LastHealthyAt *time.Time `json:"lastHealthyAt"`
}

// A HistoryEntry records one change a person made to a credential. Fields
// names what changed, never a value.
type HistoryEntry struct {
	At time.Time `json:"at"`
	// By is the display name of who made the change, ByID their user ID.
	By     string   `json:"by"`
	ByID   string   `json:"byId"`
	Action string   `json:"action"`
	Fields []string `json:"fields"`
	// Project is the project an association or dissociation moved: its
	// change event names it.
	Project *Project `json:"-"`
}

// An Organization summarizes one of the caller's organizations.
type Organization struct {
	ID                  string  `json:"id"`
	CredentialCount     int     `json:"credentialCount"`
	DefaultCredentialID *string `json:"defaultCredentialId"`
	// ExternalID is what the trust policy of the organization's roles must
	// require (sts:ExternalId); TrustPrincipal the ARN it must trust.
	ExternalID     string `json:"externalId"`
	TrustPrincipal string `json:"trustPrincipal"`
}

// A RoleSession is what assuming a customer's role takes: the role, the
// organization's external ID, the session's name and how long it lasts.
type RoleSession struct {
	RoleARN, ExternalID, SessionName, Region string
	Duration                                 time.Duration
}

// TempCredentials are what assuming a role gives: keys that expire.
type TempCredentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Expires                                    time.Time
}

// Keys are what the provider checks: everything needed to sign a request.
type Keys struct {
	AccessKeyID   string
	SecretKey     string
	Endpoint      string
	Region        string
	CACertificate string
}

// A CheckResult is the provider's verdict on a set of keys. Status is one of
// the Health statuses; Message says what it means for the person who reads it.
type CheckResult struct {
	Status  string
	Message string
}

// A StoredSecret is what the vault tells of one secret without reading it:
// the credential ID its name carries, the credential ID its tag names, and
// when it was made.
type StoredSecret struct {
	NameID, TagID string
	Created       time.Time
}

// A BackupTarget is what the backup engine needs to reach a project's
// storage. It is the only answer that carries a secret key.
type BackupTarget struct {
	CredentialID    string  `json:"credentialId"`
	OrganizationID  string  `json:"organizationId"`
	Name            string  `json:"s3Name"`
	Endpoint        string  `json:"s3Endpoint"`
	Region          string  `json:"s3Region"`
	CACertificate   *string `json:"s3CaCertificate"`
	AuthType        string  `json:"authType"`
	AccessKeyID     string  `json:"accessKeyId"`
	SecretAccessKey string  `json:"secretAccessKey"`
	SessionToken    *string `json:"sessionToken"`
	ExpiresAt       *string `json:"expiresAt"`
	// Mode is ModeReadWrite, or ModeReadOnly for a restore with a locked
	// credential.
	Mode   string `json:"mode"`
	Health Health `json:"health"`
}
