package main

import (
	"embed"
	"encoding/json"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/httpapi"
)

// ui is the Backup Credentials page: plain HTML, CSS and JavaScript modules
// that call the public API as a UI on another origin would.
//
//go:embed ui
var ui embed.FS

// site is everything the local API serves: the API, the page, the API
// reference, the demo S3 and STS endpoints and, for storage on this machine only,
// development tokens. None of it but the API exists in Lambda.
type site struct {
	api     http.Handler
	secret  []byte
	origins origins
	demo    demoS3
	// devTokens serves development tokens, for storage on this machine
	// only; demoSTS serves the demo STS, for in-process storage only.
	devTokens, demoSTS bool
	logger             *slog.Logger
}

func (s site) handler() (http.Handler, error) {
	mux := http.NewServeMux()
	mux.Handle("/", s.api)
	files, err := fs.Sub(ui, "ui")
	if err != nil {
		return nil, err
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, files, "index.html")
	})
	mux.Handle("GET /ui/", http.StripPrefix("/ui/", http.FileServerFS(files)))
	mux.Handle("/local-s3", s.demo)
	mux.Handle("/local-s3/", s.demo)
	if s.demoSTS {
		mux.Handle("POST /local-sts", demoSTS{})
	}
	if s.devTokens {
		mux.HandleFunc("GET /local/token", func(w http.ResponseWriter, _ *http.Request) {
			writeLocalJSON(w, http.StatusOK, map[string]any{"local": true,
				"roles": []string{backup.RolePartner, backup.RoleManager, backup.RoleUser}})
		})
		mux.HandleFunc("POST /local/token", s.mintToken)
	}
	if err := reference(mux); err != nil {
		return nil, err
	}
	logger := s.logger
	if logger == nil {
		logger = slog.Default()
	}
	return httpapi.Logged(logger, guarded(s.origins, mux)), nil
}

// mintToken answers a development token for the organizations and role the
// body names: {"organizations": ["org-1"], "role": "partner"}. Only the
// local API's own page (or no page: curl) may ask, and never for the
// backup engine, whose token reads secrets: `make token` mints that one.
func (s site) mintToken(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		localProblem(w, http.StatusForbidden, backup.EForbidden, "Development tokens are for the local API's own page; use make token from another origin.")
		return
	}
	var in struct {
		Organizations []string `json:"organizations"`
		Role          string   `json:"role"`
		Sub           string   `json:"sub"`
		Name          string   `json:"name"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&in); err != nil {
		writeLocalJSON(w, http.StatusBadRequest, map[string]any{"code": backup.EInvalid, "detail": "Send {\"organizations\": [...], \"role\": \"partner\"}."})
		return
	}
	if in.Role == backup.RoleBackupEngine {
		localProblem(w, http.StatusForbidden, backup.EForbidden, "The page mints no backup-engine token, which reads secrets: run make token ROLE=backup-engine.")
		return
	}
	if in.Sub == "" {
		in.Sub, in.Name = "local-"+in.Role, "Local "+in.Role
	}
	tok, err := token(s.secret, in.Sub, in.Name, in.Role, in.Organizations, 12*time.Hour)
	if err != nil {
		writeLocalJSON(w, http.StatusBadRequest, map[string]any{"code": backup.EInvalid, "detail": err.Error()})
		return
	}
	writeLocalJSON(w, http.StatusOK, map[string]any{"token": tok})
}

func writeLocalJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
