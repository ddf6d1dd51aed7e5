// Command bench measures the service against its floors and writes
// infra/bench/report.md and report.json:
//
//   - per function: stripped arm64 binary size, and init duration under
//     aws-lambda-rie (median and spread of COLD_STARTS cold starts, from its
//     INIT REPORT line) next to a hello-world aws-lambda-go function built
//     with the same flags in the same run;
//   - per action: AWS calls made (counted by an SDK middleware) against the
//     minimum, and the latency through the handler against the latency of
//     the very same AWS calls replayed directly with the SDK, both against
//     the same moto;
//   - the stored size of a credential's item and index entry after 0 and
//     10,000 changes;
//   - the health check's throughput benchmark and the hot-path Go
//     benchmarks.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/acme/backup-credentials/infra/e2e"
	"github.com/acme/backup-credentials/shared/mototest"
)

// Report is everything one run measured.
type Report struct {
	Date       string            `json:"date"`
	Machine    string            `json:"machine"`
	ColdStarts int               `json:"coldStarts"`
	Functions  []FunctionFigures `json:"functions"`
	Floor      FunctionFigures   `json:"floor"`
	Actions    []ActionFigures   `json:"actions"`
	Health     []string          `json:"healthBenchmark"`
	Items      []ItemSizes       `json:"itemSizes"`
	GoBench    []string          `json:"goBenchmarks"`
}

// FunctionFigures are one function's size and cold starts.
type FunctionFigures struct {
	Name        string    `json:"name"`
	SizeBytes   int64     `json:"sizeBytesArm64"`
	InitMs      []float64 `json:"initMs"`
	MedianMs    float64   `json:"initMedianMs"`
	MinMs       float64   `json:"initMinMs"`
	MaxMs       float64   `json:"initMaxMs"`
	VersusFloor float64   `json:"initVersusFloor"`
}

func main() {
	cold, _ := strconv.Atoi(getenv("COLD_STARTS", "10"))
	root, err := filepath.Abs(".")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		log.Fatal("run from the repository root (make bench)")
	}
	rep := Report{Date: time.Now().UTC().Format(time.RFC3339), Machine: machine(), ColdStarts: cold}
	moto, err := mototest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer moto.Stop()

	log.Print("cold starts")
	if rep.Functions, rep.Floor, err = coldStarts(root, moto, cold); err != nil {
		log.Fatal(err)
	}
	log.Print("actions")
	if rep.Actions, err = actions(moto); err != nil {
		log.Fatal(err)
	}
	log.Print("item sizes")
	if rep.Items, err = itemSizes(); err != nil {
		log.Fatal(err)
	}
	log.Print("health check throughput")
	rep.Health = goBench(root, "./shared/health", "BenchmarkRun", "1x")
	log.Print("hot paths")
	rep.GoBench = append(goBench(root, "./shared/httpapi", "Benchmark", "1s"),
		append(goBench(root, "./shared/dynamo", "Benchmark", "1s"), goBench(root, "./shared/backup", "Benchmark", "1s")...)...)
	if err := write(root, rep); err != nil {
		log.Fatal(err)
	}
}

func getenv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func machine() string {
	cpu := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if m := regexp.MustCompile(`model name\s*:\s*(.+)`).FindSubmatch(b); m != nil {
			cpu = string(m[1])
		}
	}
	return fmt.Sprintf("%s/%s, %d cores, %s, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), strings.TrimSpace(cpu), runtime.Version())
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// coldStarts builds every function and the floor, and starts each cold
// under the emulator n times.
func coldStarts(root string, moto *mototest.Server, n int) ([]FunctionFigures, FunctionFigures, error) {
	rie, err := e2e.FindRIE(root)
	if err != nil {
		return nil, FunctionFigures{}, err
	}
	bin, err := os.MkdirTemp("", "bench")
	if err != nil {
		return nil, FunctionFigures{}, err
	}
	defer os.RemoveAll(bin)
	env := []string{"AWS_ENDPOINT_URL=" + moto.URL, "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "AWS_REGION=us-east-1",
		"TABLE_NAME=bench", "BACKUP_ENDPOINT_ALLOW_CIDRS=127.0.0.0/8"}
	dirs, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		return nil, FunctionFigures{}, err
	}
	measure := func(name, pkg string, event []byte) (FunctionFigures, error) {
		f := FunctionFigures{Name: name}
		arm := filepath.Join(bin, "arm64", name, "bootstrap")
		cmd := exec.Command("go", append(append([]string{"build"}, e2e.BuildFlags...), "-o", arm, pkg)...)
		cmd.Dir, cmd.Env = root, append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
		if out, err := cmd.CombinedOutput(); err != nil {
			return f, fmt.Errorf("build %s for arm64: %v\n%s", name, err, out)
		}
		st, err := os.Stat(arm)
		if err != nil {
			return f, err
		}
		f.SizeBytes = st.Size()
		bootstrap, err := e2e.Build(root, pkg, bin, name)
		if err != nil {
			return f, err
		}
		for range n {
			fn, err := e2e.Start(rie, bootstrap, env)
			if err != nil {
				return f, err
			}
			_, err = fn.Invoke(context.Background(), event)
			d := fn.InitDurations()
			fn.Stop()
			if err != nil || len(d) == 0 {
				return f, fmt.Errorf("%s: no init measured (%v):\n%s", name, err, fn.Logs())
			}
			f.InitMs = append(f.InitMs, d[0])
		}
		f.MedianMs, f.MinMs, f.MaxMs = median(f.InitMs), slices.Min(f.InitMs), slices.Max(f.InitMs)
		return f, nil
	}
	floor, err := measure("hello-world (floor)", "./infra/bench/hello", []byte(`{}`))
	if err != nil {
		return nil, floor, err
	}
	var out []FunctionFigures
	for _, d := range dirs {
		ev, err := e2e.Event(root, d.Name(), "bc_00000000000000000000000000")
		if err != nil {
			return nil, floor, err
		}
		f, err := measure(d.Name(), "./functions/"+d.Name(), ev)
		if err != nil {
			return nil, floor, err
		}
		f.VersusFloor = f.MedianMs / floor.MedianMs
		out = append(out, f)
		log.Printf("  %s: %.1f ms median (floor %.1f), %d bytes", f.Name, f.MedianMs, floor.MedianMs, f.SizeBytes)
	}
	return out, floor, nil
}

// goBench runs Go benchmarks and returns their result lines.
func goBench(root, pkg, pattern, benchtime string) []string {
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", pattern, "-benchmem", "-benchtime", benchtime, pkg)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		log.Fatalf("go test -bench %s: %v\n%s", pkg, err, out.String())
	}
	var lines []string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, "Benchmark") {
			lines = append(lines, strings.Join(strings.Fields(l), " "))
		}
	}
	return lines
}

func write(root string, rep Report) error {
	dir := filepath.Join(root, "infra", "bench")
	j, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(j, '\n'), 0o644); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmark report\n\nGenerated by `make bench` on %s.\n\nMachine: %s.\n\n", rep.Date, rep.Machine)
	fmt.Fprintf(&b, "## Cold starts and binary sizes\n\nInit duration under aws-lambda-rie, %d cold starts each, from its `INIT REPORT(durationMs)` line; "+
		"the floor is a hello-world aws-lambda-go function built with the same flags in the same run. Sizes are the stripped `linux/arm64` bootstraps "+
		"(`-trimpath -ldflags \"-s -w\" -tags lambda.norpc`). Targets: median init ≤ 2× the floor, size ≤ 10 MB.\n\n", rep.ColdStarts)
	b.WriteString("| function | size (MB) | init median (ms) | min–max (ms) | × floor | meets |\n|---|---|---|---|---|---|\n")
	row := func(f FunctionFigures, check bool) {
		meets := ""
		if check {
			meets = "yes"
			if f.VersusFloor > 2 || f.SizeBytes > 10_000_000 {
				meets = "**no**"
			}
		}
		fmt.Fprintf(&b, "| %s | %.2f | %.2f | %.2f–%.2f | %.2f | %s |\n", f.Name, float64(f.SizeBytes)/1e6, f.MedianMs, f.MinMs, f.MaxMs, f.VersusFloor, meets)
	}
	floor := rep.Floor
	floor.VersusFloor = 1
	row(floor, false)
	for _, f := range rep.Functions {
		row(f, true)
	}
	b.WriteString("\n## AWS calls and handler overhead per action\n\nCalls counted by an SDK middleware, against moto, in process. " +
		"*handler* is the median of the action through the HTTP handler (decoding, auth, validation, marshalling, the store's logic); " +
		"*SDK* the median time spent inside its AWS calls in the same requests (the very same calls with the same outcomes, timed " +
		"by a middleware around each); *replay* the captured requests sent again directly with the SDK (exact for reads; a replayed " +
		"write may fail its condition, which moto answers faster). Ratio = handler / SDK. Targets: calls = the minimum; ratio ≤ 1.10.\n\n")
	b.WriteString("| action | AWS calls | minimum | handler (ms) | SDK (ms) | replay (ms) | ratio | meets |\n|---|---|---|---|---|---|---|---|\n")
	for _, a := range rep.Actions {
		meets := "yes"
		if a.Calls > a.Minimum || a.Ratio > 1.10 {
			meets = "**no**"
		}
		fmt.Fprintf(&b, "| %s | %d (%s) | %d | %.3f | %.3f | %.3f | %.3f | %s |\n", a.Name, a.Calls, strings.Join(a.Ops, ", "), a.Minimum, a.HandlerMs, a.SDKMs, a.ReplayMs, a.Ratio, meets)
	}
	b.WriteString("\n## Item sizes\n\nThe stored size of a credential's item and of its entry in the list index (`byOrgList`), by DynamoDB's " +
		"rules, after 0 and after 10,000 changes (lock and unlock by a caller whose 2,000-character display name is recorded cut to 128). " +
		"History entries are items of their own, so neither grows; DynamoDB's limit is 400 KB.\n\n| changes | item (bytes) | index entry (bytes) |\n|---|---|---|\n")
	for _, it := range rep.Items {
		fmt.Fprintf(&b, "| %d | %d | %d |\n", it.Changes, it.ItemBytes, it.IndexBytes)
	}
	b.WriteString("\n## Health check throughput\n\n`go test ./shared/health -bench BenchmarkRun -benchtime 1x`: a loopback endpoint answering after 50 ms, " +
		"concurrency 32; the bound is n × 50 ms / 32 (target ≤ 1.25×), peak heap should not grow with n.\n\n```\n")
	b.WriteString(strings.Join(rep.Health, "\n"))
	b.WriteString("\n```\n\n## Hot paths\n\n```\n")
	b.WriteString(strings.Join(rep.GoBench, "\n"))
	b.WriteString("\n```\n")
	return os.WriteFile(filepath.Join(dir, "report.md"), []byte(b.String()), 0o644)
}
