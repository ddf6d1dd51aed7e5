// Command local-api serves every route of the backup credentials API on
// 127.0.0.1:$PORT with the same handlers as Lambda. With no AWS endpoint
// configured it keeps everything in process (minidyn for DynamoDB, a map for
// secrets); with AWS_ENDPOINT_URL_DYNAMODB and
// AWS_ENDPOINT_URL_SECRETS_MANAGER set it uses them (an emulator or AWS).
//
//	local-api               serve
//	local-api token         print a token for the local API
//	local-api health-check  run the health check once against AWS_ENDPOINT_URL_* storage
//	local-api create-table  create the table at AWS_ENDPOINT_URL_* (for sam local)
//	local-api migrate       move the projects of a table written before they were keyed by their organization
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/acme/backup-credentials/infra/local-api/localauth"
	"github.com/acme/backup-credentials/shared/app"
	"github.com/acme/backup-credentials/shared/app/keys"
	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/dynamo"
	"github.com/acme/backup-credentials/shared/eventbus"
	"github.com/acme/backup-credentials/shared/health"
	"github.com/acme/backup-credentials/shared/httpapi"
	"github.com/acme/backup-credentials/shared/inmem"
	"github.com/acme/backup-credentials/shared/provider"
	"github.com/acme/backup-credentials/shared/secrets"
	"github.com/acme/backup-credentials/shared/stream"
	"github.com/acme/backup-credentials/shared/tail"
)

func main() {
	secret := []byte(getenv("LOCAL_JWT_SECRET", localauth.DefaultSecret))
	if len(os.Args) > 1 && os.Args[1] == "token" {
		printToken(secret, os.Args[2:])
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	run := serve
	if len(os.Args) > 1 && os.Args[1] == "health-check" {
		run = func(ctx context.Context, _ []byte) error { return healthCheckOnce(ctx) }
	}
	if len(os.Args) > 1 && os.Args[1] == "migrate" {
		run = func(ctx context.Context, _ []byte) error { return migrate(ctx) }
	}
	if len(os.Args) > 1 && os.Args[1] == "create-table" {
		run = func(ctx context.Context, _ []byte) error { return createTable(ctx) }
	}
	if err := run(ctx, secret); err != nil {
		log.Fatal(err)
	}
}

func getenv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func printToken(secret []byte, args []string) {
	fs := flag.NewFlagSet("token", flag.ExitOnError)
	sub := fs.String("sub", "user-1", "user ID")
	name := fs.String("name", "Jane Admin", "display name")
	role := fs.String("role", backup.RolePartner, "partner, manager, user, or backup-engine")
	orgs := fs.String("orgs", "org-1", "comma-separated organization IDs")
	ttl := fs.Duration("ttl", 12*time.Hour, "validity, such as 30m or 12h")
	_ = fs.Parse(args)
	t, err := token(secret, *sub, *name, *role, splitList(*orgs), *ttl)
	if err != nil {
		fmt.Fprintln(os.Stderr, "token:", err)
		os.Exit(2)
	}
	fmt.Println(t)
}

// token signs a local token after checking what the API would refuse
// silently: a role it does not know, a validity that is over already.
func token(secret []byte, sub, name, role string, orgs []string, ttl time.Duration) (string, error) {
	known := []string{backup.RolePartner, backup.RoleManager, backup.RoleUser, backup.RoleBackupEngine}
	if !slices.Contains(known, role) {
		return "", fmt.Errorf("role %q is not one the API knows; use %s", role, strings.Join(known, ", "))
	}
	if ttl <= 0 {
		return "", fmt.Errorf("TTL must be positive, such as 30m or 12h")
	}
	return localauth.Token(secret, sub, name, role, orgs, ttl)
}

// localStorage is what the local API serves on: the store and vault, in
// process or at AWS_ENDPOINT_URL_* (an emulator, or AWS), and what the
// start-up line says of them.
type localStorage struct {
	store *dynamo.Store
	vault interface {
		backup.SecretStore
		backup.SecretBatch
		health.Secrets
	}
	inProcess bool
	// devTokens serves development tokens: storage on this machine only.
	devTokens bool
	describe  []any
}

// openStorage opens the storage the configuration names and starts
// publishing its stream's changes: logged in process, on the emulator's
// EventBridge otherwise.
func openStorage(ctx context.Context, cfg app.Config, secret []byte) (localStorage, error) {
	if cfg.Endpoint("DYNAMODB") == "" {
		ddb, changes, err := inmem.DynamoDBWithStream(ctx, cfg.Table)
		if err != nil {
			return localStorage{}, err
		}
		pub := stream.New(stream.LogBus{Logger: slog.Default()}, slog.Default())
		go follow(ctx, func(ctx context.Context) error { return changes.Drain(ctx, 100, pub.Publish) })
		return localStorage{store: cfg.StoreOn(ddb), vault: inmem.NewSecretStore(), inProcess: true, devTokens: true,
			describe: []any{"dynamodb", "in process (minidyn)", "secretsManager", "in memory", "events", "logged"}}, nil
	}
	// Development tokens, and the public default secret, only for storage
	// on this machine: anyone could sign tokens for real data.
	devTokens := loopback(cfg.Endpoint("DYNAMODB")) && loopback(cfg.Endpoint("SECRETS_MANAGER"))
	if !devTokens && string(secret) == localauth.DefaultSecret {
		return localStorage{}, fmt.Errorf("LOCAL_JWT_SECRET is the public default %q and the storage is not on this machine (%s): set a secret of your own", localauth.DefaultSecret, cfg.Endpoint("DYNAMODB"))
	}
	st, sec, err := awsStorage(ctx, cfg)
	if err != nil {
		return localStorage{}, err
	}
	ls := localStorage{store: st, vault: sec, devTokens: devTokens,
		describe: []any{"dynamodb", endpointOrAWS(cfg, "DYNAMODB"), "secretsManager", endpointOrAWS(cfg, "SECRETS_MANAGER")}}
	if devTokens {
		// An emulator's stream: announce its changes on its EventBridge, as
		// the deployed publisher does (in AWS, that function does).
		events := "EventBridge bus " + cfg.EventBus + " at " + endpointOrAWS(cfg, "EVENTBRIDGE")
		if err := publishFromTail(ctx, cfg); err != nil {
			events = "none (" + err.Error() + ")"
		}
		ls.describe = append(ls.describe, "events", events)
	}
	return ls, nil
}

func serve(ctx context.Context, secret []byte) error {
	cfg, err := app.Load(os.LookupEnv, "127.0.0.0/8")
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + getenv("PORT", "3000")
	ls, err := openStorage(ctx, cfg, secret)
	if err != nil {
		return err
	}
	// The demo STS assumes any role: only for storage in process, never for
	// real keys (with storage elsewhere and no STS endpoint, AWS's STS).
	demoSTS := ""
	if ls.inProcess {
		demoSTS = "http://" + addr + "/local-sts"
	}
	roles, err := localRoles(ctx, cfg, demoSTS)
	if err != nil {
		return err
	}
	svc, err := cfg.Service(ls.store, backup.WithSecrets(ls.vault), keys.Checker(cfg),
		backup.WithRoles(roles, getenv("TRUST_PRINCIPAL_ARN", LocalTrustPrincipal)))
	if err != nil {
		return err
	}
	if every := os.Getenv("HEALTH_CHECK_INTERVAL"); every != "" {
		interval, err := time.ParseDuration(every)
		if err != nil {
			return fmt.Errorf("HEALTH_CHECK_INTERVAL: %w", err)
		}
		pass, queue, err := newLocalPass(ctx, cfg, ls, svc)
		if err != nil {
			return err
		}
		ls.describe = append(ls.describe, "healthQueue", queue)
		go pass.every(ctx, interval)
	}
	api := &httpapi.API{Service: svc, Auth: localauth.Auth{Secret: secret, Claims: cfg.Claims}, Logger: slog.Default()}
	origins := parseOrigins(os.Getenv("LOCAL_CORS_ORIGINS"))
	h, err := site{api: api.Handler(), secret: secret, origins: origins, devTokens: ls.devTokens, demoSTS: ls.inProcess, logger: slog.Default(),
		// The demo S3 provider: an endpoint of http://127.0.0.1:$PORT/local-s3
		// accepts this key pair and refuses any other.
		demo: demoS3{accessKeyID: getenv("LOCAL_S3_ACCESS_KEY_ID", "LOCALDEMOKEY"), secretKey: getenv("LOCAL_S3_SECRET_KEY", "local-demo-secret")},
	}.handler()
	if err != nil {
		return err
	}
	slog.Info("local API listening", append([]any{"url", "http://" + addr, "page", "http://" + addr + "/"}, append(ls.describe,
		"sts", endpointOrAWS(cfg, "STS"), "demoS3", "http://"+addr+"/local-s3", "rolesSTS", rolesEndpoint(cfg, demoSTS), "reference", "http://"+addr+"/reference",
		"corsOrigins", origins.String(), "allowedEndpointRanges", fmt.Sprint(cfg.AllowCIDRs))...)...)
	return listen(ctx, addr, h)
}

// listen serves h on addr until ctx ends, then shuts down within five
// seconds.
func listen(ctx context.Context, addr string, h http.Handler) error {
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// rolesEndpoint names where roles are assumed: the configured STS, else
// the demo one when there is one (storage in process), else AWS's own.
func rolesEndpoint(cfg app.Config, demo string) string {
	if e := cfg.Endpoint("STS"); e != "" {
		return e
	}
	if demo == "" {
		return "AWS"
	}
	return demo
}

// LocalTrustPrincipal is the principal the local API says it assumes roles
// as: locally there is one hop, the SDK's own credentials assume the role.
const LocalTrustPrincipal = "arn:aws:iam::000000000000:role/backup-credentials-local"

// localRoles assumes roles through the STS that AWS_ENDPOINT_URL[_STS]
// names (moto's, with make run-moto), else the local API's demo STS (demo,
// storage in process only), else AWS's own with the SDK's usual
// credentials. An emulator, or the demo STS, takes placeholder credentials
// when the environment has none.
func localRoles(ctx context.Context, cfg app.Config, demo string) (*provider.Roles, error) {
	awsCfg := cfg.AWS
	endpoint := rolesEndpoint(cfg, demo)
	if endpoint == "AWS" {
		loaded, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("load AWS config: %w", err)
		}
		awsCfg.Credentials, awsCfg.Region, endpoint = loaded.Credentials, loaded.Region, ""
	}
	if awsCfg.Credentials == nil && loopback(endpoint) {
		awsCfg.Credentials = credentials.NewStaticCredentialsProvider("local", "local", "")
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	return provider.NewRoles(awsCfg, endpoint, "", cfg.CheckTimeout), nil
}

// every runs fn every interval until ctx ends, logging its failures as
// what failed.
func every(ctx context.Context, interval time.Duration, what string, fn func(context.Context) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				slog.Error(what, "error", err)
			}
		}
	}
}

// follow drains a stream four times a second, as the event source mapping
// polls in AWS.
func follow(ctx context.Context, drain func(context.Context) error) {
	every(ctx, 250*time.Millisecond, "publish change events; delivered again next time", drain)
}

// publishFromTail follows the emulator's table stream and puts its changes
// on the emulator's event bus, logging each.
func publishFromTail(ctx context.Context, cfg app.Config) error {
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS config: %w", err)
	}
	t, err := tail.New(ctx, awsCfg, cfg.Table)
	if err != nil {
		return err
	}
	bus := teeBus{eventbus.FromConfig(awsCfg, "", cfg.EventBus), stream.LogBus{Logger: slog.Default()}}
	pub := stream.New(bus, slog.Default())
	go follow(ctx, func(ctx context.Context) error { return t.Drain(ctx, 100, pub.Publish) })
	return nil
}

// teeBus puts events on a bus and logs those it took.
type teeBus struct {
	bus stream.Bus
	log stream.LogBus
}

func (b teeBus) Put(ctx context.Context, evs []backup.Event) (int, error) {
	n, err := b.bus.Put(ctx, evs)
	_, _ = b.log.Put(ctx, evs[:n])
	return n, err
}

// awsStorage builds the store and secret store on the endpoints the SDK's
// AWS_ENDPOINT_URL_* variables name, with the SDK's usual credential chain,
// creating the table if it is missing.
func awsStorage(ctx context.Context, cfg app.Config) (*dynamo.Store, *secrets.Store, error) {
	for _, s := range []string{"DYNAMODB", "SECRETS_MANAGER"} {
		if err := answers(cfg.Endpoint(s)); err != nil {
			return nil, nil, err
		}
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("load AWS config: %w", err)
	}
	ddb := dynamodb.NewFromConfig(awsCfg)
	if err := dynamo.CreateTable(ctx, ddb, cfg.Table); err != nil {
		return nil, nil, err
	}
	return cfg.StoreOn(ddb), secrets.FromConfig(awsCfg, "", secrets.Options{Prefix: cfg.SecretPrefix, KMSKeyID: cfg.KMSKeyID,
		RecoveryDays: cfg.SecretRecoveryDays}), nil
}

// endpointOrAWS names the endpoint used for a service: the override, or AWS.
func endpointOrAWS(cfg app.Config, service string) string {
	if e := cfg.Endpoint(service); e != "" {
		return e
	}
	return "AWS"
}

// loopback reports whether an endpoint URL names this machine.
func loopback(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}

// answers returns an error that says what to start when nothing listens at
// an emulator's endpoint ("" is AWS itself, not checked).
func answers(endpoint string) error {
	if endpoint == "" {
		return nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return fmt.Errorf("endpoint %q is not a URL such as http://127.0.0.1:5000", endpoint)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), map[string]string{"https": "443"}[u.Scheme]+map[string]string{"http": "80"}[u.Scheme])
	}
	c, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		return fmt.Errorf("nothing answers at %s: start moto with `make moto` in another terminal (or point AWS_ENDPOINT_URL elsewhere)", endpoint)
	}
	return c.Close()
}

// healthCheckOnce runs the health check once against the storage the SDK's
// AWS_ENDPOINT_URL_* variables name (an emulator), logging changes.
func healthCheckOnce(ctx context.Context) error {
	cfg, err := app.Load(os.LookupEnv, "127.0.0.0/8")
	if err != nil {
		return err
	}
	if cfg.Endpoint("DYNAMODB") == "" {
		return fmt.Errorf("set AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_DYNAMODB and _SECRETS_MANAGER) to the storage to check")
	}
	st, sec, err := awsStorage(ctx, cfg)
	if err != nil {
		return err
	}
	roles, err := localRoles(ctx, cfg, "")
	if err != nil {
		return err
	}
	svc, err := cfg.Service(st, backup.WithSecrets(sec), keys.Checker(cfg),
		backup.WithRoles(roles, getenv("TRUST_PRINCIPAL_ARN", LocalTrustPrincipal)))
	if err != nil {
		return err
	}
	pass, _, err := newLocalPass(ctx, cfg, localStorage{store: st, vault: sec, inProcess: true}, svc)
	if err != nil {
		return err
	}
	sum, err := pass.once(ctx)
	slog.Info("health pass", "checked", sum.Checked, "healthy", sum.Healthy, "invalid", sum.Invalid, "unreachable", sum.Unreachable, "failed", sum.Failed)
	return err
}

// migrate moves the projects of a table written before a project was keyed
// by its organization and held in items of its own (TABLE_NAME, at
// AWS_ENDPOINT_URL_* or AWS itself).
func migrate(ctx context.Context) error {
	cfg, err := app.Load(os.LookupEnv, "")
	if err != nil {
		return err
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS config: %w", err)
	}
	if err := answers(cfg.Endpoint("DYNAMODB")); err != nil {
		return err
	}
	moved, left, err := dynamo.New(dynamodb.NewFromConfig(awsCfg), cfg.Table).MigrateProjects(ctx)
	slog.Info("projects migrated", "table", cfg.Table, "moved", moved, "leftInPlace", len(left))
	for _, why := range left {
		slog.Warn("project left in place", "why", why)
	}
	return err
}

// createTable creates the table at the AWS_ENDPOINT_URL_* storage.
func createTable(ctx context.Context) error {
	cfg, err := app.Load(os.LookupEnv, "")
	if err != nil {
		return err
	}
	_, _, err = awsStorage(ctx, cfg)
	return err
}
