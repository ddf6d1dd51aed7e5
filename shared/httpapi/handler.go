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

// A handlerFunc serves one route and returns the error to answer, if any.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

type callerKey struct{}

// Handler returns a handler for the named routes, or for every route when
// none is named. A path served with other methods is a 405 with Allow;
// anything else is a problem+json 404. Every answer carries X-Request-Id and
// is logged in one line.
func (a *API) Handler(names ...string) http.Handler {
	if a.Logger == nil {
		a.Logger = slog.Default()
	}
	mux := http.NewServeMux()
	var served []Route
	for _, rt := range Routes {
		if len(names) == 0 || slices.Contains(names, rt.Name) {
			served = append(served, rt)
			mux.Handle(rt.Method+" "+rt.Path, a.authenticated(rt.bound(a)))
		}
	}
	mux.Handle("/", a.serve(func(w http.ResponseWriter, r *http.Request) error {
		if allow := allowed(served, r.URL.Path); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			return backup.Errorf(backup.EMethodNotAllowed, "%s is not served on this path; use %s.", truncate(r.Method), strings.Join(allow, ", "))
		}
		return backup.Errorf(backup.ENotFound, "No route %s %s.", truncate(r.Method), truncate(r.URL.Path))
	}))
	return Logged(a.Logger, secured(a.clean(mux)))
}

// secured adds to every answer the headers that keep a browser from
// treating it as anything but data: no sniffing, no framing, no referrer,
// and a content security policy that allows nothing.
func secured(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// allowed returns the methods of the routes whose path matches p, sorted.
func allowed(routes []Route, p string) []string {
	var out []string
	for _, rt := range routes {
		if matches(rt.Path, p) && !slices.Contains(out, rt.Method) {
			out = append(out, rt.Method)
		}
	}
	slices.Sort(out)
	return out
}

// matches reports whether path p fits the route pattern, where {name} stands
// for one non-empty segment.
func matches(pattern, p string) bool {
	want, got := strings.Split(pattern, "/"), strings.Split(p, "/")
	if len(want) != len(got) {
		return false
	}
	for i, w := range want {
		if strings.HasPrefix(w, "{") && got[i] != "" || w == got[i] {
			continue
		}
		return false
	}
	return true
}

func truncate(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}

// serve adapts a handlerFunc: a returned error is answered as a problem.
func (a *API) serve(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.writeError(w, r, err)
		}
	})
}

// clean answers paths with dot segments or empty segments with 404 rather
// than the redirect ServeMux would send.
func (a *API) clean(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p == "" || path.Clean(p) != p && path.Clean(p)+"/" != p {
			a.writeError(w, r, backup.Errorf(backup.ENotFound, "No route %s %s.", truncate(r.Method), truncate(p)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authenticated reads the caller before the route runs. A refusal says why
// in WWW-Authenticate (RFC 6750) as well as in the problem.
func (a *API) authenticated(next handlerFunc) http.Handler {
	return a.serve(func(w http.ResponseWriter, r *http.Request) error {
		c, err := a.Auth.Authenticate(r)
		if err != nil {
			challenge := "Bearer"
			if r.Header.Get("Authorization") != "" && backup.ErrorCode(err) == backup.EUnauthorized {
				challenge = fmt.Sprintf(`Bearer error="invalid_token", error_description=%q`, backup.ErrorMessage(err))
			}
			w.Header().Set("WWW-Authenticate", challenge)
			return err
		}
		return next(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
	})
}

func caller(r *http.Request) backup.Caller {
	c, _ := r.Context().Value(callerKey{}).(backup.Caller)
	return c
}

// credential answers one credential with its ETag.
func credential(w http.ResponseWriter, status int, c *backup.Credential) error {
	w.Header().Set("ETag", fmt.Sprintf(`"%d"`, c.Version))
	writeJSON(w, status, c)
	return nil
}

func (a *API) create(w http.ResponseWriter, r *http.Request) error {
	var in backup.CreateInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	c, _, err := a.Service.Create(r.Context(), caller(r), in, r.Header.Get("Idempotency-Key"))
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/backup-credentials/"+c.ID)
	return credential(w, http.StatusCreated, c)
}

// limit reads the limit query parameter; 0 means absent.
func limit(r *http.Request) (int, error) {
	s, ok := r.URL.Query()["limit"]
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.Join(s, ""))
	if err != nil || n < 1 || n > backup.LimitMax {
		return 0, invalidQuery("limit", "must be a whole number between 1 and %d", backup.LimitMax)
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

func (a *API) list(w http.ResponseWriter, r *http.Request) error {
	n, err := limit(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	items, cursor, err := a.Service.List(r.Context(), caller(r), backup.ListRequest{
		OrganizationID: q.Get("organizationId"), Search: q.Get("search"), Sort: q.Get("sort"), Limit: n, Cursor: q.Get("cursor"),
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page[*backup.Credential]{Data: items, NextCursor: next(cursor)})
	return nil
}

func (a *API) get(w http.ResponseWriter, r *http.Request) error {
	c, err := a.Service.Get(r.Context(), caller(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return credential(w, http.StatusOK, c)
}

// ifMatch reads the If-Match header: nil when absent or "*". It takes an
// ETag as this API sends it, "3", or its weak form W/"3"; anything else,
// an unquoted 3 included, is 412.
func ifMatch(r *http.Request) (*int64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return nil, nil
	}
	tag := strings.TrimPrefix(h, "W/")
	if len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' {
		return nil, backup.Errorf(backup.EPrecondition, "If-Match must be an ETag this API sent, quoted, such as \"3\".")
	}
	v, err := strconv.ParseInt(tag[1:len(tag)-1], 10, 64)
	if err != nil || v < 1 {
		return nil, backup.Errorf(backup.EPrecondition, "If-Match must be an ETag this API sent, quoted, such as \"3\".")
	}
	return &v, nil
}

func (a *API) update(w http.ResponseWriter, r *http.Request) error {
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	var in backup.PatchInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	c, err := a.Service.Update(r.Context(), caller(r), r.PathValue("id"), in, version)
	if err != nil {
		return err
	}
	return credential(w, http.StatusOK, c)
}

func (a *API) delete(w http.ResponseWriter, r *http.Request) error {
	if err := a.Service.Delete(r.Context(), caller(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// answer returns what answers an action's result with 200 and the
// credential, or with the action's error.
func answer(w http.ResponseWriter) func(*backup.Credential, error) error {
	return func(c *backup.Credential, err error) error {
		if err != nil {
			return err
		}
		return credential(w, http.StatusOK, c)
	}
}

func (a *API) lock(w http.ResponseWriter, r *http.Request) error {
	return answer(w)(a.Service.SetLocked(r.Context(), caller(r), r.PathValue("id"), true))
}

func (a *API) unlock(w http.ResponseWriter, r *http.Request) error {
	return answer(w)(a.Service.SetLocked(r.Context(), caller(r), r.PathValue("id"), false))
}

func (a *API) makeDefault(w http.ResponseWriter, r *http.Request) error {
	return answer(w)(a.Service.MakeDefault(r.Context(), caller(r), r.PathValue("id")))
}

func (a *API) check(w http.ResponseWriter, r *http.Request) error {
	return answer(w)(a.Service.Check(r.Context(), caller(r), r.PathValue("id")))
}

func (a *API) validate(w http.ResponseWriter, r *http.Request) error {
	var in backup.KeysInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	msg, err := a.Service.Validate(r.Context(), caller(r), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"valid": true, "message": msg})
	return nil
}

func (a *API) associate(w http.ResponseWriter, r *http.Request) error {
	var in backup.ProjectInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	c, err := a.Service.AssociateProject(r.Context(), caller(r), r.PathValue("id"), r.PathValue("projectId"), in)
	if err != nil {
		return err
	}
	return credential(w, http.StatusOK, c)
}

func (a *API) dissociate(w http.ResponseWriter, r *http.Request) error {
	if err := a.Service.DissociateProject(r.Context(), caller(r), r.PathValue("id"), r.PathValue("projectId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) history(w http.ResponseWriter, r *http.Request) error {
	n, err := limit(r)
	if err != nil {
		return err
	}
	entries, cursor, err := a.Service.History(r.Context(), caller(r), r.PathValue("id"), n, r.URL.Query().Get("cursor"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page[backup.HistoryEntry]{Data: entries, NextCursor: next(cursor)})
	return nil
}

func (a *API) organizations(w http.ResponseWriter, r *http.Request) error {
	orgs, err := a.Service.Organizations(r.Context(), caller(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": orgs})
	return nil
}

func (a *API) backupTarget(w http.ResponseWriter, r *http.Request) error {
	t, err := a.Service.BackupTarget(r.Context(), caller(r), r.PathValue("organizationId"), r.PathValue("projectId"), r.URL.Query().Get("purpose"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}
