package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/acme/backup-credentials/shared/httpapi"
)

func TestReference(t *testing.T) {
	mux := http.NewServeMux()
	if err := reference(mux); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(path string) (string, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		return resp.Header.Get("Content-Type"), string(b)
	}
	if ct, body := get("/openapi.yaml"); !bytes.Equal([]byte(body), httpapi.OpenAPI) || ct != "application/yaml" {
		t.Errorf("/openapi.yaml is not the document (%s)", ct)
	}
	_, page := get("/reference")
	for _, r := range httpapi.Routes {
		if !strings.Contains(page, `id="`+r.Name+`"`) || !strings.Contains(page, "<code>"+r.Path+"</code>") {
			t.Errorf("the reference lacks %s %s", r.Method, r.Path)
		}
	}
	for _, want := range []string{"AKIAIOSFODNN7EXAMPLE", "idempotency_key_reused", "Idempotency-Key", "http://127.0.0.1:3000", "If-Match"} {
		if !strings.Contains(page, want) {
			t.Errorf("the reference does not show %q", want)
		}
	}
}
