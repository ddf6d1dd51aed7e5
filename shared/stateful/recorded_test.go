package stateful_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/acme/backup-credentials/shared/backup"
)

// A failing sequence is kept as a regression test: the calls and jobs it
// made, with the answer the model wanted of each, in
// testdata/sequences/*.json. TestRecordedSequences replays every file on
// the storages it failed on, and holds each answer to the model's status
// and the storages to each other. (rapid's own fail files replay only up
// to the failure: once it is fixed, a sequence goes on past their end.)

var keep = flag.Bool("stateful.keep", true, "keep a failing sequence's calls under testdata/sequences")

// A step is one call of a sequence, or a job: "drain" the stream, a
// "health run", or "revoke" (the provider refuses Key, or accepts it
// again). Want is the status the model wanted; 0 for the call a sequence
// failed on before the model was asked (a 5xx), which must then be no
// 5xx.
type step struct {
	Job     string            `json:"job,omitempty"`
	Key     string            `json:"key,omitempty"`
	Revoked bool              `json:"revoked,omitempty"`
	Caller  string            `json:"caller,omitempty"`
	Method  string            `json:"method,omitempty"`
	Path    string            `json:"path,omitempty"`
	Body    string            `json:"body,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Want    int               `json:"want,omitempty"`
}

// A recording is a kept sequence.
type recording struct {
	Found   string   `json:"found"`
	Storage []string `json:"storage"`
	Steps   []step   `json:"steps"`
}

// keepIfFailing writes the sequence's trace when it fails: rapid's last
// failing run is its shrunk one, so the file left is the smallest.
func (w *world) keepIfFailing(kinds []string) {
	r := recover()
	if r == nil {
		return
	}
	if *keep {
		name := strings.ReplaceAll(w.t.Name(), "/", "_")
		out, _ := json.MarshalIndent(recording{Found: fmt.Sprint(r), Storage: kinds, Steps: w.trace}, "", "  ")
		_ = os.MkdirAll(filepath.Join("testdata", "sequences"), 0o755)
		_ = os.WriteFile(filepath.Join("testdata", "sequences", name+"-failing.json"), out, 0o644)
	}
	panic(r)
}

// TestRecordedSequences replays the kept sequences.
func TestRecordedSequences(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "sequences", "*.json"))
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var rec recording
			if err := json.Unmarshal(raw, &rec); err != nil {
				t.Fatal(err)
			}
			replay(t, rec)
		})
	}
}

func replay(t *testing.T, rec recording) {
	ctx := context.Background()
	p := &provider{revoked: map[string]bool{}}
	var sts []*storage
	for _, kind := range rec.Storage {
		st, err := newStorage(ctx, kind, p)
		if err != nil {
			t.Fatal(err)
		}
		sts = append(sts, st)
	}
	for i, s := range rec.Steps {
		switch s.Job {
		case "revoke":
			p.revoke(s.Key, s.Revoked)
		case "health run":
			for _, st := range sts {
				if sum, err := st.runner.Run(ctx); err != nil || !sum.Complete || sum.Checks.Failed != 0 {
					t.Fatalf("step %d: the health run on %s: %+v, %v", i, st.name, sum, err)
				}
			}
		case "drain":
			var first map[string][]string
			for j, st := range sts {
				evs, err := st.drain(ctx)
				if err != nil {
					t.Fatalf("step %d: draining %s: %v", i, st.name, err)
				}
				norm := st.events(evs)
				if j == 0 {
					first = norm
					continue
				}
				for _, a := range append(sortedKeys(first), sortedKeys(norm)...) {
					if !slices.Equal(first[a], norm[a]) {
						t.Fatalf("step %d: the storages' events of %s differ:\n %s: %v\n %s: %v", i, a, sts[0].name, first[a], st.name, norm[a])
					}
				}
			}
		default:
			var first response
			for j, st := range sts {
				r := st.serve(s.Caller, s.Method, s.Path, s.Body, s.Headers)
				if s.Want == 0 && r.status >= 500 && r.status != 502 {
					t.Fatalf("step %d: %s %s as %s on %s: %d %s", i, s.Method, s.Path, s.Caller, st.name, r.status, r.raw)
				}
				if s.Want != 0 && r.status != s.Want {
					t.Fatalf("step %d: %s %s as %s on %s: %d %s, want %d", i, s.Method, s.Path, s.Caller, st.name, r.status, r.raw, s.Want)
				}
				if j == 0 {
					first = r
				} else if r.norm != first.norm && !tiesOwnIDs(s.Path) {
					t.Fatalf("step %d: %s %s: the storages differ:\n %s\n %s", i, s.Method, s.Path, first.norm, r.norm)
				}
			}
		}
	}
}

// tiesOwnIDs reports whether a list's order depends on each storage's own
// IDs and times (a sort by creation, change or endpoint), so two storages
// may order it differently; the sequence test holds such lists to their
// order and to each other as sets (sortedPages).
func tiesOwnIDs(path string) bool {
	u, err := url.Parse(path)
	if err != nil || u.Path != "/v1/backup-credentials" {
		return false
	}
	order, ok := backup.ParseSort(u.Query().Get("sort"))
	return ok && order.Field != backup.SortName
}
