package provider

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"

	"github.com/acme/backup-credentials/shared/backup"
)

// emptySHA256 is the SHA-256 of an empty payload, as SigV4 wants it.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// s3Error is an S3 error answer: its code and HTTP status. It satisfies
// smithy.APIError, so classify treats it like any SDK error.
type s3Error struct {
	code   string
	status int
}

func (e *s3Error) Error() string                 { return fmt.Sprintf("S3 %s (HTTP %d)", e.code, e.status) }
func (e *s3Error) ErrorCode() string             { return e.code }
func (e *s3Error) ErrorMessage() string          { return e.code }
func (e *s3Error) ErrorFault() smithy.ErrorFault { return smithy.FaultServer }
func (e *s3Error) HTTPStatusCode() int           { return e.status }

// listBuckets sends one signed S3 ListBuckets (path style) to the endpoint,
// retrying throttling answers with backoff, and returns the message of a
// passed check or the failure. The S3 API is a single signed
// GET here; the SDK's S3 client would double the binary and its cold start
// for it.
func (c *Checker) listBuckets(ctx context.Context, client *http.Client, k backup.Keys) (string, error) {
	url := strings.TrimSuffix(k.Endpoint, "/") + "/?max-buckets=1"
	creds := aws.Credentials{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretKey}
	signer := v4.NewSigner()
	attempts := max(c.MaxAttempts, 1)
	if c.MaxAttempts == 0 {
		attempts = 3
	}
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return "", err
		}
		req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
		if err := signer.SignHTTP(ctx, creds, req, emptySHA256, "s3", k.Region, time.Now().UTC()); err != nil {
			return "", fmt.Errorf("sign ListBuckets: %w", err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		body, err := io.ReadAll(resp.Body) // capped at MaxResponseBodyBytes
		resp.Body.Close()
		if err != nil {
			return "", err // no S3 answer is that long, or it broke off
		}
		if resp.StatusCode == http.StatusOK {
			return msgValidS3, nil
		}
		e := &s3Error{code: errorCode(body), status: resp.StatusCode}
		retry := throttleCodes[e.code] || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable
		if !retry || attempt >= attempts {
			return "", e
		}
		backoff := time.Duration(50<<attempt+rand.IntN(50)) * time.Millisecond
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(backoff):
		}
	}
}

// errorCode reads the Code of an S3 error document, "" when there is none.
func errorCode(body []byte) string {
	var doc struct {
		Code string `xml:"Code"`
	}
	if xml.Unmarshal(body, &doc) != nil {
		return ""
	}
	return doc.Code
}
