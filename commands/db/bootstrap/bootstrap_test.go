package bootstrap

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/nexus-compliance/nexus/aws/awstest"
	"github.com/nexus-compliance/nexus/aws/dynamo"
	"github.com/nexus-compliance/nexus/aws/dynamo/dynamotest"
	"github.com/nexus-compliance/nexus/aws/queue"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
)

// names gives a test its own six tables and two queues.
func names(t *testing.T) (dynamo.Tables, map[string]string) {
	tables := dynamotest.UniqueTables(t)
	vars := dynamotest.Vars(tables)
	q := awstest.UniqueName(t, "q")
	vars["NEXUS_QUEUE_NAME"] = q + "-main"
	vars["NEXUS_DLQ_NAME"] = q + "-dlq"
	return tables, vars
}

func execute(t *testing.T, vars map[string]string, tty bool, args ...string) (int, string, string) {
	t.Helper()
	f, s := cmdtest.Factory(t, vars)
	f.IOStreams.SetStdinTTY(tty)
	f.IOStreams.SetStdoutTTY(tty)
	if len(args) >= 2 && args[len(args)-2] == "-o" {
		// -o is a global flag of the root command.
		f.Flags.Output, args = args[len(args)-1], args[:len(args)-2]
	}
	cmd := NewCmd(f, nil)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(args)
	cmd.SetOut(s.Out)
	cmd.SetErr(s.ErrOut)
	err := cmd.ExecuteContext(context.Background())
	return cmdutil.ExitCode(err), s.Out.String(), s.ErrOut.String() + errText(err)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestFlags(t *testing.T) {
	f, _ := cmdtest.Factory(t, nil)
	var got *Options
	cmd := NewCmd(f, func(_ context.Context, o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--dry-run", "-y", "--tables-only"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !got.DryRun || !got.Yes || !got.TablesOnly || got.QueuesOnly {
		t.Fatalf("%+v", got)
	}
	cmd = NewCmd(f, func(context.Context, *Options) error { return nil })
	cmd.SetArgs([]string{"--tables-only", "--queues-only"})
	cmd.SetErr(&strings.Builder{})
	if err := cmd.Execute(); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Fatalf("conflicting flags: %v", err)
	}
}

func TestBootstrapTwice(t *testing.T) {
	ddb, sq := awstest.DynamoDB(t), awstest.SQS(t)
	tables, vars := names(t)

	code, out, errOut := execute(t, vars, false, "--yes", "-o", "json")
	if code != 0 {
		t.Fatalf("first run: exit %d: %s", code, errOut)
	}
	var first Report
	if err := json.Unmarshal([]byte(out), &first); err != nil {
		t.Fatal(err, out)
	}
	if len(first.Resources) != 8 || first.Changed != 8 {
		t.Fatalf("first run should create 6 tables and 2 queues: %+v", first)
	}
	for _, r := range first.Resources {
		if r.Action != "created" {
			t.Errorf("%s %s: %s", r.Kind, r.Name, r.Action)
		}
	}
	if !strings.Contains(errOut, "audit: ") || !strings.Contains(errOut, "db.bootstrap result=ok") {
		t.Errorf("no audit line: %s", errOut)
	}

	// The schema the seed describes.
	desc, err := ddb.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(tables.Mappings)})
	if err != nil {
		t.Fatal(err)
	}
	tbl := dynamo.FromDescription(desc.Table)
	if len(tbl.IndexNames()) != 3 {
		t.Fatalf("mapping GSIs: %v", tbl.IndexNames())
	}
	for _, ix := range []string{"MappingKeyIndex", "StatusIndex", "ControlStatusIndex"} {
		if _, ok := tbl.Index(ix); !ok {
			t.Errorf("ControlMappings lacks %s", ix)
		}
	}
	desc, err = ddb.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(tables.Controls)})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := dynamo.FromDescription(desc.Table).Index("ControlKeyIndex"); !ok {
		t.Error("FrameworkControls lacks ControlKeyIndex")
	}
	mainURL, err := queue.Resolve(context.Background(), sq, "", vars["NEXUS_QUEUE_NAME"])
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := sq.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(mainURL), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := queue.ParseRedrivePolicy(attrs.Attributes["RedrivePolicy"])
	if err != nil || policy.MaxReceiveCount != 3 || queue.NameFromARN(policy.DeadLetterTargetARN) != vars["NEXUS_DLQ_NAME"] {
		t.Fatalf("redrive policy %+v, %v", policy, err)
	}
	if attrs.Attributes["MessageRetentionPeriod"] != "604800" || attrs.Attributes["VisibilityTimeout"] != "60" {
		t.Fatalf("main queue attributes: %v", attrs.Attributes)
	}

	// Second run: nothing to change. dynalite cannot turn TTL on and always
	// reports it DISABLED, so its plan may still offer to enable it; --yes
	// lets that be attempted, and the result must still be all unchanged.
	code, out, errOut = execute(t, vars, false, "--yes", "-o", "json")
	if code != 0 {
		t.Fatalf("second run: exit %d: %s", code, errOut)
	}
	var second Report
	if err := json.Unmarshal([]byte(out), &second); err != nil {
		t.Fatal(err)
	}
	if second.Changed != 0 || len(second.Resources) != 8 {
		t.Fatalf("second run changed something: %+v", second)
	}
	for _, r := range second.Resources {
		if r.Action != "unchanged" {
			t.Errorf("second run: %s %s %s", r.Kind, r.Name, r.Action)
		}
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	ddb, sq := awstest.DynamoDB(t), awstest.SQS(t)
	tables, vars := names(t)
	code, out, errOut := execute(t, vars, false, "--dry-run")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Count(out, "would create") != 8 || !strings.Contains(errOut, "nothing was changed") {
		t.Fatalf("plan: %s / %s", out, errOut)
	}
	for _, name := range tables.Names() {
		if _, err := ddb.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(name)}); !dynamo.IsNotFound(err) {
			t.Errorf("dry run created table %s (%v)", name, err)
		}
	}
	if _, err := queue.Resolve(context.Background(), sq, "", vars["NEXUS_DLQ_NAME"]); !queue.IsNotExist(err) {
		t.Errorf("dry run created the DLQ (%v)", err)
	}
}

func TestRefusesWithoutYesOffTerminal(t *testing.T) {
	ddb := awstest.DynamoDB(t)
	tables, vars := names(t)
	code, _, errOut := execute(t, vars, false)
	if code != cmdutil.ExitUsage || !strings.Contains(errOut, "--yes") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, err := ddb.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(tables.Jobs)}); !dynamo.IsNotFound(err) {
		t.Fatalf("refused run created a table (%v)", err)
	}
}

func TestAsksOnTerminal(t *testing.T) {
	awstest.DynamoDB(t)
	tables, vars := names(t)
	f, s := cmdtest.Factory(t, vars)
	f.IOStreams.SetStdinTTY(true)
	f.IOStreams.SetStdoutTTY(true)
	s.In.WriteString("n\n")
	cmd := NewCmd(f, nil)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs([]string{"--tables-only"})
	err := cmd.ExecuteContext(context.Background())
	if cmdutil.ExitCode(err) != cmdutil.ExitInterrupted || !strings.Contains(s.ErrOut.String(), "Apply these changes?") {
		t.Fatalf("declined prompt: %v / %s", err, s.ErrOut)
	}
	if !strings.Contains(s.ErrOut.String(), "would create dynamodb-table "+tables.Jobs) {
		t.Fatalf("prompt does not say what: %s", s.ErrOut)
	}
	f2, s2 := cmdtest.Factory(t, vars)
	f2.IOStreams.SetStdinTTY(true)
	f2.IOStreams.SetStdoutTTY(true)
	s2.In.WriteString("y\n")
	cmd = NewCmd(f2, nil)
	cmd.SetArgs([]string{"--tables-only"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s2.Out.String(), "KIND") || strings.Count(s2.Out.String(), "created") != 6 {
		t.Fatalf("terminal output: %s", s2.Out)
	}
}
