// Package awstime measures how long a piece of work waits on AWS (and on
// S3 providers): an SDK middleware and an http.RoundTripper add each call's
// round trip to a Clock carried by the context. The request log reports it
// beside the request's duration, so the rest is time spent in Go. Calls in
// flight together count once: the Clock holds the time during which at
// least one call was waiting, never more than the work's own duration.
package awstime

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/aws/smithy-go/middleware"
)

// A Clock adds up the time round trips were in flight. It is safe for
// concurrent use.
type Clock struct {
	mu       sync.Mutex
	spent    time.Duration
	calls    int
	inFlight int
	since    time.Time // when inFlight last went from 0 to 1
	now      func() time.Time
}

type key struct{}

// Start returns ctx carrying a new Clock, and the Clock.
func Start(ctx context.Context) (context.Context, *Clock) {
	c := &Clock{now: time.Now}
	return context.WithValue(ctx, key{}, c), c
}

// begin records that a round trip starts on the Clock in ctx, if any, and
// returns what ends it.
func begin(ctx context.Context) (end func()) {
	c, ok := ctx.Value(key{}).(*Clock)
	if !ok {
		return func() {}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inFlight == 0 {
		c.since = c.now()
	}
	c.inFlight++
	c.calls++
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.inFlight--; c.inFlight == 0 {
			c.spent += c.now().Sub(c.since)
		}
	}
}

// Spent returns the time during which round trips were in flight so far
// (those still in flight counted up to now), and how many started.
func (c *Clock) Spent() (time.Duration, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	spent := c.spent
	if c.inFlight > 0 {
		spent += c.now().Sub(c.since)
	}
	return spent, c.calls
}

// Millis is d in milliseconds, to the microsecond, as logs show durations.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Middleware times each attempt of an SDK call from sending the request to
// its answer's headers; pass it in the SDK's APIOptions.
func Middleware(stack *middleware.Stack) error {
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("awstime",
		func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			end := begin(ctx)
			defer end()
			return next.HandleDeserialize(ctx, in)
		}), middleware.After)
}

// Transport times the round trips of a plain HTTP client.
type Transport struct{ http.RoundTripper }

// RoundTrip sends r and adds its round trip to the Clock in its context.
func (t Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	defer begin(r.Context())()
	return t.RoundTripper.RoundTrip(r)
}
