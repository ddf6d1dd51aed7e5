package httpapi

import "net/http"

// A Route is one action of the API: its name (the function that serves it in
// AWS), method and path.
type Route struct {
	Name    string
	Method  string
	Path    string
	handler func(a *API, w http.ResponseWriter, r *http.Request) error
}

// Routes lists every route of the contract, in the order API.md gives them.
var Routes = []Route{
	{"create", "POST", "/v1/backup-credentials", (*API).create},
	{"list", "GET", "/v1/backup-credentials", (*API).list},
	{"get", "GET", "/v1/backup-credentials/{id}", (*API).get},
	{"update", "PATCH", "/v1/backup-credentials/{id}", (*API).update},
	{"delete", "DELETE", "/v1/backup-credentials/{id}", (*API).delete},
	{"lock", "POST", "/v1/backup-credentials/{id}/lock", (*API).lock},
	{"unlock", "POST", "/v1/backup-credentials/{id}/unlock", (*API).unlock},
	{"make-default", "POST", "/v1/backup-credentials/{id}/make-default", (*API).makeDefault},
	{"check", "POST", "/v1/backup-credentials/{id}/check", (*API).check},
	{"validate", "POST", "/v1/backup-credentials/validate", (*API).validate},
	{"associate-project", "PUT", "/v1/backup-credentials/{id}/projects/{projectId}", (*API).associate},
	{"dissociate-project", "DELETE", "/v1/backup-credentials/{id}/projects/{projectId}", (*API).dissociate},
	{"history", "GET", "/v1/backup-credentials/{id}/history", (*API).history},
	{"organizations", "GET", "/v1/organizations", (*API).organizations},
	{"backup-target", "GET", "/internal/v1/organizations/{organizationId}/projects/{projectId}/backup-target", (*API).backupTarget},
}

// bound is the route's handler for a.
func (rt Route) bound(a *API) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error { return rt.handler(a, w, r) }
}
