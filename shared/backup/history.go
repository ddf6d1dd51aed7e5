package backup

import (
	"context"
	"fmt"
)

// History returns a page of a credential's history, newest first, and the
// cursor of the next page. It returns ENotFound or EInvalid.
func (s *Service) History(ctx context.Context, caller Caller, id string, limit int, cursor string) ([]HistoryEntry, string, error) {
	if !ValidID(id) {
		return nil, "", NotFound(id)
	}
	switch {
	case limit == 0:
		limit = LimitDefault
	case limit < 1 || limit > LimitMax:
		return nil, "", &Error{Code: EInvalid, Message: "The request is not valid.",
			Fields: []FieldError{{Field: "limit", Message: fmt.Sprintf("must be between 1 and %d", LimitMax)}}}
	}
	bind := []string{"history", caller.UserID, id}
	after := ""
	if cursor != "" {
		p, err := DecodeCursor(cursor, bind...)
		if err != nil {
			return nil, "", err
		}
		after = p.Key
	}
	entries, next, err := s.store.History(ctx, id, caller.Organizations, limit, after)
	if err != nil {
		return nil, "", err
	}
	if next != "" {
		next = EncodeCursor(Position{Key: next}, bind...)
	}
	return entries, next, nil
}
