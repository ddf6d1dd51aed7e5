//go:build e2e

package e2e

import (
	"context"
	"syscall"
	"testing"
)

// TestStartTriesOtherPortsWhenOneIsTaken: a port taken between its choice
// and the emulator binding it (here: taken all along) makes Start choose
// others, and the function answers.
func TestStartTriesOtherPortsWhenOneIsTaken(t *testing.T) {
	rie, err := FindRIE(root)
	if err != nil {
		t.Fatal(err)
	}
	bootstrap, err := Build(root, "./infra/bench/hello", t.TempDir(), "hello")
	if err != nil {
		t.Fatal(err)
	}
	// The port is bound, not listened on, as an outgoing connection's is.
	port := boundPort(t)
	choose := freePorts
	t.Cleanup(func() { freePorts = choose })
	for _, which := range []string{"invocations", "runtime API"} {
		t.Run(which, func(t *testing.T) {
			chosen := 0
			freePorts = func() (int, int, error) {
				chosen++
				p1, p2, err := choose()
				if chosen == 1 && which == "invocations" {
					p1 = port
				} else if chosen == 1 {
					p2 = port
				}
				return p1, p2, err
			}
			f, err := Start(rie, bootstrap, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Stop()
			if got, err := f.Invoke(context.Background(), []byte(`{}`)); err != nil || string(got) != `"hello"` {
				t.Fatalf("answer %s, %v", got, err)
			}
			if chosen != 2 {
				t.Errorf("ports chosen %d times, want 2", chosen)
			}
		})
	}
}

// boundPort binds a port of 127.0.0.1 without listening on it, until the
// test ends, and returns it.
func boundPort(t *testing.T) int {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return sa.(*syscall.SockaddrInet4).Port
}
