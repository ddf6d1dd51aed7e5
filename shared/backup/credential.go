package backup

import "time"

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

	// SecretVersion names the version of the secret key that goes with these
	// keys. It never leaves the service.
	SecretVersion string `json:"-"`
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
}

// An Organization summarizes one of the caller's organizations.
type Organization struct {
	ID                  string  `json:"id"`
	CredentialCount     int     `json:"credentialCount"`
	DefaultCredentialID *string `json:"defaultCredentialId"`
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
	Health          Health  `json:"health"`
}
