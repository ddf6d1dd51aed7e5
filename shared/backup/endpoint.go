package backup

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

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
	authority, path, _ := strings.Cut(endpoint[strings.Index(endpoint, "://")+len("://"):], "/")
	if strings.Trim(authority, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:[]") != "" {
		return nil, fmt.Errorf("must name its host with letters, digits, '-', '.' and '_' (or an IP address) and an optional port")
	}
	if !pathChars(path) {
		return nil, fmt.Errorf("must have only the characters RFC 3986 allows in a path (letters, digits, -._~!$&'()*+,;=:@/ and %%XX escapes)")
	}
	if p := u.Port(); p != "" {
		var n int
		if _, err := fmt.Sscanf(p, "%d", &n); err != nil || n < 1 || n > 65535 || fmt.Sprint(n) != p {
			return nil, fmt.Errorf("has an invalid port")
		}
	}
	return u, nil
}

// pathChars reports whether path holds only RFC 3986 path characters:
// unreserved, sub-delims, ':', '@', '/' and percent-escapes.
func pathChars(path string) bool {
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~!$&'()*+,;=:@/", c) >= 0:
		case c == '%' && i+2 < len(path) && isHex(path[i+1]) && isHex(path[i+2]):
			i += 2
		default:
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// IsAWSHost reports whether an endpoint's host is one of AWS S3's endpoint
// host forms: s3.amazonaws.com, s3.<region>, s3-<region>, s3-fips.<region>,
// s3.dualstack.<region>, s3-fips.dualstack.<region> and s3-external-1, under
// amazonaws.com (or amazonaws.com.cn for China's regions). Keys there are
// checked with STS, and only there may a role be used. Any other
// *.amazonaws.com host (an EC2 instance's name, a VPC endpoint's) is not
// S3's, and is checked as any S3-compatible endpoint is.
func IsAWSHost(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	var rest string
	switch {
	case strings.HasSuffix(h, ".amazonaws.com.cn"):
		rest = strings.TrimSuffix(h, ".amazonaws.com.cn")
	case strings.HasSuffix(h, ".amazonaws.com"):
		rest = strings.TrimSuffix(h, ".amazonaws.com")
	default:
		return false
	}
	l := strings.Split(rest, ".")
	switch {
	case len(l) == 1:
		return l[0] == "s3" || l[0] == "s3-external-1" || strings.HasPrefix(l[0], "s3-") && awsRegion(l[0][len("s3-"):])
	case len(l) == 2:
		return (l[0] == "s3" || l[0] == "s3-fips") && awsRegion(l[1])
	case len(l) == 3:
		return (l[0] == "s3" || l[0] == "s3-fips") && l[1] == "dualstack" && awsRegion(l[2])
	}
	return false
}

// awsRegion reports whether s has the form of an AWS region name: a
// two-letter area, words, and a number (eu-central-1, us-gov-west-1,
// cn-north-1).
func awsRegion(s string) bool {
	parts := strings.Split(s, "-")
	if len(parts) < 3 || len(parts[0]) != 2 {
		return false
	}
	for i, p := range parts {
		last := i == len(parts)-1
		if p == "" || strings.Trim(p, "abcdefghijklmnopqrstuvwxyz") != "" && !last || last && strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
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

func (f *fieldErrors) endpoint(endpoint string) {
	if _, err := ParseEndpoint(endpoint); err != nil {
		f.add("s3Endpoint", "%s", err.Error())
	}
}

// awsEndpoint checks that a role's endpoint is AWS S3's: a role is assumed
// with AWS STS and works only there.
func (f *fieldErrors) awsEndpoint(endpoint string) {
	if u, err := ParseEndpoint(endpoint); err == nil && !IsAWSHost(u.Hostname()) {
		f.add("s3Endpoint", "must be an AWS S3 endpoint (such as https://s3.eu-central-1.amazonaws.com) for a role")
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
