// Package logs is a thin typed layer over CloudWatch Logs for nexus: reading
// several log groups at once as one time-ordered stream (FilterLogEvents,
// merged across groups and pages), following them live (StartLiveTail, with a
// paced FilterLogEvents poll as fallback), and running Logs Insights queries.
package logs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/smithy-go"
)

// API is the part of the CloudWatch Logs client nexus uses.
type API interface {
	FilterLogEvents(context.Context, *cloudwatchlogs.FilterLogEventsInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error)
	DescribeLogGroups(context.Context, *cloudwatchlogs.DescribeLogGroupsInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DescribeLogGroupsOutput, error)
	StartLiveTail(context.Context, *cloudwatchlogs.StartLiveTailInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.StartLiveTailOutput, error)
	StartQuery(context.Context, *cloudwatchlogs.StartQueryInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.StartQueryOutput, error)
	GetQueryResults(context.Context, *cloudwatchlogs.GetQueryResultsInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.GetQueryResultsOutput, error)
	StopQuery(context.Context, *cloudwatchlogs.StopQueryInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.StopQueryOutput, error)
}

var _ API = (*cloudwatchlogs.Client)(nil)

// Event is one log event of one group.
type Event struct {
	Group     string    `json:"group"`
	Stream    string    `json:"stream,omitempty"`
	ID        string    `json:"id,omitempty"`
	Timestamp time.Time `json:"timestamp"`
	Message   string    `json:"message"`
}

// FilterLogEventsTPS is CloudWatch Logs' account-wide FilterLogEvents quota.
const FilterLogEventsTPS = 5

// IsThrottling reports whether err is CloudWatch Logs refusing for rate.
func IsThrottling(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "ThrottlingException", "LimitExceededException", "TooManyRequestsException":
			return true
		}
	}
	return false
}

// Backoff is how calls are retried when CloudWatch Logs throttles them (after
// the SDK's own retries).
type Backoff struct {
	Initial  time.Duration // first wait; 0 means 500ms
	Max      time.Duration // longest wait; 0 means 20s
	Attempts int           // give up after this many throttled calls in a row; 0 means 8
}

func (b Backoff) norm() Backoff {
	if b.Initial <= 0 {
		b.Initial = 500 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = 20 * time.Second
	}
	if b.Attempts <= 0 {
		b.Attempts = 8
	}
	return b
}

// retry calls fn until it succeeds, fails for another reason than
// throttling, or throttling lasts b.Attempts calls.
func retry[T any](ctx context.Context, b Backoff, fn func() (T, error)) (T, error) {
	b = b.norm()
	wait := b.Initial
	for attempt := 1; ; attempt++ {
		v, err := fn()
		if err == nil || !IsThrottling(err) || attempt >= b.Attempts {
			return v, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return v, ctx.Err()
		case <-t.C:
		}
		wait = min(wait*2, b.Max)
	}
}

// Limiter is a token bucket shared by every caller of an account-limited
// operation. A nil *Limiter never waits.
type Limiter struct {
	mu       sync.Mutex
	interval time.Duration
	burst    float64
	tokens   float64
	last     time.Time
}

// NewLimiter allows perSecond calls a second with bursts of burst calls.
func NewLimiter(perSecond float64, burst int) *Limiter {
	if perSecond <= 0 {
		return nil
	}
	if burst < 1 {
		burst = 1
	}
	return &Limiter{interval: time.Duration(float64(time.Second) / perSecond), burst: float64(burst), tokens: float64(burst), last: time.Now()}
}

// Wait blocks until a call may be made.
func (l *Limiter) Wait(ctx context.Context) error {
	if l == nil {
		return ctx.Err()
	}
	for {
		l.mu.Lock()
		now := time.Now()
		l.tokens = min(l.burst, l.tokens+float64(now.Sub(l.last))/float64(l.interval))
		l.last = now
		if l.tokens >= 1 {
			l.tokens--
			l.mu.Unlock()
			return nil
		}
		wait := time.Duration((1 - l.tokens) * float64(l.interval))
		l.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// GroupARN resolves log group names to the ARNs StartLiveTail needs (without
// the trailing ":*"). A group that does not exist is an error naming it.
func GroupARNs(ctx context.Context, api API, groups []string) (map[string]string, error) {
	out := make(map[string]string, len(groups))
	for _, g := range groups {
		p := cloudwatchlogs.NewDescribeLogGroupsPaginator(api, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(g)})
	pages:
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("describing log group %s: %w", g, err)
			}
			for _, lg := range page.LogGroups {
				if aws.ToString(lg.LogGroupName) != g {
					continue
				}
				arn := aws.ToString(lg.LogGroupArn)
				if arn == "" {
					arn = strings.TrimSuffix(aws.ToString(lg.Arn), ":*")
				}
				out[g] = arn
				break pages
			}
		}
		if out[g] == "" {
			return nil, &GroupNotFoundError{Group: g}
		}
	}
	return out, nil
}

// GroupNotFoundError names a log group that does not exist.
type GroupNotFoundError struct{ Group string }

func (e *GroupNotFoundError) Error() string {
	return fmt.Sprintf("log group %s does not exist", e.Group)
}

func millis(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	return aws.Int64(t.UnixMilli())
}
