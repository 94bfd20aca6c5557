package sfnx

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// Failure kinds.
const (
	KindLambda       = "lambda"
	KindTask         = "task"
	KindTimeout      = "timeout"
	KindMapIteration = "map-iteration"
	KindMapRun       = "map-run"
	KindRuntime      = "runtime"
	KindAborted      = "aborted"
	KindExecution    = "execution"
)

// Failure is why an execution failed, read from its history.
type Failure struct {
	Kind  string `json:"kind"`
	State string `json:"state,omitempty"`
	// MapState and MapIndex name the Map iteration the state ran in.
	MapState string `json:"map_state,omitempty"`
	MapIndex *int   `json:"map_index,omitempty"`
	Error    string `json:"error,omitempty"`
	Cause    string `json:"cause,omitempty"`
	// ErrorType, ErrorMessage and Trace come from a Python Lambda's cause
	// JSON (errorType, errorMessage, stackTrace).
	ErrorType    string     `json:"error_type,omitempty"`
	ErrorMessage string     `json:"error_message,omitempty"`
	Trace        []string   `json:"trace,omitempty"`
	EventID      int64      `json:"event_id,omitempty"`
	Time         *time.Time `json:"time,omitempty"`
}

// Summary is one line: the Python error when there is one, else the error
// and the first line of the cause.
func (f *Failure) Summary() string {
	if f == nil {
		return ""
	}
	if f.ErrorType != "" || f.ErrorMessage != "" {
		return strings.TrimPrefix(f.ErrorType+": "+FirstLine(f.ErrorMessage), ": ")
	}
	c := FirstLine(f.Cause)
	switch {
	case f.Error != "" && c != "":
		return f.Error + ": " + c
	case c != "":
		return c
	}
	return f.Error
}

// FirstLine is the first non-empty line of s.
func FirstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

// LambdaError is the JSON a Python Lambda puts in a failure's cause.
type LambdaError struct {
	ErrorType    string   `json:"errorType"`
	ErrorMessage string   `json:"errorMessage"`
	StackTrace   []string `json:"stackTrace"`
}

// ParseCause reads a Lambda cause JSON; ok is false when cause is not one.
func ParseCause(cause string) (LambdaError, bool) {
	var le LambdaError
	if err := json.Unmarshal([]byte(strings.TrimSpace(cause)), &le); err != nil {
		return le, false
	}
	return le, le.ErrorType != "" || le.ErrorMessage != ""
}

func (f *Failure) setCause(errName, cause string) {
	f.Error, f.Cause = errName, cause
	f.ErrorType, f.ErrorMessage, f.Trace = "", "", nil
	if le, ok := ParseCause(cause); ok {
		f.ErrorType, f.ErrorMessage = le.ErrorType, le.ErrorMessage
		for _, l := range le.StackTrace {
			for _, part := range strings.Split(strings.TrimRight(l, "\n"), "\n") {
				if part = strings.TrimRight(part, " "); part != "" {
					f.Trace = append(f.Trace, part)
				}
			}
		}
	}
}

// EventError returns the error and cause an event carries, if any.
func EventError(e types.HistoryEvent) (name, cause string, ok bool) {
	switch {
	case e.LambdaFunctionFailedEventDetails != nil:
		d := e.LambdaFunctionFailedEventDetails
		return aws.ToString(d.Error), aws.ToString(d.Cause), true
	case e.LambdaFunctionTimedOutEventDetails != nil:
		d := e.LambdaFunctionTimedOutEventDetails
		return aws.ToString(d.Error), aws.ToString(d.Cause), true
	case e.LambdaFunctionScheduleFailedEventDetails != nil:
		d := e.LambdaFunctionScheduleFailedEventDetails
		return aws.ToString(d.Error), aws.ToString(d.Cause), true
	case e.LambdaFunctionStartFailedEventDetails != nil:
		d := e.LambdaFunctionStartFailedEventDetails
		return aws.ToString(d.Error), aws.ToString(d.Cause), true
	case e.TaskFailedEventDetails != nil:
		d := e.TaskFailedEventDetails
		return aws.ToString(d.Error), aws.ToString(d.Cause), true
	case e.TaskTimedOutEventDetails != nil:
		d := e.TaskTimedOutEventDetails
		return aws.ToString(d.Error), aws.ToString(d.Cause), true
	case e.TaskStartFailedEventDetails != nil:
		d := e.TaskStartFailedEventDetails
		return aws.ToString(d.Error), aws.ToString(d.Cause), true
	case e.TaskSubmitFailedEventDetails != nil:
		d := e.TaskSubmitFailedEventDetails
		return aws.ToString(d.Error), aws.ToString(d.Cause), true
	case e.ActivityFailedEventDetails != nil:
		d := e.ActivityFailedEventDetails
		return aws.ToString(d.Error), aws.ToString(d.Cause), true
	case e.ActivityTimedOutEventDetails != nil:
		d := e.ActivityTimedOutEventDetails
		return aws.ToString(d.Error), aws.ToString(d.Cause), true
	case e.ActivityScheduleFailedEventDetails != nil:
		d := e.ActivityScheduleFailedEventDetails
		return aws.ToString(d.Error), aws.ToString(d.Cause), true
	case e.MapRunFailedEventDetails != nil:
		d := e.MapRunFailedEventDetails
		return aws.ToString(d.Error), aws.ToString(d.Cause), true
	case e.ExecutionFailedEventDetails != nil:
		d := e.ExecutionFailedEventDetails
		return aws.ToString(d.Error), aws.ToString(d.Cause), true
	case e.ExecutionTimedOutEventDetails != nil:
		d := e.ExecutionTimedOutEventDetails
		return aws.ToString(d.Error), aws.ToString(d.Cause), true
	case e.ExecutionAbortedEventDetails != nil:
		d := e.ExecutionAbortedEventDetails
		return aws.ToString(d.Error), aws.ToString(d.Cause), true
	case e.EvaluationFailedEventDetails != nil:
		d := e.EvaluationFailedEventDetails
		return aws.ToString(d.Error), aws.ToString(d.Cause), true
	}
	return "", "", false
}

// IsFailureEvent says the event records a failure, time-out or abort.
func IsFailureEvent(t types.HistoryEventType) bool {
	s := string(t)
	return strings.HasSuffix(s, "Failed") || strings.HasSuffix(s, "TimedOut") || strings.HasSuffix(s, "Aborted")
}

// isLeaf says the event is the failure of the work a state did (a Lambda,
// a task, an activity or a Map Run), rather than of a state or execution.
func isLeaf(t types.HistoryEventType) bool {
	switch t {
	case types.HistoryEventTypeLambdaFunctionFailed, types.HistoryEventTypeLambdaFunctionTimedOut,
		types.HistoryEventTypeLambdaFunctionScheduleFailed, types.HistoryEventTypeLambdaFunctionStartFailed,
		types.HistoryEventTypeTaskFailed, types.HistoryEventTypeTaskTimedOut, types.HistoryEventTypeTaskStartFailed,
		types.HistoryEventTypeTaskSubmitFailed, types.HistoryEventTypeActivityFailed, types.HistoryEventTypeActivityTimedOut,
		types.HistoryEventTypeActivityScheduleFailed, types.HistoryEventTypeMapRunFailed:
		return true
	}
	return false
}

func isEntered(t types.HistoryEventType) bool { return strings.HasSuffix(string(t), "StateEntered") }
func isExited(t types.HistoryEventType) bool  { return strings.HasSuffix(string(t), "StateExited") }

// failureFinder consumes history newest first and knows when it has seen
// enough to say why the execution failed.
type failureFinder struct {
	f         Failure
	execSeen  bool
	leaf      *types.HistoryEvent
	chase     int64 // the event id whose state is still to be found
	resolved  bool
	exited    map[string]int
	unmatched string
	mapFailed bool
	done      bool
}

func (ff *failureFinder) add(e types.HistoryEvent) bool {
	t := e.Type
	switch {
	case t == types.HistoryEventTypeExecutionFailed || t == types.HistoryEventTypeExecutionTimedOut || t == types.HistoryEventTypeExecutionAborted:
		if !ff.execSeen {
			ff.execSeen = true
			n, c, _ := EventError(e)
			ff.f.setCause(n, c)
			ff.f.EventID, ff.f.Time = e.Id, e.Timestamp
			switch {
			case t == types.HistoryEventTypeExecutionTimedOut:
				ff.f.Kind = KindTimeout
			case t == types.HistoryEventTypeExecutionAborted:
				ff.f.Kind = KindAborted
			case n == "States.Runtime":
				ff.f.Kind = KindRuntime
			default:
				ff.f.Kind = KindExecution
			}
		}
	case t == types.HistoryEventTypeMapIterationFailed || t == types.HistoryEventTypeMapIterationAborted:
		if d := e.MapIterationFailedEventDetails; d != nil && ff.leaf == nil && !ff.mapFailed {
			ff.mapFailed = true
			ff.f.MapState = aws.ToString(d.Name)
			i := int(d.Index)
			ff.f.MapIndex = &i
		}
	case isLeaf(t) && ff.leaf == nil && ff.unmatched == "" || isLeaf(t) && ff.leaf == nil && ff.mapFailed:
		ev := e
		ff.leaf = &ev
		ff.chase = e.PreviousEventId
		n, c, _ := EventError(e)
		ff.f.setCause(n, c)
		ff.f.EventID, ff.f.Time = e.Id, e.Timestamp
		switch {
		case strings.HasSuffix(string(t), "TimedOut") || n == "States.Timeout":
			ff.f.Kind = KindTimeout
		case t == types.HistoryEventTypeMapRunFailed:
			ff.f.Kind = KindMapRun
		case strings.HasPrefix(string(t), "LambdaFunction"),
			e.TaskFailedEventDetails != nil && aws.ToString(e.TaskFailedEventDetails.ResourceType) == "lambda":
			ff.f.Kind = KindLambda
		default:
			ff.f.Kind = KindTask
		}
		if ff.mapFailed && ff.f.Kind != KindTimeout {
			ff.f.Kind = KindMapIteration
		}
	}
	if ff.leaf != nil && !ff.resolved && e.Id == ff.chase {
		if isEntered(t) && e.StateEnteredEventDetails != nil {
			ff.f.State = aws.ToString(e.StateEnteredEventDetails.Name)
			ff.resolved = true
		} else {
			ff.chase = e.PreviousEventId
		}
	}
	if isExited(t) && e.StateExitedEventDetails != nil {
		if ff.exited == nil {
			ff.exited = map[string]int{}
		}
		ff.exited[aws.ToString(e.StateExitedEventDetails.Name)]++
	}
	if isEntered(t) && e.StateEnteredEventDetails != nil && ff.unmatched == "" {
		name := aws.ToString(e.StateEnteredEventDetails.Name)
		if ff.exited[name] > 0 {
			ff.exited[name]--
		} else {
			ff.unmatched = name
		}
	}
	switch {
	case ff.leaf != nil:
		ff.done = ff.resolved
	case ff.mapFailed:
		ff.done = false // a failed iteration's work failed further back
	case ff.unmatched != "" && ff.execSeen:
		ff.done = true
	}
	return ff.done
}

func (ff *failureFinder) result() *Failure {
	if !ff.execSeen && ff.leaf == nil {
		return nil
	}
	f := ff.f
	if f.State == "" {
		f.State = ff.unmatched
	}
	if f.State == "" && f.MapState != "" {
		f.State = f.MapState
	}
	return &f
}

// FindFailure reads the history newest first, without execution data, and
// stops as soon as it knows the failing state. It returns nil when the
// history records no failure.
func FindFailure(ctx context.Context, api API, arn string) (*Failure, error) {
	ff := &failureFinder{}
	_, err := History(ctx, api, arn, HistoryOptions{Reverse: true, Stop: ff.add})
	if err != nil {
		return nil, err
	}
	return ff.result(), nil
}

// FailureOf finds the failure in events given oldest first.
func FailureOf(events []types.HistoryEvent) *Failure {
	ff := &failureFinder{}
	for i := len(events) - 1; i >= 0; i-- {
		if ff.add(events[i]) {
			break
		}
	}
	return ff.result()
}

// Step is one state of the path an execution took.
type Step struct {
	Name    string        `json:"name"`
	Type    string        `json:"type"`
	Entered time.Time     `json:"entered"`
	Exited  *time.Time    `json:"exited,omitempty"`
	Elapsed time.Duration `json:"elapsed_ns"`
	Status  string        `json:"status"` // succeeded, failed, running
	// Map iterations, for a Map state.
	Iterations *Iterations `json:"iterations,omitempty"`
}

// Iterations summarise a Map state's iterations.
type Iterations struct {
	Started   int           `json:"started"`
	Succeeded int           `json:"succeeded"`
	Failed    int           `json:"failed"`
	Aborted   int           `json:"aborted"`
	Longest   time.Duration `json:"longest_ns"`
}

// Path is the top-level states an execution went through, oldest first,
// with the states run inside Map iterations summarised on their Map state.
// events are oldest first; failed names the failing state (may be empty).
func Path(events []types.HistoryEvent, failed string, now time.Time) []Step {
	var steps []Step
	open := map[string]int{} // state name -> index of its open step
	depth := 0
	mapIdx := -1
	iterStart := map[int32]time.Time{}
	for _, e := range events {
		ts := aws.ToTime(e.Timestamp)
		t := e.Type
		switch {
		case t == types.HistoryEventTypeMapStateStarted:
			depth++
		case t == types.HistoryEventTypeMapStateSucceeded || t == types.HistoryEventTypeMapStateFailed || t == types.HistoryEventTypeMapStateAborted:
			depth = max(depth-1, 0)
		case t == types.HistoryEventTypeMapIterationStarted && mapIdx >= 0:
			mapStep := &steps[mapIdx]
			mapStep.Iterations.Started++
			if d := e.MapIterationStartedEventDetails; d != nil {
				iterStart[d.Index] = ts
			}
		case (t == types.HistoryEventTypeMapIterationSucceeded || t == types.HistoryEventTypeMapIterationFailed || t == types.HistoryEventTypeMapIterationAborted) && mapIdx >= 0:
			mapStep := &steps[mapIdx]
			var idx int32
			switch {
			case e.MapIterationSucceededEventDetails != nil:
				idx = e.MapIterationSucceededEventDetails.Index
				mapStep.Iterations.Succeeded++
			case e.MapIterationFailedEventDetails != nil:
				idx = e.MapIterationFailedEventDetails.Index
				mapStep.Iterations.Failed++
			case e.MapIterationAbortedEventDetails != nil:
				idx = e.MapIterationAbortedEventDetails.Index
				mapStep.Iterations.Aborted++
			}
			if st, ok := iterStart[idx]; ok && ts.Sub(st) > mapStep.Iterations.Longest {
				mapStep.Iterations.Longest = ts.Sub(st)
			}
		case isEntered(t) && depth == 0 && e.StateEnteredEventDetails != nil:
			name := aws.ToString(e.StateEnteredEventDetails.Name)
			s := Step{Name: name, Type: strings.TrimSuffix(string(t), "StateEntered"), Entered: ts, Status: "running"}
			if s.Type == "Map" {
				s.Iterations = &Iterations{}
			}
			steps = append(steps, s)
			open[name] = len(steps) - 1
			if s.Type == "Map" {
				mapIdx = len(steps) - 1
				iterStart = map[int32]time.Time{}
			}
		case isExited(t) && depth == 0 && e.StateExitedEventDetails != nil:
			name := aws.ToString(e.StateExitedEventDetails.Name)
			if i, ok := open[name]; ok {
				x := ts
				steps[i].Exited, steps[i].Status = &x, "succeeded"
				delete(open, name)
			}
		}
	}
	for i := range steps {
		s := &steps[i]
		end := now
		if s.Exited != nil {
			end = *s.Exited
		}
		s.Elapsed = end.Sub(s.Entered)
		if s.Exited == nil && (s.Name == failed || s.Type == "Fail") {
			s.Status = "failed"
		}
	}
	return steps
}

// Event is one history event, flattened for display.
type Event struct {
	ID      int64         `json:"id"`
	Time    time.Time     `json:"timestamp"`
	Elapsed time.Duration `json:"elapsed_ns"`
	Type    string        `json:"type"`
	State   string        `json:"state,omitempty"`
	Error   string        `json:"error,omitempty"`
	Cause   string        `json:"cause,omitempty"`
	Failure bool          `json:"failure"`
}

// Events flattens events (oldest first), naming the state each belongs to
// by following previousEventId back to a StateEntered event.
func Events(events []types.HistoryEvent) []Event {
	state := map[int64]string{}
	var start time.Time
	out := make([]Event, 0, len(events))
	for i, e := range events {
		ts := aws.ToTime(e.Timestamp)
		if i == 0 {
			start = ts
		}
		name := state[e.PreviousEventId]
		if isEntered(e.Type) && e.StateEnteredEventDetails != nil {
			name = aws.ToString(e.StateEnteredEventDetails.Name)
		}
		if isExited(e.Type) && e.StateExitedEventDetails != nil {
			name = aws.ToString(e.StateExitedEventDetails.Name)
		}
		if e.MapIterationFailedEventDetails != nil {
			name = aws.ToString(e.MapIterationFailedEventDetails.Name)
		}
		if strings.HasPrefix(string(e.Type), "Execution") {
			name = ""
		}
		state[e.Id] = name
		ev := Event{ID: e.Id, Time: ts, Elapsed: ts.Sub(start), Type: string(e.Type), State: name, Failure: IsFailureEvent(e.Type)}
		ev.Error, ev.Cause, _ = EventError(e)
		out = append(out, ev)
	}
	return out
}
