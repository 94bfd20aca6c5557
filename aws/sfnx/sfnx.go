// Package sfnx is a thin typed layer over the Step Functions API for the
// mapping state machine: listing failed executions, describing one with its
// job message, reading history and finding why it failed, and redriving.
package sfnx

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
)

// API is the part of the Step Functions client nexus calls.
type API interface {
	ListExecutions(context.Context, *sfn.ListExecutionsInput, ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error)
	DescribeExecution(context.Context, *sfn.DescribeExecutionInput, ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	GetExecutionHistory(context.Context, *sfn.GetExecutionHistoryInput, ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error)
	RedriveExecution(context.Context, *sfn.RedriveExecutionInput, ...func(*sfn.Options)) (*sfn.RedriveExecutionOutput, error)
}

var _ API = (*sfn.Client)(nil)

// DefaultConcurrency bounds the per-execution calls made at once.
const DefaultConcurrency = 8

// FailedStatuses are the terminal statuses that are not success.
var FailedStatuses = []types.ExecutionStatus{types.ExecutionStatusFailed, types.ExecutionStatusTimedOut, types.ExecutionStatusAborted}

// ParseStatuses reads "FAILED,TIMED_OUT" (any case).
func ParseStatuses(s string) ([]types.ExecutionStatus, error) {
	var out []types.ExecutionStatus
	known := types.ExecutionStatus("").Values()
	for _, p := range strings.Split(s, ",") {
		p = strings.ToUpper(strings.TrimSpace(p))
		if p == "" {
			continue
		}
		ok := false
		for _, k := range known {
			if string(k) == p {
				ok = true
			}
		}
		if !ok {
			return nil, fmt.Errorf("unknown execution status %q: use %s", p, joinStatuses(known))
		}
		out = append(out, types.ExecutionStatus(p))
	}
	if len(out) == 0 {
		return nil, errors.New("no status given")
	}
	return out, nil
}

func joinStatuses(ss []types.ExecutionStatus) string {
	var b []string
	for _, s := range ss {
		b = append(b, string(s))
	}
	return strings.Join(b, ", ")
}

// Summary is one execution as ListExecutions returns it.
type Summary struct {
	ARN          string     `json:"execution_arn"`
	Name         string     `json:"name"`
	Status       string     `json:"status"`
	Start        time.Time  `json:"start_date"`
	Stop         *time.Time `json:"stop_date,omitempty"`
	RedriveCount int        `json:"redrive_count"`
}

func summaryOf(it types.ExecutionListItem) Summary {
	s := Summary{ARN: aws.ToString(it.ExecutionArn), Name: aws.ToString(it.Name), Status: string(it.Status),
		Start: aws.ToTime(it.StartDate), Stop: it.StopDate, RedriveCount: int(aws.ToInt32(it.RedriveCount))}
	return s
}

// When is the stop time, else the start time.
func (s Summary) When() time.Time {
	if s.Stop != nil {
		return *s.Stop
	}
	return s.Start
}

// ListOptions select executions of a state machine.
type ListOptions struct {
	StateMachineARN string
	// Statuses are listed one ListExecutions stream each (the API filters
	// on one status); none lists every status.
	Statuses []types.ExecutionStatus
	// Since stops paging: executions are returned newest start first, so
	// once one started before Since, the rest did too. Executions that
	// stopped before Since are dropped. Zero means no bound.
	Since time.Time
	// Limit caps the merged result (0: no cap).
	Limit int
}

// List returns the matching executions, most recently stopped first.
func List(ctx context.Context, api API, o ListOptions) ([]Summary, error) {
	statuses := o.Statuses
	if len(statuses) == 0 {
		statuses = []types.ExecutionStatus{""}
	}
	var all []Summary
	for _, st := range statuses {
		in := &sfn.ListExecutionsInput{StateMachineArn: aws.String(o.StateMachineARN), StatusFilter: st}
		if o.Limit > 0 && o.Limit < 1000 {
			in.MaxResults = int32(max(o.Limit, 20))
		}
		got := 0
	pages:
		for {
			out, err := api.ListExecutions(ctx, in)
			if err != nil {
				return nil, err
			}
			for _, it := range out.Executions {
				s := summaryOf(it)
				if !o.Since.IsZero() && s.Start.Before(o.Since) {
					if s.Stop != nil && !s.Stop.Before(o.Since) {
						all = append(all, s)
					}
					break pages
				}
				if !o.Since.IsZero() && s.Stop != nil && s.Stop.Before(o.Since) {
					continue
				}
				all = append(all, s)
				got++
			}
			if out.NextToken == nil || (o.Limit > 0 && got >= o.Limit) {
				break
			}
			in.NextToken = out.NextToken
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].When().After(all[j].When()) })
	if o.Limit > 0 && len(all) > o.Limit {
		all = all[:o.Limit]
	}
	return all, nil
}

// Execution is DescribeExecution's answer with the job message read from
// the input.
type Execution struct {
	ARN                 string     `json:"execution_arn"`
	Name                string     `json:"name"`
	StateMachineARN     string     `json:"state_machine_arn"`
	Status              string     `json:"status"`
	Start               time.Time  `json:"start_date"`
	Stop                *time.Time `json:"stop_date,omitempty"`
	Input               string     `json:"input,omitempty"`
	Output              string     `json:"output,omitempty"`
	Error               string     `json:"error,omitempty"`
	Cause               string     `json:"cause,omitempty"`
	RedriveCount        int        `json:"redrive_count"`
	RedriveDate         *time.Time `json:"redrive_date,omitempty"`
	RedriveStatus       string     `json:"redrive_status,omitempty"`
	RedriveStatusReason string     `json:"redrive_status_reason,omitempty"`
	JobID               string     `json:"job_id,omitempty"`
	ControlKey          string     `json:"control_key,omitempty"`
	TargetFrameworkKey  string     `json:"target_framework_key,omitempty"`
}

// Duration is stop (or now) minus start.
func (e *Execution) Duration(now time.Time) time.Duration {
	if e.Stop != nil {
		return e.Stop.Sub(e.Start)
	}
	return now.Sub(e.Start)
}

// Redrivable says whether RedriveExecution may be called on it directly.
func (e *Execution) Redrivable() bool {
	return e.RedriveStatus == string(types.ExecutionRedriveStatusRedrivable)
}

// Describe reads one execution.
func Describe(ctx context.Context, api API, arn string) (*Execution, error) {
	out, err := api.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return nil, err
	}
	e := &Execution{ARN: aws.ToString(out.ExecutionArn), Name: aws.ToString(out.Name), StateMachineARN: aws.ToString(out.StateMachineArn),
		Status: string(out.Status), Start: aws.ToTime(out.StartDate), Stop: out.StopDate, Input: aws.ToString(out.Input),
		Output: aws.ToString(out.Output), Error: aws.ToString(out.Error), Cause: aws.ToString(out.Cause),
		RedriveCount: int(aws.ToInt32(out.RedriveCount)), RedriveDate: out.RedriveDate, RedriveStatus: string(out.RedriveStatus),
		RedriveStatusReason: aws.ToString(out.RedriveStatusReason)}
	e.JobID, e.ControlKey, e.TargetFrameworkKey = JobFields(e.Input)
	return e, nil
}

// JobFields reads job_id, control_key and target_framework_key from an
// execution input (the SQS job message); camelCase is accepted too.
func JobFields(input string) (jobID, controlKey, framework string) {
	var m map[string]any
	if json.Unmarshal([]byte(input), &m) != nil {
		return "", "", ""
	}
	get := func(keys ...string) string {
		for _, k := range keys {
			if s, ok := m[k].(string); ok && s != "" {
				return s
			}
		}
		return ""
	}
	return get("job_id", "jobId", "mapping_id", "mappingId"), get("control_key", "controlKey"), get("target_framework_key", "targetFrameworkKey")
}

// IsNotFound says err is ExecutionDoesNotExist (or StateMachineDoesNotExist).
func IsNotFound(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "ExecutionDoesNotExist" || ae.ErrorCode() == "StateMachineDoesNotExist")
}

// ExecutionARN builds the ARN of the execution called name of a standard
// state machine.
func ExecutionARN(stateMachineARN, name string) (string, error) {
	const sm = ":stateMachine:"
	i := strings.Index(stateMachineARN, sm)
	if i < 0 {
		return "", fmt.Errorf("%q is not a state machine ARN", stateMachineARN)
	}
	return stateMachineARN[:i] + ":execution:" + stateMachineARN[i+len(sm):] + ":" + name, nil
}

// DescribeAll describes executions with bounded concurrency, in order. A
// per-execution error is returned in errs at the same index.
func DescribeAll(ctx context.Context, api API, arns []string, concurrency int) ([]*Execution, []error) {
	out, errs := make([]*Execution, len(arns)), make([]error, len(arns))
	ForEach(ctx, len(arns), concurrency, func(i int) { out[i], errs[i] = Describe(ctx, api, arns[i]) })
	return out, errs
}

// ForEach runs fn(0..n-1) at most concurrency at a time and waits.
func ForEach(ctx context.Context, n, concurrency int, fn func(i int)) {
	if concurrency < 1 {
		concurrency = DefaultConcurrency
	}
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(i)
		}()
	}
	wg.Wait()
}

// FindByJobID looks for the execution of a job: first the execution named
// after the job id, then the recent executions (started since) whose input
// carries job_id. It returns nil, nil when none matches.
func FindByJobID(ctx context.Context, api API, stateMachineARN, jobID string, since time.Time, concurrency int) (*Execution, error) {
	if arn, err := ExecutionARN(stateMachineARN, jobID); err == nil {
		e, err := Describe(ctx, api, arn)
		if err == nil {
			return e, nil
		}
		if !IsNotFound(err) {
			return nil, err
		}
	}
	in := &sfn.ListExecutionsInput{StateMachineArn: aws.String(stateMachineARN)}
	for {
		out, err := api.ListExecutions(ctx, in)
		if err != nil {
			return nil, err
		}
		var arns []string
		done := false
		for _, it := range out.Executions {
			if !since.IsZero() && aws.ToTime(it.StartDate).Before(since) {
				done = true
				break
			}
			arns = append(arns, aws.ToString(it.ExecutionArn))
		}
		execs, errs := DescribeAll(ctx, api, arns, concurrency)
		for i, e := range execs {
			if errs[i] != nil {
				return nil, errs[i]
			}
			if e.JobID == jobID {
				return e, nil
			}
		}
		if done || out.NextToken == nil {
			return nil, ctx.Err()
		}
		in.NextToken = out.NextToken
	}
}

// ClientToken is the RedriveExecution client token for an execution at a
// redrive count: the same execution and count give the same token, so a
// retried command cannot redrive twice, while the next redrive (count+1)
// gets a new one.
func ClientToken(arn string, redriveCount int) string {
	h := sha256.Sum256([]byte(arn + "#" + strconv.Itoa(redriveCount)))
	return "nexus-" + hex.EncodeToString(h[:16])
}

// Redrive calls RedriveExecution with ClientToken(arn, redriveCount).
func Redrive(ctx context.Context, api API, arn string, redriveCount int) (time.Time, error) {
	out, err := api.RedriveExecution(ctx, &sfn.RedriveExecutionInput{ExecutionArn: aws.String(arn), ClientToken: aws.String(ClientToken(arn, redriveCount))})
	if err != nil {
		return time.Time{}, err
	}
	return aws.ToTime(out.RedriveDate), nil
}

// IsNotRedrivable says err is ExecutionNotRedrivable.
func IsNotRedrivable(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ExecutionNotRedrivable"
}

// HistoryOptions shape a history read.
type HistoryOptions struct {
	Reverse     bool
	IncludeData bool
	// Stop, when set, is called for each event in read order; returning
	// true ends the read after that event.
	Stop func(types.HistoryEvent) bool
}

// History reads an execution's events, page by page.
func History(ctx context.Context, api API, arn string, o HistoryOptions) ([]types.HistoryEvent, error) {
	in := &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), ReverseOrder: o.Reverse, IncludeExecutionData: aws.Bool(o.IncludeData)}
	var evs []types.HistoryEvent
	for {
		out, err := api.GetExecutionHistory(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, e := range out.Events {
			evs = append(evs, e)
			if o.Stop != nil && o.Stop(e) {
				return evs, nil
			}
		}
		if out.NextToken == nil {
			return evs, nil
		}
		in.NextToken = out.NextToken
	}
}
