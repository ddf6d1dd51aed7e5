package backup

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
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

func (f *fieldErrors) region(region string) {
	if !token(region, 64, "_-") {
		f.add("s3Region", "must be 1 to 64 letters, digits, '-' or '_' (for example eu-central-1)")
	}
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

// ValidOrganizationID reports whether id may name an organization.
func ValidOrganizationID(id string) bool {
	return token(id, 128, "._:-")
}

// ValidProjectID reports whether id may name a project.
func ValidProjectID(id string) bool {
	return token(id, 128, "._:-")
}

// Validate checks a create request; it returns EInvalid with every field at
// fault.
func (in *CreateInput) Validate() error {
	var f fieldErrors
	if !ValidOrganizationID(in.OrganizationID) {
		f.add("organizationId", "is required and must be an organization ID")
	}
	f.name(in.Name)
	f.auth(in.AuthType, in.AccessKeyID, in.SecretKey, in.RoleARN, in.Endpoint, in.CACertificate)
	f.endpoint(in.Endpoint)
	f.region(in.Region)
	f.caCertificate(in.CACertificate)
	return f.err()
}

// Validate checks a validate request.
func (in *KeysInput) Validate() error {
	var f fieldErrors
	f.auth(in.AuthType, in.AccessKeyID, in.SecretKey, in.RoleARN, in.Endpoint, in.CACertificate)
	if in.AuthType == AuthRole && !ValidOrganizationID(in.OrganizationID) {
		f.add("organizationId", "is required for a role: the role is checked with the organization's external ID")
	}
	f.endpoint(in.Endpoint)
	f.region(in.Region)
	f.caCertificate(in.CACertificate)
	return f.err()
}

// auth checks what a credential authenticates with: keys, or a role (with
// no key fields, at an AWS S3 endpoint).
func (f *fieldErrors) auth(authType, accessKeyID, secretKey, roleARN, endpoint string, ca *string) {
	switch authType {
	case "", AuthAccessKey:
		f.accessKeyID(accessKeyID)
		f.secretKey(secretKey)
		if roleARN != "" {
			f.add("s3RoleArn", "is only for authType \"role\"")
		}
	case AuthRole:
		f.roleARN(roleARN)
		if accessKeyID != "" {
			f.add("s3AccessKeyId", "must be absent for a role: the service assumes the role, no keys are stored")
		}
		if secretKey != "" {
			f.add("s3SecretKey", "must be absent for a role: the service assumes the role, no keys are stored")
		}
		f.awsEndpoint(endpoint)
		if ca != nil {
			f.add("s3CaCertificate", "must be absent for a role: AWS S3 needs no CA of its own")
		}
	default:
		f.add("authType", "must be \"accessKey\" or \"role\"")
	}
}

// roleARN checks arn:aws:iam::<12 digits>:role/<path/name>.
func (f *fieldErrors) roleARN(arn string) {
	if !ValidRoleARN(arn) {
		f.add("s3RoleArn", "must be an IAM role ARN such as arn:aws:iam::123456789012:role/backups")
	}
}

// ValidRoleARN reports whether arn names an IAM role:
// arn:<aws partition>:iam::<12 digits>:role/<path/name>, the name and path
// of the characters IAM allows.
func ValidRoleARN(arn string) bool {
	var rest string
	for _, p := range []string{"arn:aws:iam::", "arn:aws-cn:iam::", "arn:aws-us-gov:iam::"} {
		if strings.HasPrefix(arn, p) {
			rest = arn[len(p):]
		}
	}
	if len(arn) > 2048 || len(rest) < 12+len(":role/")+1 {
		return false
	}
	account, name := rest[:12], rest[12:]
	if !token(account, 12, "") || strings.Trim(account, "0123456789") != "" || !strings.HasPrefix(name, ":role/") {
		return false
	}
	name = name[len(":role/"):]
	return !strings.HasSuffix(name, "/") && !strings.HasPrefix(name, "/") && token(name, 576, "+=,.@_-/") && !strings.Contains(name, "//")
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
	switch in.authType(c) {
	case AuthRole:
		in.validateRole(&f, c)
	case AuthAccessKey:
		in.validateKeys(&f, c)
	default:
		f.add("authType", "must be \"accessKey\" or \"role\"")
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

// authType is what the credential authenticates with after the change.
func (in *PatchInput) authType(c *Credential) string {
	if in.AuthType != nil {
		return *in.AuthType
	}
	return c.AuthType
}

// validateKeys checks a change that leaves (or makes) a key credential.
func (in *PatchInput) validateKeys(f *fieldErrors, c *Credential) {
	if in.RoleARN != nil {
		f.add("s3RoleArn", "is only for authType \"role\"")
	}
	if c.IsRole() && (in.AccessKeyID == nil || in.SecretKey == nil) {
		f.add("s3SecretKey", "s3AccessKeyId and s3SecretKey are required to turn a role credential into a key credential")
		return
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
}

// validateRole checks a change that leaves (or makes) a role credential: no
// keys, a role ARN, an AWS S3 endpoint, no CA.
func (in *PatchInput) validateRole(f *fieldErrors, c *Credential) {
	if in.AccessKeyID != nil {
		f.add("s3AccessKeyId", "must be absent for a role: the service assumes the role, no keys are stored")
	}
	if in.SecretKey != nil {
		f.add("s3SecretKey", "must be absent for a role: the service assumes the role, no keys are stored")
	}
	switch {
	case in.RoleARN != nil:
		f.roleARN(*in.RoleARN)
	case !c.IsRole():
		f.add("s3RoleArn", "is required to turn a key credential into a role credential")
	}
	endpoint := c.Endpoint
	if in.Endpoint != nil {
		endpoint = *in.Endpoint
	}
	f.awsEndpoint(endpoint)
	if in.CACertificate.Set && in.CACertificate.Value != nil {
		f.add("s3CaCertificate", "must be absent for a role: AWS S3 needs no CA of its own")
	}
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
