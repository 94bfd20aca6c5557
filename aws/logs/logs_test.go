package logs_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/nexus-compliance/nexus/aws/awsfake"
	"github.com/nexus-compliance/nexus/aws/logs"
)

func TestFilterMergesGroupsAcrossPagesOnFake(t *testing.T) {
	s := awsfake.NewLogsServer(t)
	s.SetLogsPageSize(2)
	s.AddLogsEvents("/a", awsfake.LogsEvent{Timestamp: 1, Message: "a1"}, awsfake.LogsEvent{Timestamp: 4, Message: "a4"},
		awsfake.LogsEvent{Timestamp: 5, Message: "a5"}, awsfake.LogsEvent{Timestamp: 9, Message: "a9"})
	s.AddLogsEvents("/b", awsfake.LogsEvent{Timestamp: 2, Message: "b2"}, awsfake.LogsEvent{Timestamp: 3, Message: "b3"},
		awsfake.LogsEvent{Timestamp: 6, Message: "b6"})
	s.AddLogsEvents("/c", awsfake.LogsEvent{Timestamp: 7, Message: "c7"}, awsfake.LogsEvent{Timestamp: 8, Message: "c8"},
		awsfake.LogsEvent{Timestamp: 10, Message: "c10"}, awsfake.LogsEvent{Timestamp: 11, Message: "c11"}, awsfake.LogsEvent{Timestamp: 12, Message: "c12"})
	var got []string
	err := logs.Filter(context.Background(), s.LogsClient(), logs.FilterOptions{Groups: []string{"/a", "/b", "/c"}},
		func(e logs.Event) error { got = append(got, e.Message); return nil })
	if err != nil {
		t.Fatal(err)
	}
	want := "a1 b2 b3 a4 a5 b6 c7 c8 a9 c10 c11 c12"
	if strings.Join(got, " ") != want {
		t.Fatalf("got %v, want %s", got, want)
	}
	if n := s.LogsCalls("FilterLogEvents"); n != 2+2+3 {
		t.Fatalf("%d FilterLogEvents calls, want 7 (one per page)", n)
	}

	got = nil
	err = logs.Filter(context.Background(), s.LogsClient(), logs.FilterOptions{Groups: []string{"/a", "/b"}, Limit: 3,
		Start: time.UnixMilli(3), Pattern: `"5"`}, func(e logs.Event) error { got = append(got, e.Message); return nil })
	if err != nil || strings.Join(got, " ") != "a5" {
		t.Fatalf("filtered: %v %v", got, err)
	}
}

func TestFilterBacksOffOnThrottlingOnFake(t *testing.T) {
	s := awsfake.NewLogsServer(t)
	s.AddLogsEvents("/a", awsfake.LogsEvent{Timestamp: 1, Message: "hello"})
	s.ThrottleLogs(3)
	var got []string
	err := logs.Filter(context.Background(), s.LogsClient(), logs.FilterOptions{Groups: []string{"/a"}, Backoff: logs.Backoff{Initial: time.Millisecond}},
		func(e logs.Event) error { got = append(got, e.Message); return nil })
	if err != nil || len(got) != 1 {
		t.Fatalf("got %v, %v", got, err)
	}
	if n := s.LogsCalls("FilterLogEvents"); n != 4 {
		t.Fatalf("%d calls, want 3 throttled + 1", n)
	}

	s.ThrottleLogs(10)
	err = logs.Filter(context.Background(), s.LogsClient(), logs.FilterOptions{Groups: []string{"/a"}, Backoff: logs.Backoff{Initial: time.Millisecond, Attempts: 2}},
		func(logs.Event) error { return nil })
	if !logs.IsThrottling(err) {
		t.Fatalf("want throttling error after giving up, got %v", err)
	}
}

func TestFollowFallsBackAndDedupesOnFake(t *testing.T) {
	s := awsfake.NewLogsServer(t)
	s.AddLogsEvents("/a", awsfake.LogsEvent{Timestamp: 1000, Message: "first"})
	s.AddLogsGroup("/b")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu       sync.Mutex
		got      []string
		fallback error
	)
	done := make(chan error, 1)
	go func() {
		done <- logs.Follow(ctx, s.LogsClient(), logs.FollowOptions{
			Groups: []string{"/a", "/b"}, Start: time.UnixMilli(0), Interval: 5 * time.Millisecond,
			Limiter:    logs.NewLimiter(1000, 10),
			OnFallback: func(err error) { fallback = err },
		}, func(e logs.Event) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, e.Message)
			if len(got) == 3 {
				cancel()
			}
		})
	}()
	// Let several polls re-read "first" (polls start at the newest timestamp
	// seen, inclusive), then add events, one sharing its millisecond.
	for s.LogsCalls("FilterLogEvents") < 6 {
		time.Sleep(time.Millisecond)
	}
	s.AddLogsEvents("/b", awsfake.LogsEvent{Timestamp: 1000, Message: "same-ms"})
	s.AddLogsEvents("/a", awsfake.LogsEvent{Timestamp: 2000, Message: "later"})
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Follow returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not see the events")
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, " ") != "first same-ms later" && strings.Join(got, " ") != "first later same-ms" {
		t.Fatalf("got %v", got)
	}
	if fallback == nil || !strings.Contains(fallback.Error(), "InvalidOperationException") {
		t.Fatalf("fallback reason %v", fallback)
	}
	if s.LogsCalls("StartLiveTail") != 1 || s.LogsCalls("DescribeLogGroups") != 2 {
		t.Fatalf("live tail %d, describe %d", s.LogsCalls("StartLiveTail"), s.LogsCalls("DescribeLogGroups"))
	}
	req := s.LogsRequests("StartLiveTail")[0]["logGroupIdentifiers"].([]any)
	if req[0] != "arn:aws:logs:us-east-1:123456789012:log-group:/a" {
		t.Fatalf("live tail groups %v", req)
	}
}

func TestDedupeIsBounded(t *testing.T) {
	d := logs.Dedupe{Window: time.Second}
	base := time.Unix(0, 0)
	for i := range 100 {
		if !d.First(logs.Event{ID: string(rune('a'+i%26)) + time.Duration(i).String(), Timestamp: base.Add(time.Duration(i) * 100 * time.Millisecond)}) {
			t.Fatal("new id reported seen")
		}
	}
	if d.Len() > 12 {
		t.Fatalf("remembers %d ids, want about 10", d.Len())
	}
	ev := logs.Event{ID: "x", Timestamp: base.Add(10 * time.Second)}
	if !d.First(ev) || d.First(ev) {
		t.Fatal("repeat not detected")
	}
}

func TestLimiterPaces(t *testing.T) {
	l := logs.NewLimiter(100, 1)
	start := time.Now()
	for range 6 {
		if err := l.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el < 40*time.Millisecond {
		t.Fatalf("6 calls at 100/s took %v", el)
	}
}

func TestRunQueryOnFake(t *testing.T) {
	s := awsfake.NewLogsServer(t)
	s.SetLogsQueryResults("stats count", []map[string]string{{"component": "/a", "errors": "3", "@ptr": "x"}, {"component": "/b", "errors": "1"}})
	res, err := logs.RunQuery(context.Background(), s.LogsClient(), logs.QueryOptions{
		Groups: []string{"/a", "/b"}, Query: "filter @message like /ERROR/ | stats count(*) as errors by component",
		Start: time.Unix(100, 0), End: time.Unix(200, 0), PollInterval: time.Millisecond, Limit: 50,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "Complete" || strings.Join(res.Fields, ",") != "component,errors" || len(res.Rows) != 2 || res.Rows[0]["errors"] != "3" {
		t.Fatalf("result %+v", res)
	}
	req := s.LogsRequests("StartQuery")[0]
	if req["startTime"] != float64(100) || req["endTime"] != float64(200) || req["limit"] != float64(50) {
		t.Fatalf("StartQuery %v", req)
	}
	if s.LogsCalls("GetQueryResults") != 2 {
		t.Fatalf("polls %d", s.LogsCalls("GetQueryResults"))
	}
}

func TestRunQueryStopsOnCancelOnFake(t *testing.T) {
	s := awsfake.NewLogsServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := logs.RunQuery(ctx, s.LogsClient(), logs.QueryOptions{Groups: []string{"/a"}, Query: "fields @message",
		PollInterval: time.Hour, OnStatus: func(types.QueryStatus) { cancel() }})
	if !errors.Is(err, context.Canceled) || !s.LogsQueryStopped("query-1") {
		t.Fatalf("err %v, stopped %v", err, s.LogsQueryStopped("query-1"))
	}
}
