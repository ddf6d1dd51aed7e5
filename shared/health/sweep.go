package health

import (
	"context"

	"github.com/acme/backup-credentials/shared/backup"
)

// sweep deletes secrets older than OrphanAge whose credential is gone.
func (r *Scanner) sweep(ctx context.Context) (deleted int, refused bool, err error) {
	// First pass: which secrets look orphaned. Only a secret whose name is
	// the prefix and a credential ID, and whose tag names that same
	// credential, can be this service's; any other is left alone.
	var batch, orphans []string
	seen := 0
	flush := func() error {
		exist, err := r.Store.CredentialsExist(ctx, batch)
		if err != nil {
			return err
		}
		for _, id := range batch {
			if !exist[id] {
				orphans = append(orphans, id)
			}
		}
		batch = batch[:0]
		return nil
	}
	err = r.Secrets.ListSecrets(ctx, func(found backup.StoredSecret) error {
		seen++
		if !backup.ValidID(found.NameID) || found.TagID != found.NameID || r.Now().Sub(found.Created) < r.OrphanAge {
			return nil
		}
		if batch = append(batch, found.NameID); len(batch) == 100 {
			return flush()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	if err != nil {
		return 0, false, err
	}
	// A sweep that would delete a large part of the vault is not sweeping
	// orphans: the table is the wrong one, or was restored from an old
	// backup. Delete nothing and say so.
	if len(orphans) > 1 && len(orphans)*100 > seen*MaxOrphanPercent {
		r.Logger.ErrorContext(ctx, "orphan sweep refused: too many secrets look orphaned; check TABLE_NAME and SECRET_PREFIX",
			"orphans", len(orphans), "secrets", seen, "maxPercent", MaxOrphanPercent)
		return 0, true, nil
	}
	for _, id := range orphans {
		if err := r.Secrets.DeleteSecret(ctx, id); err != nil {
			return deleted, false, err
		}
		deleted++
	}
	return deleted, false, nil
}

// MaxOrphanPercent is the share of the vault's secrets above which the
// orphan sweep deletes nothing.
const MaxOrphanPercent = 5
