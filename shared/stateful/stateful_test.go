// Package stateful_test is the stateful test of the whole service: rapid
// generates sequences of actions (every route, the health run, the
// stream's events, the provider refusing keys), runs each through the HTTP
// handler on the in-process storage and on moto in lockstep, and holds
// every answer to the other storage's (IDs and times normalized) and to a
// model of plain maps. A failing sequence is shrunk, printed as the HTTP
// calls it made, and kept under testdata/rapid, which every later run
// replays first.
package stateful_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/acme/backup-credentials/shared/health"
	"github.com/acme/backup-credentials/shared/testkit"
)

var moto *testkit.Server

// lockstep is how many of a run's sequences also run on moto, in lockstep
// with the in-process storage, out of rapid's checks: moto answers about
// 300 calls a second here, the in-process storage some 3,000.
var lockstep = flag.Int("stateful.lockstep", 80, "sequences that run on both storages, in lockstep")

// TestMain starts moto for the package. make test runs 200 sequences of
// 30 actions on average on the in-process storage, and 80 on both
// storages in lockstep (rapid's -rapid.checks and -rapid.steps, or
// RAPID_CHECKS and RAPID_STEPS, and -stateful.lockstep say otherwise);
// SOAK_MINUTES makes it run for that long instead.
func TestMain(m *testing.M) {
	flag.Parse()
	given := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if !given["rapid.checks"] && os.Getenv("RAPID_CHECKS") == "" {
		_ = flag.Set("rapid.checks", "200")
	}
	if !given["rapid.shrinktime"] && os.Getenv("RAPID_SHRINKTIME") == "" {
		_ = flag.Set("rapid.shrinktime", "3m") // a sequence on moto takes a second to replay
	}
	health.MetricsOut = io.Discard
	testkit.RunWithServer(m, &moto)
}

// stats counts what the sequences did, per storage.
type stats struct {
	mu        sync.Mutex
	sequences int
	steps     int
	calls     map[string]int
	spent     map[string]time.Duration
	answers   map[string]int
}

func (s *stats) add(w *world) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sequences++
	s.steps += w.steps
	for k, n := range w.answers {
		s.answers[k] += n
	}
	for _, st := range w.st {
		s.calls[st.name] += st.calls
		s.spent[st.name] += st.spent
	}
}

func (s *stats) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := fmt.Sprintf("%d sequences, %d steps (%.1f a sequence)", s.sequences, s.steps, float64(s.steps)/float64(max(s.sequences, 1)))
	for _, name := range sortedKeys(s.calls) {
		secs := s.spent[name].Seconds()
		out += fmt.Sprintf("; %s: %d HTTP calls in %.1f s, %.0f calls/s, %.0f steps/s", name, s.calls[name], secs,
			float64(s.calls[name])/secs, float64(s.steps)/secs)
	}
	return out
}

// TestStateful runs generated sequences against the model: on the
// in-process storage alone, then on it and moto in lockstep, where every
// answer of one must be the other's.
func TestStateful(t *testing.T) {
	soak, _ := strconv.ParseFloat(os.Getenv("SOAK_MINUTES"), 64)
	for _, run := range []struct {
		name  string
		kinds []string
	}{{"local", []string{"local"}}, {"lockstep", []string{"local", "moto"}}} {
		t.Run(run.name, func(t *testing.T) {
			if run.name == "lockstep" {
				checks := flag.Lookup("rapid.checks").Value.String()
				defer func() { _ = flag.Set("rapid.checks", checks) }()
				_ = flag.Set("rapid.checks", strconv.Itoa(*lockstep))
			}
			st := &stats{calls: map[string]int{}, spent: map[string]time.Duration{}, answers: map[string]int{}}
			began := time.Now()
			for {
				rapid.Check(t, func(rt *rapid.T) { sequence(rt, st, run.kinds) })
				if soak == 0 || time.Since(began) > time.Duration(soak*float64(time.Minute)/2) {
					break
				}
			}
			t.Logf("%s in %.0f s", st, time.Since(began).Seconds())
			for _, k := range sortedKeys(st.answers) {
				t.Logf("%6d %s", st.answers[k], k)
			}
			fmt.Printf("stateful %s: %s in %.0f s\n", run.name, st, time.Since(began).Seconds())
		})
	}
}

// sequence is one generated sequence: fresh storage of each kind, a model,
// the actions, and everything checked at the end.
func sequence(t *rapid.T, st *stats, kinds []string) {
	ctx := context.Background()
	p := &provider{revoked: map[string]bool{}}
	w := &world{t: t, ctx: ctx, m: newModel(), p: p, answers: map[string]int{}}
	n := seq.Add(1)
	w.secrets = []string{fmt.Sprintf("sEcReT/%d+a", n), fmt.Sprintf("sEcReT/%d+b", n), fmt.Sprintf("sEcReT/%d+c", n), fmt.Sprintf("wrong-%d", n)}
	for _, kind := range kinds {
		s, err := newStorage(ctx, kind, p)
		if err != nil {
			t.Fatalf("%s storage: %v", kind, err)
		}
		w.st = append(w.st, s)
	}
	actions := map[string]func(*rapid.T){
		"":              w.Invariants,
		"create":        w.Create,
		"create again":  w.Create,
		"create more":   w.Create,
		"get":           w.Get,
		"update":        w.Update,
		"update again":  w.Update,
		"update more":   w.Update,
		"lock":          w.Lock,
		"lock again":    w.Lock,
		"make-default":  w.MakeDefault,
		"associate":     w.Associate,
		"associate too": w.Associate,
		"dissociate":    w.Dissociate,
		"delete":        w.Delete,
		"check":         w.Check,
		"validate":      w.Validate,
		"history":       w.History,
		"list":          w.List,
		"organizations": w.Organizations,
		"backup-target": w.BackupTarget,
		"health run":    w.HealthRun,
		"drain":         w.Drain,
		"revoke":        w.Revoke,
	}
	defer w.keepIfFailing(kinds)
	t.Repeat(actions)
	w.Everything()
	st.add(w)
}

// testCA is a CA certificate, made for the sequences.
var testCA = func() string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sequence CA"}, IsCA: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}()
