package backup

import (
	"slices"
	"unicode/utf8"
)

// Roles a caller may hold. Partners and managers may change credentials;
// anyone else may only read.
const (
	RolePartner = "partner"
	RoleManager = "manager"
	RoleUser    = "user"
	// RoleBackupEngine is the platform's backup engine: it may resolve a
	// project's credential, secret included, and nothing else. In AWS it is
	// an IAM principal, never a user's token.
	RoleBackupEngine = "backup-engine"
)

// A Caller is the authenticated person behind a request, as the JWT
// authorizer (or the local API) describes them.
type Caller struct {
	UserID        string
	Name          string
	Organizations []string
	Role          string
}

// DisplayNameMax is the most characters of a display name recorded.
const DisplayNameMax = 128

// DisplayName returns the name recorded in createdBy, lastModifiedBy and
// history: the name claim, else the user ID, cut to DisplayNameMax
// characters.
func (c Caller) DisplayName() string {
	name := c.Name
	if name == "" {
		name = c.UserID
	}
	if utf8.RuneCountInString(name) > DisplayNameMax {
		name = string([]rune(name)[:DisplayNameMax])
	}
	return name
}

// CanWrite reports whether the caller may change credentials.
func (c Caller) CanWrite() bool {
	return c.Role == RolePartner || c.Role == RoleManager
}

// Member reports whether the caller belongs to the organization.
func (c Caller) Member(org string) bool {
	return slices.Contains(c.Organizations, org)
}

// requireWrite returns EForbidden unless the caller may change credentials.
func (c Caller) requireWrite() error {
	if !c.CanWrite() {
		role := c.Role
		if role == "" {
			role = "none"
		}
		return Errorf(EForbidden, "Your role %.40q may read backup credentials but not change them; the roles that may are %s and %s.",
			role, RolePartner, RoleManager)
	}
	return nil
}
