// Package auth supplies the credentials of the Nexus HTTP APIs: a bearer
// token (given, or printed by a command and renewed after a 401), or an AWS
// Signature Version 4 for API Gateway's IAM authorization. No Authorizer
// lets its secret into an error, a log line or its String form.
package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/nexus-compliance/nexus/commands/settings"
)

// Authorizer adds credentials to a request just before it is sent; body is
// the exact request body (nil for none).
type Authorizer interface {
	Authorize(ctx context.Context, req *http.Request, body []byte) error
}

// Refresher is an Authorizer that can renew its credentials after a 401.
type Refresher interface {
	Refresh(ctx context.Context) error
}

const redacted = "[redacted]"

// Bearer sends a fixed token as "Authorization: Bearer <token>".
func Bearer(token string) Authorizer { return &bearer{token: strings.TrimSpace(token)} }

type bearer struct{ token string }

func (b *bearer) Authorize(_ context.Context, req *http.Request, _ []byte) error {
	if b.token == "" {
		return errors.New("the API token is empty")
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	return nil
}

func (b *bearer) String() string   { return "bearer token " + redacted }
func (b *bearer) GoString() string { return "auth.Bearer(" + redacted + ")" }

// DefaultTokenTimeout bounds one run of a token command.
const DefaultTokenTimeout = 30 * time.Second

// Command runs a shell command (sh -c) that prints a token on stdout. The
// token is fetched on first use and kept until a 401 calls Refresh.
type Command struct {
	// Timeout bounds one run (default DefaultTokenTimeout).
	Timeout time.Duration

	cmd   string
	mu    sync.Mutex
	token string
	last  string // the previous token, also kept out of stderr echoes
}

// TokenCommand returns a Command running cmd.
func TokenCommand(cmd string) *Command { return &Command{cmd: cmd} }

func (c *Command) String() string   { return "token command " + redacted }
func (c *Command) GoString() string { return "auth.TokenCommand(" + redacted + ")" }

// Authorize sends the cached token, running the command when there is none.
func (c *Command) Authorize(ctx context.Context, req *http.Request, _ []byte) error {
	tok, err := c.Token(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

// Token returns the cached token, running the command when there is none.
func (c *Command) Token(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" {
		return c.token, nil
	}
	tok, err := c.run(ctx)
	if err != nil {
		return "", err
	}
	c.token = tok
	return tok, nil
}

// Refresh drops the cached token and runs the command again.
func (c *Command) Refresh(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" {
		c.last = c.token
	}
	c.token = ""
	tok, err := c.run(ctx)
	if err != nil {
		return err
	}
	c.token = tok
	return nil
}

// run executes the command; the caller holds mu. Errors name neither the
// command (it may embed a secret) nor its stdout, and scrub known tokens
// from the stderr they quote.
func (c *Command) run(ctx context.Context) (string, error) {
	if strings.TrimSpace(c.cmd) == "" {
		return "", errors.New("token_command is empty")
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTokenTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(rctx, "sh", "-c", c.cmd)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &limitedBuffer{b: &stderr, n: 4096}
	cmd.WaitDelay = time.Second // a child keeping the pipes open must not hang us
	err := cmd.Run()
	tok := strings.TrimSpace(stdout.String())
	if err != nil {
		msg := c.scrub(strings.Join(strings.Fields(stderr.String()), " "), tok)
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		switch {
		case errors.Is(rctx.Err(), context.DeadlineExceeded):
			err = fmt.Errorf("timed out after %s", timeout)
		case ctx.Err() != nil:
			return "", fmt.Errorf("token_command: %w", ctx.Err())
		}
		if msg != "" {
			return "", fmt.Errorf("token_command failed (%v): %s", err, msg)
		}
		return "", fmt.Errorf("token_command failed (%v)", err)
	}
	if tok == "" {
		return "", errors.New("token_command printed no token on stdout")
	}
	if strings.ContainsAny(tok, " \t\r\n") {
		return "", errors.New("token_command printed more than a single token on stdout")
	}
	return tok, nil
}

func (c *Command) scrub(s string, extra ...string) string {
	for _, t := range append([]string{c.token, c.last}, extra...) {
		if t != "" {
			s = strings.ReplaceAll(s, t, redacted)
		}
	}
	return s
}

type limitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// DefaultService is the SigV4 service name of API Gateway.
const DefaultService = "execute-api"

// SigV4 signs requests with the credentials of cfg for service (default
// execute-api) in region (default cfg.Region), hashing the body.
func SigV4(cfg aws.Config, region, service string) Authorizer {
	return &sigV4{cfg: &cfg, region: region, service: service}
}

type sigV4 struct {
	region, service string
	load            func(context.Context) (aws.Config, error) // when cfg is nil

	mu  sync.Mutex
	cfg *aws.Config
}

func (s *sigV4) String() string {
	return fmt.Sprintf("sigv4 (%s, %s)", cmp(s.service, DefaultService), cmp(s.region, "region of the AWS config"))
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (s *sigV4) config(ctx context.Context) (aws.Config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg == nil {
		cfg, err := s.load(ctx)
		if err != nil {
			return aws.Config{}, fmt.Errorf("loading the AWS configuration for SigV4: %w", err)
		}
		s.cfg = &cfg
	}
	return *s.cfg, nil
}

func (s *sigV4) Authorize(ctx context.Context, req *http.Request, body []byte) error {
	cfg, err := s.config(ctx)
	if err != nil {
		return err
	}
	region := cmp(s.region, cfg.Region)
	if region == "" {
		return errors.New("SigV4 needs a region: set the environment's region or AWS_REGION")
	}
	if cfg.Credentials == nil {
		return errors.New("SigV4 needs AWS credentials, and none are configured")
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("retrieving AWS credentials for SigV4: %w", err)
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	return v4.NewSigner().SignHTTP(ctx, creds, req, hash, cmp(s.service, DefaultService), region, time.Now().UTC())
}

// Environment variables FromEnvironment reads.
const (
	EnvToken = "NEXUS_API_TOKEN" // a bearer token, ahead of the settings file
	EnvAuth  = "NEXUS_API_AUTH"  // "sigv4" or "none"; empty decides by the URL
)

var executeAPIHost = regexp.MustCompile(`\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$`)

// FromEnvironment picks the credentials of env's API: NEXUS_API_TOKEN,
// then env.APIToken, then env.TokenCommand; else SigV4 when NEXUS_API_AUTH
// is sigv4 or env.APIURL is an API Gateway execute-api host; else none (a
// nil Authorizer). NEXUS_API_AUTH=none turns credentials off. awsCfg is
// called on the first signed request only. A nil getenv reads nothing.
func FromEnvironment(env *settings.Environment, getenv func(string) string, awsCfg func(context.Context) (aws.Config, error)) (Authorizer, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if env == nil {
		env = &settings.Environment{}
	}
	mode := strings.ToLower(strings.TrimSpace(getenv(EnvAuth)))
	switch mode {
	case "", "sigv4", "none":
	default:
		return nil, fmt.Errorf("%s=%q: want sigv4 or none (or leave it unset)", EnvAuth, mode)
	}
	if mode == "none" {
		return nil, nil
	}
	switch {
	case strings.TrimSpace(getenv(EnvToken)) != "":
		return Bearer(getenv(EnvToken)), nil
	case strings.TrimSpace(env.APIToken) != "":
		return Bearer(env.APIToken), nil
	case strings.TrimSpace(env.TokenCommand) != "":
		return TokenCommand(env.TokenCommand), nil
	}
	region := env.Region
	host := ""
	if u, err := url.Parse(strings.TrimSpace(env.APIURL)); err == nil {
		host = strings.ToLower(u.Hostname())
	}
	m := executeAPIHost.FindStringSubmatch(host)
	if mode != "sigv4" && m == nil {
		return nil, nil
	}
	if m != nil {
		region = m[1] // the API lives where its host says
	}
	if awsCfg == nil {
		return nil, errors.New("SigV4 authentication needs the AWS configuration, and none was given")
	}
	return &sigV4{region: region, service: DefaultService, load: awsCfg}, nil
}
