// Package shared holds what the `nexus job` verbs share: decoding job
// records, reading their timestamps, and showing ages.
package shared

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/nexus-compliance/nexus/aws/dynamo"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/pipeline"
)

// Decode reads a MappingJobs item. The SQS trigger's legacy IN_PROGRESS
// status is read as RUNNING, as the data model says.
func Decode(it dynamo.Item) (pipeline.Job, error) {
	var j pipeline.Job
	if err := attributevalue.UnmarshalMap(it, &j); err != nil {
		return j, fmt.Errorf("reading job %s: %w", dynamo.Text(it[dynamo.JobID]), err)
	}
	if st, err := pipeline.ParseJobStatus(string(j.Status)); err == nil {
		j.Status = st
	}
	return j, nil
}

// timeLayouts are the ISO-8601 shapes the Nexus Lambdas write: RFC 3339
// with Z or an offset, and Python's isoformat() without a zone (UTC).
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

// ParseTime reads a job timestamp; zone-less times are UTC.
func ParseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// ISO is the form a cut-off time is compared in against created_at: UTC,
// second precision, Z. ISO-8601 UTC strings sort as their times do.
func ISO(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// Age is how long ago a timestamp was, as kubectl shows it: 42s, 17m, 5h,
// 3d; "-" when the timestamp is missing or unreadable.
func Age(now time.Time, ts string) string {
	t, ok := ParseTime(ts)
	if !ok {
		return "-"
	}
	return Duration(now.Sub(t))
}

// Duration formats a duration coarsely: 42s, 17m, 5h, 3d.
func Duration(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// KeyFlag validates a --control or --framework value with the pipeline's
// validators, as a usage error showing the pattern and an example.
func KeyFlag(flag, value string, validate func(string) error) error {
	if value == "" {
		return nil
	}
	if err := validate(value); err != nil {
		return cmdutil.FlagErrorf("invalid %s: %v", flag, err)
	}
	return nil
}
