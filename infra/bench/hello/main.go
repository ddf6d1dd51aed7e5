// Command hello is the floor of the cold-start benchmark: the smallest
// aws-lambda-go function, built with the same flags as the real ones.
package main

import "github.com/aws/aws-lambda-go/lambda"

func main() {
	lambda.Start(func() (string, error) { return "hello", nil })
}
