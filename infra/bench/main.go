// Command bench measures the service against its floors and writes
// infra/bench/report.md and report.json:
//
//   - per function: stripped arm64 binary size, init duration under
//     aws-lambda-rie (median and spread of COLD_STARTS cold starts, from its
//     INIT REPORT line) and its first request's duration (INVOKE RTDONE),
//     split into time inside AWS calls and time in Go, next to a hello-world
//     aws-lambda-go function built with the same flags in the same run, and
//     next to its SDK floor: that function plus the same SDK clients, one
//     call with each (infra/bench/sdkfloor);
//   - per action: AWS calls made (counted by an SDK middleware) against the
//     minimum, and the latency through the handler against the latency of
//     the very same AWS calls replayed directly with the SDK, both against
//     the same moto;
//   - the stored size of a credential's item and index entry after 0 and
//     10,000 changes;
//   - the health pass's simulation (BenchmarkPass), one pass of 10,000
//     credentials end to end on moto, and the hot-path Go benchmarks.
//
// `go run ./infra/bench cost` (make cost) writes docs/cost.md instead.
package main

import (
	"bytes"
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

	"github.com/acme/backup-credentials/shared/testkit"
)

// Report is everything one run measured.
type Report struct {
	Date       string            `json:"date"`
	Machine    string            `json:"machine"`
	ColdStarts int               `json:"coldStarts"`
	Functions  []FunctionFigures `json:"functions"`
	Floor      FunctionFigures   `json:"floor"`
	// Peer is why the peer (aws-samples/serverless-go-demo's get-product)
	// is not measured, when it is not.
	Peer    string          `json:"peer"`
	Actions []ActionFigures `json:"actions"`
	Health  []string        `json:"healthBenchmark"`
	// MotoPass is one health pass end to end on moto.
	MotoPass PassFigures `json:"healthPassOnMoto"`
	Items    []ItemSizes `json:"itemSizes"`
	GoBench  []string    `json:"goBenchmarks"`
}

// FunctionFigures are one function's size, cold starts and first requests.
type FunctionFigures struct {
	Name      string    `json:"name"`
	SizeBytes int64     `json:"sizeBytesArm64"`
	InitMs    []float64 `json:"initMs"`
	MedianMs  float64   `json:"initMedianMs"`
	MinMs     float64   `json:"initMinMs"`
	MaxMs     float64   `json:"initMaxMs"`
	// FloorMedianMs is the median init of the floor's starts made right
	// before this function's; VersusFloor is against it.
	FloorMedianMs float64 `json:"floorBesideInitMedianMs"`
	VersusFloor   float64 `json:"initVersusFloor"`
	// The first request after each cold start: its own duration (the
	// emulator's INVOKE RTDONE), the time inside AWS calls (as the function
	// logs it, awsMs) and the rest, time in Go; and what it answered.
	FirstMs       []float64 `json:"firstRequestMs"`
	FirstMedianMs float64   `json:"firstRequestMedianMs"`
	AWSMedianMs   float64   `json:"firstRequestAwsMedianMs"`
	GoMedianMs    float64   `json:"firstRequestGoMedianMs"`
	ColdTotalMs   float64   `json:"initPlusFirstMedianMs"`
	FirstStatus   string    `json:"firstRequestAnswer"`
	FirstAWSCalls int       `json:"firstRequestAwsCalls"`
	// Clients are the AWS SDK clients the function links. SDKFloor is the
	// hello-world floor with those clients (infra/bench/sdkfloor), making
	// one call with each in its first request, started between the floor's
	// starts and the function's: what the SDK alone costs.
	Clients  []string         `json:"sdkClients,omitempty"`
	SDKFloor *FunctionFigures `json:"sdkFloor,omitempty"`

	bootstrap            string
	awsMs, goMs, totalMs []float64
}

func main() {
	cold, _ := strconv.Atoi(getenv("COLD_STARTS", "20"))
	root, err := filepath.Abs(".")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		log.Fatal("run from the repository root (make bench)")
	}
	if len(os.Args) > 1 && os.Args[1] == "cost" {
		if err := costReport(root); err != nil {
			log.Fatal(err)
		}
		return
	}
	rep := Report{Date: time.Now().UTC().Format(time.RFC3339), Machine: machine(), ColdStarts: cold, Peer: peerNotBuilt}
	moto, err := testkit.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer moto.Stop()

	log.Print("cold starts")
	if rep.Functions, rep.Floor, err = coldStarts(root, moto, cold); err != nil {
		log.Fatal(err)
	}
	if os.Getenv("FUNCTIONS") != "" {
		log.Print("FUNCTIONS is set: cold starts only, the report is not written")
		return
	}
	log.Print("actions")
	if rep.Actions, err = actions(moto, 40, true); err != nil {
		log.Fatal(err)
	}
	log.Print("item sizes")
	if rep.Items, err = itemSizes(); err != nil {
		log.Fatal(err)
	}
	log.Print("health check throughput")
	rep.Health = goBench(root, "./shared/health", "BenchmarkPass", "1x")
	log.Print("a health pass of 10,000 credentials on moto")
	if rep.MotoPass, err = motoPass(moto, 10_000); err != nil {
		log.Fatal(err)
	}
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
	fmt.Fprintf(&b, "## Cold starts, first requests and binary sizes\n\nEach function is started cold under aws-lambda-rie %d times, "+
		"right after %d starts of the floor and as many of its SDK floor (below), so a drift of the machine's speed over the run moves all three, "+
		"and sent its `events/` file as the first request, against moto holding a fixture (credential `%s` of org-1 with its secret "+
		"and project p-1, restored before each start). *Init* is the emulator's `INIT REPORT(durationMs)`; *first request* its "+
		"`INVOKE RTDONE` duration; *in AWS* the time its AWS (and provider) calls took, from sending each request to its answer's "+
		"headers, as the function itself logs it (`awsMs`, measured by `shared/awstime`, calls in flight together counted once; moto's own time included); *in Go* the "+
		"rest of the first request, the Lambda runtime's exchange with the emulator included (the floor's first request is that alone). Medians; *× floor* is against the median of the floor's starts right before the function's (*floor beside*), and the floor's row holds all its starts. The floor is a hello-world "+
		"aws-lambda-go function built with the same flags in the same run. Sizes are the stripped `linux/arm64` bootstraps "+
		"(`-trimpath -ldflags \"-s -w\" -tags lambda.norpc`). Targets: median init ≤ 1.5× the floor, time in Go of the first "+
		"request ≤ 3 ms, size ≤ 10 MB.\n\nPeer: %s\n\n", rep.ColdStarts, rep.ColdStarts, fixtureID, rep.Peer)
	b.WriteString("| function | size (MB) | init (ms) | min–max (ms) | floor beside (ms) | × floor | first request (ms) | in AWS (ms, calls) | in Go (ms) | init + first (ms) | answer | meets |\n" +
		"|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	row := func(f FunctionFigures, check bool) {
		meets := ""
		if check {
			var missed []string
			if f.VersusFloor > 1.5 {
				missed = append(missed, "init")
			}
			if f.GoMedianMs > 3 {
				missed = append(missed, "Go")
			}
			if f.SizeBytes > 10_000_000 {
				missed = append(missed, "size")
			}
			meets = "yes"
			if len(missed) > 0 {
				meets = "**no** (" + strings.Join(missed, ", ") + ")"
			}
		}
		fmt.Fprintf(&b, "| %s | %.2f | %.2f | %.2f–%.2f | %.2f | %.2f | %.2f | %.2f (%d) | %.2f | %.2f | %s | %s |\n", f.Name, float64(f.SizeBytes)/1e6,
			f.MedianMs, f.MinMs, f.MaxMs, f.FloorMedianMs, f.VersusFloor, f.FirstMedianMs, f.AWSMedianMs, f.FirstAWSCalls, f.GoMedianMs, f.ColdTotalMs, f.FirstStatus, meets)
	}
	row(rep.Floor, false)
	for _, f := range rep.Functions {
		row(f, true)
	}
	b.WriteString("\n## What the SDK costs by itself\n\nEach function's *SDK floor* is the hello-world floor plus the AWS SDK clients the " +
		"function links, built from the SDK's packages as the functions build theirs (`infra/bench/sdkfloor`, same flags), whose first " +
		"request makes one call with each client (DynamoDB GetItem, Secrets Manager GetSecretValue, STS GetCallerIdentity, EventBridge " +
		"ListEventBuses). It runs none of this service's code, so it is the lowest init and the lowest time in Go of a first request any " +
		"function linking those clients can have. It starts right after the floor and right before the function; medians.\n\n")
	b.WriteString("| function | SDK clients | SDK floor size (MB) | SDK floor init (ms) | SDK floor × floor | function × SDK floor | " +
		"function − SDK floor (ms) | SDK floor in Go (ms, calls) | function in Go (ms, calls) |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, f := range rep.Functions {
		if s := f.SDKFloor; s != nil {
			fmt.Fprintf(&b, "| %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f (%d) | %.2f (%d) |\n", f.Name, strings.Join(f.Clients, ", "),
				float64(s.SizeBytes)/1e6, s.MedianMs, s.VersusFloor, f.MedianMs/s.MedianMs, f.MedianMs-s.MedianMs, s.GoMedianMs,
				s.FirstAWSCalls, f.GoMedianMs, f.FirstAWSCalls)
		}
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
	b.WriteString("\n## Item sizes\n\nThe stored size of a credential's item and of its entry in the list index (`byOrgListV2`), by DynamoDB's " +
		"rules, after 0 and after 10,000 changes (lock and unlock by a caller whose 2,000-character display name is recorded cut to 128). " +
		"History entries are items of their own, so neither grows; DynamoDB's limit is 400 KB.\n\n| changes | item (bytes) | index entry (bytes) |\n|---|---|---|\n")
	for _, it := range rep.Items {
		fmt.Fprintf(&b, "| %d | %d | %d |\n", it.Changes, it.ItemBytes, it.IndexBytes)
	}
	b.WriteString("\n## Health pass\n\n`go test ./shared/health -run '^$' -bench BenchmarkPass -benchtime 1x`: one pass simulated in " +
		"process (time scaled down 100 times, figures scaled back) through the real scanner, queue consumer and checker: 30% of the " +
		"credentials on one host, 5% of hosts not answering, a cap of 8 checks per host, 50 consumers. The bound is the larger of all " +
		"checking time over the global concurrency and, per host, its checking time over its cap (goal: at most 1.2x). The heap is " +
		"the live heap after a collection, the simulated table's records included.\n\n```\n")
	b.WriteString(strings.Join(rep.Health, "\n"))
	p := rep.MotoPass
	fmt.Fprintf(&b, "\n```\n\nEnd to end on moto (scan, SQS, the checker's handler, table, stream, events), %d credentials on one "+
		"endpoint, a tenth refused, %d consumers: %.1f s, %d messages received in %d invocations, %d healthy, %d invalid, %d events; "+
		"per credential %.3f read and %.3f write units, %.3f secrets returned. moto runs one request at a time: the time is moto's.\n",
		p.Credentials, passWorkers, p.Seconds, p.Received, p.Invocations, p.Healthy, p.Invalid, p.Events,
		p.Units.RRU/float64(p.Credentials), p.Units.WRU/float64(p.Credentials), p.Units.Secrets/float64(p.Credentials))
	b.WriteString("\n## Hot paths\n\n```\n")
	b.WriteString(strings.Join(rep.GoBench, "\n"))
	b.WriteString("\n```\n")
	return os.WriteFile(filepath.Join(dir, "report.md"), []byte(b.String()), 0o644)
}

// motoPass runs healthPassOnMoto on storage with a provider of its own.
func motoPass(storage *testkit.Server, n int) (PassFigures, error) {
	prov, adminCfg, err := testkit.StartProvider()
	if err != nil {
		return PassFigures{}, err
	}
	defer prov.Stop()
	return healthPassOnMoto(storage, prov, adminCfg, n)
}
