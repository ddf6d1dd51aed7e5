package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/acme/backup-credentials/shared/awstime"
)

type requestIDKey struct{}

// RequestID returns the ID of the request ctx serves, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// newRequestID returns API Gateway's request ID when the request came
// through it, else a random one.
func newRequestID(r *http.Request) string {
	if rc, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok && rc.RequestID != "" {
		return rc.RequestID
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// statusRecorder remembers the status a handler answered.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(status int) {
	if s.status == 0 {
		s.status = status
	}
	s.ResponseWriter.WriteHeader(status)
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the writer beneath.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Logged gives every request an ID, answers it in X-Request-Id, and logs one
// line per request: method, path, status, duration, the part of it spent
// waiting on AWS and providers (awsMs, over awsCalls round trips), and ID.
// Never a body, a query or a header value: they may carry keys or tokens. A
// request that an outer Logged serves already is left to it, so a site that
// logs all it serves (the local API) logs the API's requests once.
func Logged(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if RequestID(r.Context()) != "" {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		id := newRequestID(r)
		w.Header().Set("X-Request-Id", id)
		rec := &statusRecorder{ResponseWriter: w}
		ctx, clock := awstime.Start(context.WithValue(r.Context(), requestIDKey{}, id))
		r = r.WithContext(ctx)
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		inAWS, calls := clock.Spent()
		logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("path", truncate(r.URL.Path)), slog.Int("status", rec.status),
			slog.Float64("durationMs", awstime.Millis(time.Since(start))), slog.Float64("awsMs", awstime.Millis(inAWS)), slog.Int("awsCalls", calls),
			slog.String("requestId", id))
	})
}
