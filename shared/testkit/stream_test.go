package testkit_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/dynamo"
	"github.com/acme/backup-credentials/shared/inmem"
	"github.com/acme/backup-credentials/shared/stream"
	"github.com/acme/backup-credentials/shared/testkit"
)

// accept accepts any keys.
type accept struct{}

func (accept) Check(context.Context, backup.Keys) (backup.CheckResult, error) {
	return backup.CheckResult{Status: backup.HealthHealthy, Message: "ok"}, nil
}

// bus keeps the events put on it.
type bus struct{ got []string }

func (b *bus) Put(_ context.Context, evs []backup.Event) (int, error) {
	for _, e := range evs {
		b.got = append(b.got, e.DetailType+" "+e.CredentialID)
	}
	return len(evs), nil
}

// TestRefusedWriteLeavesTheStreamWhole: a reader that holds a shard
// iterator across a refused create (a cancelled transaction, which moto
// rolls back by restoring a copy of the table) reads no record of the
// refused write and every record of the next change, as on DynamoDB.
// Without serve.py's repair it read the refused credential's records and
// nothing after them.
func TestRefusedWriteLeavesTheStreamWhole(t *testing.T) {
	ctx := context.Background()
	moto, err := testkit.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer moto.Stop()
	cfg := moto.Config()
	ddb := dynamodb.NewFromConfig(cfg)
	if err := dynamo.CreateTable(ctx, ddb, "stream"); err != nil {
		t.Fatal(err)
	}
	svc, err := backup.New(dynamo.New(ddb, "stream"), backup.WithSecrets(inmem.NewSecretStore()), backup.WithChecker(accept{}))
	if err != nil {
		t.Fatal(err)
	}
	jane := backup.Caller{UserID: "jane", Role: backup.RolePartner, Organizations: []string{"org-1"}}
	in := backup.CreateInput{OrganizationID: "org-1", Name: "prod", AccessKeyID: "AKIAPROD", SecretKey: "s3cr3t",
		Endpoint: "https://s3.eu-central-1.amazonaws.com", Region: "eu-central-1"}
	x, _, err := svc.Create(ctx, jane, in, "")
	if err != nil {
		t.Fatal(err)
	}

	streams := dynamodbstreams.NewFromConfig(cfg)
	desc, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("stream")})
	if err != nil {
		t.Fatal(err)
	}
	sd, err := streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: desc.Table.LatestStreamArn})
	if err != nil {
		t.Fatal(err)
	}
	it, err := streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: desc.Table.LatestStreamArn,
		ShardId: sd.StreamDescription.Shards[0].ShardId, ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	read := func(iter *string) ([]stream.Record, *string) {
		out, err := streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			t.Fatal(err)
		}
		var recs []stream.Record
		for _, r := range out.Records {
			rec := stream.Record{Seq: aws.ToString(r.Dynamodb.SequenceNumber)}
			if len(r.Dynamodb.OldImage) > 0 {
				rec.Old, _ = attributevalue.FromDynamoDBStreamsMap(r.Dynamodb.OldImage)
			}
			if len(r.Dynamodb.NewImage) > 0 {
				rec.New, _ = attributevalue.FromDynamoDBStreamsMap(r.Dynamodb.NewImage)
			}
			recs = append(recs, rec)
		}
		return recs, out.NextShardIterator
	}
	published := &bus{}
	pub := stream.New(published, slog.New(slog.NewTextHandler(io.Discard, nil)))
	recs, held := read(it.ShardIterator)
	if _, err := pub.Publish(ctx, recs); err != nil {
		t.Fatal(err)
	}

	in.AccessKeyID = "AKIAOTHER"
	if _, _, err := svc.Create(ctx, jane, in, ""); backup.ErrorCode(err) != backup.ENameTaken {
		t.Fatalf("a second prod: %v, want name_taken", err)
	}
	if _, err := svc.SetLocked(ctx, jane, x.ID, true); err != nil {
		t.Fatal(err)
	}
	recs, _ = read(held)
	if _, err := pub.Publish(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if want := []string{backup.EventCreated + " " + x.ID, backup.EventLocked + " " + x.ID}; !slices.Equal(published.got, want) {
		t.Errorf("published %v, want %v", published.got, want)
	}
}
