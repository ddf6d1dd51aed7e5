package backup

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Limits on input.
const (
	NameMin          = 3
	NameMax          = 30
	AccessKeyIDMax   = 128
	SecretKeyMax     = 1024
	EndpointMax      = 2048
	CACertificateMax = 32 << 10
	SearchMax        = 256
	LimitDefault     = 50
	LimitMax         = 100
	ProjectNameMax   = 100
)

// token reports whether s is 1 to max ASCII letters, digits or bytes of
// extra. (Not a regexp: bounded repetitions compile slowly, and this runs in
// every cold start's init otherwise.)
func token(s string, max int, extra string) bool {
	if len(s) < 1 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}

// fieldErrors collects validation failures and turns them into one Error.
type fieldErrors []FieldError

func (f *fieldErrors) add(field, format string, args ...any) {
	*f = append(*f, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Code: EInvalid, Message: "The request is not valid.", Fields: f}
}

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

func (f *fieldErrors) accessKeyID(id string) {
	switch {
	case id == "":
		f.add("s3AccessKeyId", "is required")
	case len(id) > AccessKeyIDMax:
		f.add("s3AccessKeyId", "must be at most %d characters", AccessKeyIDMax)
	case strings.IndexFunc(id, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0:
		f.add("s3AccessKeyId", "must be printable ASCII without spaces")
	}
}

func (f *fieldErrors) secretKey(key string) {
	switch {
	case key == "":
		f.add("s3SecretKey", "is required")
	case len(key) > SecretKeyMax:
		f.add("s3SecretKey", "must be at most %d characters", SecretKeyMax)
	case !utf8.ValidString(key) || hasControl(key):
		f.add("s3SecretKey", "must be printable text")
	}
}

func (f *fieldErrors) endpoint(endpoint string) {
	if _, err := ParseEndpoint(endpoint); err != nil {
		f.add("s3Endpoint", "%s", err.Error())
	}
}

func (f *fieldErrors) region(region string) {
	if !token(region, 64, "_-") {
		f.add("s3Region", "must be 1 to 64 letters, digits, '-' or '_' (for example eu-central-1)")
	}
}

func (f *fieldErrors) caCertificate(pemText *string) {
	if pemText == nil {
		return
	}
	if err := checkCABundle(*pemText); err != nil {
		f.add("s3CaCertificate", "%s", err.Error())
	}
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

// ParseEndpoint parses an S3 endpoint: an absolute http or https URL with a
// host, no user information, and nothing after the path. Whether plain http
// is allowed for its host is the provider checker's decision.
func ParseEndpoint(endpoint string) (*url.URL, error) {
	if endpoint == "" {
		return nil, fmt.Errorf("is required")
	}
	if len(endpoint) > EndpointMax {
		return nil, fmt.Errorf("must be at most %d characters", EndpointMax)
	}
	if !utf8.ValidString(endpoint) || strings.IndexFunc(endpoint, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return nil, fmt.Errorf("must be a URL without spaces or control characters")
	}
	u, err := url.Parse(endpoint)
	switch {
	case err != nil:
		return nil, fmt.Errorf("must be an absolute URL such as https://s3.eu-central-1.amazonaws.com")
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, fmt.Errorf("must start with https://")
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("must name a host, as in https://s3.example.com")
	case u.User != nil:
		return nil, fmt.Errorf("must not carry a user name or password")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(endpoint, "#"):
		return nil, fmt.Errorf("must have nothing after the path (no query or fragment)")
	}
	if p := u.Port(); p != "" {
		var n int
		if _, err := fmt.Sscanf(p, "%d", &n); err != nil || n < 1 || n > 65535 || fmt.Sprint(n) != p {
			return nil, fmt.Errorf("has an invalid port")
		}
	}
	return u, nil
}

// checkCABundle accepts a PEM bundle of one or more X.509 certificates.
func checkCABundle(text string) error {
	if len(text) > CACertificateMax {
		return fmt.Errorf("must be at most %d bytes", CACertificateMax)
	}
	rest := []byte(text)
	n := 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return fmt.Errorf("must contain only CERTIFICATE blocks, found %q", block.Type)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("certificate %d does not parse", n+1)
		}
		n++
	}
	if n == 0 || strings.TrimSpace(string(rest)) != "" {
		return fmt.Errorf("must be a PEM bundle of CERTIFICATE blocks")
	}
	return nil
}

// ValidProjectID reports whether id may name a project.
func ValidProjectID(id string) bool {
	return token(id, 128, "._:-")
}

// Validate checks a create request; it returns EInvalid with every field at
// fault.
func (in *CreateInput) Validate() error {
	var f fieldErrors
	if !token(in.OrganizationID, 128, "._:-") {
		f.add("organizationId", "is required and must be an organization ID")
	}
	f.name(in.Name)
	f.accessKeyID(in.AccessKeyID)
	f.secretKey(in.SecretKey)
	f.endpoint(in.Endpoint)
	f.region(in.Region)
	f.caCertificate(in.CACertificate)
	return f.err()
}

// Validate checks a validate request.
func (in *KeysInput) Validate() error {
	var f fieldErrors
	f.accessKeyID(in.AccessKeyID)
	f.secretKey(in.SecretKey)
	f.endpoint(in.Endpoint)
	f.region(in.Region)
	f.caCertificate(in.CACertificate)
	return f.err()
}

// Validate checks an update request against the credential it changes.
func (in *PatchInput) Validate(c *Credential) error {
	var f fieldErrors
	if in.ID != nil && *in.ID != c.ID {
		f.add("id", "is immutable")
	}
	if in.OrganizationID != nil && *in.OrganizationID != c.OrganizationID {
		f.add("organizationId", "is immutable")
	}
	if in.Name != nil {
		f.name(*in.Name)
	}
	if in.AccessKeyID != nil {
		f.accessKeyID(*in.AccessKeyID)
		if *in.AccessKeyID != c.AccessKeyID && in.SecretKey == nil {
			f.add("s3SecretKey", "is required when s3AccessKeyId changes")
		}
	}
	if in.SecretKey != nil {
		f.secretKey(*in.SecretKey)
	} else if in.movesKeys(c) {
		f.add("s3SecretKey", "is required when s3Endpoint, s3Region or s3CaCertificate change: the keys are checked where they will be used, and the secret key goes only where someone who knows it sends it")
	}
	if in.Endpoint != nil {
		f.endpoint(*in.Endpoint)
	}
	if in.Region != nil {
		f.region(*in.Region)
	}
	if in.CACertificate.Set {
		f.caCertificate(in.CACertificate.Value)
	}
	return f.err()
}

// movesKeys reports whether the input changes where or how the keys are
// sent: endpoint, region or CA.
func (in *PatchInput) movesKeys(c *Credential) bool {
	changed := func(v *string, old string) bool { return v != nil && *v != old }
	return changed(in.Endpoint, c.Endpoint) || changed(in.Region, c.Region) ||
		in.CACertificate.Set && deref(in.CACertificate.Value) != deref(c.CACertificate)
}

// Validate checks a project association.
func (in *ProjectInput) Validate(projectID string) error {
	var f fieldErrors
	if !ValidProjectID(projectID) {
		f.add("projectId", "must be 1 to 128 letters, digits, '.', '_', ':' or '-'")
	}
	n := utf8.RuneCountInString(strings.TrimSpace(in.Name))
	switch {
	case !utf8.ValidString(in.Name) || hasControl(in.Name):
		f.add("name", "must be printable text")
	case n < 1 || n > ProjectNameMax:
		f.add("name", "must be 1 to %d characters long", ProjectNameMax)
	}
	return f.err()
}
