package testkit

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// A Server is a running moto_server.
type Server struct {
	URL string
	cmd *exec.Cmd
}

// script finds infra/moto/serve.py above the working directory.
func script() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "infra", "moto", "serve.py")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("infra/moto/serve.py not found above the working directory")
		}
		dir = parent
	}
}

// Start starts moto (through infra/moto/serve.py, which serializes requests
// as DynamoDB serializes transactions) on a free loopback port and waits
// until it answers.
func Start() (*Server, error) {
	serve, err := script()
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("python3", serve, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Env = append(os.Environ(), "MOTO_ALLOW_NONEXISTENT_REGION=true")
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto (python3 with moto[server] 5.x is required): %w", err)
	}
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.URL + "/moto-api/data.json")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.Stop()
	return nil, fmt.Errorf("moto_server did not answer on %s within 60s", s.URL)
}

// Stop ends moto_server.
func (s *Server) Stop() {
	if s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		_ = s.cmd.Wait()
	}
}

// Config returns an SDK configuration aimed at the server, with keys moto
// accepts while auth is not enforced.
func (s *Server) Config() aws.Config {
	return s.ConfigWith("testing", "testing")
}

// ConfigWith returns an SDK configuration aimed at the server with the given
// keys.
func (s *Server) ConfigWith(accessKeyID, secretKey string) aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(accessKeyID, secretKey, ""),
		BaseEndpoint: aws.String(s.URL),
	}
}

// EnforceAuth turns IAM auth enforcement on: from now on every request must
// be signed with keys made through the server's IAM.
func (s *Server) EnforceAuth() error {
	resp, err := http.Post(s.URL+"/moto-api/reset-auth", "application/json", strings.NewReader("0"))
	if err != nil {
		return fmt.Errorf("enforce auth: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("enforce auth: HTTP %d", resp.StatusCode)
	}
	return nil
}

// Keys are an IAM user's access keys.
type Keys struct{ AccessKeyID, SecretKey string }

// CreateUser creates an IAM user with an inline policy (none when policy is
// "") and returns new access keys for it. cfg signs the IAM calls.
func CreateUser(ctx context.Context, cfg aws.Config, name, policy string) (Keys, error) {
	c := iam.NewFromConfig(cfg)
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
		return Keys{}, fmt.Errorf("create user %s: %w", name, err)
	}
	if policy != "" {
		if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name),
			PolicyName: aws.String(name + "-policy"), PolicyDocument: aws.String(policy)}); err != nil {
			return Keys{}, fmt.Errorf("put policy of %s: %w", name, err)
		}
	}
	out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		return Keys{}, fmt.Errorf("create access key of %s: %w", name, err)
	}
	return Keys{AccessKeyID: aws.ToString(out.AccessKey.AccessKeyId), SecretKey: aws.ToString(out.AccessKey.SecretAccessKey)}, nil
}

// DeleteKey deletes a user's access key.
func DeleteKey(ctx context.Context, cfg aws.Config, user, accessKeyID string) error {
	_, err := iam.NewFromConfig(cfg).DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(accessKeyID)})
	if err != nil {
		return fmt.Errorf("delete access key of %s: %w", user, err)
	}
	return nil
}

// AdminPolicy allows everything.
const AdminPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`

// ListBucketsPolicy allows listing buckets only.
const ListBucketsPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:ListAllMyBuckets","sts:GetCallerIdentity"],"Resource":"*"}]}`

// Idle reports whether this test binary runs only to fuzz (as coordinator
// or worker: every fuzz worker is a new process that runs TestMain again) or
// to list tests, where no emulator is needed. Call it from TestMain; it
// parses the test flags.
func Idle() bool {
	flag.Parse()
	for _, name := range []string{"test.fuzz", "test.list"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return true
		}
	}
	w := flag.Lookup("test.fuzzworker")
	return w != nil && w.Value.String() == "true"
}

// Run runs a package's tests after setup has started what they need, then
// stops it and exits. When setup fails the tests fail (exit 1); they are
// never skipped. Fuzz and list runs skip setup.
func Run(m *testing.M, setup func() (stop func(), err error)) {
	if Idle() {
		os.Exit(m.Run())
	}
	stop, err := setup()
	if err != nil {
		log.Printf("these tests need moto: %v", err)
		if stop != nil {
			stop()
		}
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

// RunWithServer runs a package's tests with a moto started for them in *s,
// as Run does.
func RunWithServer(m *testing.M, s **Server) {
	Run(m, func() (func(), error) {
		var err error
		if *s, err = Start(); err != nil {
			return nil, err
		}
		return (*s).Stop, nil
	})
}

// StartProvider starts a moto that plays an S3 provider: it makes an
// administrator in its IAM, then enforces IAM auth, so every later request
// must be signed with keys made through it (adminCfg signs as the
// administrator).
func StartProvider() (s *Server, adminCfg aws.Config, err error) {
	if s, err = Start(); err != nil {
		return nil, aws.Config{}, err
	}
	admin, err := CreateUser(context.Background(), s.Config(), "admin", AdminPolicy)
	if err == nil {
		err = s.EnforceAuth()
	}
	if err != nil {
		s.Stop()
		return nil, aws.Config{}, err
	}
	return s, s.ConfigWith(admin.AccessKeyID, admin.SecretKey), nil
}
