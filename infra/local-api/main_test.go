package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/acme/backup-credentials/infra/local-api/localauth"
)

func TestTokenRefusesWhatTheAPIWould(t *testing.T) {
	tests := []struct {
		role string
		ttl  time.Duration
		want string
	}{
		{"admin", time.Hour, `role "admin" is not one the API knows`},
		{"Partner", time.Hour, "is not one the API knows"},
		{"user", -time.Minute, "TTL must be positive"},
	}
	for _, tt := range tests {
		if _, err := token([]byte("s"), "u", "n", tt.role, []string{"org-1"}, tt.ttl); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("token(role %q, ttl %s) = %v, want an error saying %q", tt.role, tt.ttl, err, tt.want)
		}
	}
	raw, err := token([]byte("s"), "u", "n", "manager", splitList("org-1, org-2"), 90*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return []byte("s"), nil }); err != nil {
		t.Fatal(err)
	}
	exp, _ := claims.GetExpirationTime()
	if d := time.Until(exp.Time); d < 89*time.Minute || d > 91*time.Minute {
		t.Errorf("token expires in %s, want 90m", d)
	}
	if orgs := claims["organizations"].([]any); len(orgs) != 2 || orgs[1] != "org-2" {
		t.Errorf("organizations %v, want [org-1 org-2]", orgs)
	}
}

// TestEmulatorNotRunning: make health-check and make run-moto say to start
// moto when nothing answers at its endpoint.
func TestEmulatorNotRunning(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	t.Setenv("AWS_ENDPOINT_URL", closed)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "x")
	for name, run := range map[string]func(context.Context) error{
		"health-check": healthCheckOnce,
		"run-moto":     func(ctx context.Context) error { return serve(ctx, []byte("s")) },
	} {
		err := run(context.Background())
		if err == nil || !strings.Contains(err.Error(), "make moto") || !strings.Contains(err.Error(), closed) {
			t.Errorf("%s: %v, want an error naming %s and `make moto`", name, err, closed)
		}
	}
}

// TestDefaultSecretOnlyForLocalStorage: with storage elsewhere than this
// machine, the public default LOCAL_JWT_SECRET would let anyone sign tokens
// for real data, so the local API refuses to start.
func TestDefaultSecretOnlyForLocalStorage(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", "https://dynamodb.eu-central-1.amazonaws.com")
	t.Setenv("AWS_REGION", "eu-central-1")
	err := serve(context.Background(), []byte(localauth.DefaultSecret))
	if err == nil || !strings.Contains(err.Error(), "LOCAL_JWT_SECRET") {
		t.Errorf("serve with the default secret and remote storage: %v, want a refusal naming LOCAL_JWT_SECRET", err)
	}
}
