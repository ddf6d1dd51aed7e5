package backup

import (
	"bytes"
	"encoding/json"
)

// CreateInput is the body of a create request.
type CreateInput struct {
	OrganizationID string  `json:"organizationId"`
	Name           string  `json:"s3Name"`
	AuthType       string  `json:"authType"`
	AccessKeyID    string  `json:"s3AccessKeyId"`
	SecretKey      string  `json:"s3SecretKey"`
	RoleARN        string  `json:"s3RoleArn"`
	Endpoint       string  `json:"s3Endpoint"`
	Region         string  `json:"s3Region"`
	CACertificate  *string `json:"s3CaCertificate" null:"ok"`
}

// KeysInput is the body of a validate request: keys to check, nothing to
// store.
type KeysInput struct {
	AuthType      string  `json:"authType"`
	AccessKeyID   string  `json:"s3AccessKeyId"`
	SecretKey     string  `json:"s3SecretKey"`
	Endpoint      string  `json:"s3Endpoint"`
	Region        string  `json:"s3Region"`
	CACertificate *string `json:"s3CaCertificate" null:"ok"`
	// A role is checked with its organization's external ID.
	RoleARN        string `json:"s3RoleArn"`
	OrganizationID string `json:"organizationId"`
}

// PatchInput is the body of an update request. A nil field is left as it
// is (null is refused for all but one); CACertificate tells "absent" from
// "null" (which removes it). A field tagged null:"ok" takes null; the
// decoder refuses null for any other.
type PatchInput struct {
	ID             *string        `json:"id"`
	OrganizationID *string        `json:"organizationId"`
	Name           *string        `json:"s3Name"`
	AuthType       *string        `json:"authType"`
	RoleARN        *string        `json:"s3RoleArn"`
	AccessKeyID    *string        `json:"s3AccessKeyId"`
	SecretKey      *string        `json:"s3SecretKey"`
	Endpoint       *string        `json:"s3Endpoint"`
	Region         *string        `json:"s3Region"`
	CACertificate  NullableString `json:"s3CaCertificate" null:"ok"`
}

// NullableString is a JSON field that may be absent, null or a string.
type NullableString struct {
	Set   bool
	Value *string
}

// UnmarshalJSON records that the field was present, and its value or null.
func (n *NullableString) UnmarshalJSON(b []byte) error {
	n.Set = true
	if bytes.Equal(b, []byte("null")) {
		n.Value = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	n.Value = &s
	return nil
}

// ProjectInput is the body of a project association.
type ProjectInput struct {
	Name string `json:"name"`
}

// ListRequest is the query of a list request, as the caller sent it.
type ListRequest struct {
	OrganizationID string
	Search         string
	Sort           string
	Limit          int
	Cursor         string
}

// ListQuery is a validated list request as the Store runs it: the
// organizations to visit in order, a lower-case search, the order within
// each, a page size, and where the previous page ended.
type ListQuery struct {
	Organizations []string
	Search        string
	Sort          Sort
	Limit         int
	After         *Position
}

// A Position is where a page of a list ends: the organization, and the
// credential's sort key within it.
type Position struct {
	Org string `json:"o"`
	Key string `json:"k"`
	ID  string `json:"i"`
}

// A ListPage is one page of credentials and the position to resume from, nil
// on the last page.
type ListPage struct {
	Items []*Credential
	Next  *Position
}

// An IdempotencyRecord is what a create with an Idempotency-Key left behind:
// the hash of its body and, once it finished, the credential it answered.
type IdempotencyRecord struct {
	Hash       string
	Credential *Credential
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
