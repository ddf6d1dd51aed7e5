package backup

import (
	"errors"
	"fmt"
)

// Error codes. Each is stable and part of the HTTP contract; httpapi maps
// them to statuses in one place.
const (
	EInvalid            = "validation_failed"
	EEndpointNotAllowed = "endpoint_not_allowed"
	EUnauthorized       = "unauthorized"
	EForbidden          = "forbidden"
	ENotFound           = "not_found"
	EMethodNotAllowed   = "method_not_allowed"
	ELocked             = "locked"
	EInUse              = "in_use"
	EAlreadyLocked      = "already_locked"
	EAlreadyUnlocked    = "already_unlocked"
	ENameTaken          = "name_taken"
	// EQuotaExceeded: the write would pass a limit (credentials per
	// organization, projects per credential).
	EQuotaExceeded      = "quota_exceeded"
	EPrecondition       = "precondition_failed"
	ETooLarge           = "payload_too_large"
	EInvalidCredentials = "invalid_credentials"
	EIdempotencyReused  = "idempotency_key_reused"
	EUnreachable        = "endpoint_unreachable"
	EUnavailable        = "unavailable"
	EInternal           = "internal"
)

// FieldError names one invalid input field and why it is invalid.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// An Error is a failure the caller can act on: a stable code, a message
// meant for people, and for validation failures the fields at fault.
// Messages never carry a secret key.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
}

// Error returns the message prefixed with the code.
func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or
// EInternal when there is none. A nil error has no code.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EInternal
	}
}

// ErrorMessage returns the message of the first *Error in err's chain, or
// "Internal error." so that internal details never reach a caller.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// ErrOutcomeUnknown marks a write that got no answer and that a read could
// not confirm: it may have taken effect, or may yet. Callers must not undo
// what it depends on.
var ErrOutcomeUnknown = errors.New("the write's outcome is unknown")

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

func (w *wrapped) Error() string { return w.err.Code + ": " + w.cause.Error() }

func (w *wrapped) Unwrap() []error { return []error{w.err, w.cause} }

// NotFound is the answer for any credential ID the caller cannot see,
// whether it exists in another organization or nowhere.
func NotFound(id string) error {
	return Errorf(ENotFound, "No backup credential %q exists.", truncate(id, 64))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
