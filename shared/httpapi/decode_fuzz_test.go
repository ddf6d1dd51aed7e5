package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/acme/backup-credentials/shared/backup"
)

// FuzzDecodeCreate holds decoding and validation of a create body to their
// promises: nothing panics, every refusal is a validation or size error, and
// whatever passes is within the contract's rules.
func FuzzDecodeCreate(f *testing.F) {
	f.Add(`{"organizationId":"org-1","s3Name":"prod","s3AccessKeyId":"AKIA1","s3SecretKey":"s","s3Endpoint":"https://s3.amazonaws.com","s3Region":"us-east-1"}`)
	f.Add(`{"s3Name": 12}`)
	f.Add(`{"s3Name":"ab\u0000c"}`)
	f.Add("{\"s3Name\":\"\xff\"}")
	f.Add(`{"s3CaCertificate":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"}`)
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/v1/backup-credentials", strings.NewReader(body))
		var in backup.CreateInput
		err := decode(httptest.NewRecorder(), r, &in)
		if err == nil {
			err = in.Validate()
		}
		if err != nil {
			if code := backup.ErrorCode(err); code != backup.EInvalid && code != backup.ETooLarge {
				t.Fatalf("refused with %s: %v", code, err)
			}
			return
		}
		n := utf8.RuneCountInString(backup.NormalizeName(in.Name))
		if n < backup.NameMin || n > backup.NameMax || in.SecretKey == "" || in.AccessKeyID == "" {
			t.Fatalf("accepted %+v", in)
		}
		if _, err := backup.ParseEndpoint(in.Endpoint); err != nil {
			t.Fatalf("accepted endpoint %q: %v", in.Endpoint, err)
		}
	})
}

// FuzzDecodePatch does the same for update bodies.
func FuzzDecodePatch(f *testing.F) {
	f.Add(`{"s3Name":"renamed"}`)
	f.Add(`{"s3CaCertificate":null}`)
	f.Add(`{"id":"bc_x","organizationId":"org-2"}`)
	f.Add(`{"s3AccessKeyId":"AKIA2"}`)
	c := &backup.Credential{ID: "bc_01JD8X0000000000000000000X", OrganizationID: "org-1", Name: "prod", AccessKeyID: "AKIA1"}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("PATCH", "/v1/backup-credentials/x", strings.NewReader(body))
		var in backup.PatchInput
		err := decode(httptest.NewRecorder(), r, &in)
		if err == nil {
			err = in.Validate(c)
		}
		if err != nil {
			if code := backup.ErrorCode(err); code != backup.EInvalid && code != backup.ETooLarge {
				t.Fatalf("refused with %s: %v", code, err)
			}
			return
		}
		if in.ID != nil && *in.ID != c.ID || in.OrganizationID != nil && *in.OrganizationID != c.OrganizationID {
			t.Fatalf("accepted a change of identity: %+v", in)
		}
		if in.AccessKeyID != nil && *in.AccessKeyID != c.AccessKeyID && in.SecretKey == nil {
			t.Fatalf("accepted a new access key without its secret")
		}
	})
}
