package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/acme/backup-credentials/shared/testkit"
)

// BuildFlags are the flags every bootstrap is built with, as in the Makefile,
// with build tags added to lambda.norpc.
func BuildFlags(tags ...string) []string {
	return []string{"-trimpath", "-ldflags", "-s -w", "-tags", strings.Join(append([]string{"lambda.norpc"}, tags...), ",")}
}

// Build builds functions/<name> (or any package dir) for the host into
// dir/<name>/bootstrap, with BuildFlags(tags...), and returns its path.
func Build(root, pkg, dir, name string, tags ...string) (string, error) {
	out := filepath.Join(dir, name, "bootstrap")
	args := append([]string{"build"}, BuildFlags(tags...)...)
	args = append(args, "-o", out, pkg)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %v\n%s", pkg, err, b)
	}
	return out, nil
}

// FindRIE returns the aws-lambda-rie binary: $RIE, build/tools, or PATH.
func FindRIE(root string) (string, error) {
	for _, p := range []string{os.Getenv("RIE"), filepath.Join(root, "build", "tools", "aws-lambda-rie")} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("aws-lambda-rie not found: run make tools")
}

// A Function is one bootstrap running under the emulator.
type Function struct {
	url  string
	cmd  *exec.Cmd
	logs *testkit.SyncBuffer
}

// freePorts returns two distinct ports free on 127.0.0.1 (both are held
// until both are chosen, so the second cannot be the first again).
var freePorts = func() (int, int, error) {
	var ports [2]int
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, err
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports[0], ports[1], nil
}

// errPortTaken is the emulator finding a port it was given taken.
var errPortTaken = errors.New("emulator port taken")

// Start runs bootstrap under the emulator with env added to this process's
// environment. The emulator's ports are chosen free, but another process can
// take one before the emulator binds it (outgoing connections draw their
// ports from the same range): Start then tries other ports, five times in
// all.
func Start(rie, bootstrap string, env []string) (*Function, error) {
	var err error
	for range 5 {
		var f *Function
		if f, err = start(rie, bootstrap, env); !errors.Is(err, errPortTaken) {
			return f, err
		}
	}
	return nil, err
}

func start(rie, bootstrap string, env []string) (*Function, error) {
	p1, p2, err := freePorts()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", p1),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", p2), bootstrap)
	cmd.Env = append(os.Environ(), env...)
	logs := &testkit.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", rie, err)
	}
	f := &Function{url: fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", p1), cmd: cmd, logs: logs}
	// Ready when both ports listen: the emulator binds one before the
	// other, so the invocation port alone may answer for an emulator that
	// is about to exit because the runtime API's port is taken.
	for i := 0; ; i++ {
		if listening(p1) && listening(p2) {
			return f, nil
		}
		if strings.Contains(logs.String(), "address already in use") {
			f.Stop()
			return nil, fmt.Errorf("%w: %s", errPortTaken, logs.String())
		}
		if i > 200 {
			f.Stop()
			return nil, fmt.Errorf("emulator did not listen: %s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// listening reports whether a port of 127.0.0.1 accepts connections.
func listening(port int) bool {
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err == nil {
		c.Close()
	}
	return err == nil
}

// Invoke sends one event and returns the function's answer.
func (f *Function) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", f.url, bytes.NewReader(event))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// Logs returns what the emulator and the function printed.
func (f *Function) Logs() string { return f.logs.String() }

var initPattern = regexp.MustCompile(`INIT REPORT\S* ?\(?durationMs: ?([0-9.]+)`)

// InitDurations returns every init duration in ms the emulator reported (its
// INIT REPORT line; the REPORT line's Init Duration is wrong).
func (f *Function) InitDurations() []float64 { return f.durations(initPattern) }

var invokePattern = regexp.MustCompile(`INVOKE RTDONE\(status: \w+, produced bytes: \d+, duration: ([0-9.]+)ms\)`)

// InvokeDurations returns each invoke's own duration in ms, from the
// runtime's start of the request to its answer (the emulator's INVOKE
// RTDONE line).
func (f *Function) InvokeDurations() []float64 { return f.durations(invokePattern) }

// durations reads the number each match of pattern captures in the logs.
func (f *Function) durations(pattern *regexp.Regexp) []float64 {
	var out []float64
	for _, m := range pattern.FindAllStringSubmatch(f.logs.String(), -1) {
		if v, err := strconv.ParseFloat(m[1], 64); err == nil {
			out = append(out, v)
		}
	}
	return out
}

// Stop ends the emulator and the function.
func (f *Function) Stop() {
	if f.cmd.Process != nil {
		_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
		_ = f.cmd.Wait()
	}
}

// Response is an API Gateway HTTP API (payload 2.0) answer.
type Response struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

// Event reads events/<name>.json, naming credential id instead of the
// placeholder and applying replacements (old, new pairs).
func Event(root, name, id string, replace ...string) ([]byte, error) {
	raw, err := os.ReadFile(filepath.Join(root, "events", name+".json"))
	if err != nil {
		return nil, err
	}
	s := strings.ReplaceAll(string(raw), "bc_00000000000000000000000000", id)
	for i := 0; i+1 < len(replace); i += 2 {
		s = strings.ReplaceAll(s, replace[i], replace[i+1])
	}
	return []byte(s), nil
}

// DecodeResponse reads an API answer.
func DecodeResponse(raw []byte) (Response, error) {
	var r Response
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("answer %q: %w", raw, err)
	}
	return r, nil
}
