package provider

import (
	"net/netip"
	"testing"

	"github.com/acme/backup-credentials/shared/backup"
)

// These tests classify addresses; none of them connects anywhere.
func TestGuardRefusesInternalAddresses(t *testing.T) {
	g := Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.1.0.0/16")}}
	tests := []struct {
		addr    string
		refused bool
	}{
		{"127.0.0.1", false},
		{"127.0.0.2", true},
		{"::1", true},
		{"::ffff:127.0.0.2", true},
		{"::ffff:127.0.0.1", false},
		{"10.0.0.1", true},
		{"10.1.2.3", false},
		{"172.16.0.1", true},
		{"192.168.1.1", true},
		{"169.254.169.254", true},
		{"::ffff:169.254.169.254", true},
		{"100.64.0.1", true},
		{"0.0.0.0", true},
		{"::", true},
		{"224.0.0.1", true},
		{"ff02::1", true},
		{"fe80::1", true},
		{"fd00::1", true},
		{"64:ff9b::7f00:1", true},
		{"2002:7f00:1::", true},
		{"255.255.255.255", true},
		{"52.95.110.1", false},
		{"2600:1f18::1", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			got := g.why(netip.MustParseAddr(tt.addr), false) != ""
			if got != tt.refused {
				t.Errorf("refused = %v, want %v", got, tt.refused)
			}
		})
	}
}

func TestPlainHTTPOnlyForAllowList(t *testing.T) {
	g := Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	if why := g.why(netip.MustParseAddr("127.0.0.1"), true); why != "" {
		t.Errorf("allow-listed http refused: %s", why)
	}
	if why := g.why(netip.MustParseAddr("52.95.110.1"), true); why == "" {
		t.Error("plain http to a public address allowed")
	}
}

func TestLiteralIP(t *testing.T) {
	tests := []struct {
		host string
		want string
	}{
		{"127.0.0.2", "127.0.0.2"},
		{"2130706434", "127.0.0.2"},
		{"0x7f000002", "127.0.0.2"},
		{"0x7f.2", "127.0.0.2"},
		{"127.2", "127.0.0.2"},
		{"017700000002", "127.0.0.2"},
		{"0177.0.0.2", "127.0.0.2"},
		{"[::1]", "::1"},
		{"[::ffff:127.0.0.2]", "::ffff:127.0.0.2"},
		{"s3.example.com", ""},
		{"1.2.3.4.5", ""},
		{"4294967296", ""},
		{"256.1.1.1", ""},
	}
	for _, tt := range tests {
		a, ok := literalIP(tt.host)
		got := ""
		if ok {
			got = a.String()
		}
		if got != tt.want {
			t.Errorf("literalIP(%q) = %q, want %q", tt.host, got, tt.want)
		}
	}
}

// FuzzEndpointGuard holds the parser and the guard to one promise: an
// endpoint whose host is (in any spelling) an internal address is refused
// unless allowed, and nothing panics.
func FuzzEndpointGuard(f *testing.F) {
	for _, s := range []string{"https://s3.amazonaws.com", "http://2130706434", "http://[::ffff:127.0.0.2]:9000/x",
		"https://0x7f.1", "https://169.254.169.254/latest", "http://127.0.0.1:1/a/b", "https://[fe80::1%25eth0]/"} {
		f.Add(s)
	}
	g := Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	f.Fuzz(func(t *testing.T, endpoint string) {
		u, err := backup.ParseEndpoint(endpoint)
		if err != nil {
			return
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Hostname() == "" || u.RawQuery != "" || u.Fragment != "" {
			t.Fatalf("ParseEndpoint accepted %q", endpoint)
		}
		a, ok := literalIP(u.Hostname())
		if !ok {
			return
		}
		a = a.Unmap()
		internal := a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified()
		if internal && a != netip.MustParseAddr("127.0.0.1") && g.why(a, false) == "" {
			t.Fatalf("%q reaches internal %s", endpoint, a)
		}
		if u.Scheme == "http" && a != netip.MustParseAddr("127.0.0.1") && g.why(a, true) == "" {
			t.Fatalf("plain http to %s allowed", a)
		}
	})
}
