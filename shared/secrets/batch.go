package secrets

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/acme/backup-credentials/shared/backup"
)

// BatchSize is the most secrets one BatchGetSecretValue reads.
const BatchSize = 20

// GetSecrets reads the versions of the secrets refs name, BatchSize at a
// time with BatchGetSecretValue. That call answers each secret's current
// version: a secret whose current version is not the one asked for (its
// key change has not been promoted yet) is read by version with
// GetSecretValue. It returns each secret key by credential ID, and the
// credentials whose secret could not be read, with ENotFound for a secret
// that is gone or scheduled for deletion; an error only when a call failed
// as a whole.
func (st *Store) GetSecrets(ctx context.Context, refs []backup.SecretRef) (map[string]string, map[string]error, error) {
	values, failed := map[string]string{}, map[string]error{}
	for start := 0; start < len(refs); start += BatchSize {
		batch := refs[start:min(start+BatchSize, len(refs))]
		want := map[string]backup.SecretRef{}
		in := &secretsmanager.BatchGetSecretValueInput{}
		for _, r := range batch {
			want[st.Name(r.ID)] = r
			in.SecretIdList = append(in.SecretIdList, st.Name(r.ID))
		}
		out, err := st.api.BatchGetSecretValue(ctx, in)
		if err != nil {
			return nil, nil, fmt.Errorf("batch get %d secrets: %w", len(batch), err)
		}
		answered := map[string]bool{}
		for _, v := range out.SecretValues {
			r, ok := want[aws.ToString(v.Name)]
			if !ok {
				continue
			}
			answered[r.ID] = true
			if r.Version == "" || aws.ToString(v.VersionId) == r.Version {
				values[r.ID] = aws.ToString(v.SecretString)
				continue
			}
			st.getOne(ctx, r, values, failed)
		}
		for _, e := range out.Errors {
			r, ok := want[st.nameOf(aws.ToString(e.SecretId))]
			if !ok || answered[r.ID] {
				continue
			}
			answered[r.ID] = true
			// One secret's failure: read it alone, which says whether it is
			// gone or what went wrong.
			st.getOne(ctx, r, values, failed)
		}
		for _, r := range batch {
			if !answered[r.ID] {
				st.getOne(ctx, r, values, failed)
			}
		}
	}
	return values, failed, nil
}

// getOne reads one secret's version with GetSecretValue into values, or
// its error into failed.
func (st *Store) getOne(ctx context.Context, r backup.SecretRef, values map[string]string, failed map[string]error) {
	v, err := st.GetSecret(ctx, r.ID, r.Version)
	if err != nil {
		failed[r.ID] = err
		return
	}
	values[r.ID] = v
}

// nameOf returns a secret's name from its name or ARN (whose name ends
// with a dash and six random characters).
func (st *Store) nameOf(idOrARN string) string {
	if !strings.HasPrefix(idOrARN, "arn:") {
		return idOrARN
	}
	parts := strings.SplitN(idOrARN, ":", 7)
	if len(parts) < 7 {
		return idOrARN
	}
	name := parts[6]
	if i := strings.LastIndex(name, "-"); i > 0 && len(name)-i == 7 {
		name = name[:i]
	}
	return name
}
