package httpapi

import (
	"os"
	"regexp"
	"strconv"
	"testing"
)

// TestEveryCodeHasItsStatus: the error table of docs/API.md and kinds give
// each code the same status, and no code lacks a title.
func TestEveryCodeHasItsStatus(t *testing.T) {
	raw, err := os.ReadFile("../../docs/API.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile("(?m)^\\| (\\d{3}) \\| `([a-z_]+)` \\|").FindAllStringSubmatch(string(raw), -1)
	if len(rows) != len(kinds) {
		t.Errorf("docs/API.md lists %d codes, kinds %d", len(rows), len(kinds))
	}
	for _, row := range rows {
		status, _ := strconv.Atoi(row[1])
		k, ok := kinds[row[2]]
		if !ok || k.status != status || k.title == "" {
			t.Errorf("code %s: docs say %d, kinds say %+v", row[2], status, k)
		}
	}
}
