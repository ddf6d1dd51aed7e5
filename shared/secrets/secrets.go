// Package secrets provides the AWS Secrets Manager implementation of
// backup.SecretStore: one secret per credential, named from its ID under a
// prefix, tagged with its organization and credential ID.
package secrets

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/acme/backup-credentials/shared/backup"
)

// API is the part of the Secrets Manager client the store uses.
type API interface {
	CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	DeleteSecret(ctx context.Context, in *secretsmanager.DeleteSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error)
	ListSecrets(ctx context.Context, in *secretsmanager.ListSecretsInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error)
}

// Store keeps secret keys in Secrets Manager.
type Store struct {
	api    API
	prefix string
	// KMSKeyID, when set, encrypts new secrets with that key.
	KMSKeyID string
}

var _ backup.SecretStore = (*Store)(nil)

// New returns a Store naming secrets prefix+credentialID.
func New(api API, prefix string) *Store {
	return &Store{api: api, prefix: prefix}
}

// Name returns the name of a credential's secret.
func (st *Store) Name(id string) string { return st.prefix + id }

// newVersion returns a fresh client request token, which becomes the version.
func newVersion() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// CreateSecret creates a credential's secret.
func (st *Store) CreateSecret(ctx context.Context, id, org, secretKey string) (string, error) {
	in := &secretsmanager.CreateSecretInput{
		Name:               aws.String(st.Name(id)),
		ClientRequestToken: aws.String(newVersion()),
		SecretString:       aws.String(secretKey),
		Description:        aws.String("S3 secret key of backup credential " + id),
		Tags: []types.Tag{
			{Key: aws.String("organizationId"), Value: aws.String(org)},
			{Key: aws.String("credentialId"), Value: aws.String(id)},
		},
	}
	if st.KMSKeyID != "" {
		in.KmsKeyId = aws.String(st.KMSKeyID)
	}
	out, err := st.api.CreateSecret(ctx, in)
	if err != nil {
		return "", fmt.Errorf("create secret %s: %w", id, err)
	}
	return aws.ToString(out.VersionId), nil
}

// PutSecret stores a new version of a credential's secret.
func (st *Store) PutSecret(ctx context.Context, id, secretKey string) (string, error) {
	out, err := st.api.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:           aws.String(st.Name(id)),
		ClientRequestToken: aws.String(newVersion()),
		SecretString:       aws.String(secretKey),
	})
	if err != nil {
		return "", fmt.Errorf("put secret %s: %w", id, err)
	}
	return aws.ToString(out.VersionId), nil
}

// GetSecret reads one version of a credential's secret, the current one when
// version is empty. It returns ENotFound when the secret or version is gone.
func (st *Store) GetSecret(ctx context.Context, id, version string) (string, error) {
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(st.Name(id))}
	if version != "" {
		in.VersionId = aws.String(version)
	}
	out, err := st.api.GetSecretValue(ctx, in)
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return "", backup.Errorf(backup.ENotFound, "The secret of credential %s is missing.", id)
	}
	if err != nil {
		return "", fmt.Errorf("get secret %s: %w", id, err)
	}
	return aws.ToString(out.SecretString), nil
}

// DeleteSecret deletes a credential's secret without a recovery window. A
// secret that is gone already is not an error.
func (st *Store) DeleteSecret(ctx context.Context, id string) error {
	_, err := st.api.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{
		SecretId:                   aws.String(st.Name(id)),
		ForceDeleteWithoutRecovery: aws.Bool(true),
	})
	var nf *types.ResourceNotFoundException
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("delete secret %s: %w", id, err)
	}
	return nil
}

// ListSecrets calls fn for each secret under the prefix, page by page, with
// the credential ID it is named after and when it was created.
func (st *Store) ListSecrets(ctx context.Context, fn func(id string, created time.Time) error) error {
	in := &secretsmanager.ListSecretsInput{
		Filters:    []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{st.prefix}}},
		MaxResults: aws.Int32(100),
	}
	for {
		out, err := st.api.ListSecrets(ctx, in)
		if err != nil {
			return fmt.Errorf("list secrets: %w", err)
		}
		for _, e := range out.SecretList {
			name := aws.ToString(e.Name)
			if !strings.HasPrefix(name, st.prefix) {
				continue
			}
			if err := fn(strings.TrimPrefix(name, st.prefix), aws.ToTime(e.CreatedDate)); err != nil {
				return err
			}
		}
		if out.NextToken == nil {
			return nil
		}
		in.NextToken = out.NextToken
	}
}

// FromConfig returns a Store with a client built from cfg, aimed at
// endpoint when it is not "", encrypting new secrets with kmsKeyID when it is
// not "".
func FromConfig(cfg aws.Config, endpoint, prefix, kmsKeyID string) *Store {
	st := New(secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), prefix)
	st.KMSKeyID = kmsKeyID
	return st
}
