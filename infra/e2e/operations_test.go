package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// opsTemplate is what the operations tests read of template.yaml.
type opsTemplate struct {
	Resources map[string]struct {
		Type       string         `yaml:"Type"`
		Properties map[string]any `yaml:"Properties"`
	} `yaml:"Resources"`
	Outputs map[string]any `yaml:"Outputs"`
}

func readOps(t *testing.T) (opsTemplate, string) {
	t.Helper()
	var doc opsTemplate
	readTemplate(t, &doc)
	raw, err := os.ReadFile(filepath.Join(root, "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	return doc, string(raw)
}

// sections are the "### " headings of one "## " part of a Markdown page.
func sections(page, part string) []string {
	var out []string
	in := false
	for _, line := range strings.Split(page, "\n") {
		switch {
		case strings.HasPrefix(line, "## "):
			in = line == "## "+part
		case in && strings.HasPrefix(line, "### "):
			out = append(out, strings.TrimPrefix(line, "### "))
		}
	}
	return out
}

var runbookRef = regexp.MustCompile(`Runbook: docs/operations\.md#([a-z0-9-]+)$`)

// TestAlarmsHaveRunbooks: every alarm of the template notifies the alarm
// topic and names a section of docs/operations.md's Alarms, and every such
// section is some alarm's.
func TestAlarmsHaveRunbooks(t *testing.T) {
	doc, page := readOps(t)
	runbook := sections(page, "Alarms")
	named := map[string]bool{}
	for name, r := range doc.Resources {
		if r.Type != "AWS::CloudWatch::Alarm" {
			continue
		}
		m := runbookRef.FindStringSubmatch(fmt.Sprint(r.Properties["AlarmDescription"]))
		switch {
		case m == nil:
			t.Errorf("%s's description names no runbook section", name)
		case !slices.Contains(runbook, m[1]):
			t.Errorf("%s names runbook section %q; docs/operations.md's Alarms has %v", name, m[1], runbook)
		default:
			named[m[1]] = true
		}
		for _, key := range []string{"AlarmActions", "OKActions"} {
			if got := fmt.Sprint(r.Properties[key]); got != "[AlarmTopic]" {
				t.Errorf("%s %s = %s, want [AlarmTopic]", name, key, got)
			}
		}
	}
	for _, s := range runbook {
		if !named[s] {
			t.Errorf("runbook section %q is no alarm's", s)
		}
	}
	if len(named) == 0 {
		t.Fatal("the template has no alarms")
	}
}

// TestEveryFunctionIsWatched: each function has an errors and a throttles
// alarm on itself, and a line in the dashboard's errors, throttles and
// concurrency widgets.
func TestEveryFunctionIsWatched(t *testing.T) {
	doc, _ := readOps(t)
	widgets := dashboard(t, doc)
	fns := templateFunctions(t)
	if len(fns) < 18 {
		t.Fatalf("read %d functions from the template", len(fns))
	}
	for fn := range fns {
		base := strings.TrimSuffix(fn, "Function")
		for _, metric := range []string{"Errors", "Throttles"} {
			a, ok := doc.Resources[base+metric+"Alarm"]
			dims := fmt.Sprint(a.Properties["Dimensions"])
			if !ok || a.Properties["MetricName"] != metric || dims != fmt.Sprintf("[map[Name:FunctionName Value:%s]]", fn) {
				t.Errorf("%s has no %s alarm of its own (%s%sAlarm: %v)", fn, metric, base, metric, a.Properties)
			}
		}
		for _, metric := range []string{"Errors", "Throttles", "ConcurrentExecutions"} {
			if !slices.Contains(widgets["AWS/Lambda "+metric], "${"+fn+"}") {
				t.Errorf("the dashboard's %s widget has no line for %s", metric, fn)
			}
		}
	}
}

// TestDashboardShowsWhatTheCodeWrites: every metric the health pass writes
// (health.WriteMetrics) and every queue is on the dashboard, and the API
// widgets read the stack's API per route.
func TestDashboardShowsWhatTheCodeWrites(t *testing.T) {
	doc, _ := readOps(t)
	widgets := dashboard(t, doc)
	written := healthMetrics(t)
	if len(written) < 10 {
		t.Fatalf("found %d metrics the health pass writes: %v", len(written), written)
	}
	for _, m := range written {
		if _, ok := widgets["BackupCredentials "+m]; !ok {
			t.Errorf("the health pass writes %s; the dashboard does not show it", m)
		}
	}
	for name, r := range doc.Resources {
		if r.Type == "AWS::SQS::Queue" && !slices.Contains(widgets["AWS/SQS ApproximateNumberOfMessagesVisible"], "${"+name+".QueueName}") {
			t.Errorf("the dashboard does not show queue %s's depth", name)
		}
	}
	for _, m := range []string{"Count", "4xx", "5xx", "Latency"} {
		if !slices.ContainsFunc(widgets["search"], func(e string) bool {
			return strings.Contains(e, `ApiId="${Api}"`) && strings.Contains(e, `MetricName="`+m+`"`) && strings.Contains(e, "Method,Resource,Stage")
		}) {
			t.Errorf("no dashboard widget shows %s per route", m)
		}
	}
	if !slices.Contains(widgets["AWS/Lambda IteratorAge"], "${PublishChangesFunction}") {
		t.Error("the dashboard does not show the change stream's iterator age")
	}
}

// dashboard reads the template's dashboard: for "namespace metric", the
// dimension values of its lines (CloudWatch's "." repeats the line
// above), and under "search" the search expressions.
func dashboard(t *testing.T, doc opsTemplate) map[string][]string {
	t.Helper()
	body, _ := doc.Resources["Dashboard"].Properties["DashboardBody"].(string)
	refs := regexp.MustCompile(`\$\{([A-Za-z0-9:.]+)\}`)
	for _, ref := range refs.FindAllStringSubmatch(body, -1) {
		name, _, _ := strings.Cut(ref[1], ".")
		if _, ok := doc.Resources[name]; !ok && !strings.HasPrefix(name, "AWS::") {
			t.Errorf("the dashboard names ${%s}, which the template does not have", ref[1])
		}
	}
	var d struct {
		Widgets []struct {
			Properties struct {
				Metrics [][]any `json:"metrics"`
			} `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatalf("the dashboard's body is not JSON: %v", err)
	}
	out := map[string][]string{}
	for _, w := range d.Widgets {
		var prev []string
		for _, line := range w.Properties.Metrics {
			if e, ok := line[0].(map[string]any); ok {
				out["search"] = append(out["search"], fmt.Sprint(e["expression"]))
				continue
			}
			var cur []string
			for i, v := range line {
				s, ok := v.(string)
				if !ok {
					break // the line's options
				}
				if s == "." && i < len(prev) {
					s = prev[i]
				}
				cur = append(cur, s)
			}
			key := cur[0] + " " + cur[1]
			out[key] = append(out[key], cur[2:]...)
			prev = cur
		}
	}
	return out
}

// healthMetrics are the names the health pass's code gives WriteMetrics.
func healthMetrics(t *testing.T) []string {
	t.Helper()
	name := regexp.MustCompile(`Metric\{(?:Name: )?"(\w+)"`)
	var out []string
	err := filepath.WalkDir(filepath.Join(root, "shared", "health"), func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		src, err := os.ReadFile(p)
		for _, m := range name.FindAllStringSubmatch(string(src), -1) {
			out = append(out, m[1])
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRunbookCommandsNameTheStack: the runbook's procedures are there, and
// every output (out X) and resource (res X) its commands read is one the
// template has.
func TestRunbookCommandsNameTheStack(t *testing.T) {
	doc, page := readOps(t)
	want := []string{"Redrive a dead-letter queue", "Restore the table to a point in time", "Restore a deleted secret",
		"Rotate the KMS key", "After an upgrade"}
	if got := sections(page, "Procedures"); !slices.Equal(got, want) {
		t.Errorf("the runbook's procedures are %v, want %v", got, want)
	}
	for _, cmd := range []string{"aws sqs start-message-move-task", "aws dynamodb restore-table-to-point-in-time",
		"aws secretsmanager restore-secret", "aws kms rotate-key-on-demand", "make migrate"} {
		if !strings.Contains(page, cmd) {
			t.Errorf("the runbook never says %q", cmd)
		}
	}
	uses := regexp.MustCompile(`\$\((out|res) ([A-Za-z]+)\)`).FindAllStringSubmatch(page, -1)
	if len(uses) == 0 {
		t.Fatal("the runbook's commands read no output or resource")
	}
	for _, u := range uses {
		_, output := doc.Outputs[u[2]]
		_, resource := doc.Resources[u[2]]
		if (u[1] == "out" && !output) || (u[1] == "res" && !resource) {
			t.Errorf("the runbook reads %s %s, which the template does not have", u[1], u[2])
		}
	}
}
