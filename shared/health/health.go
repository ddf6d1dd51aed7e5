// Package health provides the scheduled re-check of every stored credential:
// it walks the table page by page, checks each credential's keys with bounded
// concurrency and a cap per endpoint host, records the result (the table's
// stream announces status changes), sweeps orphaned secrets, and stops in
// time for the Lambda deadline, leaving a cursor for the next run.
package health

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/acme/backup-credentials/shared/awstime"
	"github.com/acme/backup-credentials/shared/backup"
)

// Store is the part of the credential store a run uses.
type Store interface {
	ScanCredentials(ctx context.Context, after string, limit int) ([]*backup.Credential, string, error)
	RecordHealth(ctx context.Context, checked *backup.Credential, h backup.Health) (*backup.Credential, error)
	CredentialsExist(ctx context.Context, ids []string) (map[string]bool, error)
	HealthCursor(ctx context.Context) (string, error)
	SaveHealthCursor(ctx context.Context, position string) error
}

// Secrets is the part of the secret store the orphan sweep uses.
type Secrets interface {
	ListSecrets(ctx context.Context, fn func(backup.StoredSecret) error) error
	DeleteSecret(ctx context.Context, id string) error
}

// Runner runs health checks.
type Runner struct {
	Store   Store
	Secrets Secrets
	// Service checks one credential (its CheckHealth reads the secret).
	Service *backup.Service
	Logger  *slog.Logger
	// Concurrency bounds the checks in flight; PerHost bounds them per
	// endpoint address (the address its host resolves to, so that names
	// made up under a wildcard DNS record share one cap).
	Concurrency, PerHost int
	// Resolver looks endpoint hosts up for the per-host cap; nil means
	// net.DefaultResolver.
	Resolver interface {
		LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	}
	// PageSize is how many credentials one scan reads.
	PageSize int
	// Margin is how long before the deadline a run stops starting checks.
	Margin time.Duration
	// OrphanAge is how old a secret without a credential must be before the
	// sweep deletes it, so an in-flight create is left alone.
	OrphanAge time.Duration
	Now       func() time.Time
}

// Summary is what one run did.
type Summary struct {
	Checked, Healthy, Invalid, Unreachable, Failed int
	Changed, OrphansDeleted                        int
	// RotationDue counts credentials whose keys were found due for
	// rotation for the first time.
	RotationDue int
	Complete    bool
	// SweepRefused is set when the orphan sweep deleted nothing because too
	// many secrets looked orphaned.
	SweepRefused bool
	Duration     time.Duration
	// AWS is the time during which at least one of its AWS and provider
	// calls was in flight (concurrent calls count once).
	AWS      time.Duration
	AWSCalls int
}

func (r *Runner) defaults() {
	if r.Concurrency <= 0 {
		r.Concurrency = 32
	}
	if r.PerHost <= 0 {
		r.PerHost = 8
	}
	if r.PageSize <= 0 {
		r.PageSize = 100
	}
	if r.Resolver == nil {
		r.Resolver = net.DefaultResolver
	}
	if r.OrphanAge <= 0 {
		r.OrphanAge = time.Hour
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	if r.Now == nil {
		r.Now = time.Now
	}
}

// page is one scanned page in flight: where it started, how many of its
// checks are still running, and whether any was skipped for lack of time.
type page struct {
	start   string
	pending sync.WaitGroup
	skipped atomic.Bool
}

// lookahead is how many pages may be in flight at once: enough that one slow
// host does not starve the others, few enough that memory stays flat.
const lookahead = 4

// Run checks credentials from where the last run stopped until the table is
// done or ctx's deadline minus Margin, then sweeps orphans if time is left.
func (r *Runner) Run(ctx context.Context) (Summary, error) {
	r.defaults()
	began := time.Now()
	ctx, clock := awstime.Start(ctx)
	var sum Summary
	stopAt := time.Time{}
	if d, ok := ctx.Deadline(); ok {
		stopAt = d.Add(-r.Margin)
	}
	timeLeft := func() bool { return ctx.Err() == nil && (stopAt.IsZero() || r.Now().Before(stopAt)) }

	position, err := r.Store.HealthCursor(ctx)
	if err != nil {
		return sum, err
	}
	// saved is the position the table holds: the cursor is written only
	// when it moves, so a run that starts and ends at the start of the
	// table (every run, where the credentials fit in one run) writes none.
	saved := position
	save := func(at string) error {
		if at == saved {
			return nil
		}
		if err := r.Store.SaveHealthCursor(context.WithoutCancel(ctx), at); err != nil {
			return err
		}
		saved = at
		return nil
	}
	var (
		mu     sync.Mutex
		slots  = make(chan struct{}, r.Concurrency)
		hosts  = map[string]chan struct{}{}
		keys   = map[string]string{} // host name -> the address it caps under
		pages  []*page
		resume *string // start of the earliest page with a skipped check
	)
	hostSlot := func(endpoint string) chan struct{} {
		host := hostOf(endpoint)
		mu.Lock()
		key, known := keys[host]
		mu.Unlock()
		if !known {
			key = r.addressOf(ctx, host) // once per host and run
		}
		mu.Lock()
		defer mu.Unlock()
		keys[host] = key
		if hosts[key] == nil {
			hosts[key] = make(chan struct{}, r.PerHost)
		}
		return hosts[key]
	}
	settle := func(p *page) {
		p.pending.Wait()
		if p.skipped.Load() && resume == nil {
			resume = &p.start
		}
	}
	// checkpoint saves where the next run starts if this one dies now: the
	// earliest page not finished.
	checkpoint := func(at string) {
		if resume != nil {
			at = *resume
		}
		if err := save(at); err != nil {
			r.Logger.ErrorContext(ctx, "save health cursor", "error", err)
		}
	}
	done := false
	var scanErr error
	for !done && timeLeft() {
		cs, next, err := r.Store.ScanCredentials(ctx, position, r.PageSize)
		if err != nil {
			// Finish what is in flight, record where to go on, then fail.
			scanErr = fmt.Errorf("scan credentials from %q: %w", position, err)
			break
		}
		p := &page{start: position}
		pages = append(pages, p)
		for _, c := range cs {
			p.pending.Add(1)
			// A check waits for its host's slot before it takes one of the
			// run's, so checks queued behind a slow host hold no run slot.
			go func() {
				defer p.pending.Done()
				host := hostSlot(c.Endpoint)
				host <- struct{}{}
				defer func() { <-host }()
				slots <- struct{}{}
				defer func() { <-slots }()
				if !timeLeft() {
					p.skipped.Store(true)
					return
				}
				changed, due, status, err := r.checkOne(ctx, c)
				if err != nil && ctx.Err() != nil {
					// Cut short by the deadline: checked again next run.
					p.skipped.Store(true)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				sum.count(status, err)
				if err != nil {
					r.Logger.ErrorContext(ctx, "health check", "credentialId", c.ID, "error", err)
				}
				if changed {
					sum.Changed++
				}
				if due {
					sum.RotationDue++
				}
			}()
		}
		position, done = next, next == ""
		if len(pages) >= lookahead {
			settle(pages[0])
			pages = pages[1:]
			checkpoint(pages[0].start)
		}
	}
	for _, p := range pages {
		settle(p)
	}
	if resume != nil {
		position, done = *resume, false
	}
	sum.Complete = done && scanErr == nil
	if err := save(position); err != nil {
		return sum, err
	}
	if scanErr != nil {
		sum.Duration = time.Since(began)
		sum.AWS, sum.AWSCalls = clock.Spent()
		r.report(ctx, sum)
		return sum, scanErr
	}
	if sum.Complete && timeLeft() && r.Secrets != nil {
		n, refused, err := r.sweep(ctx)
		sum.OrphansDeleted, sum.SweepRefused = n, refused
		if err != nil {
			r.Logger.ErrorContext(ctx, "orphan sweep", "error", err)
		}
	}
	sum.Duration = time.Since(began)
	sum.AWS, sum.AWSCalls = clock.Spent()
	r.report(ctx, sum)
	return sum, nil
}

// addressOf returns the address a host's checks are capped under: the
// host's lowest address, or the name itself when it does not resolve (the
// check will say so).
func (r *Runner) addressOf(ctx context.Context, host string) string {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return a.Unmap().String()
	}
	lookup, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	addrs, err := r.Resolver.LookupNetIP(lookup, "ip", host)
	if err != nil || len(addrs) == 0 {
		return host
	}
	lowest := addrs[0].Unmap()
	for _, a := range addrs[1:] {
		if a.Unmap().Less(lowest) {
			lowest = a.Unmap()
		}
	}
	return lowest.String()
}

func hostOf(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return endpoint
	}
	return strings.ToLower(u.Hostname())
}

func (s *Summary) count(status string, err error) {
	if err != nil {
		s.Failed++
		return
	}
	s.Checked++
	switch status {
	case backup.HealthHealthy:
		s.Healthy++
	case backup.HealthInvalid:
		s.Invalid++
	case backup.HealthUnreachable:
		s.Unreachable++
	}
}

// checkOne checks and records one credential, and reports whether its status
// changed by this result and whether its keys were found due for rotation
// (the table's stream announces both).
func (r *Runner) checkOne(ctx context.Context, c *backup.Credential) (changed, due bool, status string, err error) {
	if due, err = r.Service.AnnounceRotation(ctx, c); err != nil {
		return false, false, "", err
	}
	if due {
		r.Logger.InfoContext(ctx, "keys due for rotation", "credentialId", c.ID, "keysChangedAt", c.KeysChangedAt)
	}
	h, err := r.Service.CheckHealth(ctx, c)
	if err != nil {
		return false, due, "", fmt.Errorf("check %s: %w", c.ID, err)
	}
	got, err := r.Store.RecordHealth(ctx, c, h)
	if backup.ErrorCode(err) == backup.ENotFound {
		return false, due, h.Status, nil // deleted during the run: not re-created
	}
	if err != nil {
		return false, due, "", fmt.Errorf("record health of %s: %w", c.ID, err)
	}
	recorded := got.Health.CheckedAt != nil && h.CheckedAt != nil && got.Health.CheckedAt.Equal(*h.CheckedAt) && got.Health.Status == h.Status
	if !recorded || c.Health.Status == h.Status {
		return false, due, h.Status, nil
	}
	return true, due, h.Status, nil
}

// sweep deletes secrets older than OrphanAge whose credential is gone.
func (r *Runner) sweep(ctx context.Context) (deleted int, refused bool, err error) {
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
