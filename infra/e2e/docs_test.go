package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocsShape: the README stays a quick start (at most 200 lines) that
// links every page of docs/, and no page repeats its title as a section.
func TestDocsShape(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(readme), "\n"); n > 200 {
		t.Errorf("README.md has %d lines; keep it a quick start of at most 200 and move the rest to docs/", n)
	}
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil || len(pages) == 0 {
		t.Fatalf("docs/*.md: %v, %d pages", err, len(pages))
	}
	title := regexp.MustCompile(`(?m)\A# (.+)$`)
	for _, p := range pages {
		name := filepath.Base(p)
		if !strings.Contains(string(readme), "(docs/"+name) {
			t.Errorf("README.md does not link docs/%s", name)
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		m := title.FindStringSubmatch(string(raw))
		if m == nil {
			t.Errorf("docs/%s does not start with its title", name)
			continue
		}
		if strings.Contains(string(raw), "\n## "+m[1]+"\n") {
			t.Errorf("docs/%s repeats its title %q as a section", name, m[1])
		}
	}
}
