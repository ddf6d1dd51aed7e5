package backup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Service carries out the API's actions for a caller. New makes one with
// the dependencies its function uses: an action whose dependency it was not
// given fails with an internal error, never a nil dereference.
type Service struct {
	store   Store
	secrets SecretStore
	checker Checker
	// roles assumes role credentials' roles as trustPrincipal, which the
	// roles' trust policies name; nil refuses role credentials.
	roles          RoleAssumer
	trustPrincipal string
	// keyRotationDays is the age past which keys are due for rotation; 0
	// turns it off.
	keyRotationDays int
	logger          *slog.Logger
	clock           func() time.Time
	// idempotencyWait is how long a create waits for a simultaneous create
	// with the same Idempotency-Key before answering EUnavailable.
	idempotencyWait time.Duration
}

// An Option gives a Service what it may use besides its store.
type Option func(*Service) error

// New returns a Service on store with the options, or an error when store
// or a dependency an option gives is nil, or a setting is out of range.
func New(store Store, opts ...Option) (*Service, error) {
	if store == nil {
		return nil, errors.New("backup.New: no store")
	}
	s := &Service{store: store, logger: slog.Default(), clock: time.Now, idempotencyWait: 5 * time.Second}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, fmt.Errorf("backup.New: %w", err)
		}
	}
	return s, nil
}

// WithSecrets gives the service the vault of secret keys.
func WithSecrets(v SecretStore) Option {
	return func(s *Service) error {
		if v == nil {
			return errors.New("no secret store")
		}
		s.secrets = v
		return nil
	}
}

// WithChecker gives the service the provider checks of keys.
func WithChecker(c Checker) Option {
	return func(s *Service) error {
		if c == nil {
			return errors.New("no checker")
		}
		s.checker = c
		return nil
	}
}

// WithRoles lets the service use role credentials, assuming customers'
// roles through r as trustPrincipal.
func WithRoles(r RoleAssumer, trustPrincipal string) Option {
	return func(s *Service) error {
		if r == nil {
			return errors.New("no role assumer")
		}
		s.roles, s.trustPrincipal = r, trustPrincipal
		return nil
	}
}

// WithKeyRotationDays sets the age past which keys are due for rotation;
// 0 turns it off.
func WithKeyRotationDays(days int) Option {
	return func(s *Service) error {
		if days < 0 {
			return fmt.Errorf("key rotation days %d: want 0 or more", days)
		}
		s.keyRotationDays = days
		return nil
	}
}

// WithLogger sets where the service logs what it does not answer.
func WithLogger(l *slog.Logger) Option {
	return func(s *Service) error {
		if l == nil {
			return errors.New("no logger")
		}
		s.logger = l
		return nil
	}
}

// WithClock sets the service's clock, for tests that drive time.
func WithClock(now func() time.Time) Option {
	return func(s *Service) error {
		if now == nil {
			return errors.New("no clock")
		}
		s.clock = now
		return nil
	}
}

// WithIdempotencyWait sets how long a create waits for a simultaneous one
// with the same Idempotency-Key (5 s by default).
func WithIdempotencyWait(d time.Duration) Option {
	return func(s *Service) error {
		if d <= 0 {
			return fmt.Errorf("idempotency wait %v: want more than 0", d)
		}
		s.idempotencyWait = d
		return nil
	}
}

// TrustPrincipal is the ARN the service assumes customers' roles as.
func (s *Service) TrustPrincipal() string { return s.trustPrincipal }

// vault returns the secret store, or one that says it is missing.
func (s *Service) vault() SecretStore {
	if s.secrets == nil {
		return missing("a secret store")
	}
	return s.secrets
}

// provider returns the checker, or one that says it is missing.
func (s *Service) provider() Checker {
	if s.checker == nil {
		return missing("a checker")
	}
	return s.checker
}

// missing stands in for a dependency a service was built without: each
// call fails, saying which.
type missing string

func (m missing) err() error {
	return fmt.Errorf("this function's service was built without %s", string(m))
}

func (m missing) CreateSecret(context.Context, string, string, string) (string, error) {
	return "", m.err()
}
func (m missing) PutSecret(context.Context, string, string, string) (string, error) {
	return "", m.err()
}
func (m missing) PromoteSecret(context.Context, string, string) error       { return m.err() }
func (m missing) GetSecret(context.Context, string, string) (string, error) { return "", m.err() }
func (m missing) DeleteSecret(context.Context, string) error                { return m.err() }
func (m missing) Check(context.Context, Keys) (CheckResult, error)          { return CheckResult{}, m.err() }

func (s *Service) now() time.Time {
	return s.clock().UTC().Truncate(time.Second)
}

func (s *Service) entry(c Caller, action string, fields ...string) HistoryEntry {
	if fields == nil {
		fields = []string{}
	}
	return HistoryEntry{At: s.now(), By: c.DisplayName(), ByID: c.UserID, Action: action, Fields: fields}
}

// changeable returns nil when the caller may change credential id: an ID
// the caller cannot see, whatever its form, is ENotFound for every caller
// (visibility is decided before the role); one it sees but may not change
// is EForbidden. A writer's ID is looked for by the change itself.
func (s *Service) changeable(ctx context.Context, caller Caller, id string) error {
	if !ValidID(id) {
		return NotFound(id)
	}
	if caller.CanWrite() {
		return nil
	}
	if _, err := s.store.GetCredential(ctx, id, caller.Organizations); err != nil {
		return err
	}
	return caller.requireWrite()
}
