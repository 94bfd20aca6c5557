package logs

import (
	"container/heap"
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

// FilterOptions select the events Filter reads.
type FilterOptions struct {
	Groups  []string
	Start   time.Time // inclusive; zero: the groups' beginning
	End     time.Time // inclusive; zero: now
	Pattern string    // CloudWatch filter pattern; empty: every event
	Limit   int       // stop after this many events in all; 0: no limit

	Limiter *Limiter // paces FilterLogEvents across groups; nil: no pacing
	Backoff Backoff
}

// ErrStop may be returned by a Filter callback to stop reading without error.
var ErrStop = errors.New("stop")

// groupStream reads one group's events page by page, on demand.
type groupStream struct {
	group string
	buf   []Event
	token *string
	done  bool
}

func (s *groupStream) fill(ctx context.Context, api API, o *FilterOptions) error {
	for len(s.buf) == 0 && !s.done {
		if err := o.Limiter.Wait(ctx); err != nil {
			return err
		}
		in := &cloudwatchlogs.FilterLogEventsInput{
			LogGroupName: aws.String(s.group),
			StartTime:    millis(o.Start),
			EndTime:      millis(o.End),
			NextToken:    s.token,
		}
		if o.Pattern != "" {
			in.FilterPattern = aws.String(o.Pattern)
		}
		out, err := retry(ctx, o.Backoff, func() (*cloudwatchlogs.FilterLogEventsOutput, error) {
			return api.FilterLogEvents(ctx, in)
		})
		if err != nil {
			return err
		}
		for _, e := range out.Events {
			s.buf = append(s.buf, Event{
				Group: s.group, Stream: aws.ToString(e.LogStreamName), ID: aws.ToString(e.EventId),
				Timestamp: time.UnixMilli(aws.ToInt64(e.Timestamp)).UTC(), Message: aws.ToString(e.Message),
			})
		}
		// FilterLogEvents may return an empty page with a token; keep going
		// until events come or the token runs out.
		if out.NextToken == nil || aws.ToString(out.NextToken) == aws.ToString(s.token) {
			s.done = true
		}
		s.token = out.NextToken
	}
	return nil
}

type streamHeap []*groupStream

func (h streamHeap) Len() int { return len(h) }
func (h streamHeap) Less(i, j int) bool {
	a, b := h[i].buf[0], h[j].buf[0]
	if !a.Timestamp.Equal(b.Timestamp) {
		return a.Timestamp.Before(b.Timestamp)
	}
	if a.Group != b.Group {
		return a.Group < b.Group
	}
	return a.ID < b.ID
}
func (h streamHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *streamHeap) Push(x any)   { *h = append(*h, x.(*groupStream)) }
func (h *streamHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Filter reads the events of every group in o.Groups and hands them to fn in
// timestamp order: a k-way merge of one paged stream per group, so only a
// page per group is held at a time. fn may return ErrStop.
func Filter(ctx context.Context, api API, o FilterOptions, fn func(Event) error) error {
	h := make(streamHeap, 0, len(o.Groups))
	for _, g := range o.Groups {
		s := &groupStream{group: g}
		if err := s.fill(ctx, api, &o); err != nil {
			return err
		}
		if len(s.buf) > 0 {
			h = append(h, s)
		}
	}
	heap.Init(&h)
	n := 0
	for h.Len() > 0 {
		s := h[0]
		ev := s.buf[0]
		s.buf = s.buf[1:]
		if err := fn(ev); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
		n++
		if o.Limit > 0 && n >= o.Limit {
			return nil
		}
		if len(s.buf) == 0 {
			if err := s.fill(ctx, api, &o); err != nil {
				return err
			}
		}
		if len(s.buf) == 0 {
			heap.Pop(&h)
		} else {
			heap.Fix(&h, 0)
		}
	}
	return nil
}
