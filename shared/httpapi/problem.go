package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/acme/backup-credentials/shared/backup"
)

// statuses maps every error code to its HTTP status; this is the only place
// that does.
var statuses = map[string]int{
	backup.EInvalid:            http.StatusBadRequest,
	backup.EEndpointNotAllowed: http.StatusBadRequest,
	backup.EUnauthorized:       http.StatusUnauthorized,
	backup.EForbidden:          http.StatusForbidden,
	backup.ENotFound:           http.StatusNotFound,
	backup.EMethodNotAllowed:   http.StatusMethodNotAllowed,
	backup.ELocked:             http.StatusConflict,
	backup.EInUse:              http.StatusConflict,
	backup.EAlreadyLocked:      http.StatusConflict,
	backup.EAlreadyUnlocked:    http.StatusConflict,
	backup.ENameTaken:          http.StatusConflict,
	backup.EQuotaExceeded:      http.StatusConflict,
	backup.EPrecondition:       http.StatusPreconditionFailed,
	backup.ETooLarge:           http.StatusRequestEntityTooLarge,
	backup.EInvalidCredentials: http.StatusUnprocessableEntity,
	backup.EIdempotencyReused:  http.StatusUnprocessableEntity,
	backup.EUnreachable:        http.StatusBadGateway,
	backup.EUnavailable:        http.StatusServiceUnavailable,
	backup.EInternal:           http.StatusInternalServerError,
}

// titles are the problem titles, short and stable per code.
var titles = map[string]string{
	backup.EInvalid:            "Invalid request",
	backup.EEndpointNotAllowed: "Endpoint not allowed",
	backup.EUnauthorized:       "Unauthorized",
	backup.EForbidden:          "Forbidden",
	backup.ENotFound:           "Not found",
	backup.EMethodNotAllowed:   "Method not allowed",
	backup.ELocked:             "Credential locked",
	backup.EInUse:              "Credential in use",
	backup.EAlreadyLocked:      "Already locked",
	backup.EAlreadyUnlocked:    "Already unlocked",
	backup.ENameTaken:          "Name taken",
	backup.EQuotaExceeded:      "Quota exceeded",
	backup.EPrecondition:       "Precondition failed",
	backup.ETooLarge:           "Payload too large",
	backup.EInvalidCredentials: "Invalid S3 credentials",
	backup.EIdempotencyReused:  "Idempotency key reused",
	backup.EUnreachable:        "Endpoint unreachable",
	backup.EUnavailable:        "Service unavailable",
	backup.EInternal:           "Internal error",
}

// problem is an RFC 9457 problem document.
type problem struct {
	Type   string              `json:"type"`
	Title  string              `json:"title"`
	Status int                 `json:"status"`
	Detail string              `json:"detail"`
	Code   string              `json:"code"`
	Errors []backup.FieldError `json:"errors,omitempty"`
}

// writeError answers err as a problem. Internal errors are logged with their
// cause and the request ID, and answered without the cause.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := backup.ErrorCode(err)
	status := statuses[code]
	if code == backup.EInternal || code == backup.EUnavailable {
		a.Logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", truncate(r.URL.Path),
			"requestId", RequestID(r.Context()), "code", code, "error", err)
	}
	p := problem{
		Type:   "https://backup-credentials.dev/problems/" + code,
		Title:  titles[code],
		Status: status,
		Detail: backup.ErrorMessage(err),
		Code:   code,
	}
	var e *backup.Error
	if errors.As(err, &e) {
		p.Errors = e.Fields
	}
	if code == backup.EUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
