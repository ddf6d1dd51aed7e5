package provider

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// refusedError is a dial the guard refused; the checker reports it as
// backup.EEndpointNotAllowed.
type refusedError struct {
	host string
	addr netip.Addr
	why  string
}

// Error says why, naming the host as given but never the address a name
// resolved to: that would map an internal network for whoever asks.
func (e *refusedError) Error() string {
	if e.addr.IsValid() {
		return fmt.Sprintf("%s resolves to %s", e.host, e.why)
	}
	return fmt.Sprintf("%s is %s", e.host, e.why)
}

// special are ranges no endpoint may reach unless allowed: besides loopback,
// private, link-local, multicast and unspecified (netip's own predicates).
var special = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // CGNAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
	netip.MustParsePrefix("100::/64"),        // discard
	netip.MustParsePrefix("2002::/16"),       // 6to4 can embed any IPv4
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64 can embed any IPv4
	netip.MustParsePrefix("::ffff:0:0:0/96"), // SIIT
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (::a.b.c.d), deprecated
}

// A Guard decides which addresses the checker may connect to.
type Guard struct {
	// Allow lists ranges that are reachable even though they are internal.
	Allow []netip.Prefix
}

// allowed reports whether a is inside the allow-list.
func (g Guard) allowed(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range g.Allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// why returns why an address is refused, or "" when it may be dialed.
// plain is set for http:// endpoints, which only allow-listed hosts may use.
func (g Guard) why(a netip.Addr, plain bool) string {
	a = a.Unmap()
	if g.allowed(a) {
		return ""
	}
	switch {
	case plain:
		return "not in BACKUP_ENDPOINT_ALLOW_CIDRS, which plain http:// requires"
	case a.IsLoopback():
		return "a loopback address"
	case a.IsPrivate():
		return "a private address"
	case a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast():
		return "a link-local address"
	case a.IsMulticast():
		return "a multicast address"
	case a.IsUnspecified():
		return "an unspecified address"
	}
	for _, p := range special {
		if p.Contains(a) {
			return "an internal or reserved address"
		}
	}
	return ""
}

// literalIP interprets host as an IP address the way inet_aton and browsers
// do (so 2130706433, 0x7f.1 and 017700000001 are 127.0.0.1), or reports
// false when host is a name.
func literalIP(host string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return a.WithZone(""), true
	}
	parts := strings.Split(host, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 0, 32) // decimal, 0x hex, 0 octal
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var n uint64
	last := len(vals) - 1
	for i, v := range vals[:last] {
		if v > 255 {
			return netip.Addr{}, false
		}
		n |= v << (24 - 8*i)
	}
	if vals[last] >= 1<<(8*(4-last)) {
		return netip.Addr{}, false
	}
	n |= vals[last]
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

// Resolver looks names up; net.DefaultResolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// dialer connects only to addresses the guard allows, checked after DNS, at
// dial time, so a name cannot be rebound to an internal address between a
// check and the connection.
type dialer struct {
	guard    Guard
	plain    bool
	resolver Resolver
	net      net.Dialer
}

func (d *dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if a, ok := literalIP(host); ok {
		addrs = []netip.Addr{a}
	} else if addrs, err = d.resolver.LookupNetIP(ctx, "ip", host); err != nil {
		return nil, err
	}
	var firstErr error
	for _, a := range addrs {
		if why := d.guard.why(a, d.plain); why != "" {
			if firstErr == nil {
				firstErr = &refusedError{host: host, addr: a, why: why}
			}
			continue
		}
		conn, err := d.net.DialContext(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
		if err == nil {
			return conn, nil
		}
		if firstErr == nil || isRefused(firstErr) {
			firstErr = err
		}
	}
	if firstErr == nil {
		firstErr = &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
	return nil, firstErr
}

func isRefused(err error) bool {
	_, ok := err.(*refusedError)
	return ok
}
