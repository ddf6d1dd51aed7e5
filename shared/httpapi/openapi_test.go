package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/paths"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/acme/backup-credentials/shared/httpapi"
)

// spec is the OpenAPI document, ready to check answers against: the
// validator for requests and responses, the model to find an operation by,
// and the plain document for its extensions and examples.
type spec struct {
	validator validator.Validator
	model     *v3.Document
	doc       map[string]any
	schemas   *jsonschema.Compiler
}

func loadSpec() (*spec, error) {
	raw, err := os.ReadFile("openapi.yaml")
	if err != nil {
		return nil, err
	}
	d, err := libopenapi.NewDocument(raw)
	if err != nil {
		return nil, fmt.Errorf("parse openapi.yaml: %w", err)
	}
	m, err := d.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("build openapi.yaml: %w", err)
	}
	v, errs := validator.NewValidator(d)
	if len(errs) > 0 {
		return nil, fmt.Errorf("validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		return nil, fmt.Errorf("openapi.yaml is not a valid OpenAPI document: %s", describe(verrs))
	}
	var y any
	if err := yaml.Unmarshal(raw, &y); err != nil {
		return nil, err
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
	return &spec{validator: v, model: &m.Model, doc: doc.(map[string]any), schemas: c}, nil
}

func describe[E interface{ Error() string }](errs []E) string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return strings.Join(out, "; ")
}

// operation returns the document's operation for a request, or nil when the
// document has no such path or method.
func (s *spec) operation(req *http.Request) map[string]any {
	_, errs, template := paths.FindPath(req, s.model, nil)
	if len(errs) > 0 || template == "" {
		return nil
	}
	op, _ := s.doc["paths"].(map[string]any)[template].(map[string]any)[strings.ToLower(req.Method)].(map[string]any)
	return op
}

// check reports how an answer departs from the document, or nil: the
// validator checks status, headers, media type and body; and a problem's
// code must be one the operation lists in x-problem-codes. Answers to paths
// or methods the document does not have (404 for no route, 405) must be
// problems.
func (s *spec) check(method, target string, status int, header http.Header, body []byte) error {
	req := httptest.NewRequest(method, "http://127.0.0.1:3000"+target, nil)
	op := s.operation(req)
	if op == nil {
		sch, err := s.schemas.Compile("openapi.json#/components/schemas/Problem")
		if err != nil {
			return err
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
		if err != nil || header.Get("Content-Type") != "application/problem+json" {
			return fmt.Errorf("an answer outside the document is not a problem: %s %q", header.Get("Content-Type"), body)
		}
		return sch.Validate(inst)
	}
	resp := &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(bytes.NewReader(body)), Request: req}
	if ok, errs := s.validator.ValidateHttpResponse(req, resp); !ok {
		var out []string
		for _, e := range errs {
			out = append(out, e.Message+" ("+e.Reason+")")
			for _, se := range e.SchemaValidationErrors {
				out = append(out, "  "+se.FieldPath+": "+se.Reason)
			}
		}
		return fmt.Errorf("%s", strings.Join(out, "; "))
	}
	if status >= 400 {
		var p struct{ Code string }
		_ = json.Unmarshal(body, &p)
		codes, _ := op["x-problem-codes"].([]any)
		if p.Code != "method_not_allowed" && !slices.Contains(codes, any(p.Code)) {
			return fmt.Errorf("problem %q is not in the operation's x-problem-codes %v", p.Code, codes)
		}
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
		if err := s.check(r.method, r.path, r.status, r.header, r.body); err != nil {
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
	problem := func(status int, code string) string {
		return fmt.Sprintf(`{"type":"t","title":"t","status":%d,"detail":"d","code":%q}`, status, code)
	}
	const cred = `{"id":"bc_01JD8X3K5Q9W2R7T4V6Y8Z0A1B","organizationId":"org-1","s3Name":"prod","s3AccessKeyId":"AK",` +
		`"s3Endpoint":"https://s3.example.com","s3Region":"eu-central-1","s3CaCertificate":null,"isDefault":false,"isLocked":false,` +
		`"projects":[],"health":{"status":"unknown","checkedAt":null,"message":"","lastHealthyAt":null},"createdAt":"2026-11-25T09:59:58Z","createdBy":"J",` +
		`"lastModified":"2026-11-25T09:59:58Z","lastModifiedBy":"J","version":1,"lastUsedAt":null,"authType":"accessKey",` +
		`"s3RoleArn":null,"keysChangedAt":"2026-11-25T09:59:58Z","rotationDue":false}`
	tests := []struct {
		name, method, path string
		status             int
		contentType, body  string
		ok                 bool
	}{
		{"problem", "GET", "/v1/backup-credentials/x", 404, "application/problem+json", problem(404, "not_found"), true},
		{"unknown code", "GET", "/v1/backup-credentials/x", 404, "application/problem+json", problem(404, "nope"), false},
		{"code the operation does not list", "GET", "/v1/organizations", 409, "application/problem+json", problem(409, "locked"), false},
		{"secret in body", "GET", "/v1/organizations", 200, "application/json", `{"data":[],"s3SecretKey":"x"}`, false},
		{"wrong media type", "GET", "/v1/organizations", 200, "text/plain", `{"data":[]}`, false},
		{"list", "GET", "/v1/backup-credentials?limit=1", 200, "application/json", `{"data":[],"nextCursor":null}`, true},
		{"credential", "GET", "/v1/backup-credentials/bc_01JD8X3K5Q9W2R7T4V6Y8Z0A1B", 200, "application/json", cred, true},
		{"credential without version", "GET", "/v1/backup-credentials/bc_01JD8X3K5Q9W2R7T4V6Y8Z0A1B", 200, "application/json",
			strings.Replace(cred, `,"version":1`, "", 1), false},
		{"undocumented status", "GET", "/v1/organizations", 200, "application/json", `{"data":[{"id":"org-1"}]}`, false},
		{"no route, not a problem", "GET", "/v2/anything", 404, "text/plain", "404 page not found", false},
		{"no route", "GET", "/v2/anything", 404, "application/problem+json", problem(404, "not_found"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.contentType != "" {
				h.Set("Content-Type", tt.contentType)
			}
			err := s.check(tt.method, tt.path, tt.status, h, []byte(tt.body))
			if (err == nil) != tt.ok {
				t.Errorf("check = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// TestOpenAPIExamples: every request body and every response with content
// has an example, and each example is valid against its schema, so a
// generator or a mock server gets answers the API would give.
func TestOpenAPIExamples(t *testing.T) {
	s, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	resolve := func(v map[string]any, ptr string) (map[string]any, string) {
		for {
			ref, ok := v["$ref"].(string)
			if !ok {
				return v, ptr
			}
			ptr = strings.TrimPrefix(ref, "#")
			var cur any = s.doc
			for _, part := range strings.Split(ptr, "/")[1:] {
				cur = cur.(map[string]any)[part]
			}
			v = cur.(map[string]any)
		}
	}
	esc := func(p string) string { return strings.ReplaceAll(strings.ReplaceAll(p, "~", "~0"), "/", "~1") }
	checkContent := func(t *testing.T, content map[string]any, ptr string) {
		for mt, m := range content {
			media := m.(map[string]any)
			ex, ok := media["example"]
			if !ok {
				t.Errorf("%s: %s has no example", ptr, mt)
				continue
			}
			sch, err := s.schemas.Compile("openapi.json#" + ptr + "/content/" + esc(mt) + "/schema")
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(ex); err != nil {
				t.Errorf("%s: the example of %s does not match its schema: %v", ptr, mt, err)
			}
		}
	}
	n := 0
	for p, item := range s.doc["paths"].(map[string]any) {
		for m, op := range item.(map[string]any) {
			if m == "parameters" {
				continue
			}
			base := "/paths/" + esc(p) + "/" + m
			o := op.(map[string]any)
			if rb, ok := o["requestBody"].(map[string]any); ok {
				checkContent(t, rb["content"].(map[string]any), base+"/requestBody")
				n++
			}
			for status, r := range o["responses"].(map[string]any) {
				resp, ptr := resolve(r.(map[string]any), base+"/responses/"+status)
				if content, ok := resp["content"].(map[string]any); ok {
					checkContent(t, content, ptr)
					n++
				}
			}
			if _, ok := o["x-problem-codes"].([]any); !ok {
				t.Errorf("%s %s lists no x-problem-codes", m, p)
			}
		}
	}
	if n < 30 {
		t.Errorf("only %d bodies checked", n)
	}
}

// TestOpenAPIConstraints: every string a client sends carries the limits the
// server enforces, so a generated client refuses what the server would.
func TestOpenAPIConstraints(t *testing.T) {
	s, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	schemas := s.doc["components"].(map[string]any)["schemas"].(map[string]any)
	for _, input := range []string{"CreateInput", "KeysInput", "PatchInput"} {
		for name, p := range schemas[input].(map[string]any)["properties"].(map[string]any) {
			prop := p.(map[string]any)
			if ref, ok := prop["$ref"].(string); ok {
				prop = schemas[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
			}
			if input == "PatchInput" && (name == "id" || name == "organizationId") {
				continue // only the credential's own value is accepted
			}
			if _, ok := prop["maxLength"]; !ok {
				t.Errorf("%s.%s has no maxLength", input, name)
			}
			if _, ok := prop["minLength"]; !ok && name != "s3CaCertificate" {
				t.Errorf("%s.%s has no minLength", input, name)
			}
		}
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

// TestDocsAgree keeps docs/API.md, the reference in words, naming exactly
// the operations and error codes of the OpenAPI document, and every field of
// the credential.
func TestDocsAgree(t *testing.T) {
	s, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../../docs/API.md")
	if err != nil {
		t.Fatal(err)
	}
	page := string(raw)
	var documented, written []string
	for p, item := range s.doc["paths"].(map[string]any) {
		for m := range item.(map[string]any) {
			if m != "parameters" {
				documented = append(documented, strings.ToUpper(m)+" "+p)
			}
		}
	}
	for _, m := range regexp.MustCompile("(?m)^\\| `((?:GET|POST|PUT|PATCH|DELETE) /[^`]*)` \\|").FindAllStringSubmatch(page, -1) {
		written = append(written, m[1])
	}
	slices.Sort(documented)
	slices.Sort(written)
	if !slices.Equal(documented, written) {
		t.Errorf("docs/API.md's operations:\n%s\nopenapi.yaml's:\n%s", strings.Join(written, "\n"), strings.Join(documented, "\n"))
	}
	schemas := s.doc["components"].(map[string]any)["schemas"].(map[string]any)
	var codes, listed []string
	for _, c := range schemas["Problem"].(map[string]any)["properties"].(map[string]any)["code"].(map[string]any)["enum"].([]any) {
		codes = append(codes, c.(string))
	}
	for _, m := range regexp.MustCompile("(?m)^\\| \\d{3} \\| `([a-z_]+)` \\|").FindAllStringSubmatch(page, -1) {
		listed = append(listed, m[1])
	}
	slices.Sort(codes)
	slices.Sort(listed)
	if !slices.Equal(codes, listed) {
		t.Errorf("docs/API.md's error codes %v, openapi.yaml's %v", listed, codes)
	}
	for field := range schemas["Credential"].(map[string]any)["properties"].(map[string]any) {
		if !strings.Contains(page, "`"+field+"`") {
			t.Errorf("docs/API.md does not describe the credential's %s", field)
		}
	}
}
