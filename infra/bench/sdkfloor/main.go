// Command sdkfloor is the SDK floor of the cold-start benchmark: the
// hello-world floor plus the AWS SDK clients a function links, built the way
// the functions build theirs and with the same flags, whose first request
// makes one call with each client. It links DynamoDB; the build tags
// secretsmanager, sts, eventbridge and sqs add those clients. What it adds to the
// hello-world floor is what the SDK costs before any of this service's code
// runs.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/middleware"

	"github.com/acme/backup-credentials/shared/awstime"
)

// A client builds one SDK client from the configuration and an endpoint
// ("" for AWS's), and returns the call the first request makes with it.
type client func(cfg aws.Config, endpoint string) (call func(context.Context) error)

// clients are the clients linked, DynamoDB's first.
var clients = []client{dynamoDB}

func main() {
	cfg := aws.Config{Region: os.Getenv("AWS_REGION"), APIOptions: []func(*middleware.Stack) error{awstime.Middleware},
		Credentials: credentials.NewStaticCredentialsProvider(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), "")}
	var calls []func(context.Context) error
	for _, c := range clients {
		calls = append(calls, c(cfg, os.Getenv("AWS_ENDPOINT_URL")))
	}
	lambda.Start(func(ctx context.Context) (string, error) {
		ctx, clock := awstime.Start(ctx)
		for _, call := range calls {
			if err := call(ctx); err != nil {
				return "", err
			}
		}
		// The line the bench reads a first request's AWS time from, as it
		// reads a function's request log.
		spent, n := clock.Spent()
		fmt.Printf("{\"msg\":\"first request\",\"awsMs\":%.3f,\"awsCalls\":%d}\n", awstime.Millis(spent), n)
		return "hello", nil
	})
}

// base sets an SDK client's endpoint when one is given.
func base(endpoint string) *string {
	if endpoint == "" {
		return nil
	}
	return aws.String(endpoint)
}
