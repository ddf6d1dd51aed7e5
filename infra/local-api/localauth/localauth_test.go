package localauth_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/acme/backup-credentials/infra/local-api/localauth"
	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/httpapi"
)

const secret = "test-secret"

func signed(t *testing.T, key string, method jwt.SigningMethod, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRefusalsSayWhy: a token is refused with its reason (expired, not yet
// valid, forged, malformed, unsigned, no expiry), through the API's 401 and
// its WWW-Authenticate challenge; a token Token mints is the caller it
// names.
func TestRefusalsSayWhy(t *testing.T) {
	now := time.Now()
	claims := func(exp, nbf time.Time) jwt.MapClaims {
		return jwt.MapClaims{"sub": "u-1", "role": "partner", "organizations": []string{"org-1"}, "exp": exp.Unix(), "nbf": nbf.Unix()}
	}
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x","role":"partner","organizations":["org-1"]}`)) + "."
	tests := []struct{ name, token, reason string }{
		{"expired", signed(t, secret, jwt.SigningMethodHS256, claims(now.Add(-time.Minute), now.Add(-time.Hour))), "has expired"},
		{"not yet valid", signed(t, secret, jwt.SigningMethodHS256, claims(now.Add(2*time.Hour), now.Add(time.Hour))), "not valid yet"},
		{"forged", signed(t, "another-secret", jwt.SigningMethodHS256, claims(now.Add(time.Hour), now)), "signature is not valid"},
		{"malformed", "not.a.jwt", "malformed"},
		{"alg none", none, "not valid"},
		{"HS512", signed(t, secret, jwt.SigningMethodHS512, claims(now.Add(time.Hour), now)), "not valid"},
		{"no expiry", signed(t, secret, jwt.SigningMethodHS256, jwt.MapClaims{"sub": "u-1", "role": "partner"}), "no expiry"},
	}
	api := (&httpapi.API{Auth: localauth.Auth{Secret: []byte(secret), Claims: httpapi.DefaultClaims}}).Handler()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/organizations", nil)
			r.Header.Set("Authorization", "Bearer "+tt.token)
			w := httptest.NewRecorder()
			api.ServeHTTP(w, r)
			challenge := w.Header().Get("WWW-Authenticate")
			if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), tt.reason) ||
				!strings.HasPrefix(challenge, `Bearer error="invalid_token"`) || !strings.Contains(challenge, tt.reason) {
				t.Errorf("%d %s (WWW-Authenticate %q), want 401 saying %q", w.Code, w.Body, challenge, tt.reason)
			}
		})
	}
	tok, err := localauth.Token([]byte(secret), "u-2", "Ann", "manager", []string{"org-1", "org-2"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	got, err := localauth.Auth{Secret: []byte(secret), Claims: httpapi.DefaultClaims}.Authenticate(r)
	want := backup.Caller{UserID: "u-2", Name: "Ann", Role: "manager", Organizations: []string{"org-1", "org-2"}}
	if err != nil || got.UserID != want.UserID || got.Name != want.Name || got.Role != want.Role || strings.Join(got.Organizations, ",") != "org-1,org-2" {
		t.Errorf("minted token read as %+v, %v; want %+v", got, err, want)
	}
}
