package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/acme/backup-credentials/infra/e2e"
	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/dynamo"
	"github.com/acme/backup-credentials/shared/secrets"
	"github.com/acme/backup-credentials/shared/testkit"
)

// peerNotBuilt says why the peer is not in the report.
const peerNotBuilt = "aws-samples/serverless-go-demo's get-product is not built: this machine reaches GitHub only through the Go module " +
	"proxy, which refuses that module (403, \"not available\"), and its source may not be copied into this repository. " +
	"The hello-world floor, built in the same run with the same flags, is the comparison."

// fixtureID is the credential the events/ files name.
const fixtureID = "bc_00000000000000000000000000"

// fixture is the table every first request finds: credential fixtureID of
// org-1 with its secret and project p-1, restored before each cold start.
type fixture struct {
	ddb   *dynamodb.Client
	table string
	items []map[string]types.AttributeValue
}

func newFixture(ctx context.Context, moto *testkit.Server, table, endpoint string) (*fixture, error) {
	cfg := moto.Config()
	ddb := dynamodb.NewFromConfig(cfg)
	if err := dynamo.CreateTable(ctx, ddb, table); err != nil {
		return nil, err
	}
	store := dynamo.New(ddb, table)
	vault := secrets.New(secretsmanager.NewFromConfig(cfg), "backup-credentials/")
	now := time.Now().UTC().Truncate(time.Second)
	c := &backup.Credential{ID: fixtureID, OrganizationID: "org-1", Name: "bench-fixture", AuthType: backup.AuthAccessKey,
		AccessKeyID: "AKIABENCHFIXTURE", Endpoint: endpoint, Region: "us-east-1", Projects: []backup.Project{},
		Health: backup.Health{Status: backup.HealthHealthy, CheckedAt: &now}, CreatedAt: now, CreatedBy: "bench",
		LastModified: now, LastModifiedBy: "bench", Version: 1, KeysChangedAt: &now}
	var err error
	if c.SecretVersion, err = vault.CreateSecret(ctx, c.ID, c.OrganizationID, "bench-fixture-secret"); err != nil {
		return nil, err
	}
	e := backup.HistoryEntry{At: now, By: "bench", ByID: "bench", Action: backup.ActionCreated, Fields: []string{"s3Name"}}
	if err := store.CreateCredential(ctx, c, e, ""); err != nil {
		return nil, err
	}
	e.Action = backup.ActionProjectAssociated
	if _, err := store.AssociateProject(ctx, c.ID, []string{"org-1"}, backup.Project{ID: "p-1", Name: "shop"}, e); err != nil {
		return nil, err
	}
	f := &fixture{ddb: ddb, table: table}
	f.items, err = f.scan(ctx)
	return f, err
}

func (f *fixture) scan(ctx context.Context) ([]map[string]types.AttributeValue, error) {
	out, err := f.ddb.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(f.table)})
	if err != nil {
		return nil, err
	}
	return out.Items, nil
}

// restore puts the table back as the fixture left it, writing only the
// items a start changed: every write adds to the table's stream, which moto
// keeps, and copies whole for each transaction (a run that rewrote the
// fixture before each start grew moto past 24 GB).
func (f *fixture) restore(ctx context.Context) error {
	now, err := f.scan(ctx)
	if err != nil {
		return err
	}
	keyOf := func(it map[string]types.AttributeValue) string {
		pk, _ := it["PK"].(*types.AttributeValueMemberS)
		sk, _ := it["SK"].(*types.AttributeValueMemberS)
		return pk.Value + "\x00" + sk.Value
	}
	want := map[string]map[string]types.AttributeValue{}
	for _, it := range f.items {
		want[keyOf(it)] = it
	}
	for _, it := range now {
		if w, ok := want[keyOf(it)]; ok {
			if reflect.DeepEqual(w, it) {
				delete(want, keyOf(it)) // as the fixture left it
			}
			continue // else put back below
		}
		if _, err := f.ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(f.table),
			Key: map[string]types.AttributeValue{"PK": it["PK"], "SK": it["SK"]}}); err != nil {
			return err
		}
	}
	for _, it := range want {
		if _, err := f.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(f.table), Item: it}); err != nil {
			return err
		}
	}
	return nil
}

// coldStarts builds every function and the floor, and starts each cold
// under the emulator n times right after n starts of the floor, sending
// its events/ file as the first request against the fixture.
func coldStarts(root string, moto *testkit.Server, n int) ([]FunctionFigures, FunctionFigures, error) {
	ctx := context.Background()
	rie, err := e2e.FindRIE(root)
	if err != nil {
		return nil, FunctionFigures{}, err
	}
	bin, err := os.MkdirTemp("", "bench")
	if err != nil {
		return nil, FunctionFigures{}, err
	}
	defer os.RemoveAll(bin)
	fx, err := newFixture(ctx, moto, "bench", moto.URL)
	if err != nil {
		return nil, FunctionFigures{}, fmt.Errorf("fixture: %w", err)
	}
	env := []string{"AWS_ENDPOINT_URL=" + moto.URL, "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "AWS_REGION=us-east-1",
		"TABLE_NAME=bench", "BACKUP_ENDPOINT_ALLOW_CIDRS=127.0.0.0/8", "AWS_LAMBDA_FUNCTION_TIMEOUT=60",
		"BACKUP_ENGINE_PRINCIPALS=arn:aws:sts::123456789012:assumed-role/backup-engine/session",
		"SDK_FLOOR_KEY=CRED#" + fixtureID, "SDK_FLOOR_SECRET=backup-credentials/" + fixtureID}
	if extra := os.Getenv("FUNCTION_ENV"); extra != "" {
		env = append(env, strings.Fields(extra)...)
	}
	dirs, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		return nil, FunctionFigures{}, err
	}
	// build builds a function for arm64 (for its size) and for this
	// machine (to run it).
	build := func(name, pkg string, tags ...string) (string, int64, error) {
		arm := filepath.Join(bin, "arm64", name, "bootstrap")
		cmd := exec.Command("go", append(append([]string{"build"}, e2e.BuildFlags(tags...)...), "-o", arm, pkg)...)
		cmd.Dir, cmd.Env = root, append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", 0, fmt.Errorf("build %s for arm64: %v\n%s", name, err, out)
		}
		st, err := os.Stat(arm)
		if err != nil {
			return "", 0, err
		}
		bootstrap, err := e2e.Build(root, pkg, bin, name, tags...)
		return bootstrap, st.Size(), err
	}
	// start starts one cold and sends event as its first request, after
	// restoring the fixture it reads.
	start := func(f *FunctionFigures, bootstrap string, event []byte) error {
		if f.Name != floorName { // the floor reads nothing; a restore after a start that wrote nothing is one scan
			if err := fx.restore(ctx); err != nil {
				return err
			}
		}
		fn, err := e2e.Start(rie, bootstrap, env)
		if err != nil {
			return err
		}
		answer, err := fn.Invoke(ctx, event)
		time.Sleep(20 * time.Millisecond) // the emulator logs INVOKE RTDONE after answering
		d, first := fn.InitDurations(), fn.InvokeDurations()
		inAWS, calls, found := awsTime(fn.Logs())
		if os.Getenv("SHOW_LOGS") != "" {
			log.Printf("%s logs:\n%s", f.Name, fn.Logs())
		}
		fn.Stop()
		if err != nil || len(d) == 0 || len(first) == 0 || !found && f.Name != floorName {
			return fmt.Errorf("%s: no init, invoke or AWS time measured (%v):\n%s", f.Name, err, fn.Logs())
		}
		f.InitMs, f.FirstMs = append(f.InitMs, d[0]), append(f.FirstMs, first[0])
		f.awsMs, f.goMs, f.totalMs = append(f.awsMs, inAWS), append(f.goMs, first[0]-inAWS), append(f.totalMs, d[0]+first[0])
		f.FirstStatus, f.FirstAWSCalls = answerOf(answer), calls
		return nil
	}
	floorBootstrap, floorSize, err := build(floorName, "./infra/bench/hello")
	if err != nil {
		return nil, FunctionFigures{}, err
	}
	floor := FunctionFigures{Name: floorName, SizeBytes: floorSize}
	sdkFloors := map[string]FunctionFigures{} // by build directory, one per set of clients: built once, started beside each function
	var out []FunctionFigures
	only := strings.Split(os.Getenv("FUNCTIONS"), ",")
	for _, d := range dirs {
		if only[0] != "" && !slices.Contains(only, d.Name()) {
			continue
		}
		ev, err := e2e.Event(root, d.Name(), fixtureID, "http://host.docker.internal:5000", moto.URL)
		if err != nil {
			return nil, floor, err
		}
		bootstrap, size, err := build(d.Name(), "./functions/"+d.Name())
		if err != nil {
			return nil, floor, err
		}
		clients, err := sdkClients(root, "./functions/"+d.Name())
		if err != nil {
			return nil, floor, err
		}
		dir := "sdkfloor-" + strings.Join(clients, "-")
		sdk, built := sdkFloors[dir]
		if !built {
			sdk = FunctionFigures{Name: "SDK floor: " + strings.Join(clients, ", ")}
			if sdk.bootstrap, sdk.SizeBytes, err = build(dir, "./infra/bench/sdkfloor", clients[1:]...); err != nil {
				return nil, floor, err
			}
			sdkFloors[dir] = sdk
		}
		// The floor, then the SDK floor, start n times right before the
		// function does, so a drift of the machine's speed over the run
		// moves all three; each runs its starts back to back, as the others
		// do.
		f, beside := FunctionFigures{Name: d.Name(), SizeBytes: size, Clients: clients}, FunctionFigures{Name: floorName}
		for _, s := range []struct {
			figures   *FunctionFigures
			bootstrap string
			event     []byte
		}{{&beside, floorBootstrap, []byte(`{}`)}, {&sdk, sdk.bootstrap, []byte(`{}`)}, {&f, bootstrap, ev}} {
			for range n {
				if err := start(s.figures, s.bootstrap, s.event); err != nil {
					return nil, floor, err
				}
			}
		}
		sdk.summarize()
		f.summarize()
		sdk.FloorMedianMs, f.FloorMedianMs = median(beside.InitMs), median(beside.InitMs)
		sdk.VersusFloor, f.VersusFloor = sdk.MedianMs/sdk.FloorMedianMs, f.MedianMs/f.FloorMedianMs
		f.SDKFloor = &sdk
		floor.merge(beside)
		out = append(out, f)
		log.Printf("  %s: init %.1f ms (floor beside it %.1f, SDK floor %.1f), first request %.1f ms (%.1f in %d AWS calls, %.1f in Go "+
			"(SDK floor %.1f in %d calls), %s), %d bytes", f.Name, f.MedianMs, f.FloorMedianMs, sdk.MedianMs, f.FirstMedianMs,
			f.AWSMedianMs, f.FirstAWSCalls, f.GoMedianMs, sdk.GoMedianMs, sdk.FirstAWSCalls, f.FirstStatus, f.SizeBytes)
	}
	if len(out) == 0 {
		return nil, floor, fmt.Errorf("no function named in FUNCTIONS=%s", os.Getenv("FUNCTIONS"))
	}
	floor.summarize()
	floor.FloorMedianMs, floor.VersusFloor = floor.MedianMs, 1
	return out, floor, nil
}

const floorName = "hello-world (floor)"

// sdkClientTags are the SDK clients the SDK floor can add to DynamoDB's,
// by their build tags (the SDK's package names).
var sdkClientTags = []string{"eventbridge", "secretsmanager", "sqs", "sts"}

// sdkClients names the AWS SDK service clients a package links, built with
// tags: dynamodb, then the others sorted, as the SDK floor's build tags name
// them.
func sdkClients(root, pkg string, tags ...string) ([]string, error) {
	cmd := exec.Command("go", "list", "-deps", "-tags", strings.Join(append([]string{"lambda.norpc"}, tags...), ","), pkg)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -deps %s: %w", pkg, err)
	}
	linked := []string{"dynamodb"}
	for _, p := range strings.Fields(string(out)) {
		name, ok := strings.CutPrefix(p, "github.com/aws/aws-sdk-go-v2/service/")
		if !ok || strings.Contains(name, "/") || name == "dynamodb" {
			continue
		}
		if !slices.Contains(sdkClientTags, name) {
			return nil, fmt.Errorf("%s links the SDK's %s client, which infra/bench/sdkfloor cannot add yet", pkg, name)
		}
		linked = append(linked, name)
	}
	slices.Sort(linked[1:])
	return linked, nil
}

var (
	awsMsPattern    = regexp.MustCompile(`"awsMs":([0-9.]+)`)
	awsCallsPattern = regexp.MustCompile(`"awsCalls":([0-9]+)`)
)

// awsTime reads the time a function's first request spent in AWS (and
// provider) calls, and how many, from the line it logs at the end of the
// request (the request log, the health run's summary, the stream batch),
// where the SDK middleware and transport of shared/awstime added them up.
func awsTime(logs string) (float64, int, bool) {
	m := awsMsPattern.FindStringSubmatch(logs)
	if m == nil {
		return 0, 0, false
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	n := 0
	if c := awsCallsPattern.FindStringSubmatch(logs); c != nil {
		n, _ = strconv.Atoi(c[1])
	}
	return v, n, true
}

// answerOf names what a first request answered: an API status, or that a
// background function succeeded.
func answerOf(raw []byte) string {
	var r struct {
		StatusCode int `json:"statusCode"`
	}
	if json.Unmarshal(raw, &r) == nil && r.StatusCode != 0 {
		return fmt.Sprint(r.StatusCode)
	}
	var e struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(raw, &e) == nil && e.ErrorMessage != "" {
		return "error"
	}
	return "ok"
}

// merge adds o's starts to f's.
func (f *FunctionFigures) merge(o FunctionFigures) {
	f.InitMs, f.FirstMs = append(f.InitMs, o.InitMs...), append(f.FirstMs, o.FirstMs...)
	f.awsMs, f.goMs, f.totalMs = append(f.awsMs, o.awsMs...), append(f.goMs, o.goMs...), append(f.totalMs, o.totalMs...)
	f.FirstStatus = o.FirstStatus
}

// summarize sets the medians and spread of f's starts.
func (f *FunctionFigures) summarize() {
	f.MedianMs, f.MinMs, f.MaxMs = median(f.InitMs), slices.Min(f.InitMs), slices.Max(f.InitMs)
	f.FirstMedianMs, f.AWSMedianMs, f.GoMedianMs, f.ColdTotalMs = median(f.FirstMs), median(f.awsMs), median(f.goMs), median(f.totalMs)
}
