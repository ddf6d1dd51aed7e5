package testkit

import (
	"context"
	"sync"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// A Counter counts the AWS calls an SDK client makes, by service and
// operation, with a middleware; tests and benchmarks use it to hold each
// action to its minimum number of calls. The zero value is ready to use.
type Counter struct {
	mu     sync.Mutex
	counts map[string]int
}

// Middleware adds the counter to a client's stack; pass it in APIOptions.
func (c *Counter) Middleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("callcount",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			c.Add(awsmiddleware.GetServiceID(ctx) + "." + awsmiddleware.GetOperationName(ctx))
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

// Add counts one call of op, for stand-ins that are not SDK clients.
func (c *Counter) Add(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[op]++
}

// Take returns the counts since the last Take and starts again from zero.
func (c *Counter) Take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.counts
	c.counts = nil
	if out == nil {
		out = map[string]int{}
	}
	return out
}
