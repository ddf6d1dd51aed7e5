package e2e

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/acme/backup-credentials/shared/httpapi"
)

const root = "../.."

// templateFunctions reads template.yaml: each function's logical ID and its
// HTTP route ("" for the health check).
func templateFunctions(t *testing.T) map[string]string {
	raw, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	get := func(n *yaml.Node, key string) *yaml.Node {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
		return nil
	}
	out := map[string]string{}
	res := get(doc.Content[0], "Resources")
	for i := 0; i+1 < len(res.Content); i += 2 {
		r := res.Content[i+1]
		if v := get(r, "Type"); v == nil || v.Value != "AWS::Serverless::Function" {
			continue
		}
		props := get(r, "Properties")
		route := ""
		if api := get(get(props, "Events"), "Api"); api != nil {
			p := get(api, "Properties")
			route = get(p, "Method").Value + " " + get(p, "Path").Value
		}
		if get(props, "CodeUri").Value != "." || get(get(r, "Metadata"), "BuildMethod").Value != "makefile" {
			t.Errorf("%s is not built by the Makefile", res.Content[i].Value)
		}
		out[res.Content[i].Value] = route
	}
	return out
}

// TestEverythingAgrees fails when a route is missing from any of the places
// that must name it.
func TestEverythingAgrees(t *testing.T) {
	tmpl := templateFunctions(t)
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	samBuild := map[string]string{} // logical ID -> function dir
	for _, m := range regexp.MustCompile(`(\w+Function)=([\w-]+)`).FindAllStringSubmatch(string(mk), -1) {
		samBuild[m[1]] = m[2]
	}
	dirs, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	var functions []string
	for _, d := range dirs {
		if d.IsDir() {
			functions = append(functions, d.Name())
		}
	}
	served := map[string]string{} // name -> route
	for _, r := range httpapi.Routes {
		served[r.Name] = r.Method + " " + r.Path
	}

	var fromTemplate []string
	for logical, route := range tmpl {
		dir, ok := samBuild[logical]
		if !ok {
			t.Errorf("template function %s has no build target in the Makefile", logical)
			continue
		}
		fromTemplate = append(fromTemplate, dir)
		if dir == "health-check" {
			if route != "" {
				t.Errorf("the health check has an HTTP route %q", route)
			}
			continue
		}
		if served[dir] != route {
			t.Errorf("template routes %s to %q; the handler serves %q there", logical, route, served[dir])
		}
	}
	slices.Sort(fromTemplate)
	if !slices.Equal(fromTemplate, functions) {
		t.Errorf("template builds %v; functions/ holds %v", fromTemplate, functions)
	}
	for name := range served {
		if !slices.Contains(functions, name) {
			t.Errorf("route %s has no function", name)
		}
	}
	for _, f := range functions {
		if _, err := os.Stat(filepath.Join(root, "events", f+".json")); err != nil {
			t.Errorf("function %s has no event in events/", f)
		}
		main, err := os.ReadFile(filepath.Join(root, "functions", f, "main.go"))
		if err != nil {
			t.Fatal(err)
		}
		if f != "health-check" && !strings.Contains(string(main), fmt.Sprintf("%q)", f)) {
			t.Errorf("functions/%s/main.go does not serve route %q", f, f)
		}
	}
}

// TestEventsMatchRoutes checks each API event names its function's route.
func TestEventsMatchRoutes(t *testing.T) {
	for _, r := range httpapi.Routes {
		raw, err := os.ReadFile(filepath.Join(root, "events", r.Name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf(`"routeKey": "%s %s"`, r.Method, r.Path); !strings.Contains(string(raw), want) {
			t.Errorf("events/%s.json lacks %s", r.Name, want)
		}
	}
}

// TestSAMBuildContract does what `sam build` does with the Makefile build
// method, without SAM: for every function of the template,
// `make build-<LogicalId> ARTIFACTS_DIR=<dir>` must leave <dir>/bootstrap, a
// Linux arm64 executable as the template's Architectures say. And `make
// deploy` must build with SAM before it deploys, so that what is deployed
// is those binaries, not the repository.
func TestSAMBuildContract(t *testing.T) {
	out, err := exec.Command("make", "-C", root, "-n", "deploy").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n deploy: %v\n%s", err, out)
	}
	build, deploy := strings.Index(string(out), "sam build"), strings.Index(string(out), "sam deploy")
	if build < 0 || deploy < 0 || build > deploy {
		t.Errorf("make deploy does not run sam build before sam deploy:\n%s", out)
	}
	for logical := range templateFunctions(t) {
		t.Run(logical, func(t *testing.T) {
			dir := t.TempDir()
			out, err := exec.Command("make", "-C", root, "build-"+logical, "ARTIFACTS_DIR="+dir).CombinedOutput()
			if err != nil {
				t.Fatalf("make build-%s: %v\n%s", logical, err, out)
			}
			f, err := elf.Open(filepath.Join(dir, "bootstrap"))
			if err != nil {
				t.Fatalf("%s/bootstrap: %v", dir, err)
			}
			defer f.Close()
			if f.Machine != elf.EM_AARCH64 || f.Type != elf.ET_EXEC {
				t.Errorf("bootstrap is %s %s, want an arm64 executable", f.Machine, f.Type)
			}
		})
	}
}

// TestLambdasLinkNoLocalCode: what only the local API needs (HS256 tokens,
// the page, the demo S3 endpoint) never reaches a Lambda function.
func TestLambdasLinkNoLocalCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../../functions/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "jwt") || strings.Contains(dep, "/infra/") || strings.Contains(dep, "minidyn") {
			t.Errorf("a Lambda function links %s", dep)
		}
	}
}

// TestTemplateBoundsCost: the HTTP API stage throttles all callers, and
// every function has a reserved-concurrency setting, both parameters, so one
// tenant cannot exhaust the account's Lambda concurrency.
func TestTemplateBoundsCost(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Parameters map[string]any `yaml:"Parameters"`
		Globals    struct {
			Function map[string]any `yaml:"Function"`
		} `yaml:"Globals"`
		Resources map[string]struct {
			Type       string         `yaml:"Type"`
			Properties map[string]any `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	// CloudFormation's short tags (!Ref, !If) are plain YAML tags: decode them
	// as the values they tag.
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"ApiThrottlingRateLimit", "ApiThrottlingBurstLimit", "ApiReservedConcurrency"} {
		if _, ok := doc.Parameters[p]; !ok {
			t.Errorf("template parameter %s is missing", p)
		}
	}
	settings, _ := doc.Resources["Api"].Properties["DefaultRouteSettings"].(map[string]any)
	if settings["ThrottlingRateLimit"] != "ApiThrottlingRateLimit" || settings["ThrottlingBurstLimit"] != "ApiThrottlingBurstLimit" {
		t.Errorf("the HTTP API's DefaultRouteSettings %v do not throttle by the parameters", settings)
	}
	if rc := fmt.Sprint(doc.Globals.Function["ReservedConcurrentExecutions"]); !strings.Contains(rc, "ApiReservedConcurrency") {
		t.Errorf("Globals.Function.ReservedConcurrentExecutions = %s, want the ApiReservedConcurrency parameter", rc)
	}
	for name, r := range doc.Resources {
		events, _ := r.Properties["Events"].(map[string]any)
		_, api := events["Api"]
		if _, own := r.Properties["ReservedConcurrentExecutions"]; r.Type == "AWS::Serverless::Function" && api && own {
			t.Errorf("API function %s overrides the reserved concurrency", name)
		}
	}
}
