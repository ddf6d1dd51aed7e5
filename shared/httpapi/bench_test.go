package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/acme/backup-credentials/shared/backup"
)

// BenchmarkDecodeCreate decodes and validates a create body, as every create
// does before anything else.
func BenchmarkDecodeCreate(b *testing.B) {
	body := `{"organizationId":"org-1","s3Name":"prod-backups","s3AccessKeyId":"AKIAIOSFODNN7EXAMPLE",` +
		`"s3SecretKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY","s3Endpoint":"https://s3.eu-central-1.amazonaws.com","s3Region":"eu-central-1"}`
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("POST", "/v1/backup-credentials", strings.NewReader(body))
		var in backup.CreateInput
		if err := decode(httptest.NewRecorder(), r, &in); err != nil {
			b.Fatal(err)
		}
		if err := in.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}
