// Package app reads the service's configuration (through a lookup function
// that main passes in), builds the credential store and the service one way
// for every function, and serves one route as a Lambda function. It imports
// no AWS service client but DynamoDB's, which every function uses; package
// keys builds the others, for the functions that use them, so a function's
// binary links only the clients it uses.
package app

import (
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/acme/backup-credentials/shared/awstime"
	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/dynamo"
	"github.com/acme/backup-credentials/shared/httpapi"
)

// Config is the service's configuration, read from the environment by Load;
// each field names its variable and default. docs/deploy.md lists them all.
type Config struct {
	// Table is the DynamoDB table (TABLE_NAME, "backup-credentials").
	Table string
	// SecretPrefix begins every secret's name (SECRET_PREFIX,
	// "backup-credentials/").
	SecretPrefix string
	// KMSKeyID encrypts the secrets (SECRETS_KMS_KEY_ID; "" for the
	// account's aws/secretsmanager key).
	KMSKeyID string
	// AllowCIDRs are the internal ranges a provider endpoint may resolve
	// to (BACKUP_ENDPOINT_ALLOW_CIDRS; none in AWS, 127.0.0.0/8 locally).
	AllowCIDRs []netip.Prefix
	// CheckTimeout bounds one provider check, retries included
	// (CHECK_TIMEOUT, 5s).
	CheckTimeout time.Duration
	// Claims name the token claims the caller is read from (CLAIM_NAME,
	// CLAIM_ORGANIZATIONS, CLAIM_ROLE).
	Claims httpapi.ClaimNames
	// IdempotencyTTL is how long an Idempotency-Key is remembered
	// (IDEMPOTENCY_TTL_HOURS, 24).
	IdempotencyTTL time.Duration
	// SecretRecoveryDays is the recovery window of a deleted secret
	// (SECRET_RECOVERY_DAYS, 7; 7 to 30).
	SecretRecoveryDays int
	// MaxCredentials is the most credentials an organization may have
	// (MAX_CREDENTIALS_PER_ORGANIZATION, 100).
	MaxCredentials int
	// TrustPrincipal is the role the service assumes customers' roles as
	// (TRUST_PRINCIPAL_ARN).
	TrustPrincipal string
	// KeyRotationDays is the age past which keys are due for rotation
	// (KEY_ROTATION_DAYS, 90; 0 turns it off).
	KeyRotationDays int
	// BackupEngines are the IAM principals that may resolve projects'
	// credentials (BACKUP_ENGINE_PRINCIPALS, comma-separated ARNs).
	BackupEngines []string
	// EventBus receives the change events (EVENT_BUS_NAME, "default").
	EventBus string
	// HealthConcurrency is how many health checks are in flight at once
	// (HEALTH_CONCURRENCY, 32).
	HealthConcurrency int
	// HealthHost is how many of them may reach one endpoint host
	// (HEALTH_CONCURRENCY_PER_HOST, 8).
	HealthHost int
	// HealthQueueURL is the queue the health scan feeds and the checkers
	// consume (HEALTH_QUEUE_URL).
	HealthQueueURL string
	// AWS is the SDK configuration: region and credentials from the
	// environment, as Lambda provides them.
	AWS aws.Config
	// endpoints are the SDK's AWS_ENDPOINT_URL[_<SERVICE>] overrides.
	endpoints map[string]string
}

// Endpoint returns the endpoint override for a service ("DYNAMODB",
// "SECRETS_MANAGER", "STS", "EVENTBRIDGE", "SQS"), or "" for AWS's own.
func (c Config) Endpoint(service string) string {
	if e := c.endpoints[service]; e != "" {
		return e
	}
	return c.endpoints[""]
}

// DefaultCheckTimeout bounds one provider check when CHECK_TIMEOUT is unset.
const DefaultCheckTimeout = 5 * time.Second

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
		Claims: httpapi.ClaimNames{
			Name:          or("CLAIM_NAME", httpapi.DefaultClaims.Name),
			Organizations: or("CLAIM_ORGANIZATIONS", httpapi.DefaultClaims.Organizations),
			Role:          or("CLAIM_ROLE", httpapi.DefaultClaims.Role),
		},
		EventBus:       or("EVENT_BUS_NAME", "default"),
		HealthQueueURL: getenv("HEALTH_QUEUE_URL"),
		endpoints:      map[string]string{"": getenv("AWS_ENDPOINT_URL")},
	}
	for _, s := range []string{"DYNAMODB", "SECRETS_MANAGER", "STS", "EVENTBRIDGE", "SQS"} {
		cfg.endpoints[s] = getenv("AWS_ENDPOINT_URL_" + s)
	}
	allow, set := lookup("BACKUP_ENDPOINT_ALLOW_CIDRS")
	if !set {
		allow = allowDefault
	}
	var err error
	if cfg.AllowCIDRs, err = ParseAllowList(allow); err != nil {
		return Config{}, fmt.Errorf("BACKUP_ENDPOINT_ALLOW_CIDRS: %w", err)
	}
	if cfg.CheckTimeout, err = time.ParseDuration(or("CHECK_TIMEOUT", DefaultCheckTimeout.String())); err != nil {
		return Config{}, fmt.Errorf("CHECK_TIMEOUT: %w", err)
	}
	ints := []struct {
		name, def string
		dst       *int
	}{{"IDEMPOTENCY_TTL_HOURS", "24", new(int)}, {"HEALTH_CONCURRENCY", "32", &cfg.HealthConcurrency},
		{"HEALTH_CONCURRENCY_PER_HOST", "8", &cfg.HealthHost}, {"SECRET_RECOVERY_DAYS", "7", &cfg.SecretRecoveryDays},
		{"MAX_CREDENTIALS_PER_ORGANIZATION", "100", &cfg.MaxCredentials}}
	for _, i := range ints {
		if *i.dst, err = strconv.Atoi(or(i.name, i.def)); err != nil || *i.dst < 1 {
			return Config{}, fmt.Errorf("%s must be a positive whole number", i.name)
		}
	}
	cfg.IdempotencyTTL = time.Duration(*ints[0].dst) * time.Hour
	if cfg.KeyRotationDays, err = strconv.Atoi(or("KEY_ROTATION_DAYS", "90")); err != nil || cfg.KeyRotationDays < 0 {
		return Config{}, fmt.Errorf("KEY_ROTATION_DAYS must be a whole number of days, 0 to turn it off")
	}
	cfg.TrustPrincipal = getenv("TRUST_PRINCIPAL_ARN")
	if cfg.SecretRecoveryDays < 7 || cfg.SecretRecoveryDays > 30 {
		return Config{}, fmt.Errorf("SECRET_RECOVERY_DAYS must be 7 to 30, as Secrets Manager allows")
	}
	for _, p := range strings.Split(getenv("BACKUP_ENGINE_PRINCIPALS"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			cfg.BackupEngines = append(cfg.BackupEngines, p)
		}
	}
	// Every AWS call's round trip counts towards its request's awsMs.
	cfg.AWS = aws.Config{Region: or("AWS_REGION", getenv("AWS_DEFAULT_REGION")), APIOptions: []func(*middleware.Stack) error{awstime.Middleware}}
	if id := getenv("AWS_ACCESS_KEY_ID"); id != "" {
		cfg.AWS.Credentials = credentials.NewStaticCredentialsProvider(id, getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_SESSION_TOKEN"))
	}
	return cfg, nil
}

// ParseAllowList parses comma-separated CIDRs or addresses.
func ParseAllowList(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			a, err := netip.ParseAddr(part)
			if err != nil {
				return nil, fmt.Errorf("allow-list entry %q: %w", part, err)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, fmt.Errorf("allow-list entry %q: %w", part, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// JSONLogs makes the default logger write JSON lines to w, which CloudWatch
// Logs Insights reads field by field.
func JSONLogs(w io.Writer) {
	slog.SetDefault(slog.New(slog.NewJSONHandler(w, nil)))
}

// Store returns the credential store the configuration names, with its
// limits.
func (c Config) Store() *dynamo.Store {
	return c.StoreOn(dynamodb.NewFromConfig(c.AWS, func(o *dynamodb.Options) {
		if e := c.Endpoint("DYNAMODB"); e != "" {
			o.BaseEndpoint = aws.String(e)
		}
	}))
}

// StoreOn returns the configured table's store, with its limits, on a
// DynamoDB client of the caller's (the local API's emulators).
func (c Config) StoreOn(api dynamo.API) *dynamo.Store {
	st := dynamo.New(api, c.Table)
	st.IdempotencyTTL, st.MaxCredentialsPerOrganization = c.IdempotencyTTL, c.MaxCredentials
	return st
}

// Service returns the service on store with what the configuration sets
// (the key rotation age, the default logger) and the dependencies opts give
// (backup.WithSecrets, WithChecker, WithRoles): every function builds its
// service this one way.
func (c Config) Service(store backup.Store, opts ...backup.Option) (*backup.Service, error) {
	return backup.New(store, append([]backup.Option{backup.WithKeyRotationDays(c.KeyRotationDays), backup.WithLogger(slog.Default())}, opts...)...)
}

// A Dependency gives a route's service something the configuration builds
// besides its store: keys.Secrets, keys.Checker, keys.Roles.
type Dependency func(Config) backup.Option

// Main is a route function's whole main: it reads the configuration from
// the environment and serves route with the dependencies, and ends the
// process with the error that keeps it from serving.
func Main(route string, deps ...Dependency) {
	cfg, err := Load(os.LookupEnv, "")
	if err == nil {
		opts := make([]backup.Option, len(deps))
		for i, d := range deps {
			opts[i] = d(cfg)
		}
		err = serveLambda(cfg, route, opts...)
	}
	log.Fatal(err)
}

// serveLambda serves one route behind API Gateway (HTTP API, payload 2.0),
// with JSON logs, on the configured store and the dependencies opts give,
// until the Lambda runtime stops the process. It returns only the error
// that keeps it from serving.
func serveLambda(cfg Config, route string, opts ...backup.Option) error {
	JSONLogs(os.Stdout)
	svc, err := cfg.Service(cfg.Store(), opts...)
	if err != nil {
		return err
	}
	api := &httpapi.API{Service: svc, Auth: httpapi.GatewayAuth{Claims: cfg.Claims, BackupEngines: cfg.BackupEngines}, Logger: slog.Default()}
	lambda.Start(httpadapter.NewV2(api.Handler(route)).ProxyWithContext)
	return nil
}
