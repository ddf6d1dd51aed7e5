package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/acme/backup-credentials/shared/backup"
)

// API serves the contract's routes.
type API struct {
	Service *backup.Service
	Auth    Authenticator
	Logger  *slog.Logger
}

type callerKey struct{}

// Handler returns a handler for the named routes, or for every route when
// none is named. Anything else is a problem+json 404.
func (a *API) Handler(names ...string) http.Handler {
	if a.Logger == nil {
		a.Logger = slog.Default()
	}
	mux := http.NewServeMux()
	for _, rt := range Routes {
		if len(names) == 0 || slices.Contains(names, rt.Name) {
			mux.Handle(rt.Method+" "+rt.Path, a.authenticated(rt.handler(a)))
		}
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, a.Logger, backup.Errorf(backup.ENotFound, "No route %s %s.", r.Method, truncate(r.URL.Path)))
	})
	return a.clean(mux)
}

func truncate(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}

// clean answers paths with dot segments or empty segments with 404 rather
// than the redirect ServeMux would send.
func (a *API) clean(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p == "" || path.Clean(p) != p && path.Clean(p)+"/" != p {
			writeError(w, r, a.Logger, backup.Errorf(backup.ENotFound, "No route %s %s.", r.Method, truncate(p)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authenticated reads the caller before the route runs.
func (a *API) authenticated(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := a.Auth.Authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer`)
			writeError(w, r, a.Logger, err)
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
	})
}

func caller(r *http.Request) backup.Caller {
	c, _ := r.Context().Value(callerKey{}).(backup.Caller)
	return c
}

// credential answers one credential with its ETag.
func credential(w http.ResponseWriter, status int, c *backup.Credential) {
	w.Header().Set("ETag", fmt.Sprintf(`"%d"`, c.Version))
	writeJSON(w, status, c)
}

func (a *API) create(w http.ResponseWriter, r *http.Request) {
	var in backup.CreateInput
	if err := decode(w, r, &in); err != nil {
		writeError(w, r, a.Logger, err)
		return
	}
	c, _, err := a.Service.Create(r.Context(), caller(r), in, r.Header.Get("Idempotency-Key"))
	if err != nil {
		writeError(w, r, a.Logger, err)
		return
	}
	w.Header().Set("Location", "/v1/backup-credentials/"+c.ID)
	credential(w, http.StatusCreated, c)
}

// limit reads the limit query parameter; 0 means absent.
func limit(r *http.Request) (int, error) {
	s, ok := r.URL.Query()["limit"]
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.Join(s, ""))
	if err != nil || n < 1 || n > backup.LimitMax {
		return 0, invalid("limit", "must be a whole number between 1 and %d", backup.LimitMax)
	}
	return n, nil
}

// page is a page of a list answer.
type page[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"nextCursor"`
}

func next(cursor string) *string {
	if cursor == "" {
		return nil
	}
	return &cursor
}

func (a *API) list(w http.ResponseWriter, r *http.Request) {
	n, err := limit(r)
	if err != nil {
		writeError(w, r, a.Logger, err)
		return
	}
	q := r.URL.Query()
	items, cursor, err := a.Service.List(r.Context(), caller(r), backup.ListRequest{
		OrganizationID: q.Get("organizationId"), Search: q.Get("search"), Limit: n, Cursor: q.Get("cursor"),
	})
	if err != nil {
		writeError(w, r, a.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, page[*backup.Credential]{Data: items, NextCursor: next(cursor)})
}

func (a *API) get(w http.ResponseWriter, r *http.Request) {
	c, err := a.Service.Get(r.Context(), caller(r), r.PathValue("id"))
	if err != nil {
		writeError(w, r, a.Logger, err)
		return
	}
	credential(w, http.StatusOK, c)
}

// ifMatch reads the If-Match header: nil when absent or "*".
func ifMatch(r *http.Request) (*int64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return nil, nil
	}
	v, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(h, "W/"), `"`), 10, 64)
	if err != nil {
		return nil, backup.Errorf(backup.EPrecondition, "If-Match must be an ETag this API sent, such as \"3\".")
	}
	return &v, nil
}

func (a *API) update(w http.ResponseWriter, r *http.Request) {
	version, err := ifMatch(r)
	if err != nil {
		writeError(w, r, a.Logger, err)
		return
	}
	var in backup.PatchInput
	if err := decode(w, r, &in); err != nil {
		writeError(w, r, a.Logger, err)
		return
	}
	c, err := a.Service.Update(r.Context(), caller(r), r.PathValue("id"), in, version)
	if err != nil {
		writeError(w, r, a.Logger, err)
		return
	}
	credential(w, http.StatusOK, c)
}

func (a *API) delete(w http.ResponseWriter, r *http.Request) {
	if err := a.Service.Delete(r.Context(), caller(r), r.PathValue("id")); err != nil {
		writeError(w, r, a.Logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// action serves a POST on one credential that answers the credential.
func (a *API) action(do func(ctx context.Context, c backup.Caller, id string) (*backup.Credential, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := do(r.Context(), caller(r), r.PathValue("id"))
		if err != nil {
			writeError(w, r, a.Logger, err)
			return
		}
		credential(w, http.StatusOK, c)
	}
}

func (a *API) lock() http.HandlerFunc {
	return a.action(func(ctx context.Context, c backup.Caller, id string) (*backup.Credential, error) {
		return a.Service.SetLocked(ctx, c, id, true)
	})
}

func (a *API) unlock() http.HandlerFunc {
	return a.action(func(ctx context.Context, c backup.Caller, id string) (*backup.Credential, error) {
		return a.Service.SetLocked(ctx, c, id, false)
	})
}

func (a *API) makeDefault() http.HandlerFunc { return a.action(a.Service.MakeDefault) }
func (a *API) check() http.HandlerFunc       { return a.action(a.Service.Check) }

func (a *API) validate(w http.ResponseWriter, r *http.Request) {
	var in backup.KeysInput
	if err := decode(w, r, &in); err != nil {
		writeError(w, r, a.Logger, err)
		return
	}
	msg, err := a.Service.Validate(r.Context(), caller(r), in)
	if err != nil {
		writeError(w, r, a.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"valid": true, "message": msg})
}

func (a *API) associate(w http.ResponseWriter, r *http.Request) {
	var in backup.ProjectInput
	if err := decode(w, r, &in); err != nil {
		writeError(w, r, a.Logger, err)
		return
	}
	c, err := a.Service.AssociateProject(r.Context(), caller(r), r.PathValue("id"), r.PathValue("projectId"), in)
	if err != nil {
		writeError(w, r, a.Logger, err)
		return
	}
	credential(w, http.StatusOK, c)
}

func (a *API) dissociate(w http.ResponseWriter, r *http.Request) {
	err := a.Service.DissociateProject(r.Context(), caller(r), r.PathValue("id"), r.PathValue("projectId"))
	if err != nil {
		writeError(w, r, a.Logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) history(w http.ResponseWriter, r *http.Request) {
	n, err := limit(r)
	if err != nil {
		writeError(w, r, a.Logger, err)
		return
	}
	entries, cursor, err := a.Service.History(r.Context(), caller(r), r.PathValue("id"), n, r.URL.Query().Get("cursor"))
	if err != nil {
		writeError(w, r, a.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, page[backup.HistoryEntry]{Data: entries, NextCursor: next(cursor)})
}

func (a *API) organizations(w http.ResponseWriter, r *http.Request) {
	orgs, err := a.Service.Organizations(r.Context(), caller(r))
	if err != nil {
		writeError(w, r, a.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": orgs})
}
