package runbook

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nexus-compliance/nexus/aws/awsfake"
	"github.com/nexus-compliance/nexus/aws/awstest"
	"github.com/nexus-compliance/nexus/aws/cw"
	"github.com/nexus-compliance/nexus/aws/dynamo/dynamotest"
	"github.com/nexus-compliance/nexus/aws/logs"
	"github.com/nexus-compliance/nexus/aws/sfnx"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/runbooks"
)

// fakes replaces the CloudWatch, ECS, Logs and Step Functions clients of the Factory's
// deps with those of the fakes that are set.
type fakes struct {
	cw   *awsfake.CWServer
	ecs  *awsfake.ECSServer
	logs *awsfake.LogsServer
	sfn  *awsfake.SFNServer
}

func (fk fakes) tweak(o *Options) {
	o.Deps = func(ctx context.Context) (runbooks.Deps, error) {
		d, err := factoryDeps(ctx, &Options{F: o.F})
		if fk.cw != nil {
			d.CloudWatch = func(context.Context) (cw.API, error) { return fk.cw.CWClient(), nil }
		}
		if fk.ecs != nil {
			d.ECS = func(context.Context) (runbooks.ECSAPI, error) { return fk.ecs.ECSClient(), nil }
		}
		if fk.logs != nil {
			d.Logs = func(context.Context) (logs.API, error) { return fk.logs.LogsClient(), nil }
		}
		if fk.sfn != nil {
			d.SFN = func(context.Context) (sfnx.API, error) { return fk.sfn.SFNClient(), nil }
		}
		d.QueryPoll = 5 * time.Millisecond
		return d, err
	}
}

func createProvisioned(t *testing.T, c *dynamodb.Client, name string, rcu, wcu int64) {
	t.Helper()
	_, err := c.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:             aws.String(name),
		BillingMode:           types.BillingModeProvisioned,
		ProvisionedThroughput: &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(rcu), WriteCapacityUnits: aws.Int64(wcu)},
		AttributeDefinitions:  []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:             []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func capacity(t *testing.T, c *dynamodb.Client, name string) (int64, int64) {
	t.Helper()
	dynamotest.WaitActive(t, c, name)
	out, err := c.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToInt64(out.Table.ProvisionedThroughput.ReadCapacityUnits), aws.ToInt64(out.Table.ProvisionedThroughput.WriteCapacityUnits)
}

func TestDynamoDBThrottlingProvisionedWithFakeCloudWatch(t *testing.T) {
	t.Parallel()
	e := setup(t)
	prov := awstest.UniqueName(t, "prov")
	createProvisioned(t, e.ddb, prov, 5, 400)
	e.vars["CONTROLS_TABLE_NAME"] = prov
	srv := awsfake.NewCWServer(t)
	recent := awsfake.CWDatapoint{Time: time.Now().Add(-2 * time.Minute), Value: 7}
	srv.PutMetric("AWS/DynamoDB", "ReadThrottleEvents", map[string]string{"TableName": prov}, recent)
	srv.PutMetric("AWS/DynamoDB", "ThrottledRequests", map[string]string{"TableName": prov, "Operation": "Query"}, recent)
	// Too old for the default 15m window.
	srv.PutMetric("AWS/DynamoDB", "WriteThrottleEvents", map[string]string{"TableName": e.jobs},
		awsfake.CWDatapoint{Time: time.Now().Add(-time.Hour), Value: 50})
	sfnSrv := awsfake.NewSFNServer(t)
	throttled := failedExecution(sfnSrv, "job-throttled", "ProvisionedThroughputExceededException",
		"An error occurred (ProvisionedThroughputExceededException) when calling the Query operation", time.Now().Add(-30*time.Minute))
	failedExecution(sfnSrv, "job-bedrock", "ThrottlingException", "An error occurred (ThrottlingException) when calling the Converse operation", time.Now().Add(-20*time.Minute))
	e.vars["STATE_MACHINE_ARN"] = stateMachine
	fk := fakes{cw: srv, sfn: sfnSrv}

	code, out, errOut := e.run(t, fk.tweak, "run", "dynamodb-throttling", "--dry-run")
	if code != cmdutil.ExitProblems {
		t.Fatalf("dry run exit = %d, want 3\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{prov + " (provisioned 5 RCU / 400 WCU): 7 read and 0 write throttle events, 7 throttled requests",
		"1 of 1 PROVISIONED table(s) and index(es) throttled", "0 of 8 PAY_PER_REQUEST",
		"would raise " + prov + " from 5 RCU / 400 WCU to 10 RCU / 800 WCU", "1 execution(s) failed, timed out or were aborted in the last 6h0m0s",
		"would redrive execution job-throttled of job job-throttled (redrive 1)", "Dry run: 2 change(s) planned, none made"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry-run output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "On-demand tables have no capacity to raise: A PAY") {
		t.Errorf("on-demand note shown with no on-demand throttling:\n%s", out)
	}
	if r, w := capacity(t, e.ddb, prov); r != 5 || w != 400 {
		t.Errorf("after dry run capacity = %d/%d, want 5/400", r, w)
	}
	if srv.Calls("GetMetricData") != 2 {
		t.Errorf("GetMetricData calls = %d, want 2 (one per check)", srv.Calls("GetMetricData"))
	}

	if strings.Contains(out, "job-bedrock") {
		t.Errorf("an execution Bedrock throttled is listed as a DynamoDB one:\n%s", out)
	}
	if x, _ := sfnSrv.Execution(throttled); x.Status != "FAILED" {
		t.Errorf("after dry run the execution is %s", x.Status)
	}

	code, out, errOut = e.run(t, fk.tweak, "run", "dynamodb-throttling", "--yes", "--param", "max_capacity=600")
	if code != cmdutil.ExitOK {
		t.Fatalf("--yes exit = %d, want 0\n%s\n%s", code, out, errOut)
	}
	if r, w := capacity(t, e.ddb, prov); r != 10 || w != 600 {
		t.Errorf("after --yes capacity = %d/%d, want 10/600 (write capped at max_capacity)", r, w)
	}
	if !strings.Contains(errOut, "runbook.dynamodb-throttling result=ok") || !strings.Contains(errOut, "changed=2") {
		t.Errorf("audit line:\n%s", errOut)
	}
	if x, _ := sfnSrv.Execution(throttled); x.Status != "RUNNING" {
		t.Errorf("after --yes the throttled execution is %s, want RUNNING (redriven)", x.Status)
	}

	// At the cap there is nothing left to raise: the act leaves it alone, exit 3.
	code, out, _ = e.run(t, fk.tweak, "run", "dynamodb-throttling", "--yes", "--param", "max_capacity=10")
	if code != cmdutil.ExitProblems || !strings.Contains(out, "already at max_capacity 10") {
		t.Errorf("at the cap: exit %d\n%s", code, out)
	}
	if r, w := capacity(t, e.ddb, prov); r != 10 || w != 600 {
		t.Errorf("at the cap capacity = %d/%d, want 10/600", r, w)
	}
}

func TestDynamoDBThrottlingOnDemandWithFakeCloudWatch(t *testing.T) {
	t.Parallel()
	e := setup(t)
	srv := awsfake.NewCWServer(t)
	srv.PutMetric("AWS/DynamoDB", "WriteThrottleEvents", map[string]string{"TableName": e.jobs},
		awsfake.CWDatapoint{Time: time.Now().Add(-3 * time.Minute), Value: 4}, awsfake.CWDatapoint{Time: time.Now().Add(-2 * time.Minute), Value: 5})
	fk := fakes{cw: srv}

	code, out, errOut := e.run(t, fk.tweak, "run", "dynamodb-throttling", "--yes")
	if code != cmdutil.ExitProblems {
		t.Fatalf("exit = %d, want 3\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{e.jobs + " (on-demand): 0 read and 9 write throttle events", "1 of 10 PAY_PER_REQUEST",
		"Raise the throttled tables' capacity ×2 (at most 1000): not needed", "hot", "Changed: 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// A threshold above the events makes it healthy.
	code, out, _ = e.run(t, fk.tweak, "run", "dynamodb-throttling", "--dry-run", "--param", "threshold=9")
	if code != cmdutil.ExitOK || !strings.Contains(out, "Summary: healthy") {
		t.Errorf("threshold=9: exit %d\n%s", code, out)
	}
}

func TestDynamoDBThrottlingHealthyAndDeniedWithFakeCloudWatch(t *testing.T) {
	t.Parallel()
	e := setup(t)
	srv := awsfake.NewCWServer(t)
	code, out, errOut := e.run(t, fakes{cw: srv}.tweak, "run", "dynamodb-throttling", "--yes")
	if code != cmdutil.ExitOK || !strings.Contains(out, "Summary: healthy") {
		t.Errorf("healthy: exit %d\n%s\n%s", code, out, errOut)
	}
	srv.Deny("GetMetricData")
	code, out, _ = e.run(t, fakes{cw: srv}.tweak, "run", "dynamodb-throttling", "--dry-run")
	if code != cmdutil.ExitError || !strings.Contains(out, "could not check: AccessDenied") {
		t.Errorf("denied: exit %d\n%s", code, out)
	}
}
