package backup

import (
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// FuzzParseEndpoint holds endpoint parsing to its promises: nothing panics,
// and an accepted endpoint is an http or https URL with a host, no user
// information and nothing after the path.
func FuzzParseEndpoint(f *testing.F) {
	for _, s := range []string{"https://s3.eu-central-1.amazonaws.com", "http://127.0.0.1:9000/bucket", "https://u:p@h",
		"https://h?x", "https://h#f", "https://[::1]:443", "https://h:99999", "ftp://h", "https://h:0x50", "//h", "https://%zz",
		`https://s3.amazonaws.com/"><img/src/onerror=alert(1)>`, "https://h/a%2Fb", "https://h/%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseEndpoint(s)
		if err != nil {
			return
		}
		switch {
		case u.Scheme != "https" && u.Scheme != "http":
			t.Fatalf("accepted scheme %q in %q", u.Scheme, s)
		case u.Hostname() == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(s, "#?"):
			t.Fatalf("accepted %q: host %q, user %v, query %q, fragment %q", s, u.Hostname(), u.User, u.RawQuery, u.Fragment)
		case len(s) > EndpointMax || strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
			t.Fatalf("accepted %q with spaces, control characters or over %d bytes", s, EndpointMax)
		case strings.ContainsAny(s, "\"<>\\^`{|}") || strings.IndexFunc(s, func(r rune) bool { return r > '~' }) >= 0:
			t.Fatalf("accepted %q with a character RFC 3986 does not allow", s)
		}
	})
}

// FuzzNames holds name normalization to its promises: the stored form is
// trimmed NFC, both forms are stable when applied again, names that normalize
// alike compare alike, and an accepted name has no invisible character and
// 3 to 30 characters.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"café", "cafe\u0301", "Straße", "prod\u200bbackups", "  x  ", "ｐｒｏｄ", "ǅemo", "İstanbul", "\u0345"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		stored, key := NormalizeName(s), NameKey(s)
		if NormalizeName(stored) != stored || !norm.NFC.IsNormalString(stored) || strings.TrimSpace(stored) != stored {
			t.Fatalf("NormalizeName(%q) = %q: not a stable trimmed NFC form", s, stored)
		}
		if NameKey(stored) != key {
			t.Fatalf("NameKey(%q) = %q but NameKey of its stored form %q = %q", s, key, stored, NameKey(stored))
		}
		if isASCII(stored) && NameKey(strings.ToUpper(stored)) != NameKey(strings.ToLower(stored)) {
			t.Fatalf("ASCII name %q differs from itself in another case", s)
		}
		var f fieldErrors
		f.name(s)
		if len(f) == 0 {
			n := utf8.RuneCountInString(stored)
			if n < NameMin || n > NameMax || strings.IndexFunc(s, invisible) >= 0 {
				t.Fatalf("accepted %q (%d characters)", s, n)
			}
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
