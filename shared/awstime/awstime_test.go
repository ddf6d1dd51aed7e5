package awstime_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/acme/backup-credentials/shared/awstime"
)

// TestClock: the SDK middleware and the transport add each round trip to
// the Clock of the request's context; work without a Clock is not counted.
func TestClock(t *testing.T) {
	const wait = 20 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(wait)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	ddb := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""),
		APIOptions:  []func(*middleware.Stack) error{awstime.Middleware}})
	key := map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "k"}}
	plain := &http.Client{Transport: awstime.Transport{RoundTripper: http.DefaultTransport}}

	ctx, clock := awstime.Start(context.Background())
	if _, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("t"), Key: key}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := plain.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := ddb.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String("t"), Key: key}); err != nil {
		t.Fatal(err)
	}
	spent, calls := clock.Spent()
	if calls != 2 || spent < 2*wait || spent > 2*wait+time.Second {
		t.Errorf("clock = %s over %d calls, want two round trips of at least %s", spent, calls, wait)
	}
}
