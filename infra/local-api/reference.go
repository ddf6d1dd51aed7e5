package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/acme/backup-credentials/shared/httpapi"
)

// The API reference the local API serves at /reference, rendered once from
// the OpenAPI document it serves at /openapi.yaml.

type refDoc struct {
	Title, Version, Description string
	Servers                     []refServer
	Operations                  []refOperation
}

type refServer struct{ URL, Description string }

type refOperation struct {
	ID, Method, Path, Summary string
	Parameters                []refParam
	Request                   string
	Responses                 []refResponse
	Problems                  []string
}

type refParam struct{ Name, In, Schema, Description string }

type refResponse struct{ Status, Description, Example string }

// buildReference reads the document into what the page shows, resolving
// local $refs.
func buildReference(raw []byte) (*refDoc, error) {
	var root map[string]any
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("parse openapi.yaml: %w", err)
	}
	resolve := func(v any) map[string]any {
		m, _ := v.(map[string]any)
		for m != nil {
			ref, ok := m["$ref"].(string)
			if !ok {
				break
			}
			var cur any = root
			for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
				cur = cur.(map[string]any)[part]
			}
			m, _ = cur.(map[string]any)
		}
		return m
	}
	str := func(v any) string { s, _ := v.(string); return s }
	pretty := func(v any) string {
		if v == nil {
			return ""
		}
		b, _ := json.MarshalIndent(v, "", "  ")
		return string(b)
	}
	info := resolve(root["info"])
	doc := &refDoc{Title: str(info["title"]), Version: str(info["version"]), Description: str(info["description"])}
	for _, s := range root["servers"].([]any) {
		m := s.(map[string]any)
		doc.Servers = append(doc.Servers, refServer{URL: str(m["url"]), Description: str(m["description"])})
	}
	params := func(list any) []refParam {
		var out []refParam
		for _, p := range asList(list) {
			m := resolve(p)
			schema, _ := json.Marshal(resolve(m["schema"]))
			out = append(out, refParam{Name: str(m["name"]), In: str(m["in"]), Schema: string(schema), Description: str(m["description"])})
		}
		return out
	}
	for path, item := range root["paths"].(map[string]any) {
		pi := item.(map[string]any)
		for method, o := range pi {
			if method == "parameters" {
				continue
			}
			op := o.(map[string]any)
			ro := refOperation{ID: str(op["operationId"]), Method: strings.ToUpper(method), Path: path, Summary: str(op["summary"]),
				Parameters: append(params(pi["parameters"]), params(op["parameters"])...)}
			if rb := resolve(op["requestBody"]); rb != nil {
				for _, media := range rb["content"].(map[string]any) {
					ro.Request = pretty(media.(map[string]any)["example"])
				}
			}
			for status, r := range op["responses"].(map[string]any) {
				resp := resolve(r)
				rr := refResponse{Status: status, Description: str(resp["description"])}
				if content, ok := resp["content"].(map[string]any); ok {
					for _, media := range content {
						rr.Example = pretty(media.(map[string]any)["example"])
					}
				}
				ro.Responses = append(ro.Responses, rr)
			}
			sort.Slice(ro.Responses, func(i, j int) bool { return ro.Responses[i].Status < ro.Responses[j].Status })
			for _, c := range asList(op["x-problem-codes"]) {
				ro.Problems = append(ro.Problems, str(c))
			}
			doc.Operations = append(doc.Operations, ro)
		}
	}
	sort.Slice(doc.Operations, func(i, j int) bool {
		a, b := doc.Operations[i], doc.Operations[j]
		return a.Path < b.Path || a.Path == b.Path && a.Method < b.Method
	})
	return doc, nil
}

func asList(v any) []any { l, _ := v.([]any); return l }

var referencePage = template.Must(template.New("reference").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} {{.Version}}: reference</title>
<link rel="stylesheet" href="/ui/reference.css"></head><body>
<h1>{{.Title}} <small>{{.Version}}</small></h1>
<p>{{.Description}}</p>
<p>The machine-readable document: <a href="/openapi.yaml">/openapi.yaml</a>. Servers:</p>
<ul>{{range .Servers}}<li><code>{{.URL}}</code>: {{.Description}}</li>{{end}}</ul>
<p>Every request carries <code>Authorization: Bearer &lt;JWT&gt;</code>; errors are <code>application/problem+json</code> with a stable <code>code</code>.</p>
<nav aria-label="Operations">{{range .Operations}}<a href="#{{.ID}}"><span class="m {{.Method}}">{{.Method}}</span> <code>{{.Path}}</code></a>{{end}}</nav>
{{range .Operations}}<section id="{{.ID}}"><h2><span class="m {{.Method}}">{{.Method}}</span> <code>{{.Path}}</code></h2>
<p>{{.Summary}}</p>
{{if .Parameters}}<table><caption>Parameters</caption><tr><th>name</th><th>in</th><th>schema</th><th>meaning</th></tr>
{{range .Parameters}}<tr><td><code>{{.Name}}</code></td><td>{{.In}}</td><td><code>{{.Schema}}</code></td><td>{{.Description}}</td></tr>{{end}}</table>{{end}}
{{if .Request}}<h3>Request body</h3><pre>{{.Request}}</pre>{{end}}
<h3>Responses</h3>
{{range .Responses}}<p><strong>{{.Status}}</strong> {{.Description}}</p>{{if .Example}}<pre>{{.Example}}</pre>{{end}}{{end}}
{{if .Problems}}<p>Problem codes: {{range $i, $c := .Problems}}{{if $i}}, {{end}}<code>{{$c}}</code>{{end}}</p>{{end}}
</section>{{end}}
</body></html>
`))

// reference serves /openapi.yaml and the page rendered from it at /reference.
func reference(mux *http.ServeMux) error {
	doc, err := buildReference(httpapi.OpenAPI)
	if err != nil {
		return err
	}
	var page bytes.Buffer
	if err := referencePage.Execute(&page, doc); err != nil {
		return fmt.Errorf("render reference: %w", err)
	}
	mux.HandleFunc("GET /openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(httpapi.OpenAPI)
	})
	mux.HandleFunc("GET /reference", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page.Bytes())
	})
	return nil
}
