package awsconfig_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/nexus-compliance/nexus/aws/awsconfig"
	"github.com/nexus-compliance/nexus/aws/awstest"
)

func TestDebugLogsRequestsWithoutSecrets(t *testing.T) {
	endpoint := awstest.Endpoint(t, "DYNAMODB")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIANEXUSDEBUGTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "very-secret-value")
	t.Setenv("AWS_SESSION_TOKEN", "session-token-value")
	var log bytes.Buffer
	cfg, err := awsconfig.Load(context.Background(), awsconfig.Options{Region: "us-east-1", EndpointURL: endpoint, Debug: &log})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dynamodb.NewFromConfig(cfg).ListTables(context.Background(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatal(err)
	}
	got := log.String()
	if !strings.Contains(got, "DynamoDB.ListTables POST "+endpoint) || !strings.Contains(got, "-> 200") {
		t.Fatalf("debug log lacks the request: %q", got)
	}
	for _, secret := range []string{"AKIANEXUSDEBUGTEST", "very-secret-value", "session-token-value", "Authorization", "Signature"} {
		if strings.Contains(got, secret) {
			t.Fatalf("debug log leaks %q: %q", secret, got)
		}
	}
}

func TestEndpointFlagBeatsServiceVariable(t *testing.T) {
	endpoint := awstest.Endpoint(t, "DYNAMODB")
	// The service variable points nowhere; the explicit endpoint must win.
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:1")
	cfg, err := awsconfig.Load(context.Background(), awsconfig.Options{Region: "us-east-1", EndpointURL: endpoint, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dynamodb.NewFromConfig(cfg).ListTables(context.Background(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("explicit endpoint not used: %v", err)
	}
}

func TestServiceVariableIsHonoured(t *testing.T) {
	awstest.Endpoint(t, "DYNAMODB")
	cfg, err := awsconfig.Load(context.Background(), awsconfig.Options{Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dynamodb.NewFromConfig(cfg).ListTables(context.Background(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("AWS_ENDPOINT_URL_DYNAMODB=%s not used: %v", os.Getenv("AWS_ENDPOINT_URL_DYNAMODB"), err)
	}
}

func TestMissingRegionIsAClearError(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	_, err := awsconfig.Load(context.Background(), awsconfig.Options{})
	if err == nil || !strings.Contains(err.Error(), "--region") {
		t.Fatalf("got %v", err)
	}
}
