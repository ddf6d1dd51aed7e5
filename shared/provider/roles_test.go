package provider_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/provider"
	"github.com/acme/backup-credentials/shared/testkit"
)

// stsCalls records every AssumeRole the SDK sends and answers, for the
// roles whose ARN it names, the error STS would (moto does not enforce
// trust policies, so refusals are injected).
type stsCalls struct {
	mu    sync.Mutex
	seen  []sts.AssumeRoleInput
	fails map[string]error
}

func (s *stsCalls) middleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("captureAssumeRole",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if p, ok := in.Parameters.(*sts.AssumeRoleInput); ok {
				s.mu.Lock()
				s.seen = append(s.seen, *p)
				err := s.fails[aws.ToString(p.RoleArn)]
				s.mu.Unlock()
				if err != nil {
					return middleware.InitializeOutput{}, middleware.Metadata{}, err
				}
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

// TestRolesOnMotoSTS assumes a customer's role through moto's STS as the
// trust principal: the customer's role is asked for with the external ID,
// the session name and the shortest duration, by the principal's session;
// STS's refusal says what the trust policy must name; no answer is
// unreachable.
func TestRolesOnMotoSTS(t *testing.T) {
	open, err := testkit.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer open.Stop()
	const (
		principal = "arn:aws:iam::111122223333:role/backup-credentials-role-assumer"
		customer  = "arn:aws:iam::444455556666:role/backups"
		refusing  = "arn:aws:iam::444455556666:role/no-trust"
		throttled = "arn:aws:iam::444455556666:role/throttled"
		external  = "bcx-0123456789abcdef0123456789abcdef"
	)
	calls := &stsCalls{fails: map[string]error{
		refusing:  &smithy.GenericAPIError{Code: "AccessDenied", Message: "User is not authorized to perform: sts:AssumeRole"},
		throttled: &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"},
	}}
	cfg := open.Config()
	cfg.APIOptions = append(cfg.APIOptions, calls.middleware)
	roles := provider.NewRoles(cfg, open.URL, principal, 5*time.Second)
	ctx := context.Background()
	session := backup.RoleSession{RoleARN: customer, ExternalID: external, SessionName: backup.SessionName("bc_X"),
		Region: "eu-central-1", Duration: backup.CheckSession}

	creds, r, err := roles.AssumeRole(ctx, session)
	if err != nil || creds == nil || r.Status != backup.HealthHealthy || creds.SessionToken == "" || creds.Expires.IsZero() {
		t.Fatalf("assume = %+v, %+v, %v", creds, r, err)
	}
	calls.mu.Lock()
	seen := calls.seen
	calls.mu.Unlock()
	// The customer's call is made first; signing it needs the principal's
	// session, which is assumed then (and cached for later calls).
	if len(seen) != 2 || aws.ToString(seen[1].RoleArn) != principal || seen[1].ExternalId != nil {
		t.Fatalf("calls = %+v, want the customer's role assumed with the principal's session", seen)
	}
	got := seen[0]
	if aws.ToString(got.RoleArn) != customer || aws.ToString(got.ExternalId) != external ||
		aws.ToString(got.RoleSessionName) != "backup-credentials-bc_X" || aws.ToInt32(got.DurationSeconds) != 900 {
		t.Errorf("customer AssumeRole = role %s, external ID %s, session %s, %d s",
			aws.ToString(got.RoleArn), aws.ToString(got.ExternalId), aws.ToString(got.RoleSessionName), aws.ToInt32(got.DurationSeconds))
	}

	session.RoleARN = refusing
	creds, r, err = roles.AssumeRole(ctx, session)
	if err != nil || creds != nil || r.Status != backup.HealthInvalid {
		t.Fatalf("refused: %+v, %+v, %v", creds, r, err)
	}
	for _, want := range []string{"Invalid S3 credentials", refusing, "AccessDenied", principal, "sts:ExternalId", "GET /v1/organizations"} {
		if !strings.Contains(r.Message, want) {
			t.Errorf("refusal %q does not name %q", r.Message, want)
		}
	}
	// The message becomes health.message, a Health Changed event and log
	// lines: it names where the external ID is shown, never the ID.
	if strings.Contains(r.Message, external) {
		t.Errorf("refusal %q carries the external ID", r.Message)
	}

	session.RoleARN = throttled
	if creds, r, err = roles.AssumeRole(ctx, session); err != nil || creds != nil || r.Status != backup.HealthUnreachable {
		t.Errorf("throttled: %+v, %+v, %v", creds, r, err)
	}
}
