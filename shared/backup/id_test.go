package backup

import (
	"strings"
	"testing"
	"time"
)

func TestValidID(t *testing.T) {
	id := NewID(time.Now())
	tests := []struct {
		id   string
		want bool
	}{
		{id, true},
		{"bc_01JD8X0000000000000000000X", true},
		{strings.ToLower(id), false},
		{"bc_01JD8X000000000000000000I", false},
		{"bc_01JD8X0000000000000000000I", false},
		{"xx_01JD8X0000000000000000000X", false},
		{"bc_01JD8X0000000000000000000X0", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := ValidID(tt.id); got != tt.want {
			t.Errorf("ValidID(%q) = %v", tt.id, got)
		}
	}
	if NewID(time.Now()) == NewID(time.Now()) {
		t.Error("two IDs collide")
	}
}

func TestToken(t *testing.T) {
	for _, tt := range []struct {
		s  string
		ok bool
	}{{"org-1", true}, {"a.b:c_d", true}, {"", false}, {"a b", false}, {strings.Repeat("a", 129), false}, {"ü", false}} {
		if token(tt.s, 128, "._:-") != tt.ok {
			t.Errorf("token(%q) != %v", tt.s, tt.ok)
		}
	}
}
