package backup

import "testing"

func TestCursorRoundTripAndBinding(t *testing.T) {
	p := Position{Org: "org-1", Key: "prod\x01bc_1", ID: "bc_1"}
	c := EncodeCursor(p, "list", "u-1", "", "")
	got, err := DecodeCursor(c, "list", "u-1", "", "")
	if err != nil || *got != p {
		t.Fatalf("DecodeCursor = %v, %v", got, err)
	}
	for _, parts := range [][]string{{"list", "u-2", "", ""}, {"list", "u-1", "org-2", ""}, {"list", "u-1", "", "x"}} {
		if _, err := DecodeCursor(c, parts...); ErrorCode(err) != EInvalid {
			t.Errorf("cursor accepted for %v", parts)
		}
	}
}

// BenchmarkCursor encodes and decodes a list cursor, as every list page does.
func BenchmarkCursor(b *testing.B) {
	p := Position{Org: "org-1", Key: "prod-backups\x01bc_01JD8X0000000000000000000X"}
	b.ReportAllocs()
	for b.Loop() {
		c := EncodeCursor(p, "list", "user-1", "", "")
		if _, err := DecodeCursor(c, "list", "user-1", "", ""); err != nil {
			b.Fatal(err)
		}
	}
}
