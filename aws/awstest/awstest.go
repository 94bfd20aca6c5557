// Package awstest connects tests to the AWS emulators that `make test`
// starts on 127.0.0.1 (dynalite for DynamoDB, local-aws-sqs for SQS). It is
// imported by tests only.
package awstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/nexus-compliance/nexus/aws/awsconfig"
)

// Endpoint returns the emulator endpoint of a service ("DYNAMODB", "SQS").
// When it is not reachable the test is skipped, unless CI is set: under CI
// the emulators must run, so the test fails.
func Endpoint(t testing.TB, service string) string {
	t.Helper()
	name := "AWS_ENDPOINT_URL_" + service
	endpoint := os.Getenv(name)
	reason := ""
	if endpoint == "" {
		reason = name + " is not set"
	} else if u, err := url.Parse(endpoint); err != nil {
		reason = name + " is not a URL: " + err.Error()
	} else if conn, err := net.DialTimeout("tcp", u.Host, time.Second); err != nil {
		reason = "emulator at " + endpoint + " is not reachable: " + err.Error()
	} else {
		conn.Close()
		return endpoint
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s; under CI the emulators must run (use `make test`)", reason)
	}
	t.Skipf("%s; run `make test` to start the emulators", reason)
	return ""
}

// Config returns an SDK configuration for the emulators (dummy credentials,
// us-east-1) that skips the test when they are not running.
func Config(t testing.TB) aws.Config {
	t.Helper()
	Endpoint(t, "DYNAMODB")
	Endpoint(t, "SQS")
	cfg, err := awsconfig.Load(context.Background(), awsconfig.Options{Region: "us-east-1"})
	if err != nil {
		t.Fatalf("aws config: %v", err)
	}
	return cfg
}

// DynamoDB returns a client for dynalite.
func DynamoDB(t testing.TB) *dynamodb.Client {
	t.Helper()
	return dynamodb.NewFromConfig(Config(t))
}

// SQS returns a client for local-aws-sqs.
func SQS(t testing.TB) *sqs.Client {
	t.Helper()
	return sqs.NewFromConfig(Config(t))
}

var unsafe = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// UniqueName returns a resource name no other test (or earlier run against
// the same emulator) uses: prefix, the test's name, and random hex. It fits
// SQS's 80-character queue name limit.
func UniqueName(t testing.TB, prefix string) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := unsafe.ReplaceAllString(t.Name(), "-")
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	return strings.Trim(prefix+"-"+name, "-") + "-" + hex.EncodeToString(b)
}
