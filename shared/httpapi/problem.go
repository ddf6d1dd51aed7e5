package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/acme/backup-credentials/shared/backup"
)

// kinds gives every error code its HTTP status and problem title (short and
// stable); this is the only place that does.
var kinds = map[string]struct {
	status int
	title  string
}{
	backup.EInvalid:            {http.StatusBadRequest, "Invalid request"},
	backup.EEndpointNotAllowed: {http.StatusBadRequest, "Endpoint not allowed"},
	backup.EUnauthorized:       {http.StatusUnauthorized, "Unauthorized"},
	backup.EForbidden:          {http.StatusForbidden, "Forbidden"},
	backup.ENotFound:           {http.StatusNotFound, "Not found"},
	backup.EMethodNotAllowed:   {http.StatusMethodNotAllowed, "Method not allowed"},
	backup.ELocked:             {http.StatusConflict, "Credential locked"},
	backup.EInUse:              {http.StatusConflict, "Credential in use"},
	backup.EAlreadyLocked:      {http.StatusConflict, "Already locked"},
	backup.EAlreadyUnlocked:    {http.StatusConflict, "Already unlocked"},
	backup.ENameTaken:          {http.StatusConflict, "Name taken"},
	backup.EQuotaExceeded:      {http.StatusConflict, "Quota exceeded"},
	backup.EPrecondition:       {http.StatusPreconditionFailed, "Precondition failed"},
	backup.ETooLarge:           {http.StatusRequestEntityTooLarge, "Payload too large"},
	backup.EInvalidCredentials: {http.StatusUnprocessableEntity, "Invalid S3 credentials"},
	backup.EIdempotencyReused:  {http.StatusUnprocessableEntity, "Idempotency key reused"},
	backup.EUnreachable:        {http.StatusBadGateway, "Endpoint unreachable"},
	backup.EUnavailable:        {http.StatusServiceUnavailable, "Service unavailable"},
	backup.EInternal:           {http.StatusInternalServerError, "Internal error"},
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
	kind := kinds[code]
	if code == backup.EInternal || code == backup.EUnavailable {
		a.Logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", truncate(r.URL.Path),
			"requestId", RequestID(r.Context()), "code", code, "error", err)
	}
	p := problem{
		Type:   "https://backup-credentials.dev/problems/" + code,
		Title:  kind.title,
		Status: kind.status,
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
	w.WriteHeader(kind.status)
	_ = json.NewEncoder(w).Encode(p)
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
