package alarms

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/awsfake"
	"github.com/nexus-compliance/nexus/aws/cw"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
)

func execute(cmd *cobra.Command, args ...string) error {
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cmdutil.FlagError{Err: err} })
	return cmd.ExecuteContext(context.Background())
}

func TestAlarmsOnFake(t *testing.T) {
	t.Parallel()
	now := time.Now()
	srv := awsfake.NewCWServer(t)
	srv.SetAlarms(
		awsfake.CWAlarm{Name: "nexus-dlq", State: "ALARM", Reason: "Threshold Crossed\nmore", Updated: now.Add(-3 * time.Hour), Namespace: "AWS/SQS",
			MetricName: "ApproximateNumberOfMessagesVisible", Statistic: "Maximum", Comparison: "GreaterThanThreshold", Period: 60, Evaluation: 1},
		awsfake.CWAlarm{Name: "nexus-age", State: "OK", Updated: now, Namespace: "AWS/SQS", MetricName: "ApproximateAgeOfOldestMessage",
			Statistic: "Maximum", Comparison: "GreaterThanThreshold", Threshold: 3600, Period: 300, Evaluation: 1},
		awsfake.CWAlarm{Name: "other", State: "ALARM", Updated: now, Rule: "ALARM(nexus-dlq)"})
	f, streams := cmdtest.Factory(t, nil)
	var opts *Options
	if err := execute(NewCmdAlarms(f, func(o *Options) error { opts = o; return nil }), "--state", "alarm", "--prefix", "nexus-"); err != nil {
		t.Fatal(err)
	}
	opts.CloudWatch = func(context.Context) (cw.API, error) { return srv.CWClient(), nil }
	if err := alarmsRun(opts); err != nil {
		t.Fatal(err)
	}
	if got := streams.Out.String(); got != "nexus-dlq\tALARM\t3h\tThreshold Crossed\tMaximum AWS/SQS ApproximateNumberOfMessagesVisible > 0 for 1x60s\n" {
		t.Errorf("table:\n%q", got)
	}
	streams.Out.Reset()
	f.Flags.Output = "json"
	opts.State, opts.Prefix = "", ""
	if err := alarmsRun(opts); err != nil {
		t.Fatal(err)
	}
	var list []cw.Alarm
	if err := json.Unmarshal(streams.Out.Bytes(), &list); err != nil || len(list) != 3 || list[2].Type != "composite" {
		t.Errorf("%v %s", err, streams.Out)
	}
	if err := execute(NewCmdAlarms(f, func(*Options) error { return nil }), "--state", "firing"); cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "firing") {
		t.Errorf("bad state: %v", err)
	}
}
