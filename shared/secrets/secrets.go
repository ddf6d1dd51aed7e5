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
	"slices"
	"strings"

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
	BatchGetSecretValue(ctx context.Context, in *secretsmanager.BatchGetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.BatchGetSecretValueOutput, error)
	DeleteSecret(ctx context.Context, in *secretsmanager.DeleteSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error)
	ListSecrets(ctx context.Context, in *secretsmanager.ListSecretsInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error)
	DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error)
	RestoreSecret(ctx context.Context, in *secretsmanager.RestoreSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.RestoreSecretOutput, error)
}

// Store keeps secret keys in Secrets Manager.
type Store struct {
	api    API
	prefix string
	// KMSKeyID, when set, encrypts new secrets with that key.
	KMSKeyID string
	// RecoveryDays is how long a deleted secret can be restored (7 to 30;
	// 0 means DefaultRecoveryDays).
	RecoveryDays int
}

var (
	_ backup.SecretStore = (*Store)(nil)
	_ backup.SecretBatch = (*Store)(nil)
)

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

// CreateSecret creates a credential's secret. A credential that had one
// before (a role credential given keys again) finds it scheduled for
// deletion, or left by a deletion that failed: it is restored, and the key
// stored as its current version.
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
	var exists *types.ResourceExistsException
	if errors.As(err, &exists) || markedForDeletion(err) {
		return st.revive(ctx, id, secretKey)
	}
	if err != nil {
		return "", fmt.Errorf("create secret %s: %w", id, err)
	}
	return aws.ToString(out.VersionId), nil
}

// markedForDeletion reports whether Secrets Manager refused a call because
// the secret is scheduled for deletion.
func markedForDeletion(err error) bool {
	var ir *types.InvalidRequestException
	return errors.As(err, &ir) && strings.Contains(strings.ToLower(ir.ErrorMessage()), "delet")
}

// revive restores a credential's secret and stores secretKey as its current
// version.
func (st *Store) revive(ctx context.Context, id, secretKey string) (string, error) {
	if _, err := st.api.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: aws.String(st.Name(id))}); err != nil {
		return "", fmt.Errorf("restore secret %s: %w", id, err)
	}
	out, err := st.api.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(st.Name(id)), ClientRequestToken: aws.String(newVersion()),
		SecretString: aws.String(secretKey), VersionStages: []string{"AWSCURRENT"},
	})
	if err != nil {
		return "", fmt.Errorf("put secret %s: %w", id, err)
	}
	return aws.ToString(out.VersionId), nil
}

// PutSecret stores a new version of a credential's secret under the
// AWSPENDING label: AWSCURRENT stays on the version the metadata names until
// PromoteSecret moves it. token is the version's ID (Secrets Manager's
// ClientRequestToken): the same token with the same key is the same version.
func (st *Store) PutSecret(ctx context.Context, id, secretKey, token string) (string, error) {
	out, err := st.api.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:           aws.String(st.Name(id)),
		ClientRequestToken: aws.String(token),
		SecretString:       aws.String(secretKey),
		VersionStages:      []string{"AWSPENDING"},
	})
	if err != nil {
		return "", fmt.Errorf("put secret %s: %w", id, err)
	}
	return aws.ToString(out.VersionId), nil
}

// PromoteSecret moves AWSCURRENT to version, from whichever version has it
// (Secrets Manager then labels that one AWSPREVIOUS).
func (st *Store) PromoteSecret(ctx context.Context, id, version string) error {
	desc, err := st.api.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(st.Name(id))})
	if err != nil {
		return fmt.Errorf("promote secret %s: %w", id, err)
	}
	current := ""
	for v, stages := range desc.VersionIdsToStages {
		if slices.Contains(stages, "AWSCURRENT") {
			current = v
		}
	}
	if current == version {
		return nil
	}
	if _, err := st.api.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String(st.Name(id)), VersionStage: aws.String("AWSCURRENT"),
		MoveToVersionId: aws.String(version), RemoveFromVersionId: aws.String(current),
	}); err != nil {
		return fmt.Errorf("promote secret %s: %w", id, err)
	}
	return nil
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
	// A secret scheduled for deletion answers InvalidRequestException: it is
	// as missing as one that is gone, until someone restores it.
	if errors.As(err, &nf) || markedForDeletion(err) {
		return "", backup.Errorf(backup.ENotFound, "The secret of credential %s is missing.", id)
	}
	if err != nil {
		return "", fmt.Errorf("get secret %s: %w", id, err)
	}
	return aws.ToString(out.SecretString), nil
}

// DefaultRecoveryDays is how long a deleted secret can be restored, unless
// Store.RecoveryDays says otherwise.
const DefaultRecoveryDays = 7

// DeleteSecret schedules a credential's secret for deletion after the
// recovery window (RecoveryDays), so a mistaken delete can be undone with
// RestoreSecret. A secret that is gone already is not an error.
func (st *Store) DeleteSecret(ctx context.Context, id string) error {
	days := st.RecoveryDays
	if days == 0 {
		days = DefaultRecoveryDays
	}
	_, err := st.api.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{
		SecretId:             aws.String(st.Name(id)),
		RecoveryWindowInDays: aws.Int64(int64(days)),
	})
	var nf *types.ResourceNotFoundException
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("delete secret %s: %w", id, err)
	}
	return nil
}

// ListSecrets calls fn for each secret under the prefix (not those
// scheduled for deletion), page by page, with the credential ID its name and
// its tag carry and when it was created.
func (st *Store) ListSecrets(ctx context.Context, fn func(backup.StoredSecret) error) error {
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
			found := backup.StoredSecret{NameID: strings.TrimPrefix(name, st.prefix), Created: aws.ToTime(e.CreatedDate)}
			for _, t := range e.Tags {
				if aws.ToString(t.Key) == "credentialId" {
					found.TagID = aws.ToString(t.Value)
				}
			}
			if err := fn(found); err != nil {
				return err
			}
		}
		if out.NextToken == nil {
			return nil
		}
		in.NextToken = out.NextToken
	}
}

// Options are a Store's settings: every function that builds a Store gives
// all of them, so a deleted secret keeps the same recovery window whichever
// function deletes it.
type Options struct {
	// Prefix names secrets: Prefix + credential ID.
	Prefix string
	// KMSKeyID, when not "", encrypts new secrets.
	KMSKeyID string
	// RecoveryDays is how long a deleted secret can be restored.
	RecoveryDays int
}

// FromConfig returns a Store with a client built from cfg, aimed at
// endpoint when it is not "".
func FromConfig(cfg aws.Config, endpoint string, o Options) *Store {
	st := New(secretsmanager.NewFromConfig(cfg, func(opts *secretsmanager.Options) {
		if endpoint != "" {
			opts.BaseEndpoint = aws.String(endpoint)
		}
	}), o.Prefix)
	st.KMSKeyID, st.RecoveryDays = o.KMSKeyID, o.RecoveryDays
	return st
}
