// Package health is the scheduled half of the health pass: it scans every
// stored credential from where the last run stopped, queues their IDs for
// the checkers (package checker) in messages of up to 20 that share an
// endpoint host, keeps the pass's progress in an item, sweeps orphaned
// secrets when the scan is done, and stops in time for the Lambda deadline,
// leaving a cursor for the next run. It never calls a provider: what it
// links is the table, the queue and the vault's listing.
package health

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/acme/backup-credentials/shared/awstime"
	"github.com/acme/backup-credentials/shared/backup"
)

// MaxIDs is how many credential IDs one message carries.
const MaxIDs = 20

// A Message asks a checker to check credentials: their IDs, the pass it
// belongs to, which attempt this is (2: the first found the endpoint
// unreachable), how often it was put back because its host was busy, and
// its ticket in that host's line.
type Message struct {
	Pass      string   `json:"pass"`
	IDs       []string `json:"ids"`
	Attempt   int      `json:"attempt"`
	Deferrals int      `json:"deferrals,omitempty"`
	Ticket    int64    `json:"ticket,omitempty"`
}

// Outgoing is a message to send, visible to the checkers after Delay.
type Outgoing struct {
	Message Message
	Delay   time.Duration
}

// Queue carries messages from the scanner to the checkers and back.
type Queue interface {
	Send(ctx context.Context, ms []Outgoing) error
}

// HostOf is the host a credential's checks go to: its endpoint's host name
// and port (when it names one), or for a role, the region's STS.
func HostOf(c *backup.Credential) string {
	if c.IsRole() {
		return "sts." + c.Region + ".amazonaws.com"
	}
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		return c.Endpoint
	}
	return strings.ToLower(u.Host)
}

// RefusedRecheck is how long a credential whose keys the provider refused
// waits for its next scheduled check: it cannot recover by itself, and a
// refused AssumeRole each hour fills the customer's CloudTrail with
// denials. A change of its keys, endpoint, region or role checks it at
// once, and so does "check now".
const RefusedRecheck = 24 * time.Hour

// due reports whether the schedule checks c now.
func due(c *backup.Credential, now time.Time) bool {
	h := c.Health
	return h.Status != backup.HealthInvalid || h.CheckedAt == nil || now.Sub(*h.CheckedAt) >= RefusedRecheck
}

// Store is the part of the credential store the scanner uses.
type Store interface {
	ScanCredentials(ctx context.Context, after string, limit int) ([]*backup.Credential, string, error)
	CredentialsExist(ctx context.Context, ids []string) (map[string]bool, error)
	HealthCursor(ctx context.Context) (string, error)
	SaveHealthCursor(ctx context.Context, position string) error
	StartHealthPass(ctx context.Context, pass string, at time.Time) error
	AddHealthProgress(ctx context.Context, pass string, counts map[string]int, scannedAt *time.Time) error
	HealthPass(ctx context.Context) (*backup.HealthPass, error)
}

// Secrets is the part of the secret store the orphan sweep uses.
type Secrets interface {
	ListSecrets(ctx context.Context, fn func(backup.StoredSecret) error) error
	DeleteSecret(ctx context.Context, id string) error
}

// Scanner is the scheduled function's work.
type Scanner struct {
	Store   Store
	Queue   Queue
	Secrets Secrets // nil: no orphan sweep
	Logger  *slog.Logger
	// PageSize is how many credentials one scan reads; Window how many
	// are queued between two saves of the cursor.
	PageSize, Window int
	// Margin is how long before the deadline a run stops scanning.
	Margin time.Duration
	// OrphanAge is how old a secret without a credential must be before the
	// sweep deletes it, so an in-flight create is left alone.
	OrphanAge time.Duration
	Now       func() time.Time
}

// Summary is what one scan run did.
type Summary struct {
	Pass                    string
	Enqueued, Skipped, Sent int // credentials queued and skipped; messages sent
	Complete                bool
	OrphansDeleted          int
	SweepRefused            bool
	Duration, AWS           time.Duration
	AWSCalls                int
}

func (r *Scanner) defaults() {
	if r.PageSize <= 0 {
		r.PageSize = 100
	}
	if r.Window <= 0 {
		r.Window = 2000
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

// Run queues credentials from where the last run stopped until the table is
// done or ctx's deadline minus Margin, then sweeps orphans if time is left.
// The cursor moves only past credentials whose messages were sent, so a run
// that dies loses nothing; one that dies after sending and before saving
// queues some twice, which the checkers' conditional writes make harmless.
func (r *Scanner) Run(ctx context.Context) (Summary, error) {
	r.defaults()
	began := time.Now()
	ctx, clock := awstime.Start(ctx)
	sum, err := r.scan(ctx)
	if err == nil && sum.Complete && r.timeLeft(ctx) && r.Secrets != nil {
		n, refused, err := r.sweep(ctx)
		sum.OrphansDeleted, sum.SweepRefused = n, refused
		if err != nil {
			r.Logger.ErrorContext(ctx, "orphan sweep", "error", err)
		}
	}
	sum.Duration = time.Since(began)
	sum.AWS, sum.AWSCalls = clock.Spent()
	r.report(ctx, sum)
	return sum, err
}

func (r *Scanner) timeLeft(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ctx.Err() == nil && (!ok || r.Now().Before(d.Add(-r.Margin)))
}

// pass returns the pass a run at position belongs to, starting one at the
// start of the table.
func (r *Scanner) pass(ctx context.Context, position string) (string, error) {
	if position != "" {
		p, err := r.Store.HealthPass(ctx)
		if err != nil {
			return "", err
		}
		if p != nil {
			return p.ID, nil
		}
	}
	at := r.Now().UTC()
	id := at.Format(time.RFC3339Nano)
	return id, r.Store.StartHealthPass(ctx, id, at)
}

func (r *Scanner) scan(ctx context.Context) (Summary, error) {
	var sum Summary
	position, err := r.Store.HealthCursor(ctx)
	if err != nil {
		return sum, err
	}
	if sum.Pass, err = r.pass(ctx, position); err != nil {
		return sum, err
	}
	for r.timeLeft(ctx) {
		w := packer{pass: sum.Pass}
		next, err := r.window(ctx, position, &w)
		if err != nil {
			return sum, err
		}
		if err := r.Queue.Send(ctx, w.out); err != nil {
			return sum, fmt.Errorf("queue health checks: %w", err)
		}
		sum.Enqueued, sum.Skipped, sum.Sent = sum.Enqueued+w.ids, sum.Skipped+w.skipped, sum.Sent+len(w.out)
		var scanned *time.Time
		if next == "" {
			at := r.Now()
			scanned = &at
		}
		counts := map[string]int{backup.PassEnqueued: w.ids, backup.PassSkipped: w.skipped}
		if err := r.Store.AddHealthProgress(ctx, sum.Pass, counts, scanned); err != nil {
			r.Logger.ErrorContext(ctx, "record health progress", "error", err)
		}
		if next != position {
			if err := r.Store.SaveHealthCursor(context.WithoutCancel(ctx), next); err != nil {
				return sum, err
			}
		}
		if position = next; next == "" {
			sum.Complete = true
			break
		}
	}
	return sum, nil
}

// window scans up to Window credentials from position into w and returns
// where the next window starts ("" when the table is done).
func (r *Scanner) window(ctx context.Context, position string, w *packer) (string, error) {
	now := r.Now()
	for scanned := 0; scanned < r.Window; {
		cs, next, err := r.Store.ScanCredentials(ctx, position, r.PageSize)
		if err != nil {
			return "", fmt.Errorf("scan credentials from %q: %w", position, err)
		}
		for _, c := range cs {
			w.add(c, now)
		}
		scanned += len(cs)
		if position = next; next == "" {
			break
		}
	}
	w.flush()
	return position, nil
}

// packer packs one window's credential IDs into messages by host, so that
// one message's checks share a host's slots.
type packer struct {
	pass         string
	byHost       map[string][]string
	out          []Outgoing
	ids, skipped int
}

func (p *packer) add(c *backup.Credential, now time.Time) {
	if !due(c, now) {
		p.skipped++
		return
	}
	if p.byHost == nil {
		p.byHost = map[string][]string{}
	}
	h := HostOf(c)
	p.byHost[h] = append(p.byHost[h], c.ID)
	p.ids++
	if len(p.byHost[h]) == MaxIDs {
		p.emit(h)
	}
}

func (p *packer) emit(h string) {
	p.out = append(p.out, Outgoing{Message: Message{Pass: p.pass, IDs: p.byHost[h], Attempt: 1}})
	delete(p.byHost, h)
}

func (p *packer) flush() {
	for h := range p.byHost {
		p.emit(h)
	}
}
