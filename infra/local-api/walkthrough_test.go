package main

import (
	"fmt"
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
)

// TestREADMEWalkthrough runs the README's walk-through, as written, against
// the built local API, and checks every status it prints.
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
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv := exec.Command(bin)
	srv.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port))
	srv.Stderr = os.Stderr
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
	script := strings.ReplaceAll(string(m[1]), "127.0.0.1:3000", fmt.Sprintf("127.0.0.1:%d", port))
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = root
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
}
