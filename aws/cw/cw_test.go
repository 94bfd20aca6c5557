package cw_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/smithy-go"

	"github.com/nexus-compliance/nexus/aws/awsfake"
	"github.com/nexus-compliance/nexus/aws/cw"
)

func alarms(now time.Time) []awsfake.CWAlarm {
	return []awsfake.CWAlarm{
		{Name: "nexus-dlq-not-empty", State: "ALARM", Reason: "Threshold Crossed: 1 datapoint [3.0]\nmore detail", Updated: now.Add(-10 * time.Minute),
			Namespace: "AWS/SQS", MetricName: "ApproximateNumberOfMessagesVisible", Dimensions: map[string]string{"QueueName": "MappingRequestDLQ"},
			Statistic: "Maximum", Comparison: "GreaterThanThreshold", Threshold: 0, Period: 60, Evaluation: 1},
		{Name: "nexus-queue-backlog", State: "OK", Reason: "ok", Updated: now.Add(-time.Hour),
			Namespace: "AWS/SQS", MetricName: "ApproximateNumberOfMessagesVisible", Dimensions: map[string]string{"QueueName": "MappingRequestQueue"},
			Statistic: "Average", Comparison: "GreaterThanThreshold", Threshold: 100, Period: 300, Evaluation: 2},
		{Name: "nexus-message-age", State: "INSUFFICIENT_DATA", Updated: now, Namespace: "AWS/SQS", MetricName: "ApproximateAgeOfOldestMessage",
			Statistic: "Maximum", Comparison: "GreaterThanThreshold", Threshold: 3600, Period: 300, Evaluation: 1},
		{Name: "nexus-composite", State: "ALARM", Reason: "child in ALARM", Updated: now, Rule: "ALARM(nexus-dlq-not-empty) OR\n ALARM(nexus-queue-backlog)"},
		{Name: "other-alarm", State: "ALARM", Updated: now, Namespace: "AWS/Lambda", MetricName: "Errors", Statistic: "Sum", Comparison: "GreaterThanOrEqualToThreshold", Threshold: 1, Period: 60, Evaluation: 1},
	}
}

func TestListAlarmsPagesAndFiltersOnFake(t *testing.T) {
	t.Parallel()
	now := time.Now().Truncate(time.Second)
	srv := awsfake.NewCWServer(t)
	srv.SetAlarms(alarms(now)...)
	api := srv.CWClient()
	ctx := context.Background()

	all, err := cw.ListAlarms(ctx, api, cw.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 5 || srv.Calls("DescribeAlarms") != 3 {
		t.Fatalf("got %d alarms in %d calls: %+v", len(all), srv.Calls("DescribeAlarms"), all)
	}
	if all[0].Name != "nexus-composite" || all[0].Type != "composite" || all[0].Condition != "rule ALARM(nexus-dlq-not-empty) OR ALARM(nexus-queue-backlog)" {
		t.Errorf("composite = %+v", all[0])
	}
	dlq := all[1]
	if dlq.Name != "nexus-dlq-not-empty" || dlq.State != cw.StateAlarm || dlq.Reason != "Threshold Crossed: 1 datapoint [3.0]" ||
		!dlq.Since.Equal(now.Add(-10*time.Minute)) || dlq.Condition != "Maximum AWS/SQS ApproximateNumberOfMessagesVisible QueueName=MappingRequestDLQ > 0 for 1x60s" {
		t.Errorf("metric alarm = %+v", dlq)
	}

	firing, err := cw.ListAlarms(ctx, api, cw.Filter{State: cw.StateAlarm, Prefix: "nexus-"})
	if err != nil {
		t.Fatal(err)
	}
	if len(firing) != 2 || firing[0].Name != "nexus-composite" || firing[1].Name != "nexus-dlq-not-empty" {
		t.Errorf("ALARM nexus-*: %+v", firing)
	}
}

func TestListAlarmsThrottledThenOKOnFake(t *testing.T) {
	t.Parallel()
	srv := awsfake.NewCWServer(t)
	srv.SetAlarms(alarms(time.Now())...)
	srv.Throttle("DescribeAlarms", 2)
	fast := func(o *cloudwatch.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
		})
	}
	got, err := cw.ListAlarms(context.Background(), srv.CWClient(fast), cw.Filter{State: "ALARM"})
	if err != nil || len(got) != 3 {
		t.Fatalf("%v, %+v", err, got)
	}
	if n := srv.Calls("DescribeAlarms"); n != 4 {
		t.Errorf("calls = %d, want 2 throttled + 2 pages", n)
	}

	srv.Throttle("DescribeAlarms", 10)
	_, err = cw.ListAlarms(context.Background(), srv.CWClient(fast), cw.Filter{})
	var apiErr smithy.APIError
	if err == nil || !strings.Contains(err.Error(), "Rate exceeded") || !errors.As(err, &apiErr) || apiErr.ErrorCode() != "Throttling" {
		t.Errorf("exhausted retries: %v", err)
	}
}

func TestLatestMetricOnFake(t *testing.T) {
	t.Parallel()
	now := time.Now().Truncate(time.Second)
	srv := awsfake.NewCWServer(t)
	dims := map[string]string{"QueueName": "q"}
	srv.PutMetric("AWS/SQS", "ApproximateAgeOfOldestMessage", dims,
		awsfake.CWDatapoint{Time: now.Add(-5 * time.Minute), Value: 120},
		awsfake.CWDatapoint{Time: now.Add(-2 * time.Minute), Value: 4000},
		awsfake.CWDatapoint{Time: now.Add(-2 * time.Hour), Value: 9})
	m := cw.Metric{Namespace: "AWS/SQS", Name: "ApproximateAgeOfOldestMessage", Dimensions: dims, Stat: "Maximum", Period: time.Minute}
	p, err := cw.Latest(context.Background(), srv.CWClient(), m, now, 15*time.Minute)
	if err != nil || p == nil || p.Value != 4000 || !p.Time.Equal(now.Add(-2*time.Minute)) {
		t.Fatalf("%v %+v", err, p)
	}
	m.Dimensions = map[string]string{"QueueName": "other"}
	if p, err := cw.Latest(context.Background(), srv.CWClient(), m, now, 15*time.Minute); err != nil || p != nil {
		t.Errorf("no data: %v %+v", err, p)
	}
}

func TestParseState(t *testing.T) {
	for in, want := range map[string]string{"alarm": "ALARM", " ok ": "OK", "insufficient_data": "INSUFFICIENT_DATA", "": ""} {
		if got, err := cw.ParseState(in); err != nil || got != want {
			t.Errorf("ParseState(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := cw.ParseState("firing"); err == nil {
		t.Error("firing accepted")
	}
}

func TestSumsOnFake(t *testing.T) {
	t.Parallel()
	srv := awsfake.NewCWServer(t)
	now := time.Now()
	dims := map[string]string{"TableName": "jobs"}
	srv.PutMetric("AWS/DynamoDB", "ReadThrottleEvents", dims,
		awsfake.CWDatapoint{Time: now.Add(-2 * time.Minute), Value: 3}, awsfake.CWDatapoint{Time: now.Add(-time.Minute), Value: 4},
		awsfake.CWDatapoint{Time: now.Add(-time.Hour), Value: 100}) // outside the window
	srv.PutMetric("AWS/Bedrock", "InvocationThrottles", nil, awsfake.CWDatapoint{Time: now.Add(-time.Minute), Value: 2})
	got, err := cw.Sums(context.Background(), srv.CWClient(), []cw.Metric{
		{Namespace: "AWS/DynamoDB", Name: "ReadThrottleEvents", Dimensions: dims, Stat: "Sum"},
		{Namespace: "AWS/DynamoDB", Name: "WriteThrottleEvents", Dimensions: dims, Stat: "Sum"},
		{Namespace: "AWS/Bedrock", Name: "InvocationThrottles", Stat: "Sum"},
	}, now, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != 7 || got[1] != 0 || got[2] != 2 {
		t.Errorf("Sums = %v, want [7 0 2]", got)
	}
	if srv.Calls("GetMetricData") != 1 {
		t.Errorf("GetMetricData calls = %d, want 1", srv.Calls("GetMetricData"))
	}
	srv.Deny("GetMetricData")
	if _, err := cw.Sums(context.Background(), srv.CWClient(), []cw.Metric{{Namespace: "AWS/X", Name: "Y", Stat: "Sum"}}, now, time.Minute); err == nil {
		t.Error("denied: no error")
	}
}
