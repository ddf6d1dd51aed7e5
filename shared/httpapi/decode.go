package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/acme/backup-credentials/shared/backup"
)

// MaxBody is the largest request body accepted.
const MaxBody = 64 << 10

// invalid reports one invalid field of the request body.
func invalid(field, format string, args ...any) error {
	return &backup.Error{Code: backup.EInvalid, Message: "The request body is not valid.",
		Fields: []backup.FieldError{{Field: field, Message: fmt.Sprintf(format, args...)}}}
}

// invalidQuery reports an invalid query parameter by its name.
func invalidQuery(param, format string, args ...any) error {
	return &backup.Error{Code: backup.EInvalid, Message: fmt.Sprintf("The query parameter %s is not valid.", param),
		Fields: []backup.FieldError{{Field: param, Message: fmt.Sprintf(format, args...)}}}
}

// decode reads a JSON object body into v: at most MaxBody bytes, valid
// UTF-8, no unknown fields, nothing after the object.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return backup.Errorf(backup.ETooLarge, "The body is larger than %d KiB.", MaxBody>>10)
	case err != nil:
		return invalid("body", "could not be read")
	case !utf8.Valid(body):
		return invalid("body", "is not valid UTF-8")
	case !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")):
		return invalid("body", "must be a JSON object")
	}
	if err := strictMembers(body, v); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("body", "must hold one JSON object and nothing after it")
	}
	return nil
}

// strictMembers refuses what encoding/json accepts silently: a member named
// twice (the last would win), a member whose name matches a field only in
// another case ("organizationid"), and null for a member that has no
// meaning for it (encoding/json leaves the field as it was: a PATCH of
// {"s3Name": null} would change nothing and answer 200). Only a field
// tagged null:"ok" (s3CaCertificate: null removes the CA) takes null. It
// lists every such member; a body that is not a JSON object is left to the
// decoder to refuse.
func strictMembers(body []byte, v any) error {
	fields := map[string]bool{} // name -> whether null is allowed
	t := reflect.TypeOf(v).Elem()
	for i := 0; i < t.NumField(); i++ {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			fields[name] = t.Field(i).Tag.Get("null") == "ok"
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	var f []backup.FieldError
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := tok.(string)
		nullable, known := fields[key]
		switch {
		case seen[key]:
			f = append(f, backup.FieldError{Field: key, Message: "is given more than once"})
		case !known:
			msg := "is not a field of this request"
			for name := range fields {
				if strings.EqualFold(name, key) {
					msg = fmt.Sprintf("is not a field of this request; names are case-sensitive: %s", name)
				}
			}
			f = append(f, backup.FieldError{Field: key, Message: msg})
		}
		seen[key] = true
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil
		}
		if known && !nullable && string(value) == "null" {
			f = append(f, backup.FieldError{Field: key, Message: "must not be null; leave it out to leave it as it is"})
		}
	}
	if len(f) > 0 {
		return &backup.Error{Code: backup.EInvalid, Message: "The request body is not valid.", Fields: f}
	}
	return nil
}

func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return invalid(field, "must be a JSON %s", jsonType(typeErr.Type.Kind().String()))
	case errors.As(err, &syntaxErr):
		return invalid("body", "is not valid JSON (at byte %d)", syntaxErr.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return invalid(name, "is not a field of this request")
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return invalid("body", "is not complete JSON")
	}
	return invalid("body", "is not valid JSON")
}

func jsonType(kind string) string {
	switch kind {
	case "string", "ptr", "struct":
		return "string"
	case "int", "int64", "int32":
		return "number"
	case "bool":
		return "boolean"
	}
	return kind
}
