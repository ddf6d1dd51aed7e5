package provider

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/acme/backup-credentials/shared/awstime"
	"github.com/acme/backup-credentials/shared/backup"
)

// DefaultTimeout bounds one check when Checker.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// Limits on what a provider may send back: an S3 or STS answer is a few
// hundred bytes, so a provider sending more is hostile or broken, and must
// not cost this service memory.
const (
	MaxResponseHeaderBytes = 64 << 10
	MaxResponseBodyBytes   = 64 << 10
)

// New returns a checker that may reach the allowed internal ranges, bounds a
// check by timeout, and asks STS at stsEndpoint ("" for AWS's own).
func New(allow []netip.Prefix, timeout time.Duration, stsEndpoint string) *Checker {
	return &Checker{Guard: Guard{Allow: allow}, Timeout: timeout, STSEndpoint: stsEndpoint}
}

// Checker is a backup.Checker against real S3 providers.
type Checker struct {
	Guard Guard
	// Timeout bounds a whole check, retries included.
	Timeout time.Duration
	// STSEndpoint, when set, replaces AWS's regional STS endpoint (for an
	// emulator).
	STSEndpoint string
	// Resolver looks up endpoint names; nil means net.DefaultResolver.
	Resolver Resolver
	// MaxAttempts bounds the tries of a throttled request; zero means 3.
	MaxAttempts int
}

var _ backup.Checker = (*Checker)(nil)

// Outcome messages, one per thing a person can do about it.
const (
	msgValidSTS      = "The keys are valid (AWS account %s)."
	msgValidS3       = "The keys are valid; the endpoint lists buckets with them."
	msgAccessDenied  = "The keys are valid, but they may not list buckets (AccessDenied); backups work if they may write to the backup bucket."
	msgInvalid       = "Invalid S3 credentials: the provider does not accept these keys (%s)."
	msgThrottled     = "The provider is throttling requests and did not answer after %d tries; try again later."
	msgTimeout       = "The endpoint did not answer within %s."
	msgRefused       = "The endpoint refused the connection; check its host and port."
	msgNoHost        = "The endpoint's host name does not resolve; check its spelling."
	msgTLS           = "The endpoint's TLS certificate is not trusted; add its CA as s3CaCertificate or fix the certificate."
	msgNotS3         = "The endpoint did not answer as S3 does (HTTP %d); check the URL."
	msgRedirect      = "The endpoint answered with a redirect (HTTP %d), which is not followed; use the endpoint it points to."
	msgUnreachable   = "The endpoint could not be reached."
	msgPlainNotAllow = "Plain http:// is allowed only for hosts in BACKUP_ENDPOINT_ALLOW_CIDRS; use https://."
)

// invalidCodes are the provider's ways of saying the keys are not accepted.
var invalidCodes = map[string]bool{
	"InvalidClientTokenId": true, "InvalidAccessKeyId": true, "SignatureDoesNotMatch": true,
	"ExpiredToken": true, "RequestExpired": true, "AuthFailure": true, "InvalidToken": true,
	"UnrecognizedClientException": true, "TokenRefreshRequired": true, "InvalidSecurity": true,
	"IncompleteSignature": true, "ExpiredTokenException": true, "AccountProblem": true,
}

var throttleCodes = map[string]bool{
	"Throttling": true, "ThrottlingException": true, "SlowDown": true, "RequestLimitExceeded": true,
	"TooManyRequestsException": true, "RequestThrottled": true, "ThrottledException": true,
}

// Check asks the provider about the keys.
func (c *Checker) Check(ctx context.Context, k backup.Keys) (backup.CheckResult, error) {
	u, err := backup.ParseEndpoint(k.Endpoint)
	if err != nil {
		return backup.CheckResult{}, backup.Errorf(backup.EInvalid, "s3Endpoint %s", err)
	}
	plain := u.Scheme == "http"
	if a, ok := literalIP(u.Hostname()); ok {
		if why := c.Guard.why(a, plain); why != "" {
			return backup.CheckResult{}, notAllowed(&refusedError{host: u.Hostname(), why: why})
		}
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	aws := backup.IsAWSHost(u.Hostname())
	client, err := c.httpClient(k.CACertificate, plain && !aws)
	if err != nil {
		return backup.CheckResult{}, err
	}
	call := c.listBuckets
	if aws {
		call = c.callSTS
	}
	msg, err := call(ctx, client, k)
	if err != nil {
		return c.classify(ctx, err, timeout)
	}
	return backup.CheckResult{Status: backup.HealthHealthy, Message: msg}, nil
}

// systemRoots loads the system's certificate pool once per process, and
// only when a credential's own CA bundle must be added to it.
var systemRoots = sync.OnceValues(x509.SystemCertPool)

// roots returns the pool a check trusts: nil for the system's (which
// crypto/x509 loads once, at the first TLS handshake, so plain-http checks
// never load it), or a copy of it with the credential's CA bundle added.
func roots(caPEM string) (*x509.CertPool, error) {
	if caPEM == "" {
		return nil, nil
	}
	pool := x509.NewCertPool()
	if system, err := systemRoots(); err == nil && system != nil {
		pool = system.Clone()
	}
	if !pool.AppendCertsFromPEM([]byte(caPEM)) {
		return nil, backup.Errorf(backup.EInvalid, "s3CaCertificate holds no usable certificate")
	}
	return pool, nil
}

func (c *Checker) httpClient(caPEM string, plain bool) (*http.Client, error) {
	roots, err := roots(caPEM)
	if err != nil {
		return nil, err
	}
	resolver := c.Resolver
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	d := &dialer{guard: c.Guard, plain: plain, resolver: resolver}
	return &http.Client{
		Transport: limitedBody{awstime.Transport{RoundTripper: &http.Transport{
			DialContext:            d.DialContext,
			TLSClientConfig:        &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:    c.Timeout,
			ResponseHeaderTimeout:  c.Timeout,
			MaxResponseHeaderBytes: MaxResponseHeaderBytes,
			DisableKeepAlives:      true,
			Proxy:                  nil,
		}}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// limitedBody fails the reading of a response body past
// MaxResponseBodyBytes, whoever reads it (the SDK's STS client reads all).
type limitedBody struct{ http.RoundTripper }

func (l limitedBody) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.RoundTripper.RoundTrip(r)
	if err == nil {
		resp.Body = &capped{ReadCloser: resp.Body, left: MaxResponseBodyBytes}
	}
	return resp, err
}

// errBodyTooLarge is what reading past the limit gives.
var errBodyTooLarge = errors.New("the provider's answer is larger than any S3 or STS answer")

type capped struct {
	io.ReadCloser
	left int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.ReadCloser.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *Checker) retryer() aws.Retryer {
	attempts := c.MaxAttempts
	if attempts <= 0 {
		attempts = 3
	}
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = attempts
		o.MaxBackoff = time.Second
	})
}

// callSTS asks STS who the keys are, and returns the message of a passed
// check or the failure.
func (c *Checker) callSTS(ctx context.Context, client *http.Client, k backup.Keys) (string, error) {
	opts := sts.Options{
		Region:      k.Region,
		Credentials: credentials.NewStaticCredentialsProvider(k.AccessKeyID, k.SecretKey, ""),
		HTTPClient:  client,
		Retryer:     c.retryer(),
	}
	if c.STSEndpoint != "" {
		opts.BaseEndpoint = aws.String(c.STSEndpoint)
	}
	out, err := sts.New(opts).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(msgValidSTS, aws.ToString(out.Account)), nil
}

// classify turns the failure of a call into a result. The provider's raw
// answer never reaches the caller; only its error code does.
func (c *Checker) classify(ctx context.Context, err error, timeout time.Duration) (backup.CheckResult, error) {
	var (
		refused  *refusedError
		api      smithy.APIError
		resp     interface{ HTTPStatusCode() int }
		dnsErr   *net.DNSError
		certErr  *tls.CertificateVerificationError
		unknownA x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		netErr   net.Error
	)
	unreachable := func(msg string) (backup.CheckResult, error) {
		return backup.CheckResult{Status: backup.HealthUnreachable, Message: msg}, nil
	}
	switch {
	case errors.As(err, &refused):
		return backup.CheckResult{}, notAllowed(refused)
	case errors.As(err, &api):
		code := api.ErrorCode()
		switch {
		case code == "AccessDenied" || code == "AllAccessDisabled":
			return backup.CheckResult{Status: backup.HealthHealthy, Message: msgAccessDenied}, nil
		case invalidCodes[code]:
			return backup.CheckResult{Status: backup.HealthInvalid, Message: fmt.Sprintf(msgInvalid, code)}, nil
		case throttleCodes[code]:
			return unreachable(fmt.Sprintf(msgThrottled, max(c.MaxAttempts, 3)))
		}
		status := 0
		if errors.As(err, &resp) {
			status = resp.HTTPStatusCode()
		}
		switch {
		case status >= 300 && status < 400:
			return unreachable(fmt.Sprintf(msgRedirect, status))
		case status == http.StatusForbidden || status == http.StatusUnauthorized:
			return backup.CheckResult{Status: backup.HealthInvalid, Message: fmt.Sprintf(msgInvalid, "HTTP "+fmt.Sprint(status))}, nil
		case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
			return unreachable(fmt.Sprintf(msgThrottled, max(c.MaxAttempts, 3)))
		}
		return unreachable(fmt.Sprintf(msgNotS3, status))
	case errors.As(err, &resp) && resp.HTTPStatusCode() >= 300 && resp.HTTPStatusCode() < 400:
		return unreachable(fmt.Sprintf(msgRedirect, resp.HTTPStatusCode()))
	case errors.As(err, &dnsErr):
		return unreachable(msgNoHost)
	case errors.As(err, &certErr) || errors.As(err, &unknownA) || errors.As(err, &hostErr):
		return unreachable(msgTLS)
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil || (errors.As(err, &netErr) && netErr.Timeout()):
		return unreachable(fmt.Sprintf(msgTimeout, timeout))
	case isConnRefused(err):
		return unreachable(msgRefused)
	}
	return unreachable(msgUnreachable)
}

func isConnRefused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func notAllowed(r *refusedError) error {
	if strings.Contains(r.why, "http://") {
		return backup.Errorf(backup.EEndpointNotAllowed, "%s", msgPlainNotAllow)
	}
	return backup.Errorf(backup.EEndpointNotAllowed, "The endpoint may not be used: %s.", r.Error())
}
