// Package cw reads CloudWatch for nexus: the alarms of an account (metric
// and composite, every page) and the latest value of one metric.
package cw

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// API is the part of the CloudWatch client this package uses.
type API interface {
	DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
	GetMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
}

var _ API = (*cloudwatch.Client)(nil)

// Alarm states, as CloudWatch names them.
const (
	StateAlarm            = "ALARM"
	StateOK               = "OK"
	StateInsufficientData = "INSUFFICIENT_DATA"
)

// States lists the alarm states, for flags and completion.
var States = []string{StateAlarm, StateOK, StateInsufficientData}

// ParseState accepts an alarm state in any case; "" means every state.
func ParseState(s string) (string, error) {
	up := strings.ToUpper(strings.TrimSpace(s))
	if up == "" {
		return "", nil
	}
	for _, st := range States {
		if up == st {
			return st, nil
		}
	}
	return "", fmt.Errorf("unknown alarm state %q: use one of %s", s, strings.Join(States, ", "))
}

// Alarm is one CloudWatch alarm, metric or composite.
type Alarm struct {
	Name  string `json:"name"`
	ARN   string `json:"arn,omitempty"`
	Type  string `json:"type"` // "metric" or "composite"
	State string `json:"state"`
	// Reason is the first line of the state reason.
	Reason string `json:"reason"`
	// Since is StateUpdatedTimestamp (zero when CloudWatch did not say).
	Since time.Time `json:"since"`
	// Condition summarises what the alarm watches: the metric, statistic
	// and threshold of a metric alarm, the rule of a composite one.
	Condition string `json:"condition"`
}

// Filter narrows ListAlarms.
type Filter struct {
	State  string // "" for every state
	Prefix string // alarm name prefix
}

// ListAlarms returns every alarm the filter matches, following NextToken to
// the end, sorted by name.
func ListAlarms(ctx context.Context, api API, f Filter) ([]Alarm, error) {
	in := &cloudwatch.DescribeAlarmsInput{
		AlarmTypes: []types.AlarmType{types.AlarmTypeMetricAlarm, types.AlarmTypeCompositeAlarm},
		MaxRecords: aws.Int32(100),
	}
	if f.State != "" {
		in.StateValue = types.StateValue(f.State)
	}
	if f.Prefix != "" {
		in.AlarmNamePrefix = aws.String(f.Prefix)
	}
	alarms := []Alarm{}
	seen := map[string]bool{}
	for page := 0; ; page++ {
		out, err := api.DescribeAlarms(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("describing CloudWatch alarms: %w", err)
		}
		for _, m := range out.MetricAlarms {
			alarms = append(alarms, fromMetric(m))
		}
		for _, c := range out.CompositeAlarms {
			alarms = append(alarms, fromComposite(c))
		}
		next := aws.ToString(out.NextToken)
		if next == "" {
			break
		}
		if seen[next] {
			return nil, errors.New("describing CloudWatch alarms: the service repeated a page token")
		}
		seen[next] = true
		in.NextToken = aws.String(next)
	}
	sort.SliceStable(alarms, func(i, j int) bool { return alarms[i].Name < alarms[j].Name })
	return alarms, nil
}

func fromMetric(m types.MetricAlarm) Alarm {
	return Alarm{
		Name:      aws.ToString(m.AlarmName),
		ARN:       aws.ToString(m.AlarmArn),
		Type:      "metric",
		State:     string(m.StateValue),
		Reason:    FirstLine(aws.ToString(m.StateReason)),
		Since:     aws.ToTime(m.StateUpdatedTimestamp),
		Condition: MetricCondition(m),
	}
}

func fromComposite(c types.CompositeAlarm) Alarm {
	return Alarm{
		Name:      aws.ToString(c.AlarmName),
		ARN:       aws.ToString(c.AlarmArn),
		Type:      "composite",
		State:     string(c.StateValue),
		Reason:    FirstLine(aws.ToString(c.StateReason)),
		Since:     aws.ToTime(c.StateUpdatedTimestamp),
		Condition: "rule " + strings.Join(strings.Fields(aws.ToString(c.AlarmRule)), " "),
	}
}

var comparisons = map[types.ComparisonOperator]string{
	types.ComparisonOperatorGreaterThanOrEqualToThreshold: ">=",
	types.ComparisonOperatorGreaterThanThreshold:          ">",
	types.ComparisonOperatorLessThanThreshold:             "<",
	types.ComparisonOperatorLessThanOrEqualToThreshold:    "<=",
}

// MetricCondition writes a metric alarm as
// "Maximum AWS/SQS ApproximateNumberOfMessagesVisible QueueName=q > 100 for 1x300s".
func MetricCondition(m types.MetricAlarm) string {
	var what string
	switch {
	case len(m.Metrics) > 0:
		var exprs []string
		for _, q := range m.Metrics {
			if aws.ToBool(q.ReturnData) || len(m.Metrics) == 1 {
				if q.Expression != nil {
					exprs = append(exprs, aws.ToString(q.Expression))
				} else if q.MetricStat != nil && q.MetricStat.Metric != nil {
					exprs = append(exprs, aws.ToString(q.MetricStat.Stat)+" "+aws.ToString(q.MetricStat.Metric.MetricName))
				}
			}
		}
		what = "metric math " + strings.Join(exprs, ", ")
	default:
		stat := string(m.Statistic)
		if stat == "" {
			stat = aws.ToString(m.ExtendedStatistic)
		}
		parts := []string{stat, aws.ToString(m.Namespace), aws.ToString(m.MetricName)}
		for _, d := range m.Dimensions {
			parts = append(parts, aws.ToString(d.Name)+"="+aws.ToString(d.Value))
		}
		what = strings.Join(strings.Fields(strings.Join(parts, " ")), " ")
	}
	op, ok := comparisons[m.ComparisonOperator]
	if !ok {
		op = string(m.ComparisonOperator)
	}
	threshold := ""
	switch {
	case m.Threshold != nil:
		threshold = strconv.FormatFloat(*m.Threshold, 'f', -1, 64)
	case m.ThresholdMetricId != nil:
		threshold = "band " + aws.ToString(m.ThresholdMetricId)
	}
	s := strings.TrimSpace(what + " " + op + " " + threshold)
	if m.EvaluationPeriods != nil && m.Period != nil {
		s += fmt.Sprintf(" for %dx%ds", *m.EvaluationPeriods, *m.Period)
	}
	return s
}

// FirstLine is s up to its first line break, trimmed.
func FirstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// Metric names one CloudWatch metric and how to aggregate it.
type Metric struct {
	Namespace  string
	Name       string
	Dimensions map[string]string
	Stat       string        // "Maximum", "Average", "Sum"…
	Period     time.Duration // whole minutes
}

// Datapoint is one value of a metric.
type Datapoint struct {
	Time  time.Time `json:"time"`
	Value float64   `json:"value"`
}

// Latest returns the newest datapoint of m between now-window and now, or
// nil when there is none (a queue SQS has not reported on for a while).
func Latest(ctx context.Context, api API, m Metric, now time.Time, window time.Duration) (*Datapoint, error) {
	in := &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(now.Add(-window)),
		EndTime:   aws.Time(now),
		ScanBy:    types.ScanByTimestampDescending,
		MetricDataQueries: []types.MetricDataQuery{{
			Id:         aws.String("m0"),
			ReturnData: aws.Bool(true),
			MetricStat: metricStat(m),
		}},
	}
	var best *Datapoint
	seen := map[string]bool{}
	for {
		out, err := api.GetMetricData(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("reading CloudWatch metric %s %s: %w", m.Namespace, m.Name, err)
		}
		for _, r := range out.MetricDataResults {
			for i, ts := range r.Timestamps {
				if i >= len(r.Values) {
					break
				}
				if best == nil || ts.After(best.Time) {
					best = &Datapoint{Time: ts, Value: r.Values[i]}
				}
			}
		}
		next := aws.ToString(out.NextToken)
		if next == "" || seen[next] {
			return best, nil
		}
		seen[next] = true
		in.NextToken = aws.String(next)
	}
}

// maxQueries is how many queries one GetMetricData call may carry.
const maxQueries = 500

func metricStat(m Metric) *types.MetricStat {
	period := int32(m.Period / time.Second)
	if period <= 0 {
		period = 60
	}
	keys := make([]string, 0, len(m.Dimensions))
	for k := range m.Dimensions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	dims := make([]types.Dimension, 0, len(keys))
	for _, k := range keys {
		dims = append(dims, types.Dimension{Name: aws.String(k), Value: aws.String(m.Dimensions[k])})
	}
	return &types.MetricStat{
		Metric: &types.Metric{Namespace: aws.String(m.Namespace), MetricName: aws.String(m.Name), Dimensions: dims},
		Period: aws.Int32(period),
		Stat:   aws.String(m.Stat),
	}
}

// Sums returns, for each metric in order, the sum of its datapoints
// between now-window and now (0 when CloudWatch has none), asking for up
// to 500 metrics in one GetMetricData call. With Stat "Sum" and a short
// Period this is the metric's total over the window.
func Sums(ctx context.Context, api API, ms []Metric, now time.Time, window time.Duration) ([]float64, error) {
	sums := make([]float64, len(ms))
	for start := 0; start < len(ms); start += maxQueries {
		batch := ms[start:min(start+maxQueries, len(ms))]
		in := &cloudwatch.GetMetricDataInput{StartTime: aws.Time(now.Add(-window)), EndTime: aws.Time(now)}
		for i, m := range batch {
			in.MetricDataQueries = append(in.MetricDataQueries, types.MetricDataQuery{
				Id: aws.String("m" + strconv.Itoa(start+i)), ReturnData: aws.Bool(true), MetricStat: metricStat(m)})
		}
		seen := map[string]bool{}
		for {
			out, err := api.GetMetricData(ctx, in)
			if err != nil {
				return nil, fmt.Errorf("reading CloudWatch metrics (%s %s…): %w", batch[0].Namespace, batch[0].Name, err)
			}
			for _, r := range out.MetricDataResults {
				i, err := strconv.Atoi(strings.TrimPrefix(aws.ToString(r.Id), "m"))
				if err != nil || i < 0 || i >= len(sums) {
					continue
				}
				for _, v := range r.Values {
					sums[i] += v
				}
			}
			next := aws.ToString(out.NextToken)
			if next == "" || seen[next] {
				break
			}
			seen[next] = true
			in.NextToken = aws.String(next)
		}
	}
	return sums, nil
}
