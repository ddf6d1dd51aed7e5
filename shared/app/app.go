// Package app wires the service from configuration: it reads settings
// through a getenv function that main passes in, builds the AWS config once,
// and only the clients an action uses.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/dynamo"
	"github.com/acme/backup-credentials/shared/eventbus"
	"github.com/acme/backup-credentials/shared/health"
	"github.com/acme/backup-credentials/shared/httpapi"
	"github.com/acme/backup-credentials/shared/provider"
	"github.com/acme/backup-credentials/shared/secrets"
)

// Config is the service's configuration.
type Config struct {
	Table          string
	SecretPrefix   string
	KMSKeyID       string
	AllowCIDRs     []netip.Prefix
	CheckTimeout   time.Duration
	STSEndpoint    string
	Claims         httpapi.ClaimNames
	IdempotencyTTL time.Duration
	// Health check: the event bus for changes, checks in flight in all and
	// per endpoint host.
	EventBus                      string
	HealthConcurrency, HealthHost int
}

// Load reads the configuration through lookup (os.LookupEnv in main).
// allowDefault is the allow-list used when BACKUP_ENDPOINT_ALLOW_CIDRS is
// unset: empty in AWS, 127.0.0.0/8 for the local API.
func Load(lookup func(string) (string, bool), allowDefault string) (Config, error) {
	getenv := func(k string) string {
		v, _ := lookup(k)
		return v
	}
	or := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	cfg := Config{
		Table:        or("TABLE_NAME", "backup-credentials"),
		SecretPrefix: or("SECRET_PREFIX", "backup-credentials/"),
		KMSKeyID:     getenv("SECRETS_KMS_KEY_ID"),
		STSEndpoint:  getenv("AWS_ENDPOINT_URL_STS"),
		Claims: httpapi.ClaimNames{
			Name:          or("CLAIM_NAME", httpapi.DefaultClaims.Name),
			Organizations: or("CLAIM_ORGANIZATIONS", httpapi.DefaultClaims.Organizations),
			Role:          or("CLAIM_ROLE", httpapi.DefaultClaims.Role),
		},
	}
	allow, set := lookup("BACKUP_ENDPOINT_ALLOW_CIDRS")
	if !set {
		allow = allowDefault
	}
	var err error
	if cfg.AllowCIDRs, err = provider.ParseAllowList(allow); err != nil {
		return Config{}, fmt.Errorf("BACKUP_ENDPOINT_ALLOW_CIDRS: %w", err)
	}
	if cfg.CheckTimeout, err = time.ParseDuration(or("CHECK_TIMEOUT", provider.DefaultTimeout.String())); err != nil {
		return Config{}, fmt.Errorf("CHECK_TIMEOUT: %w", err)
	}
	hours, err := strconv.Atoi(or("IDEMPOTENCY_TTL_HOURS", "24"))
	if err != nil || hours < 1 {
		return Config{}, fmt.Errorf("IDEMPOTENCY_TTL_HOURS must be a whole number of hours")
	}
	cfg.IdempotencyTTL = time.Duration(hours) * time.Hour
	cfg.EventBus = or("EVENT_BUS_NAME", "default")
	if cfg.HealthConcurrency, err = strconv.Atoi(or("HEALTH_CONCURRENCY", "32")); err != nil || cfg.HealthConcurrency < 1 {
		return Config{}, fmt.Errorf("HEALTH_CONCURRENCY must be a positive whole number")
	}
	if cfg.HealthHost, err = strconv.Atoi(or("HEALTH_CONCURRENCY_PER_HOST", "8")); err != nil || cfg.HealthHost < 1 {
		return Config{}, fmt.Errorf("HEALTH_CONCURRENCY_PER_HOST must be a positive whole number")
	}
	return cfg, nil
}

// Needs says which backing services an action uses.
type Needs uint8

// The backing services.
const (
	NeedStore Needs = 1 << iota
	NeedSecrets
	NeedChecker
)

// AWSConfig loads the SDK's configuration, honouring AWS_ENDPOINT_URL_* for
// emulators.
func AWSConfig(ctx context.Context, opts ...func(*config.LoadOptions) error) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	return cfg, nil
}

// NewService builds a service with only the clients needs names.
func NewService(awsCfg aws.Config, cfg Config, needs Needs) *backup.Service {
	svc := &backup.Service{Logger: slog.Default(), IdempotencyWait: 5 * time.Second}
	if needs&NeedStore != 0 {
		st := dynamo.New(dynamodb.NewFromConfig(awsCfg), cfg.Table)
		st.IdempotencyTTL = cfg.IdempotencyTTL
		svc.Store = st
	}
	if needs&NeedSecrets != 0 {
		sec := secrets.New(secretsmanager.NewFromConfig(awsCfg), cfg.SecretPrefix)
		sec.KMSKeyID = cfg.KMSKeyID
		svc.Secrets = sec
	}
	if needs&NeedChecker != 0 {
		svc.Checker = NewChecker(cfg)
	}
	return svc
}

// NewChecker builds the provider checker from the configuration.
func NewChecker(cfg Config) *provider.Checker {
	return &provider.Checker{Guard: provider.Guard{Allow: cfg.AllowCIDRs}, Timeout: cfg.CheckTimeout, STSEndpoint: cfg.STSEndpoint}
}

// ServeLambda serves one route behind API Gateway (HTTP API, payload 2.0)
// until the Lambda runtime stops the process.
func ServeLambda(cfg Config, svc *backup.Service, route string) {
	api := &httpapi.API{Service: svc, Auth: httpapi.GatewayAuth{Claims: cfg.Claims}, Logger: slog.Default()}
	lambda.Start(httpadapter.NewV2(api.Handler(route)).ProxyWithContext)
}

// NewHealthRunner builds the scheduled health check on DynamoDB, Secrets
// Manager and EventBridge (no publisher when bus is "").
func NewHealthRunner(awsCfg aws.Config, cfg Config, publish bool) *health.Runner {
	svc := NewService(awsCfg, cfg, NeedStore|NeedSecrets|NeedChecker)
	r := &health.Runner{
		Store: svc.Store.(*dynamo.Store), Secrets: svc.Secrets.(*secrets.Store), Service: svc,
		Concurrency: cfg.HealthConcurrency, PerHost: cfg.HealthHost, Margin: cfg.CheckTimeout + 2*time.Second,
	}
	if publish {
		r.Publisher = &eventbus.Publisher{API: eventbridge.NewFromConfig(awsCfg), Bus: cfg.EventBus}
	}
	return r
}
