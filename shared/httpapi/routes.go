package httpapi

// A Route is one action of the API: its name (the function that serves it in
// AWS), method and path.
type Route struct {
	Name    string
	Method  string
	Path    string
	handler func(a *API) handlerFunc
}

// Routes lists every route of the contract, in the order API.md gives them.
var Routes = []Route{
	{"create", "POST", "/v1/backup-credentials", func(a *API) handlerFunc { return a.create }},
	{"list", "GET", "/v1/backup-credentials", func(a *API) handlerFunc { return a.list }},
	{"get", "GET", "/v1/backup-credentials/{id}", func(a *API) handlerFunc { return a.get }},
	{"update", "PATCH", "/v1/backup-credentials/{id}", func(a *API) handlerFunc { return a.update }},
	{"delete", "DELETE", "/v1/backup-credentials/{id}", func(a *API) handlerFunc { return a.delete }},
	{"lock", "POST", "/v1/backup-credentials/{id}/lock", (*API).lock},
	{"unlock", "POST", "/v1/backup-credentials/{id}/unlock", (*API).unlock},
	{"make-default", "POST", "/v1/backup-credentials/{id}/make-default", (*API).makeDefault},
	{"check", "POST", "/v1/backup-credentials/{id}/check", (*API).check},
	{"validate", "POST", "/v1/backup-credentials/validate", func(a *API) handlerFunc { return a.validate }},
	{"associate-project", "PUT", "/v1/backup-credentials/{id}/projects/{projectId}", func(a *API) handlerFunc { return a.associate }},
	{"dissociate-project", "DELETE", "/v1/backup-credentials/{id}/projects/{projectId}", func(a *API) handlerFunc { return a.dissociate }},
	{"history", "GET", "/v1/backup-credentials/{id}/history", func(a *API) handlerFunc { return a.history }},
	{"organizations", "GET", "/v1/organizations", func(a *API) handlerFunc { return a.organizations }},
	{"backup-target", "GET", "/internal/v1/organizations/{organizationId}/projects/{projectId}/backup-target", func(a *API) handlerFunc { return a.backupTarget }},
}
