// Package awstime measures how long a piece of work waits on AWS (and on
// S3 providers): an SDK middleware and an http.RoundTripper add each call's
// round trip to a Clock carried by the context. The request log reports it
// beside the request's duration, so the rest is time spent in Go.
package awstime

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/aws/smithy-go/middleware"
)

// A Clock adds up round trips. It is safe for concurrent use.
type Clock struct {
	mu    sync.Mutex
	spent time.Duration
	calls int
}

type key struct{}

// Start returns ctx carrying a new Clock, and the Clock.
func Start(ctx context.Context) (context.Context, *Clock) {
	c := &Clock{}
	return context.WithValue(ctx, key{}, c), c
}

// add records one round trip on the Clock in ctx, if any.
func add(ctx context.Context, d time.Duration) {
	if c, ok := ctx.Value(key{}).(*Clock); ok {
		c.mu.Lock()
		c.spent += d
		c.calls++
		c.mu.Unlock()
	}
}

// Spent returns the time of the round trips added so far, and how many.
func (c *Clock) Spent() (time.Duration, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.spent, c.calls
}

// Millis is d in milliseconds, to the microsecond, as logs show durations.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Middleware times each attempt of an SDK call from sending the request to
// its answer's headers; pass it in the SDK's APIOptions.
func Middleware(stack *middleware.Stack) error {
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("awstime",
		func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			start := time.Now()
			out, md, err := next.HandleDeserialize(ctx, in)
			add(ctx, time.Since(start))
			return out, md, err
		}), middleware.After)
}

// Transport times the round trips of a plain HTTP client.
type Transport struct{ http.RoundTripper }

// RoundTrip sends r and adds its round trip to the Clock in its context.
func (t Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.RoundTripper.RoundTrip(r)
	add(r.Context(), time.Since(start))
	return resp, err
}
