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

	"github.com/acme/backup-credentials/shared/dynamo"
	"github.com/acme/backup-credentials/shared/httpapi"
)

const root = "../.."

// readTemplate decodes template.yaml into doc. CloudFormation's short tags
// (!Ref, !GetAtt, !If) are plain YAML tags: they decode as the values they
// tag.
func readTemplate(t *testing.T, doc any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, doc); err != nil {
		t.Fatal(err)
	}
}

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

// background are the functions that serve no route: the health pass's
// scheduled scan and its queue's checker, and the publisher the table's
// stream invokes.
var background = map[string]bool{"health-scan": true, "health-check": true, "publish-changes": true}

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
		if background[dir] {
			if route != "" {
				t.Errorf("%s has an HTTP route %q", dir, route)
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
		if !background[f] && !strings.Contains(string(main), fmt.Sprintf("app.Main(%q", f)) {
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

// TestLayers: production code (the functions, shared/ and the local API)
// never imports the test kit, and no test of a shared/ package reaches
// upward into infra/.
func TestLayers(t *testing.T) {
	deps := func(args ...string) map[string][]string {
		out, err := exec.Command("go", append([]string{"list", "-f", "{{.ImportPath}} {{join .Deps \" \"}}"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %v: %v\n%s", args, err, out)
		}
		found := map[string][]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Fields(line)
			found[f[0]] = f[1:]
		}
		return found
	}
	const testkit = "github.com/acme/backup-credentials/shared/testkit"
	for pkg, ds := range deps("../../functions/...", "../../shared/...", "../../infra/local-api/...") {
		if pkg != testkit && slices.Contains(ds, testkit) {
			t.Errorf("%s imports the test kit", pkg)
		}
	}
	for pkg, ds := range deps("-test", "../../shared/...") {
		for _, d := range ds {
			if strings.Contains(d, "/infra/") {
				t.Errorf("%s (with its tests) imports %s", pkg, d)
			}
		}
	}
	// The health pass's schedule scans and queues: it never checks a key,
	// so it links neither the checker, the provider checks nor STS.
	scan := deps("../../functions/health-scan")["github.com/acme/backup-credentials/functions/health-scan"]
	for _, banned := range []string{"/shared/health/checker", "/shared/provider", "/shared/app/keys", "/service/sts"} {
		for _, d := range scan {
			if strings.HasSuffix(d, banned) {
				t.Errorf("functions/health-scan links %s", d)
			}
		}
	}
	if !slices.Contains(scan, "github.com/acme/backup-credentials/shared/health") {
		t.Errorf("functions/health-scan does not link the scanner: %v", scan)
	}
}

// TestTemplateBoundsCost: the HTTP API stage throttles all callers, and
// every function has a reserved-concurrency setting, both parameters, so one
// tenant cannot exhaust the account's Lambda concurrency.
func TestTemplateBoundsCost(t *testing.T) {
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
	readTemplate(t, &doc)
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

// A statement of an IAM policy in the template.
type statement struct {
	Sid       string `yaml:"Sid"`
	Effect    string `yaml:"Effect"`
	Principal any    `yaml:"Principal"`
	Action    any    `yaml:"Action"`
}

// listOf reads an IAM element that is one string or a list of them (a
// principal's AWS list included).
func listOf(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
		return out
	case map[string]any:
		return listOf(v["AWS"])
	}
	return nil
}

// A grant is one action a function's policy allows, and whether on the
// table's indexes (a statement whose resources include "…/index/…").
type grant struct {
	action  string
	indexes bool
}

// templateGrants reads what each function's policies allow, by logical ID.
func templateGrants(t *testing.T) map[string][]grant {
	var doc struct {
		Resources map[string]struct {
			Type       string `yaml:"Type"`
			Properties struct {
				Policies []struct {
					Statement []struct {
						Effect   string `yaml:"Effect"`
						Action   any    `yaml:"Action"`
						Resource any    `yaml:"Resource"`
					} `yaml:"Statement"`
				} `yaml:"Policies"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	readTemplate(t, &doc)
	out := map[string][]grant{}
	for name, r := range doc.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		out[name] = []grant{}
		for _, p := range r.Properties.Policies {
			for _, st := range p.Statement {
				indexes := slices.ContainsFunc(listOf(st.Resource), func(r string) bool { return r == "*" || strings.Contains(r, "/index/") })
				for _, a := range listOf(st.Action) {
					if st.Effect == "Allow" {
						out[name] = append(out[name], grant{action: a, indexes: indexes})
					}
				}
			}
		}
	}
	return out
}

// templateActions reads the IAM actions each function's policies allow,
// by logical ID.
func templateActions(t *testing.T) map[string][]string {
	out := map[string][]string{}
	for name, grants := range templateGrants(t) {
		out[name] = []string{}
		for _, g := range grants {
			out[name] = append(out[name], g.action)
		}
	}
	return out
}

// TestWhoReadsSecrets holds the template's permissions, the KMS key policy
// and docs/security.md's table to each other: only the check and the health
// check may read secrets, no statement of the key policy names every
// principal, and the account cannot grant the key's use through IAM.
func TestWhoReadsSecrets(t *testing.T) {
	var doc struct {
		Resources map[string]struct {
			Properties struct {
				KeyPolicy struct {
					Statement []statement `yaml:"Statement"`
				} `yaml:"KeyPolicy"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	readTemplate(t, &doc)
	iam := templateActions(t) // function -> IAM actions
	for name, actions := range iam {
		if slices.Contains(actions, "secretsmanager:GetSecretValue") != (name == "CheckFunction" || name == "HealthCheckFunction" || name == "BackupTargetFunction") {
			t.Errorf("%s: GetSecretValue is for the check, the health check and the backup engine's route only; it has %v", name, actions)
		}
		if slices.ContainsFunc(actions, func(a string) bool { return strings.HasPrefix(a, "kms:") }) {
			t.Errorf("%s grants itself KMS actions; the key policy decides", name)
		}
	}
	kms := map[string][]string{} // function -> KMS actions the key policy gives its role
	for _, st := range doc.Resources["SecretsKey"].Properties.KeyPolicy.Statement {
		for _, p := range listOf(st.Principal) {
			switch {
			case p == "*":
				t.Errorf("key policy statement %s names every principal", st.Sid)
			case strings.HasSuffix(p, "Role.Arn"):
				fn := strings.TrimSuffix(p, "Role.Arn")
				kms[fn] = append(kms[fn], listOf(st.Action)...)
			case slices.ContainsFunc(listOf(st.Action), func(a string) bool {
				return a == "kms:*" || a == "kms:Decrypt" || strings.HasPrefix(a, "kms:GenerateDataKey") || a == "kms:Encrypt"
			}):
				t.Errorf("key policy statement %s lets %s use the key", st.Sid, p)
			}
		}
	}
	for fn, actions := range kms {
		if slices.Contains(actions, "kms:Decrypt") && !slices.Contains([]string{"CheckFunction", "HealthCheckFunction", "BackupTargetFunction", "CreateFunction", "UpdateFunction"}, fn) {
			t.Errorf("the key policy lets %s decrypt", fn)
		}
	}
	// docs/security.md's table says the same.
	page, err := os.ReadFile(filepath.Join(root, "docs", "security.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| ((?:`\\w+Function`(?:, )?)+) \\|([^|]*)\\|([^|]*)\\|").FindAllStringSubmatch(string(page), -1) {
		sorted := func(s string) []string {
			var out []string
			for _, a := range strings.Split(s, ",") {
				if a = strings.TrimSpace(a); a != "" {
					out = append(out, a)
				}
			}
			slices.Sort(out)
			return out
		}
		for _, fn := range regexp.MustCompile("`(\\w+Function)`").FindAllStringSubmatch(m[1], -1) {
			documented[fn[1]] = true
			want, wantKMS := slices.Sorted(slices.Values(iam[fn[1]])), slices.Sorted(slices.Values(kms[fn[1]]))
			if got := sorted(m[2]); !slices.Equal(got, want) {
				t.Errorf("docs/security.md gives %s IAM actions %v; the template %v", fn[1], got, want)
			}
			if got := sorted(m[3]); !slices.Equal(got, wantKMS) {
				t.Errorf("docs/security.md gives %s KMS actions %v; the key policy %v", fn[1], got, wantKMS)
			}
		}
	}
	for fn := range iam {
		if !documented[fn] {
			t.Errorf("docs/security.md does not list %s", fn)
		}
	}
}

// TestIndexProjectsWhatListShows: the list index of the template projects
// exactly the attributes the code reads and searches (a missing one would
// fail every list in AWS, which checks projections as the emulators do
// not), and never the secret's version.
func TestIndexProjectsWhatListShows(t *testing.T) {
	var doc struct {
		Resources struct {
			Table struct {
				Properties struct {
					GlobalSecondaryIndexes []struct {
						IndexName  string `yaml:"IndexName"`
						Projection struct {
							ProjectionType   string   `yaml:"ProjectionType"`
							NonKeyAttributes []string `yaml:"NonKeyAttributes"`
						} `yaml:"Projection"`
					} `yaml:"GlobalSecondaryIndexes"`
				} `yaml:"Properties"`
			} `yaml:"Table"`
		} `yaml:"Resources"`
	}
	readTemplate(t, &doc)
	idx := doc.Resources.Table.Properties.GlobalSecondaryIndexes
	if len(idx) != 1 || idx[0].Projection.ProjectionType != "INCLUDE" {
		t.Fatalf("indexes = %+v, want one INCLUDE index", idx)
	}
	got, want := slices.Sorted(slices.Values(idx[0].Projection.NonKeyAttributes)), slices.Sorted(slices.Values(dynamo.ListAttributes))
	if !slices.Equal(got, want) || slices.Contains(got, "secretVersion") {
		t.Errorf("template projects %v; the code reads %v", got, want)
	}
}

// streamSource is an event source mapping of a DynamoDB stream, as the
// template gives it.
type streamSource struct {
	Type       string `yaml:"Type"`
	Properties struct {
		Stream                     string   `yaml:"Stream"`
		StartingPosition           string   `yaml:"StartingPosition"`
		BisectBatchOnFunctionError bool     `yaml:"BisectBatchOnFunctionError"`
		MaximumRetryAttempts       int      `yaml:"MaximumRetryAttempts"`
		FunctionResponseTypes      []string `yaml:"FunctionResponseTypes"`
		DestinationConfig          struct {
			OnFailure struct {
				Destination string `yaml:"Destination"`
			} `yaml:"OnFailure"`
		} `yaml:"DestinationConfig"`
		FilterCriteria struct {
			Filters []struct {
				Pattern string `yaml:"Pattern"`
			} `yaml:"Filters"`
		} `yaml:"FilterCriteria"`
	} `yaml:"Properties"`
}

// publisherTemplate is what TestChangesFromTheStream reads of the template.
type publisherTemplate struct {
	Resources map[string]struct {
		Type       string `yaml:"Type"`
		Properties struct {
			StreamSpecification struct {
				StreamViewType string `yaml:"StreamViewType"`
			} `yaml:"StreamSpecification"`
			Environment struct {
				Variables map[string]any `yaml:"Variables"`
			} `yaml:"Environment"`
			Events     map[string]streamSource `yaml:"Events"`
			Dimensions []struct {
				Value string `yaml:"Value"`
			} `yaml:"Dimensions"`
		} `yaml:"Properties"`
	} `yaml:"Resources"`
}

// TestChangesFromTheStream holds the template to what the publisher needs:
// the table's stream with both images (dynamo.CreateTable makes the same),
// the publisher invoked by it with partial batch responses, split batches,
// bounded retries, a dead-letter queue with an alarm, and filters that let
// through every record that can make an event.
func TestChangesFromTheStream(t *testing.T) {
	var doc publisherTemplate
	readTemplate(t, &doc)
	if v := doc.Resources["Table"].Properties.StreamSpecification.StreamViewType; v != "NEW_AND_OLD_IMAGES" {
		t.Errorf("the table's stream view is %q, want NEW_AND_OLD_IMAGES", v)
	}
	fn := doc.Resources["PublishChangesFunction"].Properties
	if fn.Environment.Variables["EVENT_BUS_NAME"] == nil {
		t.Error("the publisher has no EVENT_BUS_NAME")
	}
	var streams []streamSource
	for name, ev := range fn.Events {
		if ev.Type != "DynamoDB" {
			t.Errorf("the publisher has event %s of type %s", name, ev.Type)
		}
		streams = append(streams, ev)
	}
	if len(streams) != 1 {
		t.Fatalf("the publisher has %d stream events, want 1", len(streams))
	}
	p := streams[0].Properties
	if p.Stream != "Table.StreamArn" || p.StartingPosition != "TRIM_HORIZON" || !p.BisectBatchOnFunctionError ||
		p.MaximumRetryAttempts < 1 || p.MaximumRetryAttempts > 100 || !slices.Contains(p.FunctionResponseTypes, "ReportBatchItemFailures") {
		t.Errorf("the publisher's event source = %+v", p)
	}
	dlq := p.DestinationConfig.OnFailure.Destination
	if dlq != "PublishChangesDeadLetters.Arn" || doc.Resources["PublishChangesDeadLetters"].Type != "AWS::SQS::Queue" {
		t.Errorf("on failure the records go to %q", dlq)
	}
	alarmed := false
	for _, r := range doc.Resources {
		for _, d := range r.Properties.Dimensions {
			alarmed = alarmed || r.Type == "AWS::CloudWatch::Alarm" && d.Value == "PublishChangesDeadLetters.QueueName"
		}
	}
	if !alarmed {
		t.Error("no alarm watches the publisher's dead-letter queue")
	}
	var patterns []string
	for _, f := range p.FilterCriteria.Filters {
		patterns = append(patterns, f.Pattern)
	}
	all := strings.Join(patterns, "\n")
	for _, want := range []string{`"SK": {"S": ["CRED"]}`, `"SK": {"S": [{"prefix": "HIST#"}]}`} {
		if !strings.Contains(all, want) {
			t.Errorf("the filters %v do not let %s through", patterns, want)
		}
	}
}

// TestRoleAssumerNeverAssumesItsOwnAccount: the one principal that assumes
// customers' roles may do so only with an external ID the service made and
// only outside the service's own account, whatever a tenant names.
func TestRoleAssumerNeverAssumesItsOwnAccount(t *testing.T) {
	var doc struct {
		Resources map[string]struct {
			Properties struct {
				Policies []struct {
					PolicyDocument struct {
						Statement []struct {
							Effect    string                       `yaml:"Effect"`
							Action    any                          `yaml:"Action"`
							Condition map[string]map[string]string `yaml:"Condition"`
						} `yaml:"Statement"`
					} `yaml:"PolicyDocument"`
				} `yaml:"Policies"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	readTemplate(t, &doc)
	assumes := 0
	for _, p := range doc.Resources["RoleAssumer"].Properties.Policies {
		for _, st := range p.PolicyDocument.Statement {
			if st.Effect != "Allow" || !slices.Contains(listOf(st.Action), "sts:AssumeRole") {
				continue
			}
			assumes++
			if got := st.Condition["StringNotEquals"]["aws:ResourceAccount"]; got != "AWS::AccountId" {
				t.Errorf("RoleAssumer may assume roles of its own account: StringNotEquals aws:ResourceAccount is %q, want !Ref AWS::AccountId", got)
			}
			if got := st.Condition["StringLike"]["sts:ExternalId"]; got != "bcx-*" {
				t.Errorf("RoleAssumer may assume roles without an external ID the service made: %q", got)
			}
		}
	}
	if assumes == 0 {
		t.Error("RoleAssumer has no statement that assumes roles")
	}
}
