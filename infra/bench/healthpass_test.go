package main

import (
	"strings"
	"testing"

	"github.com/acme/backup-credentials/shared/testkit"
)

// TestHealthPassOnMoto: one pass over 60 credentials end to end on moto
// (scan, SQS, the checker's handler, the table, its stream, events): every
// credential checked once, the revoked tenth recorded invalid and announced,
// the rest healthy and silent, and the calls counted are the service's own
// (no provider call, no test call among them).
func TestHealthPassOnMoto(t *testing.T) {
	storage, err := testkit.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer storage.Stop()
	prov, adminCfg, err := testkit.StartProvider()
	if err != nil {
		t.Fatal(err)
	}
	defer prov.Stop()
	const n = 60
	f, err := healthPassOnMoto(storage, prov, adminCfg, n)
	if err != nil {
		t.Fatal(err)
	}
	if f.Healthy != n-n/10 || f.Invalid != n/10 || f.Events != n/10 {
		t.Errorf("%+v: want %d healthy, %d invalid and announced", f, n-n/10, n/10)
	}
	if f.Received < n/20 || f.Calls["SQS.SendMessageBatch"] == 0 || f.Calls["SQS.DeleteMessageBatch"] == 0 ||
		f.Calls["Secrets Manager.BatchGetSecretValue"] == 0 || f.Calls["EventBridge.PutEvents"] == 0 {
		t.Errorf("calls %v, %d messages received: want the scan's sends, the checker's batch reads, the consumers' deletes, the events", f.Calls, f.Received)
	}
	for op := range f.Calls {
		if strings.HasPrefix(op, "STS.") || strings.HasPrefix(op, "S3.") || op == "SQS.GetQueueAttributes" || op == "SQS.CreateQueue" {
			t.Errorf("counted %s, which is not the service's call", op)
		}
	}
	t.Logf("%+v", f)
}
