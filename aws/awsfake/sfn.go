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
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// SFNExecution is an execution the fake Step Functions server knows.
type SFNExecution struct {
	ARN, Name, StateMachineARN, Status string
	Start                              time.Time
	Stop                               time.Time // zero while running
	Input, Output, Error, Cause        string
	RedriveStatus, RedriveStatusReason string
	RedriveCount                       int
	RedriveDate                        time.Time
	Events                             []SFNEvent
}

// SFNEvent is a history event. ID is assigned by position (1-based) when
// zero; Details is the event's details object, sent under the key its type
// uses on the wire (taskFailedEventDetails, stateEnteredEventDetails, ...).
type SFNEvent struct {
	ID, Previous int64
	Type         string
	Time         time.Time
	Details      map[string]any
}

// SFNServer is a fake Step Functions endpoint speaking the JSON 1.0
// protocol (X-Amz-Target: AWSStepFunctions.<Op>).
type SFNServer struct {
	URL string
	// PageSize caps every page (0: the API's defaults).
	PageSize int

	srv      *httptest.Server
	mu       sync.Mutex
	execs    map[string]*SFNExecution
	calls    map[string]int
	throttle map[string]int
	tokens   map[string]time.Time // arn + token -> redrive date
}

// NewSFNServer starts a fake on loopback, closed when the test ends.
func NewSFNServer(t testing.TB) *SFNServer {
	s := &SFNServer{execs: map[string]*SFNExecution{}, calls: map[string]int{}, throttle: map[string]int{}, tokens: map[string]time.Time{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// SFNClient is an SDK client for the fake with dummy credentials and the
// adaptive retryer nexus configures.
func (s *SFNServer) SFNClient() *sfn.Client {
	return sfn.New(sfn.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret"}, nil
		}),
		Retryer: retry.NewAdaptiveMode(),
	})
}

// AddExecution stores an execution (replacing one with the same ARN).
func (s *SFNServer) AddExecution(e SFNExecution) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range e.Events {
		if e.Events[i].ID == 0 {
			e.Events[i].ID = int64(i + 1)
		}
	}
	s.execs[e.ARN] = &e
}

// Execution returns a copy of a stored execution.
func (s *SFNServer) Execution(arn string) (SFNExecution, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.execs[arn]
	if !ok {
		return SFNExecution{}, false
	}
	return *e, true
}

// Throttle makes the next n calls of op ("" for any) fail with
// ThrottlingException.
func (s *SFNServer) Throttle(op string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle[op] += n
}

// Calls is how many requests op received (throttled ones included).
func (s *SFNServer) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// MutatingCalls counts requests of operations that change state.
func (s *SFNServer) MutatingCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for op, c := range s.calls {
		switch op {
		case "ListExecutions", "DescribeExecution", "GetExecutionHistory", "DescribeStateMachine", "ListStateMachines":
		default:
			n += c
		}
	}
	return n
}

func sfnWriteErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.swf.service.v2.model#" + code, "message": msg})
}

func sfnEpoch(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return float64(t.UnixNano()) / 1e9
}

func (s *SFNServer) serve(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "AWSStepFunctions.")
	if r.Method != http.MethodPost || !ok || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json-1.0") {
		sfnWriteErr(w, 400, "UnknownOperationException", "unknown operation "+target)
		return
	}
	var in map[string]any
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		sfnWriteErr(w, 400, "SerializationException", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[op]++
	for _, k := range []string{op, ""} {
		if s.throttle[k] > 0 {
			s.throttle[k]--
			sfnWriteErr(w, 400, "ThrottlingException", "Rate exceeded")
			return
		}
	}
	var out any
	var status int
	var code, msg string
	switch op {
	case "ListExecutions":
		out, status, code, msg = s.listExecutions(in)
	case "DescribeExecution":
		out, status, code, msg = s.describeExecution(in)
	case "GetExecutionHistory":
		out, status, code, msg = s.history(in)
	case "RedriveExecution":
		out, status, code, msg = s.redrive(in)
	default:
		status, code, msg = 400, "UnknownOperationException", "the fake does not implement "+op
	}
	if code != "" {
		sfnWriteErr(w, status, code, msg)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	json.NewEncoder(w).Encode(out)
}

func sfnStr(in map[string]any, k string) string { v, _ := in[k].(string); return v }

func (s *SFNServer) page(in map[string]any, n, def int) (from, to int, next string, errMsg string) {
	size := def
	if m, ok := in["maxResults"].(float64); ok && m > 0 {
		size = int(m)
	}
	if s.PageSize > 0 && s.PageSize < size {
		size = s.PageSize
	}
	if tok := sfnStr(in, "nextToken"); tok != "" {
		v, err := strconv.Atoi(strings.TrimPrefix(tok, "page-"))
		if err != nil || v < 0 || v > n {
			return 0, 0, "", "Invalid Token: " + tok
		}
		from = v
	}
	to = min(from+size, n)
	if to < n {
		next = "page-" + strconv.Itoa(to)
	}
	return from, to, next, ""
}

func (s *SFNServer) listExecutions(in map[string]any) (any, int, string, string) {
	sm := sfnStr(in, "stateMachineArn")
	filter := sfnStr(in, "statusFilter")
	var list []*SFNExecution
	known := false
	for _, e := range s.execs {
		if e.StateMachineARN != sm {
			continue
		}
		known = true
		if filter == "" || e.Status == filter {
			list = append(list, e)
		}
	}
	if !known {
		return nil, 400, "StateMachineDoesNotExist", "State Machine Does Not Exist: '" + sm + "'"
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Start.After(list[j].Start) })
	from, to, next, bad := s.page(in, len(list), 100)
	if bad != "" {
		return nil, 400, "InvalidToken", bad
	}
	items := []map[string]any{}
	for _, e := range list[from:to] {
		it := map[string]any{"executionArn": e.ARN, "stateMachineArn": e.StateMachineARN, "name": e.Name, "status": e.Status,
			"startDate": sfnEpoch(e.Start), "redriveCount": e.RedriveCount}
		if !e.Stop.IsZero() {
			it["stopDate"] = sfnEpoch(e.Stop)
		}
		if !e.RedriveDate.IsZero() {
			it["redriveDate"] = sfnEpoch(e.RedriveDate)
		}
		items = append(items, it)
	}
	out := map[string]any{"executions": items}
	if next != "" {
		out["nextToken"] = next
	}
	return out, 200, "", ""
}

func (s *SFNServer) find(in map[string]any) (*SFNExecution, int, string, string) {
	arn := sfnStr(in, "executionArn")
	e, ok := s.execs[arn]
	if !ok {
		return nil, 400, "ExecutionDoesNotExist", "Execution Does Not Exist: '" + arn + "'"
	}
	return e, 0, "", ""
}

func (s *SFNServer) describeExecution(in map[string]any) (any, int, string, string) {
	e, st, code, msg := s.find(in)
	if e == nil {
		return nil, st, code, msg
	}
	out := map[string]any{"executionArn": e.ARN, "stateMachineArn": e.StateMachineARN, "name": e.Name, "status": e.Status,
		"startDate": sfnEpoch(e.Start), "input": e.Input, "redriveCount": e.RedriveCount}
	set := func(k, v string) {
		if v != "" {
			out[k] = v
		}
	}
	set("output", e.Output)
	set("error", e.Error)
	set("cause", e.Cause)
	rs, reason := e.RedriveStatus, e.RedriveStatusReason
	if rs == "" {
		if e.Status == "FAILED" || e.Status == "TIMED_OUT" || e.Status == "ABORTED" {
			rs = "REDRIVABLE"
		} else {
			rs, reason = "NOT_REDRIVABLE", "Execution is "+e.Status
		}
	}
	out["redriveStatus"] = rs
	set("redriveStatusReason", reason)
	if !e.Stop.IsZero() {
		out["stopDate"] = sfnEpoch(e.Stop)
	}
	if !e.RedriveDate.IsZero() {
		out["redriveDate"] = sfnEpoch(e.RedriveDate)
	}
	return out, 200, "", ""
}

func sfnDetailsKey(typ string) string {
	switch {
	case strings.HasSuffix(typ, "StateEntered"):
		return "stateEnteredEventDetails"
	case strings.HasSuffix(typ, "StateExited"):
		return "stateExitedEventDetails"
	}
	return strings.ToLower(typ[:1]) + typ[1:] + "EventDetails"
}

func (s *SFNServer) history(in map[string]any) (any, int, string, string) {
	e, st, code, msg := s.find(in)
	if e == nil {
		return nil, st, code, msg
	}
	evs := append([]SFNEvent(nil), e.Events...)
	if rev, _ := in["reverseOrder"].(bool); rev {
		for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
			evs[i], evs[j] = evs[j], evs[i]
		}
	}
	withData := true
	if v, ok := in["includeExecutionData"].(bool); ok {
		withData = v
	}
	from, to, next, bad := s.page(in, len(evs), 100)
	if bad != "" {
		return nil, 400, "InvalidToken", bad
	}
	items := []map[string]any{}
	for _, ev := range evs[from:to] {
		it := map[string]any{"id": ev.ID, "type": ev.Type, "timestamp": sfnEpoch(ev.Time)}
		if ev.Previous != 0 {
			it["previousEventId"] = ev.Previous
		}
		if ev.Details != nil {
			d := map[string]any{}
			for k, v := range ev.Details {
				if !withData && (k == "input" || k == "output" || k == "inputDetails" || k == "outputDetails") {
					continue
				}
				d[k] = v
			}
			it[sfnDetailsKey(ev.Type)] = d
		}
		items = append(items, it)
	}
	out := map[string]any{"events": items}
	if next != "" {
		out["nextToken"] = next
	}
	return out, 200, "", ""
}

func (s *SFNServer) redrive(in map[string]any) (any, int, string, string) {
	e, st, code, msg := s.find(in)
	if e == nil {
		return nil, st, code, msg
	}
	tok := sfnStr(in, "clientToken")
	if d, ok := s.tokens[e.ARN+"\x00"+tok]; ok && tok != "" {
		return map[string]any{"redriveDate": sfnEpoch(d)}, 200, "", ""
	}
	redrivable := e.RedriveStatus == "REDRIVABLE" ||
		e.RedriveStatus == "" && (e.Status == "FAILED" || e.Status == "TIMED_OUT" || e.Status == "ABORTED")
	if !redrivable {
		reason := e.RedriveStatusReason
		if reason == "" {
			reason = fmt.Sprintf("Execution is %s", e.Status)
		}
		return nil, 400, "ExecutionNotRedrivable", "Execution is not redrivable: " + reason
	}
	now := time.Now().UTC()
	e.Status, e.Stop, e.RedriveCount, e.RedriveDate = "RUNNING", time.Time{}, e.RedriveCount+1, now
	e.RedriveStatus, e.RedriveStatusReason = "NOT_REDRIVABLE", "Execution is RUNNING and cannot be redriven"
	if tok != "" {
		s.tokens[e.ARN+"\x00"+tok] = now
	}
	return map[string]any{"redriveDate": sfnEpoch(now)}, 200, "", ""
}
