package backup

import (
	"encoding/json"
	"slices"
	"testing"
)

// TestPatchNamesEachFieldOnce: the history of a change names each field it
// changed once, however many parts of the PATCH touch it. Found by the
// stateful test: a switch to a role that also removed the CA named
// s3CaCertificate twice.
func TestPatchNamesEachFieldOnce(t *testing.T) {
	ca := "-----BEGIN CERTIFICATE-----"
	old := &Credential{AuthType: AuthAccessKey, AccessKeyID: "AKIAONE", SecretVersion: "v1", CACertificate: &ca,
		Endpoint: "https://s3.eu-central-1.amazonaws.com", Region: "eu-central-1"}
	for _, body := range []string{
		`{"authType":"role","s3CaCertificate":null,"s3RoleArn":"arn:aws:iam::444455556666:role/backups"}`,
		`{"authType":"role","s3RoleArn":"arn:aws:iam::444455556666:role/backups"}`,
	} {
		var in PatchInput
		if err := json.Unmarshal([]byte(body), &in); err != nil {
			t.Fatal(err)
		}
		got := patch(old, in).fields
		want := []string{"authType", "s3CaCertificate", "s3RoleArn"}
		if !slices.Equal(slices.Sorted(slices.Values(got)), want) {
			t.Errorf("%s: fields %v, want each of %v once", body, got, want)
		}
	}
}
