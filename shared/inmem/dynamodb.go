package inmem

import (
	"context"
	"net/http"
	"net/http/httptest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	miniserver "github.com/truora/minidyn/server"

	"github.com/acme/backup-credentials/shared/dynamo"
)

// handlerTransport serves requests with an in-process handler, no socket.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// DynamoDB returns a DynamoDB client on an in-process emulator (minidyn)
// that holds the table, created, so the same store code runs with nothing
// else started. Where minidyn departs from DynamoDB in ways the store meets,
// the client's middleware makes up for it (quirks.go), so the store never
// bends its schema to the emulator.
func DynamoDB(ctx context.Context, table string) (*dynamodb.Client, error) {
	return dynamoDB(ctx, table, nil)
}

// DynamoDBWithStream is DynamoDB with the table's stream, which records
// every write until it is delivered.
func DynamoDBWithStream(ctx context.Context, table string) (*dynamodb.Client, *Stream, error) {
	s := &Stream{}
	c, err := dynamoDB(ctx, table, s)
	return c, s, err
}

func dynamoDB(ctx context.Context, table string, s *Stream) (*dynamodb.Client, error) {
	opts := dynamodb.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String("http://minidyn.local"),
		HTTPClient:   &http.Client{Transport: handlerTransport{miniserver.NewServer()}},
	}
	q := &quirks{raw: dynamodb.New(opts), stream: s}
	opts.APIOptions = append(opts.APIOptions, q.middleware)
	client := dynamodb.New(opts)
	if err := dynamo.CreateTable(ctx, client, table); err != nil {
		return nil, err
	}
	return client, nil
}
