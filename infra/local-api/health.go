package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/acme/backup-credentials/shared/app"
	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/health"
	"github.com/acme/backup-credentials/shared/health/checker"
)

// localPass is the health pass as the local API runs it: the scanner on an
// interval and the checker on the queue, which is moto's SQS when the
// storage is an emulator's (make run-moto) and in process otherwise (make
// run: no SQS to start).
type localPass struct {
	scanner *health.Scanner
	checker *checker.Checker
	consume func(ctx context.Context)
}

func newLocalPass(ctx context.Context, cfg app.Config, ls localStorage, svc *backup.Service) (*localPass, string, error) {
	k := &checker.Checker{Store: ls.store, Slots: ls.store, Secrets: ls.vault, Service: svc,
		Concurrency: cfg.HealthConcurrency, PerHost: cfg.HealthHost, Margin: cfg.CheckTimeout + 2*time.Second}
	p := &localPass{checker: k, scanner: &health.Scanner{Store: ls.store, Secrets: ls.vault}}
	if ls.inProcess {
		q := &health.MemoryQueue{}
		p.scanner.Queue, k.Queue = q, q
		p.consume = func(ctx context.Context) {
			q.Consume(ctx, 2, 10, time.Minute, func(ctx context.Context, ms []health.Message) []int {
				failed, _ := k.Handle(ctx, ms)
				return failed
			})
		}
		return p, "in process", nil
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("load AWS config: %w", err)
	}
	api := sqs.NewFromConfig(awsCfg)
	out, err := api.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(cfg.Table + "-health")})
	if err != nil {
		return nil, "", fmt.Errorf("create the health queue: %w", err)
	}
	url := aws.ToString(out.QueueUrl)
	q := &health.SQS{API: api, URL: url}
	p.scanner.Queue, k.Queue = q, q
	p.consume = func(ctx context.Context) { pollSQS(ctx, api, url, k) }
	return p, "SQS " + url, nil
}

// pollSQS hands the queue's messages to the checker as the event source
// mapping does, deleting those it did not fail.
func pollSQS(ctx context.Context, api *sqs.Client, url string, k *checker.Checker) {
	for ctx.Err() == nil {
		out, err := api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
			WaitTimeSeconds: 1, VisibilityTimeout: 60})
		if err != nil {
			if ctx.Err() == nil {
				slog.Error("receive health messages", "error", err)
				time.Sleep(time.Second)
			}
			continue
		}
		var ev events.SQSEvent
		for _, m := range out.Messages {
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body)})
		}
		if len(ev.Records) == 0 {
			continue
		}
		resp, _ := k.HandleSQS(ctx, ev)
		failed := map[string]bool{}
		for _, f := range resp.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
		var done []sqstypes.DeleteMessageBatchRequestEntry
		for _, m := range out.Messages {
			if !failed[aws.ToString(m.MessageId)] {
				done = append(done, sqstypes.DeleteMessageBatchRequestEntry{Id: m.MessageId, ReceiptHandle: m.ReceiptHandle})
			}
		}
		if len(done) > 0 {
			if _, err := api.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: done}); err != nil {
				slog.Error("delete health messages", "error", err)
			}
		}
	}
}

// every runs the scan every interval and the checker all along, until ctx
// ends.
func (p *localPass) every(ctx context.Context, interval time.Duration) {
	go p.consume(ctx)
	every(ctx, interval, "health scan", func(ctx context.Context) error {
		_, err := p.scanner.Run(ctx)
		return err
	})
}

// once runs one whole pass in process: the scan, then the checks it
// queued, second attempts without their wait.
func (p *localPass) once(ctx context.Context) (checker.Summary, error) {
	q := &health.MemoryQueue{}
	p.scanner.Queue, p.checker.Queue = q, q
	if _, err := p.scanner.Run(ctx); err != nil {
		return checker.Summary{}, err
	}
	return checker.Drain(ctx, q, p.checker)
}
