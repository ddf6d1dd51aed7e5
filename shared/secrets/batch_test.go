package secrets_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go/middleware"

	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/secrets"
	"github.com/acme/backup-credentials/shared/testkit"
)

var moto *testkit.Server

func TestMain(m *testing.M) { testkit.RunWithServer(m, &moto) }

// TestGetSecrets: 25 secrets are read in two BatchGetSecretValue calls; a
// secret asked for at a version that is not current yet (a key change
// before its promotion) is read by version, and one that is gone or
// scheduled for deletion is reported ENotFound, each with one
// GetSecretValue; nothing else is read one by one.
func TestGetSecrets(t *testing.T) {
	ctx := context.Background()
	calls := &testkit.Counter{}
	cfg := moto.Config()
	cfg.APIOptions = []func(*middleware.Stack) error{calls.Middleware}
	st := secrets.New(secretsmanager.NewFromConfig(cfg), fmt.Sprintf("batch-%s/", t.Name()))
	var refs []backup.SecretRef
	for i := range 25 {
		id := fmt.Sprintf("bc_%026d", i)
		v, err := st.CreateSecret(ctx, id, "org-1", "secret-"+id)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, backup.SecretRef{ID: id, Version: v})
	}
	pending, err := st.PutSecret(ctx, refs[3].ID, "the new key", "7c9c2b3e-8d6f-4a8e-9f0b-1d2e3f405162")
	if err != nil {
		t.Fatal(err)
	}
	refs[3].Version = pending
	if err := st.DeleteSecret(ctx, refs[7].ID); err != nil {
		t.Fatal(err)
	}
	refs = append(refs, backup.SecretRef{ID: "bc_99999999999999999999999999"})
	calls.Take()
	values, failed, err := st.GetSecrets(ctx, refs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range refs {
		switch {
		case i == 3 && values[r.ID] != "the new key":
			t.Errorf("the pending version read as %q", values[r.ID])
		case i == 7 || i == 25:
			if backup.ErrorCode(failed[r.ID]) != backup.ENotFound {
				t.Errorf("%s: %q, %v; want ENotFound", r.ID, values[r.ID], failed[r.ID])
			}
		case i != 3 && values[r.ID] != "secret-"+r.ID:
			t.Errorf("%s read as %q (%v)", r.ID, values[r.ID], failed[r.ID])
		}
	}
	got := calls.Take()
	if got["Secrets Manager.BatchGetSecretValue"] != 2 || got["Secrets Manager.GetSecretValue"] != 3 {
		t.Errorf("calls %v, want 2 BatchGetSecretValue and 3 GetSecretValue (the pending version, the deleted and the missing secret)", got)
	}
}
