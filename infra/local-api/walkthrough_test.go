package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acme/backup-credentials/shared/testkit"
)

// TestREADMEWalkthrough runs the README's walk-through, as written, against
// the built local API on another port than the default (3917, as the README
// says, unless something else holds it), and checks every status it prints.
// The text is not rewritten: PORT reaches it through the environment, as it
// would reach a reader's shell.
func TestREADMEWalkthrough(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- walkthrough:start -->\n```bash\n(.*?)```\n<!-- walkthrough:end -->").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README has no walk-through block")
	}
	bin := filepath.Join(t.TempDir(), "local-api")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	if block := string(m[1]); strings.Count(block, "3000") != 1 || !strings.Contains(block, "${PORT:-3000}") {
		t.Fatalf("the walk-through names port 3000 outside ${PORT:-3000}, so it would not follow PORT")
	}
	port, logs := startBuilt(t, bin)
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", string(m[1]))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("walk-through failed: %v\n%s", err, out)
	}
	var statuses []string
	for _, line := range strings.Split(string(out), "\n") {
		if regexp.MustCompile(`^\d{3}$`).MatchString(line) {
			statuses = append(statuses, line)
		}
	}
	want := []string{"422", "201", "200", "200", "200", "409", "200", "200", "204"}
	if !slices.Equal(statuses, want) {
		t.Errorf("statuses %v, want %v\n%s", statuses, want, out)
	}
	if strings.Contains(string(out), "local-demo-secret") {
		t.Errorf("the secret key appears in an answer:\n%s", out)
	}
	expectEventsLogged(t, logs)
}

// startBuilt starts the built local API on 3917, or on a free port when
// something holds 3917, waits until it answers, and returns the port and
// its log.
func startBuilt(t *testing.T, bin string) (int, *testkit.SyncBuffer) {
	port := 3917
	if l, err := net.Listen("tcp", "127.0.0.1:3917"); err == nil {
		l.Close()
	} else {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port = l.Addr().(*net.TCPAddr).Port
		l.Close()
		t.Logf("port 3917 is taken; running on %d", port)
	}
	srv := exec.Command(bin)
	srv.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port))
	logs := &testkit.SyncBuffer{}
	srv.Stderr = io.MultiWriter(os.Stderr, logs)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	for i := 0; ; i++ {
		if resp, err := http.Get(base + "/v1/organizations"); err == nil {
			resp.Body.Close()
			break
		}
		if i > 100 {
			t.Fatal("local API did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return port, logs
}

// expectEventsLogged: each change is logged as the event it would publish,
// from the in-process table's stream, which is drained four times a
// second; the secret key is not in the log.
func expectEventsLogged(t *testing.T, logs *testkit.SyncBuffer) {
	var events []string
	for range 40 {
		events = regexp.MustCompile(`detailType="([^"]+)"`).FindAllString(logs.String(), -1)
		if slices.Contains(events, `detailType="Backup Credential Deleted"`) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, want := range []string{"Created", "Locked", "Unlocked", "Deleted"} {
		if !slices.Contains(events, `detailType="Backup Credential `+want+`"`) {
			t.Errorf("no %s event logged; logged %v", want, events)
		}
	}
	if strings.Contains(logs.String(), "local-demo-secret") {
		t.Error("the secret key appears in the local API's log")
	}
}
