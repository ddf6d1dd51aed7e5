package backup

import "time"

// Detail-types of the events that announce changes, one per kind of change.
const (
	EventCreated            = "Backup Credential Created"
	EventUpdated            = "Backup Credential Updated"
	EventLocked             = "Backup Credential Locked"
	EventUnlocked           = "Backup Credential Unlocked"
	EventDefaultChanged     = "Backup Credential Default Changed"
	EventProjectAssociated  = "Backup Credential Project Associated"
	EventProjectDissociated = "Backup Credential Project Dissociated"
	EventDeleted            = "Backup Credential Deleted"
	EventHealthChanged      = "Backup Credential Health Changed"
	EventRotationDue        = "Backup Credential Rotation Due"
)

// EventSource is the source of every event.
const EventSource = "backup-credentials"

// An Event announces one committed change of a credential. It is made from
// what the table recorded, so the same change always makes the same Event,
// ID included. It never holds a secret.
type Event struct {
	// DetailType is one of the Event constants; the rest is the detail.
	DetailType     string    `json:"-"`
	ID             string    `json:"eventId"`
	CredentialID   string    `json:"credentialId"`
	OrganizationID string    `json:"organizationId"`
	Version        int64     `json:"version"`
	At             time.Time `json:"at"`
	By             string    `json:"by"`
	ByID           string    `json:"byId"`
	// Fields names what changed; Changes holds the new values of those that
	// are small and not secret (a changed s3SecretKey or CA certificate is
	// only named).
	Fields  []string       `json:"fields"`
	Changes map[string]any `json:"changes"`
}
