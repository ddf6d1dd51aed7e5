package backup

import (
	"crypto/rand"
	"strings"
	"time"
)

// crockford is the alphabet of ULIDs: sortable, case-insensitive, no I L O U.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewID returns a new credential ID: "bc_" and a ULID, so IDs sort by
// creation time and never collide.
func NewID(now time.Time) string {
	var b [26]byte
	ms := uint64(now.UnixMilli())
	for i := 9; i >= 0; i-- {
		b[i] = crockford[ms&31]
		ms >>= 5
	}
	var r [16]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails on supported platforms.
	for i := 10; i < 26; i++ {
		b[i] = crockford[r[i-10]&31]
	}
	return "bc_" + string(b[:])
}

// ValidID reports whether id has the form of a credential ID. A path ID of
// any other form names nothing and is answered 404 without a lookup.
func ValidID(id string) bool {
	if len(id) != 29 || id[:3] != "bc_" {
		return false
	}
	for i := 3; i < len(id); i++ {
		if strings.IndexByte(crockford, id[i]) < 0 {
			return false
		}
	}
	return true
}
