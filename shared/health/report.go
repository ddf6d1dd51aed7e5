package health

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"time"

	"github.com/acme/backup-credentials/shared/awstime"
)

// MetricsOut receives the Embedded Metric Format line of each run (stdout,
// which Lambda sends to CloudWatch Logs).
var MetricsOut io.Writer = os.Stdout

// report writes one summary log line and the run's metrics in CloudWatch
// Embedded Metric Format.
func (r *Runner) report(ctx context.Context, s Summary) {
	r.Logger.InfoContext(ctx, "health check run", "checked", s.Checked, "healthy", s.Healthy, "invalid", s.Invalid,
		"unreachable", s.Unreachable, "failed", s.Failed, "changed", s.Changed, "rotationDue", s.RotationDue, "orphansDeleted", s.OrphansDeleted, "sweepRefused", s.SweepRefused,
		"complete", s.Complete, "durationMs", awstime.Millis(s.Duration), "awsMs", awstime.Millis(s.AWS), "awsCalls", s.AWSCalls)
	metric := func(name, unit string) map[string]string { return map[string]string{"Name": name, "Unit": unit} }
	refused := 0
	if s.SweepRefused {
		refused = 1
	}
	emf := map[string]any{
		"_aws": map[string]any{
			"Timestamp": r.Now().UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  "BackupCredentials",
				"Dimensions": [][]string{{}},
				"Metrics": []any{metric("Checked", "Count"), metric("Healthy", "Count"), metric("Invalid", "Count"),
					metric("Unreachable", "Count"), metric("Failed", "Count"), metric("Duration", "Milliseconds"),
					metric("SweepRefused", "Count")},
			}},
		},
		"Checked": s.Checked, "Healthy": s.Healthy, "Invalid": s.Invalid, "Unreachable": s.Unreachable,
		"Failed": s.Failed, "Duration": float64(s.Duration) / float64(time.Millisecond), "SweepRefused": refused,
	}
	b, _ := json.Marshal(emf)
	_, _ = MetricsOut.Write(append(b, '\n'))
}
