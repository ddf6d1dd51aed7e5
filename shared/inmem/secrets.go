// Package inmem provides in-process stand-ins for AWS services, used by the
// local API so that it runs with nothing else started.
package inmem

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/acme/backup-credentials/shared/backup"
)

// SecretStore is a backup.SecretStore in memory, versioned like Secrets
// Manager.
type SecretStore struct {
	mu       sync.Mutex
	versions map[string]map[string]string
	current  map[string]string
	created  map[string]time.Time
}

var (
	_ backup.SecretStore = (*SecretStore)(nil)
	_ backup.SecretBatch = (*SecretStore)(nil)
)

// NewSecretStore returns an empty SecretStore.
func NewSecretStore() *SecretStore {
	return &SecretStore{versions: map[string]map[string]string{}, current: map[string]string{}, created: map[string]time.Time{}}
}

func version() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// CreateSecret stores the first version of a secret.
func (m *SecretStore) CreateSecret(_ context.Context, id, _, secretKey string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.versions[id]; ok {
		return "", backup.Errorf(backup.EInternal, "secret %s exists", id)
	}
	v := version()
	m.versions[id] = map[string]string{v: secretKey}
	m.current[id] = v
	m.created[id] = time.Now()
	return v, nil
}

// PutSecret stores a new version of a secret.
func (m *SecretStore) PutSecret(_ context.Context, id, secretKey, token string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.versions[id]; !ok {
		return "", backup.Errorf(backup.ENotFound, "The secret of credential %s is missing.", id)
	}
	if old, ok := m.versions[id][token]; ok && old != secretKey {
		return "", fmt.Errorf("put secret %s: version %s exists with another value", id, token)
	}
	m.versions[id][token] = secretKey // pending until promoted
	return token, nil
}

// PromoteSecret makes version the current one.
func (m *SecretStore) PromoteSecret(_ context.Context, id, version string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.versions[id][version]; !ok {
		return backup.Errorf(backup.ENotFound, "The secret of credential %s has no version %s.", id, version)
	}
	m.current[id] = version
	return nil
}

// GetSecret returns a version of a secret, the current one when version is
// empty.
func (m *SecretStore) GetSecret(_ context.Context, id, version string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if version == "" {
		version = m.current[id]
	}
	s, ok := m.versions[id][version]
	if !ok {
		return "", backup.Errorf(backup.ENotFound, "The secret of credential %s is missing.", id)
	}
	return s, nil
}

// DeleteSecret deletes a secret and all its versions.
func (m *SecretStore) DeleteSecret(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.versions, id)
	delete(m.current, id)
	delete(m.created, id)
	return nil
}

// Len returns how many secrets are stored.
func (m *SecretStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.versions)
}

// ListSecrets calls fn for every stored secret; created is when the store
// was asked to keep it.
func (m *SecretStore) ListSecrets(_ context.Context, fn func(backup.StoredSecret) error) error {
	m.mu.Lock()
	ids := make([]string, 0, len(m.versions))
	created := make([]time.Time, 0, len(m.versions))
	for id := range m.versions {
		ids = append(ids, id)
		created = append(created, m.created[id])
	}
	m.mu.Unlock()
	for i, id := range ids {
		if err := fn(backup.StoredSecret{NameID: id, TagID: id, Created: created[i]}); err != nil {
			return err
		}
	}
	return nil
}

// GetSecrets reads many secrets, as secrets.Store does.
func (m *SecretStore) GetSecrets(ctx context.Context, refs []backup.SecretRef) (map[string]string, map[string]error, error) {
	values, failed := map[string]string{}, map[string]error{}
	for _, r := range refs {
		v, err := m.GetSecret(ctx, r.ID, r.Version)
		if err != nil {
			failed[r.ID] = err
			continue
		}
		values[r.ID] = v
	}
	return values, failed, nil
}
