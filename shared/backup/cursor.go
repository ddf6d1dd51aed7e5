package backup

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
)

// cursorBody is what a cursor carries: a position and a binding to the
// caller and query it was issued for.
type cursorBody struct {
	Position
	Bind string `json:"b"`
}

// binding ties a cursor to the caller and the query, so a cursor is useless
// with another query or in another caller's hands.
func binding(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return base64.RawURLEncoding.EncodeToString(h[:12])
}

// EncodeCursor returns the opaque cursor for a position, bound to parts.
func EncodeCursor(p Position, parts ...string) string {
	b, _ := json.Marshal(cursorBody{Position: p, Bind: binding(parts...)})
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor returns the position in a cursor made by EncodeCursor with the
// same parts, or EInvalid. A cursor cannot widen what a caller sees: lists
// visit only the caller's organizations whatever the cursor says.
func DecodeCursor(cursor string, parts ...string) (*Position, error) {
	invalid := &Error{Code: EInvalid, Message: "The cursor is not valid for this query.",
		Fields: []FieldError{{Field: "cursor", Message: "is not a cursor this query returned"}}}
	if len(cursor) > 2048 {
		return nil, invalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return nil, invalid
	}
	var c cursorBody
	if err := json.Unmarshal(raw, &c); err != nil || c.Bind != binding(parts...) {
		return nil, invalid
	}
	return &c.Position, nil
}
