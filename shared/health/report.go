package health

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"time"

	"github.com/acme/backup-credentials/shared/awstime"
)

// MetricsOut receives the Embedded Metric Format lines of the scanner and
// the checkers (stdout, which Lambda sends to CloudWatch Logs).
var MetricsOut io.Writer = os.Stdout

// A Metric is one value of an Embedded Metric Format line.
type Metric struct {
	Name, Unit string
	Value      float64
}

// WriteMetrics writes one Embedded Metric Format line of the namespace
// BackupCredentials, which CloudWatch turns into metrics without an API
// call.
func WriteMetrics(at time.Time, ms ...Metric) {
	defs := make([]map[string]string, len(ms))
	line := map[string]any{}
	for i, m := range ms {
		defs[i] = map[string]string{"Name": m.Name, "Unit": m.Unit}
		line[m.Name] = m.Value
	}
	line["_aws"] = map[string]any{
		"Timestamp": at.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace": "BackupCredentials", "Dimensions": [][]string{{}}, "Metrics": defs,
		}},
	}
	b, _ := json.Marshal(line)
	_, _ = MetricsOut.Write(append(b, '\n'))
}

// report writes one summary log line and the run's metrics.
func (r *Scanner) report(ctx context.Context, s Summary) {
	r.Logger.InfoContext(ctx, "health scan", "pass", s.Pass, "enqueued", s.Enqueued, "skipped", s.Skipped, "messages", s.Sent,
		"complete", s.Complete, "orphansDeleted", s.OrphansDeleted, "sweepRefused", s.SweepRefused,
		"durationMs", awstime.Millis(s.Duration), "awsMs", awstime.Millis(s.AWS), "awsCalls", s.AWSCalls)
	done, refused := 0.0, 0.0
	if s.Complete {
		done = 1
	}
	if s.SweepRefused {
		refused = 1
	}
	WriteMetrics(r.Now(), Metric{"Enqueued", "Count", float64(s.Enqueued)}, Metric{"Skipped", "Count", float64(s.Skipped)},
		Metric{"ScanComplete", "Count", done}, Metric{"ScanDuration", "Milliseconds", float64(s.Duration) / float64(time.Millisecond)},
		Metric{"SweepRefused", "Count", refused})
}
