package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// demoS3 answers ListBuckets like an S3-compatible provider that knows one
// key pair, verifying SigV4 signatures, so the README's walk-through can
// create credentials with nothing else running. It is part of the local API
// only.
type demoS3 struct {
	accessKeyID, secretKey string
}

var authPattern = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]+)$`)

func (d demoS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := authPattern.FindStringSubmatch(r.Header.Get("Authorization"))
	switch {
	case m == nil:
		s3Error(w, http.StatusForbidden, "AccessDenied", "Anonymous access is not allowed")
	case m[1] != d.accessKeyID:
		s3Error(w, http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
	case !d.signatureMatches(r, m[3], m[4], m[5]):
		s3Error(w, http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
	default:
		w.Header().Set("Content-Type", "application/xml")
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><ListAllMyBucketsResult><Owner><ID>local</ID></Owner><Buckets></Buckets></ListAllMyBucketsResult>`))
	}
}

// signatureMatches signs a copy of the request with the known secret and
// compares signatures.
func (d demoS3) signatureMatches(r *http.Request, region, signedHeaders, signature string) bool {
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return false
	}
	c, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return false
	}
	for _, h := range strings.Split(signedHeaders, ";") {
		if h != "host" {
			c.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	c.Header.Del("Authorization")
	creds := aws.Credentials{AccessKeyID: d.accessKeyID, SecretAccessKey: d.secretKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, c, r.Header.Get("X-Amz-Content-Sha256"), "s3", region, at); err != nil {
		return false
	}
	mine := authPattern.FindStringSubmatch(c.Header.Get("Authorization"))
	return mine != nil && mine[5] == signature
}

func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + code + `</Code><Message>` + msg + `</Message></Error>`))
}
