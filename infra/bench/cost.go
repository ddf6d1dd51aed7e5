package main

import (
	"cmp"
	"fmt"
	"log"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/acme/backup-credentials/shared/testkit"
)

// The cost model: `make cost` (go run ./infra/bench cost) counts the AWS
// calls and units each action and each health check makes against moto,
// and prices a month of them at 1,000 to 1,000,000 credentials, with 100
// API requests per credential a month and an hourly pass. What is counted
// is the code's own; what is assumed is named in the report.

// Prices, us-east-1, as published on each service's pricing page
// (aws.amazon.com/<service>/pricing). They were not re-checked on the day
// the report was made: this machine has no internet access.
var prices = []struct{ item, price, source string }{
	{"Lambda arm64 compute", "$0.0000133334 per GB-second", "aws.amazon.com/lambda/pricing"},
	{"Lambda requests", "$0.20 per million", "aws.amazon.com/lambda/pricing"},
	{"API Gateway HTTP API", "$1.00 per million requests (first 300 million)", "aws.amazon.com/api-gateway/pricing"},
	{"DynamoDB on-demand writes", "$0.625 per million write request units", "aws.amazon.com/dynamodb/pricing/on-demand"},
	{"DynamoDB on-demand reads", "$0.125 per million read request units", "aws.amazon.com/dynamodb/pricing/on-demand"},
	{"DynamoDB storage", "$0.25 per GB-month", "aws.amazon.com/dynamodb/pricing/on-demand"},
	{"Secrets Manager secrets", "$0.40 per secret-month", "aws.amazon.com/secrets-manager/pricing"},
	{"Secrets Manager API", "$0.05 per 10,000 calls", "aws.amazon.com/secrets-manager/pricing"},
	{"KMS key", "$1.00 per key-month", "aws.amazon.com/kms/pricing"},
	{"KMS requests", "$0.03 per 10,000", "aws.amazon.com/kms/pricing"},
	{"EventBridge custom events", "$1.00 per million", "aws.amazon.com/eventbridge/pricing"},
	{"SQS standard requests", "$0.40 per million", "aws.amazon.com/sqs/pricing"},
	{"CloudWatch Logs ingestion", "$0.50 per GB", "aws.amazon.com/cloudwatch/pricing"},
	{"CloudWatch custom metrics", "$0.30 per metric-month", "aws.amazon.com/cloudwatch/pricing"},
	{"X-Ray traces recorded", "$5.00 per million", "aws.amazon.com/xray/pricing"},
}

const (
	perGBs       = 0.0000133334
	perLambdaReq = 0.20 / 1e6
	perAPIReq    = 1.00 / 1e6
	perWRU       = 0.625 / 1e6
	perRRU       = 0.125 / 1e6
	perGBMonth   = 0.25
	perSecret    = 0.40
	perSMCall    = 0.05 / 1e4
	perKMSKey    = 1.00
	perKMSReq    = 0.03 / 1e4
	perEvent     = 1.00 / 1e6
	perSQSReq    = 0.40 / 1e6
	perLogGB     = 0.50
	perMetric    = 0.30
	perTrace     = 5.00 / 1e6
	passesAMonth = 720 // hourly, 30 days
)

// Assumptions the code cannot count.
const (
	apiMemoryGB    = 0.25  // the template's MemorySize for the API functions
	checkMemoryGB  = 0.5   // and for health-check
	awsCallMs      = 8.0   // an in-region DynamoDB or Secrets Manager call
	handlerMs      = 3.0   // the handler's own time (infra/bench/report.md)
	checkMs        = 150.0 // a provider check, end to end
	checkInFlight  = 32    // HEALTH_CONCURRENCY: checks one invocation runs at once
	logBytes       = 700   // a request's log line and the platform's START/END/REPORT
	storedBytes    = 6000  // a credential's item, index entry, and history entries
	changeFraction = 0.001 // checks whose status changes, announced as an event
	turnover       = 1.0 / 12
	mappingPolls   = 5 * 3 * 60 * 24 * 30 // empty 20 s long polls of five pollers a month
	emfMetrics     = 11                   // health-scan's 5 and health-check's 6
	traceFraction  = 0.05                 // X-Ray's default sampling of requests
)

// mix is what 100 API requests are, by the actions measured.
var mix = []struct {
	action string
	times  float64 // executions per 100 requests
	reqs   float64 // requests per execution
}{
	{"list (one organization, 23 items)", 40, 1}, {"get", 30, 1}, {"history", 10, 1}, {"organizations", 10, 1},
	{"lock + unlock", 2, 2}, {"rename twice (PATCH)", 2, 2}, {"associate + dissociate", 1, 2},
}

// costReport measures and writes docs/cost.md.
func costReport(root string) error {
	storage, err := testkit.Start()
	if err != nil {
		return err
	}
	defer storage.Stop()
	log.Print("actions")
	began := time.Now()
	acts, err := actions(storage, 1, false)
	log.Printf("  actions in %.1f s", time.Since(began).Seconds())
	if err != nil {
		return err
	}
	log.Print("a health pass on moto")
	pass, err := motoPass(storage, 1000)
	if err != nil {
		return err
	}
	m, err := newModel(acts, pass)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, "docs", "cost.md"), []byte(m.report(acts, pass)), 0o644)
}

// model is what one API request (of the mix), one create and delete, and
// one health check cost, by line.
type model struct {
	request, turnover, check perUnit
	checkCalls               map[string]float64
}

// perUnit is one unit of work's use of each billed thing.
type perUnit struct {
	lambdaGBs, lambdaReqs, apiReqs, rru, wru, smCalls, smSecrets, kms, events, sqs, logBytes float64
}

func (a perUnit) scaled(k float64) perUnit {
	return perUnit{a.lambdaGBs * k, a.lambdaReqs * k, a.apiReqs * k, a.rru * k, a.wru * k, a.smCalls * k, a.smSecrets * k,
		a.kms * k, a.events * k, a.sqs * k, a.logBytes * k}
}

func (a perUnit) plus(b perUnit) perUnit {
	return perUnit{a.lambdaGBs + b.lambdaGBs, a.lambdaReqs + b.lambdaReqs, a.apiReqs + b.apiReqs, a.rru + b.rru, a.wru + b.wru,
		a.smCalls + b.smCalls, a.smSecrets + b.smSecrets, a.kms + b.kms, a.events + b.events, a.sqs + b.sqs, a.logBytes + b.logBytes}
}

// actionUse is one API execution of an action measured: its calls, units,
// and the Lambda time they make.
func actionUse(a ActionFigures, reqs float64) perUnit {
	u := perUnit{lambdaReqs: reqs, apiReqs: reqs, rru: a.Units.RRU, wru: a.Units.WRU, logBytes: logBytes * reqs}
	u.lambdaGBs = (handlerMs*reqs + awsCallMs*float64(a.Calls)) / 1000 * apiMemoryGB
	writes := 0.0
	for _, op := range a.Ops {
		switch service(op) {
		case "Secrets Manager":
			u.smCalls++
			u.kms++ // each secret written or read is one KMS request
		}
		if strings.Contains(op, "TransactWriteItems") {
			writes++
		}
	}
	u.events = writes // every committed change is one event
	return u
}

func newModel(acts []ActionFigures, pass PassFigures) (model, error) {
	byName := map[string]ActionFigures{}
	for _, a := range acts {
		byName[a.Name] = a
	}
	var m model
	for _, x := range mix {
		a, ok := byName[x.action]
		if !ok {
			return m, fmt.Errorf("the mix names %q, which was not measured", x.action)
		}
		m.request = m.request.plus(actionUse(a, x.reqs).scaled(x.times / 100))
	}
	cd, ok := byName["create + delete"]
	if !ok {
		return m, fmt.Errorf("create + delete was not measured")
	}
	m.turnover = actionUse(cd, 2)
	n := float64(pass.Credentials)
	m.checkCalls = map[string]float64{}
	for op, c := range pass.Calls {
		m.checkCalls[op] = float64(c) / n
		switch service(op) {
		case "Secrets Manager":
			m.check.smCalls += float64(c) / n
		case "SQS":
			m.check.sqs += float64(c) / n
		}
	}
	invocations := float64(pass.Invocations)
	m.check.lambdaReqs = invocations / n
	m.check.lambdaGBs = (checkMs/checkInFlight + awsCallMs*float64(len(pass.Calls))/n) / 1000 * checkMemoryGB
	m.check.rru, m.check.wru = pass.Units.RRU/n, pass.Units.WRU/n
	m.check.smSecrets = pass.Units.Secrets / n
	m.check.kms = pass.Units.Secrets / n
	m.check.events = changeFraction
	m.check.logBytes = logBytes * invocations / n
	return m, nil
}

// line is one priced line of a month.
type line struct {
	name      string
	low, high float64 // equal unless the price is bounded both ways
}

// month prices a month at n credentials.
func (m model) month(n float64) []line {
	reqs := 100 * n
	use := m.request.scaled(reqs).plus(m.turnover.scaled(n * turnover)).plus(m.check.scaled(n * passesAMonth))
	smLow := use.smCalls * perSMCall
	// Bounded above: each secret BatchGetSecretValue returns billed as a call.
	batch := m.checkCalls["Secrets Manager.BatchGetSecretValue"] * n * passesAMonth
	smHigh := smLow + (m.check.smSecrets*n*passesAMonth-batch)*perSMCall
	return []line{
		{"Secrets Manager, secrets stored", n * perSecret, n * perSecret},
		{"Secrets Manager, API calls", smLow, smHigh},
		{"KMS (key and requests)", perKMSKey + use.kms*perKMSReq, perKMSKey + use.kms*perKMSReq},
		{"DynamoDB reads", use.rru * perRRU, use.rru * perRRU},
		{"DynamoDB writes", use.wru * perWRU, use.wru * perWRU},
		{"DynamoDB storage", n * storedBytes / 1e9 * perGBMonth, n * storedBytes / 1e9 * perGBMonth},
		{"API Gateway HTTP API", use.apiReqs * perAPIReq, use.apiReqs * perAPIReq},
		{"Lambda", use.lambdaGBs*perGBs + use.lambdaReqs*perLambdaReq, use.lambdaGBs*perGBs + use.lambdaReqs*perLambdaReq},
		{"SQS", (use.sqs + mappingPolls) * perSQSReq, (use.sqs + mappingPolls) * perSQSReq},
		{"EventBridge", use.events * perEvent, use.events * perEvent},
		{"CloudWatch Logs", use.logBytes / 1e9 * perLogGB, use.logBytes / 1e9 * perLogGB},
		{"CloudWatch metrics (EMF)", emfMetrics * perMetric, emfMetrics * perMetric},
		{"X-Ray", reqs * traceFraction * perTrace, reqs * traceFraction * perTrace},
	}
}

func (m model) report(acts []ActionFigures, pass PassFigures) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# What it costs\n\nBack to the [README](../README.md). Generated by `make cost` on %s: the calls and units below "+
		"were counted against moto by the SDK middleware of `infra/bench` (`unitsOf` prices each call by DynamoDB's rules); "+
		"prices and the assumptions the code cannot count are named at the end. Do not edit by hand.\n\n", time.Now().UTC().Format("2006-01-02"))
	sizes := []float64{1_000, 10_000, 100_000, 1_000_000}
	b.WriteString("## A month\n\n100 API requests per credential (the mix below), a twelfth of the credentials created and deleted, " +
		"and a health pass every hour (720 a month). US dollars; a range where a price is not published.\n\n| | ")
	for _, n := range sizes {
		fmt.Fprintf(&b, "%s credentials | ", thousands(n))
	}
	b.WriteString("\n|---|---|---|---|---|\n")
	totals := make([][2]float64, len(sizes))
	months := make([][]line, len(sizes))
	for i, n := range sizes {
		months[i] = m.month(n)
	}
	for j, l := range months[0] {
		fmt.Fprintf(&b, "| %s | ", l.name)
		for i := range sizes {
			x := months[i][j]
			totals[i][0] += x.low
			totals[i][1] += x.high
			b.WriteString(money(x.low, x.high) + " | ")
		}
		b.WriteString("\n")
	}
	b.WriteString("| **total** | ")
	for i := range sizes {
		b.WriteString("**" + money(totals[i][0], totals[i][1]) + "** | ")
	}
	b.WriteString("\n\n")
	for i, n := range sizes {
		ranked := slices.SortedFunc(slices.Values(months[i]), func(a, b line) int { return cmp.Compare(b.high, a.high) })
		fmt.Fprintf(&b, "- %s credentials: the dominant term is %s (%s of %s); next, %s (%s).\n", thousands(n), ranked[0].name,
			money(ranked[0].low, ranked[0].high), money(totals[i][0], totals[i][1]), ranked[1].name, money(ranked[1].low, ranked[1].high))
	}
	b.WriteString("\n**What would change it.** A secret per credential is $0.40 a month whatever it holds, and it is most of " +
		"the bill at every size. One secret per organization holding its credentials' keys (a JSON object of at most 100 keys, " +
		"well under the 64 KB a secret holds) would divide that line by up to 100; its cost is a read-modify-write of the " +
		"organization's secret on every key change, which Secrets Manager can guard only with version stages, not a condition, " +
		"and a wider blast radius per read. Keys encrypted with one KMS key into the DynamoDB item (envelope encryption) would " +
		"remove the line but leave the product's shape (secret keys in Secrets Manager), so neither is built. Past that, the " +
		"hourly pass is the next lever: its reads, writes and Lambda time scale with passes × credentials.\n\n")

	b.WriteString("## Counted per health check\n\n")
	n := float64(pass.Credentials)
	fmt.Fprintf(&b, "One pass over %d credentials on moto, all on one endpoint (so most checks wait in its line at least once, "+
		"and each put-back message reloads its credentials), a tenth with refused keys: %d messages received in %d invocations, "+
		"%.1f s. Per credential checked (the event source mapping's receives and deletes included; its empty polls are "+
		"priced apart, %s a month):\n\n| call | calls | read units | write units |\n|---|---|---|---|\n",
		pass.Credentials, pass.Received, pass.Invocations, pass.Seconds, thousands(mappingPolls))
	for _, op := range slices.Sorted(maps.Keys(m.checkCalls)) {
		u := pass.UnitsByCall[op]
		fmt.Fprintf(&b, "| %s | %.4f | %.4f | %.4f |\n", op, m.checkCalls[op], u.RRU/n, u.WRU/n)
	}
	fmt.Fprintf(&b, "| **all** | | **%.4f** | **%.4f** |\n\nSecrets returned per check: %.4f.\n\n", pass.Units.RRU/n, pass.Units.WRU/n, pass.Units.Secrets/n)

	b.WriteString("## Counted per action\n\n| action | executions per 100 requests | AWS calls | read units | write units |\n|---|---|---|---|---|\n")
	times := map[string]float64{"create + delete": 0}
	for _, x := range mix {
		times[x.action] = x.times
	}
	for _, a := range acts {
		fmt.Fprintf(&b, "| %s | %g | %d (%s) | %.2f | %.2f |\n", a.Name, times[a.Name], a.Calls, runs(a.Ops), a.Units.RRU, a.Units.WRU)
	}

	b.WriteString("\n## Prices\n\nus-east-1, from each service's pricing page as last read by the author; **not re-checked on the day this " +
		"report was generated** (the machine that generates it has no internet access). Check them before quoting a figure.\n\n" +
		"| item | price | source |\n|---|---|---|\n")
	for _, p := range prices {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", p.item, p.price, p.source)
	}
	fmt.Fprintf(&b, "\n## Assumptions\n\n"+
		"- Lambda time: %g ms of handler time per request plus %g ms per AWS call, at %g GB (API functions) and %g GB (health-check); "+
		"a provider check takes %g ms and an invocation runs %d at once.\n"+
		"- Logs: %d bytes per invocation. Storage: %d bytes per credential (item, index entry, history).\n"+
		"- Events: every committed write of the mix is one event; %.1f%% of checks change a status.\n"+
		"- Secrets Manager: `BatchGetSecretValue` is priced per call (low) and per secret returned (high); each secret read or written "+
		"is one KMS request (the key is the stack's own).\n"+
		"- DynamoDB write units count the list index entry of each credential write (an upper bound); DynamoDB Streams reads by Lambda are free.\n"+
		"- Not counted: the backup engine's `backup-target` reads (one item read and one secret read per backup), data transfer, "+
		"the free tiers.\n",
		handlerMs, awsCallMs, apiMemoryGB, checkMemoryGB, checkMs, checkInFlight, logBytes, storedBytes, changeFraction*100)
	return b.String()
}

func money(low, high float64) string {
	f := func(x float64) string {
		switch {
		case x >= 100:
			return "$" + thousands(x)
		case x >= 1:
			return fmt.Sprintf("$%.2f", x)
		default:
			return fmt.Sprintf("$%.3f", x)
		}
	}
	if high-low > 0.005 {
		return f(low) + "–" + f(high)
	}
	return f(low)
}

// thousands writes x rounded, with thousands separators.
func thousands(x float64) string {
	s := fmt.Sprintf("%.0f", x)
	var out []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	return string(out)
}

// runs writes ops with each run of one op as "op ×n".
func runs(ops []string) string {
	var out []string
	for i := 0; i < len(ops); {
		j := i
		for j < len(ops) && ops[j] == ops[i] {
			j++
		}
		if j-i > 1 {
			out = append(out, fmt.Sprintf("%s ×%d", ops[i], j-i))
		} else {
			out = append(out, ops[i])
		}
		i = j
	}
	return strings.Join(out, ", ")
}
