// Package awsfake holds small in-process fakes of AWS services that speak the
// services' real wire protocols, for tests that point an SDK client at them
// with BaseEndpoint. Imported by tests only.
package awsfake

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// LogsEvent is one event stored in the fake CloudWatch Logs.
type LogsEvent struct {
	Stream    string
	ID        string // set by AddLogsEvents when empty
	Timestamp int64  // milliseconds since the epoch
	Message   string
}

// LogsServer is a fake CloudWatch Logs endpoint speaking JSON 1.1
// (X-Amz-Target: Logs_20140328.<Op>). It implements FilterLogEvents (one
// group per call, nextToken paging, filterPattern as terms that must all be
// substrings, startTime/endTime), DescribeLogGroups, StartQuery /
// GetQueryResults / StopQuery (canned rows, Running at the first poll) and
// answers StartLiveTail with an error, so that callers fall back to polling.
type LogsServer struct {
	URL string

	mu       sync.Mutex
	srv      *httptest.Server
	groups   map[string][]LogsEvent
	pageSize int
	throttle int // FilterLogEvents calls still to throttle
	queries  map[string][]map[string]string
	queryAt  map[string]time.Time
	started  map[string]*logsQuery
	calls    map[string]int
	requests []map[string]any
	nextID   int
}

type logsQuery struct {
	rows    []map[string]string
	polls   int
	stopped bool
}

// NewLogsServer starts a fake on loopback, closed when the test ends.
func NewLogsServer(t testing.TB) *LogsServer {
	s := &LogsServer{
		groups: map[string][]LogsEvent{}, pageSize: 50, queries: map[string][]map[string]string{},
		queryAt: map[string]time.Time{},
		started: map[string]*logsQuery{}, calls: map[string]int{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// LogsClient returns an SDK client for the fake, with dummy credentials and
// no SDK retries (so tests see throttling themselves).
func (s *LogsServer) LogsClient() *cloudwatchlogs.Client {
	return cloudwatchlogs.New(cloudwatchlogs.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(s.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDFAKE", "secret", ""),
		RetryMaxAttempts: 1,
		// StartLiveTail's "streaming-" host prefix would not resolve on loopback.
		APIOptions: []func(*middleware.Stack) error{func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("LogsFakeNoHostPrefix",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					return next.HandleInitialize(smithyhttp.DisableEndpointHostPrefix(ctx, true), in)
				}), middleware.Before)
		}},
	})
}

// AddLogsGroup creates an empty group.
func (s *LogsServer) AddLogsGroup(group string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.groups[group]; !ok {
		s.groups[group] = nil
	}
}

// AddLogsEvents appends events to a group (creating it), keeping the group
// ordered by timestamp.
func (s *LogsServer) AddLogsEvents(group string, events ...LogsEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range events {
		if e.ID == "" {
			s.nextID++
			e.ID = fmt.Sprintf("%020d", s.nextID)
		}
		if e.Stream == "" {
			e.Stream = "stream-1"
		}
		s.groups[group] = append(s.groups[group], e)
	}
	sort.SliceStable(s.groups[group], func(i, j int) bool { return s.groups[group][i].Timestamp < s.groups[group][j].Timestamp })
}

// SetLogsPageSize sets how many events one FilterLogEvents page holds.
func (s *LogsServer) SetLogsPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageSize = n
}

// ThrottleLogs makes the next n FilterLogEvents calls fail with
// ThrottlingException.
func (s *LogsServer) ThrottleLogs(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = n
}

// SetLogsQueryResults makes Insights queries whose query string contains
// substr return rows (field → value).
func (s *LogsServer) SetLogsQueryResults(substr string, rows []map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries[substr] = rows
}

// SetLogsQueryResultsLoggedAt is SetLogsQueryResults for rows aggregated
// from events logged at one time: a query whose range does not hold at
// gets no rows, as Logs Insights would answer.
func (s *LogsServer) SetLogsQueryResultsLoggedAt(substr string, at time.Time, rows []map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries[substr] = rows
	s.queryAt[substr] = at
}

// LogsCalls is how many times op was called.
func (s *LogsServer) LogsCalls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// LogsRequests returns the decoded bodies of every request of op, in order.
func (s *LogsServer) LogsRequests(op string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, r := range s.requests {
		if r["_op"] == op {
			out = append(out, r)
		}
	}
	return out
}

// LogsQueryStopped reports whether StopQuery was called for id.
func (s *LogsServer) LogsQueryStopped(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.started[id]
	return q != nil && q.stopped
}

func (s *LogsServer) serve(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "Logs_20140328.")
	if !ok {
		logsError(w, http.StatusBadRequest, "UnknownOperationException", "missing X-Amz-Target")
		return
	}
	var req map[string]any
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		logsError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[op]++
	rec := map[string]any{"_op": op}
	for k, v := range req {
		rec[k] = v
	}
	s.requests = append(s.requests, rec)
	switch op {
	case "FilterLogEvents":
		s.filter(w, req)
	case "DescribeLogGroups":
		s.describe(w, req)
	case "StartQuery":
		s.startQuery(w, req)
	case "GetQueryResults":
		s.getQueryResults(w, req)
	case "StopQuery":
		q := s.started[logsStr(req, "queryId")]
		if q == nil {
			logsError(w, http.StatusBadRequest, "ResourceNotFoundException", "no such query")
			return
		}
		q.stopped = true
		logsJSON(w, map[string]any{"success": true})
	case "StartLiveTail":
		logsError(w, http.StatusBadRequest, "InvalidOperationException", "live tail is not available from this endpoint")
	default:
		logsError(w, http.StatusBadRequest, "UnknownOperationException", op+" is not served by the fake")
	}
}

func (s *LogsServer) filter(w http.ResponseWriter, req map[string]any) {
	if s.throttle > 0 {
		s.throttle--
		logsError(w, http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
		return
	}
	group := logsStr(req, "logGroupName")
	events, ok := s.groups[group]
	if !ok {
		logsError(w, http.StatusBadRequest, "ResourceNotFoundException", "The specified log group does not exist.")
		return
	}
	start, hasStart := logsInt(req, "startTime")
	end, hasEnd := logsInt(req, "endTime")
	terms := logsTerms(logsStr(req, "filterPattern"))
	offset := 0
	if tok := logsStr(req, "nextToken"); tok != "" {
		offset, _ = strconv.Atoi(tok)
	}
	var match []LogsEvent
	for _, e := range events {
		if (hasStart && e.Timestamp < start) || (hasEnd && e.Timestamp > end) {
			continue
		}
		all := true
		for _, t := range terms {
			all = all && strings.Contains(e.Message, t)
		}
		if all {
			match = append(match, e)
		}
	}
	page := []map[string]any{}
	i := offset
	for ; i < len(match) && len(page) < s.pageSize; i++ {
		e := match[i]
		page = append(page, map[string]any{"logStreamName": e.Stream, "eventId": e.ID, "timestamp": e.Timestamp,
			"ingestionTime": e.Timestamp, "message": e.Message})
	}
	out := map[string]any{"events": page, "searchedLogStreams": []any{}}
	if i < len(match) {
		out["nextToken"] = strconv.Itoa(i)
	}
	logsJSON(w, out)
}

// logsTerms splits a filter pattern into its terms: "quoted phrases" and bare
// words, each of which an event must contain.
func logsTerms(p string) []string {
	var terms []string
	for p = strings.TrimSpace(p); p != ""; p = strings.TrimSpace(p) {
		if p[0] == '"' {
			end := strings.IndexByte(p[1:], '"')
			if end < 0 {
				terms = append(terms, p[1:])
				break
			}
			terms = append(terms, p[1:1+end])
			p = p[2+end:]
			continue
		}
		word, rest, _ := strings.Cut(p, " ")
		terms = append(terms, word)
		p = rest
	}
	return terms
}

func (s *LogsServer) describe(w http.ResponseWriter, req map[string]any) {
	prefix := logsStr(req, "logGroupNamePrefix")
	names := make([]string, 0, len(s.groups))
	for g := range s.groups {
		if strings.HasPrefix(g, prefix) {
			names = append(names, g)
		}
	}
	sort.Strings(names)
	groups := []map[string]any{}
	for _, g := range names {
		arn := "arn:aws:logs:us-east-1:123456789012:log-group:" + g
		groups = append(groups, map[string]any{"logGroupName": g, "arn": arn + ":*", "logGroupArn": arn, "storedBytes": 0})
	}
	logsJSON(w, map[string]any{"logGroups": groups})
}

func (s *LogsServer) startQuery(w http.ResponseWriter, req map[string]any) {
	q := logsStr(req, "queryString")
	var rows []map[string]string
	best := -1
	from, _ := logsInt(req, "startTime")
	to, _ := logsInt(req, "endTime")
	for substr, r := range s.queries {
		if strings.Contains(q, substr) && len(substr) > best {
			rows, best = r, len(substr)
			if at, ok := s.queryAt[substr]; ok && (at.Unix() < from || at.Unix() > to) {
				rows = nil
			}
		}
	}
	s.nextID++
	id := fmt.Sprintf("query-%d", s.nextID)
	s.started[id] = &logsQuery{rows: rows}
	logsJSON(w, map[string]any{"queryId": id})
}

func (s *LogsServer) getQueryResults(w http.ResponseWriter, req map[string]any) {
	q := s.started[logsStr(req, "queryId")]
	if q == nil {
		logsError(w, http.StatusBadRequest, "ResourceNotFoundException", "no such query")
		return
	}
	q.polls++
	if q.stopped {
		logsJSON(w, map[string]any{"status": "Cancelled", "results": []any{}})
		return
	}
	if q.polls == 1 {
		logsJSON(w, map[string]any{"status": "Running", "results": []any{}})
		return
	}
	results := []any{}
	for _, row := range q.rows {
		keys := make([]string, 0, len(row))
		for k := range row {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fields := []map[string]string{}
		for _, k := range keys {
			fields = append(fields, map[string]string{"field": k, "value": row[k]})
		}
		results = append(results, fields)
	}
	logsJSON(w, map[string]any{"status": "Complete", "results": results,
		"statistics": map[string]any{"recordsMatched": len(q.rows), "recordsScanned": len(q.rows) * 10, "bytesScanned": 1024}})
}

func logsStr(req map[string]any, k string) string {
	v, _ := req[k].(string)
	return v
}

func logsInt(req map[string]any, k string) (int64, bool) {
	v, ok := req[k].(float64)
	return int64(v), ok
}

func logsJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(v)
}

func logsError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}
