package auth

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/nexus-compliance/nexus/commands/settings"
)

func staticConfig(region string) aws.Config {
	return aws.Config{Region: region, Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", SessionToken: "session-tok"}, nil
	})}
}

func TestSigV4HeaderShape(t *testing.T) {
	a := SigV4(staticConfig("eu-west-1"), "us-east-1", "")
	req, _ := http.NewRequest(http.MethodPost, "https://abc123.execute-api.us-east-1.amazonaws.com/prod/api/v1/mappings/A%23B%7CC", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	if err := a.Authorize(context.Background(), req, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/(\d{8})/us-east-1/execute-api/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}$`)
	m := re.FindStringSubmatch(req.Header.Get("Authorization"))
	if m == nil {
		t.Fatalf("Authorization %q", req.Header.Get("Authorization"))
	}
	date := req.Header.Get("X-Amz-Date")
	if !strings.HasPrefix(date, m[1]) || len(date) != 16 || req.Header.Get("X-Amz-Security-Token") != "session-tok" {
		t.Fatalf("X-Amz-Date %q, token %q", date, req.Header.Get("X-Amz-Security-Token"))
	}
	for _, h := range []string{"host", "x-amz-date", "content-type", "x-amz-security-token"} {
		if !strings.Contains(";"+m[2]+";", ";"+h+";") {
			t.Fatalf("SignedHeaders %q lacks %s", m[2], h)
		}
	}
	// The signature covers the body: another body signs differently.
	req2, _ := http.NewRequest(http.MethodPost, req.URL.String(), strings.NewReader(`{"x":1}`))
	req2.Header.Set("Content-Type", "application/json")
	_ = a.Authorize(context.Background(), req2, []byte(`{"x":1}`))
	if req2.Header.Get("X-Amz-Date") == date && req2.Header.Get("Authorization") == req.Header.Get("Authorization") {
		t.Fatal("the body is not part of the signature")
	}
	if s := fmt.Sprint(a); s != "sigv4 (execute-api, us-east-1)" {
		t.Fatalf("String %q", s)
	}
}

func TestTokenCommandCachesAndRefreshes(t *testing.T) {
	f := filepath.Join(t.TempDir(), "n")
	c := TokenCommand(fmt.Sprintf(`n=$(cat %[1]q 2>/dev/null || echo 0); n=$((n+1)); echo $n > %[1]q; echo tok-$n`, f))
	ctx := context.Background()
	for range 3 {
		if tok, err := c.Token(ctx); err != nil || tok != "tok-1" {
			t.Fatalf("%q %v", tok, err)
		}
	}
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if tok, _ := c.Token(ctx); tok != "tok-2" {
		t.Fatalf("after refresh %q", tok)
	}
	if s := fmt.Sprintf("%v %+v %#v", c, c, c); strings.Contains(s, "tok-") || strings.Contains(s, f) {
		t.Fatalf("String leaks: %s", s)
	}
}

func TestTokenCommandFailureHidesToken(t *testing.T) {
	const secret = "tok-SECRET-123"
	c := TokenCommand(`echo "cannot refresh tok-SECRET-123: expired" >&2; echo tok-SECRET-123; exit 3`)
	_, err := c.Token(context.Background())
	if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "cannot refresh [redacted]: expired") || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("err %v", err)
	}
	c = TokenCommand(`sleep 5`)
	c.Timeout = 100 * time.Millisecond
	start := time.Now()
	if _, err := c.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "timed out after 100ms") || time.Since(start) > 3*time.Second {
		t.Fatalf("err %v after %s", err, time.Since(start))
	}
	if _, err := TokenCommand(`true`).Token(context.Background()); err == nil || !strings.Contains(err.Error(), "no token") {
		t.Fatalf("empty: %v", err)
	}
}

func TestFromEnvironment(t *testing.T) {
	cfg := func(context.Context) (aws.Config, error) { return staticConfig("us-east-1"), nil }
	gw := "https://abc.execute-api.eu-west-2.amazonaws.com/prod"
	cases := []struct {
		name string
		env  settings.Environment
		vars map[string]string
		want string // String of the choice; "" for none
	}{
		{"env var token first", settings.Environment{APIToken: "x", TokenCommand: "echo y", APIURL: gw}, map[string]string{EnvToken: "t"}, "bearer token [redacted]"},
		{"settings token", settings.Environment{APIToken: "x", TokenCommand: "echo y"}, nil, "bearer token [redacted]"},
		{"token command", settings.Environment{TokenCommand: "echo y", APIURL: gw}, nil, "token command [redacted]"},
		{"execute-api host", settings.Environment{APIURL: gw, Region: "us-east-1"}, nil, "sigv4 (execute-api, eu-west-2)"},
		{"forced sigv4", settings.Environment{APIURL: "https://nexus.example.com", Region: "us-west-2"}, map[string]string{EnvAuth: "SigV4"}, "sigv4 (execute-api, us-west-2)"},
		{"none", settings.Environment{APIURL: "http://localhost:8080"}, nil, ""},
		{"disabled", settings.Environment{APIToken: "x"}, map[string]string{EnvAuth: "none"}, ""},
	}
	for _, tc := range cases {
		a, err := FromEnvironment(&tc.env, func(k string) string { return tc.vars[k] }, cfg)
		got := ""
		if a != nil {
			got = fmt.Sprint(a)
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	if _, err := FromEnvironment(&settings.Environment{}, func(string) string { return "kerberos" }, cfg); err == nil {
		t.Error("an unknown NEXUS_API_AUTH was accepted")
	}
}
