package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// The local API answers only this machine, and only pages of this machine
// may read its answers: developers check real keys locally, and any web
// page a developer opens could otherwise call it.
//
//   - CORS: the origins in LOCAL_CORS_ORIGINS, by default any port of
//     http://localhost, http://127.0.0.1 and http://[::1] (a UI on its own
//     dev server); "*" only when set so. In AWS the HTTP API answers CORS
//     itself (template parameter CorsOrigins).
//   - Host: a loopback name or address only; a page whose DNS name was
//     rebound to 127.0.0.1 sends its own name, and gets 421.
//   - The development-token route: same-origin only, never answered with
//     CORS, and never for the backup engine.
//   - Every answer: no sniffing, no framing, no referrer; the page a
//     content security policy without inline script.
const (
	corsMethods = "GET, POST, PUT, PATCH, DELETE"
	corsHeaders = "Authorization, Content-Type, If-Match, Idempotency-Key"
	corsExpose  = "ETag, Location, Retry-After, X-Request-Id"
)

// pagePolicy is the page's content security policy: its own scripts and
// styles only, calls to any API it is pointed at, never framed.
const pagePolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' http: https:; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// origins are the origins whose pages may read the local API's answers.
type origins struct {
	any    bool
	listed []string
}

// parseOrigins reads LOCAL_CORS_ORIGINS: unset or empty is loopback pages
// on any port; "*" is any origin; otherwise exact origins
// ("http://localhost:5173").
func parseOrigins(setting string) origins {
	list := splitList(setting)
	return origins{any: slices.Contains(list, "*"), listed: list}
}

// allows reports whether a page of origin may read answers.
func (o origins) allows(origin string) bool {
	switch {
	case origin == "":
		return false
	case o.any:
		return true
	case len(o.listed) > 0:
		return slices.Contains(o.listed, origin)
	}
	u, err := url.Parse(origin)
	return err == nil && u.Scheme == "http" && u.Path == "" && loopbackOrigin(u.Hostname())
}

// String says which origins, for the startup log line.
func (o origins) String() string {
	switch {
	case o.any:
		return "*"
	case len(o.listed) > 0:
		return strings.Join(o.listed, ",")
	}
	return "http://localhost, http://127.0.0.1, http://[::1] (any port)"
}

// loopbackOrigin reports whether a page's host is one of the loopback
// origins allowed by default.
func loopbackOrigin(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// loopbackHost reports whether a request's Host names this machine: localhost,
// a name under .localhost, or a loopback address, with any port.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// guarded serves next for requests to this machine only, with the
// security headers on every answer and CORS for the allowed origins;
// paths under /local/ never answer CORS.
func guarded(allowed origins, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", pagePolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		if !loopbackHost(r.Host) {
			localProblem(w, http.StatusMisdirectedRequest, "misdirected_request",
				"The local API answers requests to this machine only (Host localhost, *.localhost or a loopback address).")
			return
		}
		origin := r.Header.Get("Origin")
		if strings.HasPrefix(r.URL.Path, "/local/") || !allowed.allows(origin) {
			next.ServeHTTP(w, r)
			return
		}
		h.Add("Vary", "Origin")
		if allowed.any {
			h.Set("Access-Control-Allow-Origin", "*")
		} else {
			h.Set("Access-Control-Allow-Origin", origin)
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Expose-Headers", corsExpose)
		next.ServeHTTP(w, r)
	})
}

// sameOrigin reports whether a request comes from a page of the local API
// itself, or from no page at all (curl, a test): a browser names the page's
// origin (Origin) or its relation to it (Sec-Fetch-Site).
func sameOrigin(r *http.Request) bool {
	if origin := r.Header.Get("Origin"); origin != "" {
		return origin == "http://"+r.Host
	}
	site := r.Header.Get("Sec-Fetch-Site")
	return site == "" || site == "same-origin" || site == "none"
}

// localProblem answers a problem of the local API's own routes.
func localProblem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "https://backup-credentials.dev/problems/" + code,
		"title": http.StatusText(status), "status": status, "detail": detail, "code": code})
}

// splitList reads a comma-separated list (LOCAL_CORS_ORIGINS, ORGS), dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, o := range strings.Split(s, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}
