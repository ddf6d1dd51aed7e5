package backup

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// NormalizeName returns a name as it is stored: trimmed, in Unicode NFC.
func NormalizeName(name string) string {
	return norm.NFC.String(strings.TrimSpace(name))
}

// NameKey returns the form in which names are compared for uniqueness and
// sorted: NFKC, case-folded, NFKC again (Unicode's NFKC_Casefold, closely).
// "Café" in NFC or NFD, "CAFÉ" and "café" are one name; so are "Straße" and
// "STRASSE", and a name with a no-break space and one with a space.
func NameKey(name string) string {
	return norm.NFKC.String(cases.Fold().String(norm.NFKC.String(strings.TrimSpace(name))))
}

// invisible reports whether r is a control or format character (Unicode
// Cc, Cf: zero-width spaces, direction overrides) or a line or paragraph
// separator: characters that make two names look alike or one look like
// another.
func invisible(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
}

func (f *fieldErrors) name(name string) {
	n := utf8.RuneCountInString(NormalizeName(name))
	switch {
	case !utf8.ValidString(name):
		f.add("s3Name", "must be valid UTF-8")
	case strings.IndexFunc(name, invisible) >= 0:
		f.add("s3Name", "must not contain control or invisible format characters (such as a zero-width space or a direction override) or line separators")
	case n < NameMin || n > NameMax:
		f.add("s3Name", "must be %d to %d characters long, not %d", NameMin, NameMax, n)
	}
}
