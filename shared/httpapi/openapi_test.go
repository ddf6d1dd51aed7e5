package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/acme/backup-credentials/shared/httpapi"
)

// spec is the OpenAPI document, ready to check responses against.
type spec struct {
	doc      map[string]any
	compiler *jsonschema.Compiler
	paths    []specPath
}

type specPath struct {
	template string
	re       *regexp.Regexp
}

func loadSpec() (*spec, error) {
	raw, err := os.ReadFile("openapi.yaml")
	if err != nil {
		return nil, err
	}
	var y any
	if err := yaml.Unmarshal(raw, &y); err != nil {
		return nil, fmt.Errorf("parse openapi.yaml: %w", err)
	}
	j, err := json.Marshal(y)
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("openapi.json", doc); err != nil {
		return nil, err
	}
	s := &spec{doc: doc.(map[string]any), compiler: c}
	for p := range s.doc["paths"].(map[string]any) {
		quoted := regexp.QuoteMeta(regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(p, "\x00"))
		re := regexp.MustCompile("^" + strings.ReplaceAll(quoted, "\x00", `[^/]+`) + "$")
		s.paths = append(s.paths, specPath{p, re})
	}
	// Literal paths win over templates (validate over {id}).
	slices.SortFunc(s.paths, func(a, b specPath) int { return strings.Count(a.template, "{") - strings.Count(b.template, "{") })
	return s, nil
}

func pointer(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString("/" + strings.ReplaceAll(strings.ReplaceAll(p, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

// resolve follows a local $ref, returning the object and its pointer.
func (s *spec) resolve(v map[string]any, ptr string) (map[string]any, string) {
	for {
		ref, ok := v["$ref"].(string)
		if !ok {
			return v, ptr
		}
		ptr = strings.TrimPrefix(ref, "#")
		var cur any = s.doc
		for _, part := range strings.Split(ptr, "/")[1:] {
			cur = cur.(map[string]any)[strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")]
		}
		v = cur.(map[string]any)
	}
}

// check reports how a response departs from the document, or nil. Paths the
// document does not name (unknown routes) are not checked.
func (s *spec) check(method, path string, status int, contentType string, body []byte) error {
	path, _, _ = strings.Cut(path, "?")
	var template string
	for _, p := range s.paths {
		if p.re.MatchString(path) {
			template = p.template
			break
		}
	}
	if template == "" {
		return nil
	}
	op, ok := s.doc["paths"].(map[string]any)[template].(map[string]any)[strings.ToLower(method)].(map[string]any)
	if !ok {
		return nil // ServeMux answers unknown methods as unknown routes
	}
	responses := op["responses"].(map[string]any)
	key := strconv.Itoa(status)
	r, ok := responses[key].(map[string]any)
	if !ok {
		key = "default"
		if r, ok = responses[key].(map[string]any); !ok {
			return fmt.Errorf("status %d is not documented", status)
		}
	}
	r, ptr := s.resolve(r, pointer("paths", template, strings.ToLower(method), "responses", key))
	content, _ := r["content"].(map[string]any)
	if content == nil {
		if len(body) > 0 {
			return fmt.Errorf("status %d has a body the document does not describe", status)
		}
		return nil
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	if _, ok := content[mt].(map[string]any); !ok {
		return fmt.Errorf("status %d answered %s, which is not documented", status, contentType)
	}
	sch, err := s.compiler.Compile("openapi.json#" + ptr + pointer("content", mt, "schema"))
	if err != nil {
		return fmt.Errorf("compile schema: %w", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("body is not JSON: %w", err)
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("body does not match the schema: %v", err)
	}
	return nil
}

// conformance checks every response the suite recorded.
func conformance() []string {
	s, err := loadSpec()
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	rs := recorded.all()
	if len(rs) == 0 {
		return []string{"no responses were recorded, so none could be checked"}
	}
	for _, r := range rs {
		if err := s.check(r.method, r.path, r.status, r.header.Get("Content-Type"), r.body); err != nil {
			out = append(out, fmt.Sprintf("%s %.120s -> %d: %v", r.method, r.path, r.status, err))
		}
	}
	return out
}

func TestOpenAPICatchesDepartures(t *testing.T) {
	s, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path string
		status             int
		contentType, body  string
		ok                 bool
	}{
		{"problem", "GET", "/v1/backup-credentials/x", 404, "application/problem+json", `{"type":"t","title":"Not found","status":404,"detail":"d","code":"not_found"}`, true},
		{"unknown code", "GET", "/v1/backup-credentials/x", 404, "application/problem+json", `{"type":"t","title":"t","status":404,"detail":"d","code":"nope"}`, false},
		{"secret in body", "GET", "/v1/organizations", 200, "application/json", `{"data":[],"s3SecretKey":"x"}`, false},
		{"wrong media type", "GET", "/v1/organizations", 200, "text/plain", `{"data":[]}`, false},
		{"body on 204", "DELETE", "/v1/backup-credentials/x", 204, "", `{}`, false},
		{"list", "GET", "/v1/backup-credentials?limit=1", 200, "application/json", `{"data":[],"nextCursor":null}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.check(tt.method, tt.path, tt.status, tt.contentType, []byte(tt.body))
			if (err == nil) != tt.ok {
				t.Errorf("check = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// TestOpenAPIRoutes keeps the document and the handler's routes in step.
func TestOpenAPIRoutes(t *testing.T) {
	s, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	var documented, served []string
	for p, item := range s.doc["paths"].(map[string]any) {
		for m, op := range item.(map[string]any) {
			if m == "parameters" {
				continue
			}
			documented = append(documented, fmt.Sprintf("%s %s %s", op.(map[string]any)["operationId"], strings.ToUpper(m), p))
		}
	}
	for _, r := range httpapi.Routes {
		served = append(served, fmt.Sprintf("%s %s %s", r.Name, r.Method, r.Path))
	}
	slices.Sort(documented)
	slices.Sort(served)
	if !slices.Equal(documented, served) {
		t.Errorf("documented:\n%s\nserved:\n%s", strings.Join(documented, "\n"), strings.Join(served, "\n"))
	}
}
