package provider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/acme/backup-credentials/shared/backup"
)

// STSAPI is the part of the STS client Roles uses.
type STSAPI interface {
	AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, opts ...func(*sts.Options)) (*sts.AssumeRoleOutput, error)
}

// Roles assumes customers' roles as the service's one trust principal: the
// function's own role first assumes Principal (when set), and that session
// assumes the customer's role with the organization's external ID. A
// customer's trust policy therefore names Principal, whichever function
// asks.
type Roles struct {
	STS       STSAPI
	Principal string
	// Timeout bounds one AssumeRole, retries included.
	Timeout time.Duration
}

var _ backup.RoleAssumer = (*Roles)(nil)

// NewRoles returns Roles on STS (at endpoint, "" for AWS's own) with the
// credentials of cfg, as principal when it is not "".
func NewRoles(cfg aws.Config, endpoint, principal string, timeout time.Duration) *Roles {
	opts := func(o *sts.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}
	if principal != "" {
		hop := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg, opts), principal, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "backup-credentials"
		})
		cfg = cfg.Copy()
		cfg.Credentials = aws.NewCredentialsCache(hop)
	}
	return &Roles{STS: sts.NewFromConfig(cfg, opts), Principal: principal, Timeout: timeout}
}

// Messages of a role check.
const (
	msgRoleValid   = "The role may be assumed (%s)."
	msgRoleRefused = "Invalid S3 credentials: AWS refused to let the service assume %s (%s). The role's trust policy must allow sts:AssumeRole to the principal %s with the condition StringEquals sts:ExternalId set to the organization's external ID, shown in GET /v1/organizations."
	msgSTSDown     = "AWS STS did not answer; try again later."
)

// AssumeRole assumes r's role for r.Duration.
func (ro *Roles) AssumeRole(ctx context.Context, r backup.RoleSession) (*backup.TempCredentials, backup.CheckResult, error) {
	timeout := ro.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := ro.STS.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String(r.RoleARN), RoleSessionName: aws.String(r.SessionName), ExternalId: aws.String(r.ExternalID),
		DurationSeconds: aws.Int32(int32(r.Duration / time.Second)),
	})
	if err == nil && out.Credentials != nil {
		c := out.Credentials
		return &backup.TempCredentials{AccessKeyID: aws.ToString(c.AccessKeyId), SecretAccessKey: aws.ToString(c.SecretAccessKey),
				SessionToken: aws.ToString(c.SessionToken), Expires: aws.ToTime(c.Expiration)},
			backup.CheckResult{Status: backup.HealthHealthy, Message: fmt.Sprintf(msgRoleValid, r.RoleARN)}, nil
	}
	var api smithy.APIError
	var netErr net.Error
	switch {
	case err == nil:
		return nil, backup.CheckResult{}, fmt.Errorf("assume %s: no credentials in the answer", r.RoleARN)
	case errors.As(err, &api) && (api.ErrorCode() == "AccessDenied" || api.ErrorCode() == "RegionDisabledException" ||
		api.ErrorCode() == "MalformedPolicyDocument" || api.ErrorCode() == "ValidationError"):
		principal := ro.Principal
		if principal == "" {
			principal = "this service's role"
		}
		return nil, backup.CheckResult{Status: backup.HealthInvalid,
			Message: fmt.Sprintf(msgRoleRefused, r.RoleARN, api.ErrorCode(), principal)}, nil
	case errors.As(err, &api) && throttleCodes[api.ErrorCode()],
		errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr):
		return nil, backup.CheckResult{Status: backup.HealthUnreachable, Message: msgSTSDown}, nil
	}
	return nil, backup.CheckResult{}, fmt.Errorf("assume %s: %w", r.RoleARN, err)
}
