package backup

import (
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
)

func TestNamesThatLookAlike(t *testing.T) {
	same := [][2]string{
		{"café", "cafe\u0301"}, // NFC and NFD
		{"Café", "CAFÉ"},
		{"Straße", "STRASSE"},
		{"prod\u00a0backups", "prod backups"}, // no-break space
		{"  prod  ", "PROD"},
		{"ｐｒｏｄ", "prod"}, // fullwidth
	}
	for _, p := range same {
		if NameKey(p[0]) != NameKey(p[1]) {
			t.Errorf("NameKey(%q) = %q, NameKey(%q) = %q: want one name", p[0], NameKey(p[0]), p[1], NameKey(p[1]))
		}
	}
	if NameKey("prod-a") == NameKey("prod-b") {
		t.Error("different names compare equal")
	}
	if got := NormalizeName("  cafe\u0301 "); got != "café" || !norm.NFC.IsNormalString(got) {
		t.Errorf("NormalizeName stores %q, want trimmed NFC café", got)
	}
}

func TestInvisibleCharactersRefused(t *testing.T) {
	for _, name := range []string{"prod\u200bbackups", "prod\u202ebackups", "prod\u2028backups", "prod\u2029x", "pro\u0007d", "\ufeffprod", "prod\u00adx"} {
		var f fieldErrors
		f.name(name)
		if len(f) != 1 || !strings.Contains(f[0].Message, "invisible") {
			t.Errorf("name %q: %v, want refused", name, f)
		}
	}
	for _, name := range []string{"prod backups", "prod\u00a0backups", "Straße", "東京-backups"} {
		var f fieldErrors
		f.name(name)
		if len(f) != 0 {
			t.Errorf("name %q refused: %v", name, f)
		}
	}
}
