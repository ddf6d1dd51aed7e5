package checker

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/acme/backup-credentials/shared/backup"
)

// host checks one host's jobs with as many of its slots as it gets. Once a
// check finds the host unreachable, it is backed off: the first attempts of
// its checks come back after the backoff, and the second attempts record
// it unreachable without a connection.
func (r *run) host(ctx context.Context, host string, jobs []job) {
	k := r.k
	now := k.Now()
	slots, err := k.Slots.AcquireHostSlots(ctx, backup.SlotRequest{Host: host, Want: len(jobs), Join: unticketed(jobs),
		Limit: k.PerHost, Now: now, Expires: r.deadline})
	if err == nil && slots.BackedOffUntil.After(now) {
		// A check found the host unreachable less than a backoff ago: first
		// attempts come back after it; second attempts, whose first was a
		// minute or more ago, record it unreachable without a connection.
		d := &down{until: slots.BackedOffUntil, message: "The endpoint did not answer checks a minute apart; it is tried again after " +
			slots.BackedOffUntil.UTC().Format(time.RFC3339) + "."}
		for _, j := range jobs {
			r.whileDown(ctx, j, d)
		}
		return
	}
	if err != nil {
		k.Logger.ErrorContext(ctx, "take host slots", "host", host, "error", err)
		for _, j := range jobs {
			r.fail(j)
		}
		return
	}
	if slots.Got == 0 {
		r.inLine(jobs, slots)
		return
	}
	r.check(ctx, host, jobs, slots)
}

// unticketed counts the jobs without a ticket in their host's line.
func unticketed(jobs []job) int {
	n := 0
	for _, j := range jobs {
		if j.ticket == 0 {
			n++
		}
	}
	return n
}

// inLine puts back a busy host's jobs until their turn in its line (the
// jobs without a ticket share the one they just took), or a moment when it
// has come, or a while when the line cannot say yet (no check of the host
// was answered: one that does not answer is backed off, so this does not
// last).
func (r *run) inLine(jobs []job, slots backup.HostSlots) {
	for _, j := range jobs {
		j.defers++
		if j.ticket == 0 {
			j.ticket = slots.Ticket
		}
		wait := slots.Wait(j.ticket, r.k.PerHost)
		switch {
		case slots.Each == 0:
			r.putOff(j, r.k.busyDelay(j.defers))
		case wait < r.k.DeferBase/5:
			r.putOff(j, r.k.dueDelay(j.defers)) // its turn has come: a slot is free soon
		default:
			r.putOff(j, wait)
		}
	}
}

// check runs a host's jobs on the slots taken, one worker per slot, and
// each worker gives its slot back as soon as no job is left for it, so that
// one slow last check does not hold the others idle.
func (r *run) check(ctx context.Context, host string, jobs []job, slots backup.HostSlots) {
	secrets, missing, bad := r.secrets(ctx, jobs)
	var d down
	next := make(chan job, len(jobs))
	for _, j := range jobs {
		if !bad[j.c.ID] {
			next <- j
		}
	}
	close(next)
	var wg sync.WaitGroup
	for slot := range slots.Got {
		wg.Go(func() {
			done := backup.SlotRelease{Host: host, Lease: slots.Lease, Slot: slot}
			for j := range next {
				start := time.Now()
				done.Served++
				if r.work(ctx, host, j, secrets[j.c.ID], !missing[j.c.ID], &d) {
					done.Answered, done.Busy = done.Answered+1, done.Busy+time.Since(start)
				}
			}
			if err := r.k.Slots.ReleaseHostSlot(context.WithoutCancel(ctx), done); err != nil {
				r.k.Logger.ErrorContext(ctx, "release host slot", "host", host, "error", err)
			}
		})
	}
	wg.Wait()
}

// down is what an invocation knows of a host that did not answer.
type down struct {
	seen    atomic.Bool
	until   time.Time
	mu      sync.Mutex
	message string
}

// note records what a check that found the host unreachable said, and
// reports whether it is the first of the invocation to.
func (d *down) note(message string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.message = message
	return !d.seen.Swap(true)
}

// unreachable notes a check that found host unreachable; the first backs
// the host off at once, so that every checker leaves it alone.
func (r *run) unreachable(ctx context.Context, host string, d *down, message string) {
	if !d.note(message) {
		return
	}
	if err := r.k.Slots.BackOffHost(context.WithoutCancel(ctx), host, r.k.Now().Add(r.k.Backoff)); err != nil {
		r.k.Logger.ErrorContext(ctx, "back off host", "host", host, "error", err)
	}
}

// whileDown settles a job of a host known not to answer without trying it.
func (r *run) whileDown(ctx context.Context, j job, d *down) {
	if j.attempt == 1 {
		j.attempt = 2
		r.putOff(j, max(r.k.RetryDelay, d.until.Sub(r.k.Now())+r.k.Backoff/60)) // just after the backoff
		return
	}
	d.mu.Lock()
	msg := d.message
	d.mu.Unlock()
	at := r.k.Now().UTC().Truncate(time.Second) // as the service's checks, and the table, keep it
	r.record(ctx, j, backup.Health{Status: backup.HealthUnreachable, Message: msg, CheckedAt: &at})
}

// work checks one job unless time is short or its host stopped answering,
// and reports whether the host answered: only answers count towards how
// long the host's checks take (its line), as one that does not answer is
// backed off, not waited for.
func (r *run) work(ctx context.Context, host string, j job, secret string, found bool, d *down) bool {
	if !r.timeLeft(ctx) {
		r.putOff(j, 0)
		return false
	}
	if d.seen.Load() {
		r.whileDown(ctx, j, d)
		return false
	}
	r.sem <- struct{}{}
	h, err := r.k.Service.CheckHealthWith(ctx, j.c, secret, found)
	<-r.sem
	answered := err == nil && h.Status != backup.HealthUnreachable
	switch {
	case err != nil:
		r.k.Logger.ErrorContext(ctx, "health check", "credentialId", j.c.ID, "error", err)
		r.fail(j)
	case h.Status == backup.HealthUnreachable && j.attempt == 1 && j.c.Health.Status != backup.HealthUnreachable:
		r.unreachable(ctx, host, d, h.Message)
		j.attempt = 2
		r.putOff(j, max(r.k.RetryDelay, r.k.Backoff+r.k.Backoff/60)) // just after the backoff this sets
	default:
		if h.Status == backup.HealthUnreachable {
			r.unreachable(ctx, host, d, h.Message)
		}
		r.record(ctx, j, h)
	}
	return answered
}

// secrets reads the secret keys of a host's key credentials in batches. A
// secret gone is missing (the check records the credential invalid); a
// job whose secret could not be read is failed, and bad.
func (r *run) secrets(ctx context.Context, jobs []job) (values map[string]string, missing, bad map[string]bool) {
	var refs []backup.SecretRef
	for _, j := range jobs {
		if !j.c.IsRole() {
			refs = append(refs, backup.SecretRef{ID: j.c.ID, Version: j.c.SecretVersion})
		}
	}
	missing, bad = map[string]bool{}, map[string]bool{}
	if len(refs) == 0 {
		return nil, missing, bad
	}
	values, errs, err := r.k.Secrets.GetSecrets(ctx, refs)
	for _, j := range jobs {
		e := errs[j.c.ID]
		if err != nil && !j.c.IsRole() {
			e = err
		}
		switch {
		case e == nil:
		case backup.ErrorCode(e) == backup.ENotFound:
			missing[j.c.ID] = true
		default:
			r.k.Logger.ErrorContext(ctx, "read secret", "credentialId", j.c.ID, "error", e)
			r.fail(j)
			bad[j.c.ID] = true
		}
	}
	return values, missing, bad
}

// addressOf returns the address (and port) a host's checks are capped
// under: the host's lowest address, so that names made up under a wildcard
// DNS record share one cap, or the name itself when it does not resolve
// (the check will say so). Ports are apart: two services of one machine
// answer, and stop answering, apart.
func (k *Checker) addressOf(ctx context.Context, hostport string) string {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, ""
	}
	if port == "" {
		return k.lowestAddress(ctx, host)
	}
	return net.JoinHostPort(k.lowestAddress(ctx, host), port)
}

func (k *Checker) lowestAddress(ctx context.Context, host string) string {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return a.Unmap().String()
	}
	lookup, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	addrs, err := k.Resolver.LookupNetIP(lookup, "ip", host)
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
