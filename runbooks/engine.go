package runbooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/nexus-compliance/nexus/aws/cw"
	"github.com/nexus-compliance/nexus/aws/dynamo"
	"github.com/nexus-compliance/nexus/aws/logs"
	"github.com/nexus-compliance/nexus/aws/queue"
	"github.com/nexus-compliance/nexus/aws/sfnx"
	"github.com/nexus-compliance/nexus/commands/settings"
	"github.com/nexus-compliance/nexus/pipeline"
)

// DynamoAPI is the DynamoDB calls the probes and actions make;
// *dynamodb.Client implements it.
type DynamoAPI interface {
	dynamo.PagerAPI
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	UpdateTable(ctx context.Context, in *dynamodb.UpdateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTableOutput, error)
}

var _ DynamoAPI = (*dynamodb.Client)(nil)

// Deps are the clients and environment a run uses. Clients are built on
// first use, so a runbook that never reads Step Functions needs no SFN access.
type Deps struct {
	Env      *settings.Environment
	SQS      func(context.Context) (queue.API, error)
	DynamoDB func(context.Context) (DynamoAPI, error)
	SFN      func(context.Context) (sfnx.API, error)
	// CloudWatch reads metrics.
	CloudWatch func(context.Context) (cw.API, error)
	ECS        func(context.Context) (ECSAPI, error)
	Logs       func(context.Context) (logs.API, error)
	// HTTPClient sends the /health and /ready probes (nil: the default client).
	HTTPClient *http.Client
	// QueryPoll is how often a Logs Insights query is polled (0: every second).
	QueryPoll time.Duration
	Now       func() time.Time
	// Confirm asks before an act; nil means nobody can be asked, so acts
	// need Yes.
	Confirm func(question string) (bool, error)
	// Out receives the step-by-step progress (✓/!/✗ lines); nil for none.
	Out io.Writer
}

// Options shape one run.
type Options struct {
	Params Values
	DryRun bool
	Yes    bool
	// FromStep (1-based) skips the acts and notes before it; checks and
	// decisions before it still run, since later steps need their findings.
	FromStep int
}

// Statuses of a step.
const (
	StatusOK      = "ok"
	StatusWarn    = "warn"    // a problem, or something worth attention
	StatusFail    = "fail"    // the step itself failed (a call was refused, an act failed)
	StatusSkipped = "skipped" // its condition was false, or --from-step
)

// Overall results of a run.
const (
	ResultHealthy  = "healthy"  // exit 0
	ResultProblems = "problems" // exit 3: problems found or left unfixed
	ResultFailed   = "failed"   // exit 1: the runbook could not run to the end
)

// Item is one thing a probe found or an act touched.
type Item struct {
	JobID        string `json:"job_id,omitempty"`
	MessageID    string `json:"message_id,omitempty"`
	ExecutionARN string `json:"execution_arn,omitempty"`
	Status       string `json:"status,omitempty"`
	Age          string `json:"age,omitempty"`
	Detail       string `json:"detail,omitempty"`
	Problem      bool   `json:"problem,omitempty"`
	// Resource names the AWS resource of a non-job item (a table, an index,
	// a service, a model, a stage).
	Resource string `json:"resource,omitempty"`

	job   *pipeline.Job
	table *tableThrottle
	exec  *sfnx.Execution
	// retryLimit, when set, says why requeue-job must leave this job alone.
	retryLimit string
}

// Change is one mutating call an act made (or, under --dry-run, would make).
type Change struct {
	Step   string `json:"step"`
	Action string `json:"action"`
	Target string `json:"target"`
	Result string `json:"result"` // "ok", "failed: …", "would", "declined"
}

// StepResult is what one step found or did.
type StepResult struct {
	N        int      `json:"n"`
	ID       string   `json:"id"`
	Kind     string   `json:"kind"`
	Title    string   `json:"title"`
	Probe    string   `json:"probe,omitempty"`
	Action   string   `json:"action,omitempty"`
	Status   string   `json:"status"`
	Summary  string   `json:"summary"`
	Evidence []string `json:"evidence,omitempty"`
	// Count is what conditions compare: the problems a check found, or the
	// targets of an act.
	Count    int      `json:"count"`
	Items    []Item   `json:"items,omitempty"`
	Changes  []Change `json:"changes,omitempty"`
	Resolved bool     `json:"resolved,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// Report is the result of a run.
type Report struct {
	Runbook     string         `json:"runbook"`
	Title       string         `json:"title"`
	Environment string         `json:"environment"`
	Params      map[string]any `json:"parameters"`
	DryRun      bool           `json:"dry_run"`
	Result      string         `json:"result"`
	Steps       []StepResult   `json:"steps"`
	// Problems counts the findings left unfixed.
	Problems int      `json:"problems"`
	Changes  []Change `json:"changes"`
	Error    string   `json:"error,omitempty"`
}

// ErrDeclined is returned by an act the operator said no to.
var ErrDeclined = errors.New("declined")

// run is the state of one run.
type run struct {
	ctx  context.Context
	deps Deps
	opts Options
	rb   *Runbook
	res  map[string]*StepResult

	// sqs is the resolved queues, once per run: probes and acts ask for
	// them per job, and each resolution is a GetQueueUrl call.
	sqs *resolvedQueues
	// tables holds the DescribeTable answers of the run, by table name.
	tables map[string]describedTable
}

type resolvedQueues struct {
	api             queue.API
	mainURL, dlqURL string
}

// Run executes rb. The returned report is complete even when a step fails;
// its Result says how the run ended. Run returns an error only for a
// misuse it can detect before doing anything (acts without --yes and no one
// to ask).
func Run(ctx context.Context, rb *Runbook, deps Deps, opts Options) (*Report, error) {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if !opts.DryRun && !opts.Yes && deps.Confirm == nil && rb.hasActs(opts.FromStep) {
		return nil, fmt.Errorf("runbook %s changes things and nexus cannot ask here (not a terminal): preview with --dry-run, then run again with --yes", rb.Name)
	}
	if opts.FromStep < 0 || opts.FromStep > len(rb.Steps) {
		return nil, fmt.Errorf("--from-step %d: runbook %s has steps 1 to %d", opts.FromStep, rb.Name, len(rb.Steps))
	}
	r := &run{ctx: ctx, deps: deps, opts: opts, rb: rb, res: map[string]*StepResult{}}
	rep := &Report{Runbook: rb.Name, Title: rb.Title, DryRun: opts.DryRun, Params: map[string]any{}, Changes: []Change{}}
	if deps.Env != nil {
		rep.Environment = deps.Env.Name
	}
	for k, v := range opts.Params {
		if d, ok := v.(time.Duration); ok {
			v = d.String()
		}
		rep.Params[k] = v
	}
	r.printf("Runbook %s: %s%s\n", rb.Name, rb.Title, map[bool]string{true: " (dry run: nothing will be changed)"}[opts.DryRun])
	failed, stopped := false, false
	for i, s := range rb.Steps {
		sr := &StepResult{N: i + 1, ID: s.ID, Kind: s.Kind, Title: r.expand(s.Title), Probe: s.Probe, Action: s.Action}
		r.res[s.ID] = sr
		rep.Steps = append(rep.Steps, *sr) // replaced below
		stop := r.step(i, s, sr)
		rep.Steps[i] = *sr
		r.print(sr, len(rb.Steps))
		rep.Changes = append(rep.Changes, sr.Changes...)
		if sr.Status == StatusFail && sr.Kind != KindAct {
			stopped, rep.Error = true, fmt.Sprintf("step %d (%s): %s", sr.N, sr.ID, sr.Error)
			break
		}
		if sr.Status == StatusFail {
			failed = true
			if rep.Error == "" {
				rep.Error = fmt.Sprintf("step %d (%s): %s", sr.N, sr.ID, sr.Error)
			}
		}
		if stop {
			break
		}
	}
	for _, sr := range rep.Steps {
		if sr.Kind == KindCheck && !r.res[sr.ID].Resolved {
			rep.Problems += problems(r.res[sr.ID])
		}
	}
	for i := range rep.Steps {
		rep.Steps[i].Resolved = r.res[rep.Steps[i].ID].Resolved
	}
	switch {
	case stopped:
		rep.Result = ResultFailed
	case rep.Problems > 0 || failed:
		rep.Result = ResultProblems
	default:
		rep.Result = ResultHealthy
	}
	r.summary(rep)
	return rep, nil
}

func problems(sr *StepResult) int {
	n := 0
	for _, it := range sr.Items {
		if it.Problem {
			n++
		}
	}
	return n
}

func (rb *Runbook) hasActs(from int) bool {
	for i, s := range rb.Steps {
		if s.Kind == KindAct && i+1 >= from {
			return true
		}
	}
	return false
}

// step runs one step; it reports whether the run stops after it.
func (r *run) step(i int, s Step, sr *StepResult) bool {
	before := r.opts.FromStep > 0 && i+1 < r.opts.FromStep
	if before && (s.Kind == KindAct || s.Kind == KindNote) {
		sr.Status, sr.Summary = StatusSkipped, fmt.Sprintf("before --from-step %d", r.opts.FromStep)
		return false
	}
	if s.When != nil && s.Kind != KindDecide {
		if ok, why := r.cond(s.When); !ok {
			sr.Status, sr.Summary = StatusSkipped, "not needed: "+why
			return false
		}
	}
	if s.Unless != nil {
		if hold, why := r.cond(s.Unless); hold {
			sr.Status, sr.Summary = StatusSkipped, "held back: "+why
			return false
		}
	}
	switch s.Kind {
	case KindNote:
		sr.Status, sr.Summary = StatusOK, r.expand(s.Message)
	case KindDecide:
		ok, why := r.cond(s.When)
		sr.Status, sr.Summary = StatusOK, why
		if ok {
			sr.Status, sr.Count = StatusWarn, 1
			if s.Message != "" {
				sr.Summary = r.expand(s.Message) + " (" + why + ")"
			}
			return false
		}
		if s.Stop {
			sr.Summary += "; nothing more to do"
			return true
		}
	case KindCheck:
		err := probes[s.Probe].run(r, s, sr)
		if err != nil {
			sr.Status, sr.Error = StatusFail, describe(err)
			sr.Summary = "could not check: " + sr.Error
			return false
		}
		if sr.Count == 0 {
			sr.Count = problems(sr)
		}
		if s.Advisory {
			for i := range sr.Items {
				sr.Items[i].Problem = false
			}
		}
		if sr.Status == "" {
			sr.Status = StatusOK
			if sr.Count > 0 {
				sr.Status = StatusWarn
			}
		}
	case KindAct:
		r.act(s, sr)
	}
	return false
}

// cond evaluates a condition and says why in words.
func (r *run) cond(c *Condition) (bool, string) {
	n := 0
	if sr := r.res[c.Step]; sr != nil {
		n = sr.Count
	}
	var ok bool
	switch c.Op {
	case "gt":
		ok = n > c.Value
	case "ge":
		ok = n >= c.Value
	case "lt":
		ok = n < c.Value
	case "le":
		ok = n <= c.Value
	case "eq":
		ok = n == c.Value
	case "ne":
		ok = n != c.Value
	}
	sym := map[string]string{"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "eq": "==", "ne": "!="}[c.Op]
	verdict := "true"
	if !ok {
		verdict = "false"
	}
	return ok, fmt.Sprintf("%s.count = %d, %s %d is %s", c.Step, n, sym, c.Value, verdict)
}

// act plans an act, asks, and carries it out. Plan entries with a skip
// reason are reported but never applied, and keep the act from resolving
// the problems it names.
func (r *run) act(s Step, sr *StepResult) {
	a := actions[s.Action]
	all, err := a.plan(r, s)
	if err != nil {
		sr.Status, sr.Error, sr.Summary = StatusFail, describe(err), "could not plan: "+describe(err)
		return
	}
	var plan []planned
	for _, p := range all {
		if p.skip == "" {
			plan = append(plan, p)
			continue
		}
		sr.Changes = append(sr.Changes, Change{Step: s.ID, Action: s.Action, Target: p.target, Result: "skipped: " + p.skip})
		sr.Evidence = append(sr.Evidence, "left alone: "+p.describe+": "+p.skip)
	}
	left := len(all) - len(plan)
	sr.Count = len(plan)
	if len(plan) == 0 {
		sr.Status, sr.Summary = StatusOK, "nothing to do"
		if left > 0 {
			sr.Status, sr.Summary = StatusWarn, fmt.Sprintf("nothing it can do: %d left alone", left)
			return
		}
		r.resolve(s)
		return
	}
	if r.opts.DryRun {
		sr.Status, sr.Summary = StatusWarn, fmt.Sprintf("dry run: would %s (%d)", a.verb, len(plan))
		for _, p := range plan {
			sr.Changes = append(sr.Changes, Change{Step: s.ID, Action: s.Action, Target: p.target, Result: "would"})
			sr.Evidence = append(sr.Evidence, "would "+p.describe)
		}
		return
	}
	if !r.opts.Yes {
		var lines []string
		for _, p := range plan {
			lines = append(lines, "  "+p.describe)
		}
		q := fmt.Sprintf("Step %d (%s): %s in environment %q:\n%s\nGo ahead?", sr.N, s.ID, a.verb, r.envName(), strings.Join(lines, "\n"))
		ok, err := r.deps.Confirm(q)
		if err != nil || !ok {
			sr.Status, sr.Summary = StatusWarn, "declined; nothing changed"
			for _, p := range plan {
				sr.Changes = append(sr.Changes, Change{Step: s.ID, Action: s.Action, Target: p.target, Result: "declined"})
			}
			return
		}
	}
	done, bad := 0, 0
	results := a.apply(r, s, plan)
	for i, p := range plan {
		res := "ok"
		if results[i] != nil {
			res, bad = "failed: "+describe(results[i]), bad+1
		} else {
			done++
		}
		sr.Changes = append(sr.Changes, Change{Step: s.ID, Action: s.Action, Target: p.target, Result: res})
		sr.Evidence = append(sr.Evidence, p.describe+": "+res)
	}
	sr.Summary = fmt.Sprintf("%s: %d done, %d failed", a.verb, done, bad)
	if left > 0 {
		sr.Summary += fmt.Sprintf(", %d left alone", left)
	}
	if bad > 0 {
		sr.Status, sr.Error = StatusFail, fmt.Sprintf("%d of %d failed", bad, len(plan))
		return
	}
	sr.Status = StatusOK
	if left > 0 {
		sr.Status = StatusWarn
		return
	}
	r.resolve(s)
}

func (r *run) resolve(s Step) {
	for _, id := range s.Resolves {
		if sr := r.res[id]; sr != nil {
			sr.Resolved = true
		}
	}
}

func (r *run) envName() string {
	if r.deps.Env == nil {
		return ""
	}
	return r.deps.Env.Name
}

// expand replaces ${param} in text.
func (r *run) expand(text string) string {
	return paramRE.ReplaceAllStringFunc(text, func(m string) string {
		v := r.opts.Params[m[2:len(m)-1]]
		if d, ok := v.(time.Duration); ok {
			return d.String()
		}
		return fmt.Sprint(v)
	})
}

// arg returns the argument k of a step, with ${param} resolved to its typed
// value when the whole string is one reference.
func (r *run) arg(s Step, k string) (any, bool) {
	v, ok := s.With[k]
	if !ok {
		return nil, false
	}
	if str, isStr := v.(string); isStr {
		if m := paramRE.FindStringSubmatch(str); m != nil && m[0] == str {
			return r.opts.Params[m[1]], true
		}
		return r.expand(str), true
	}
	return v, true
}

func (r *run) argString(s Step, k, def string) string {
	if v, ok := r.arg(s, k); ok {
		return fmt.Sprint(v)
	}
	return def
}

func (r *run) argInt(s Step, k string, def int) int {
	v, ok := r.arg(s, k)
	if !ok {
		return def
	}
	switch x := v.(type) {
	case int:
		return x
	case float64:
		return int(x)
	}
	return def
}

func (r *run) argDuration(s Step, k string, def time.Duration) time.Duration {
	v, ok := r.arg(s, k)
	if !ok {
		return def
	}
	switch x := v.(type) {
	case time.Duration:
		return x
	case string:
		if d, err := time.ParseDuration(x); err == nil {
			return d
		}
	}
	return def
}

// jobItems returns the job items of step with.jobs, less the job ids found
// by the steps of with.except.
func (r *run) jobItems(s Step) []Item {
	ref, _ := s.With["jobs"].(string)
	src := r.res[ref]
	if src == nil {
		return nil
	}
	skip := r.exceptJobs(s)
	var out []Item
	for _, it := range src.Items {
		if it.JobID != "" && !skip[it.JobID] {
			out = append(out, it)
		}
	}
	return out
}

func (r *run) exceptJobs(s Step) map[string]bool {
	skip := map[string]bool{}
	refs, _ := s.With["except"].([]any)
	for _, ref := range refs {
		id, _ := ref.(string)
		if sr := r.res[id]; sr != nil {
			for _, it := range sr.Items {
				if it.JobID != "" {
					skip[it.JobID] = true
				}
			}
		}
	}
	return skip
}

func (r *run) printf(format string, a ...any) {
	if r.deps.Out != nil {
		fmt.Fprintf(r.deps.Out, format, a...)
	}
}

func mark(status string) string {
	switch status {
	case StatusOK:
		return "✓"
	case StatusWarn:
		return "!"
	case StatusFail:
		return "✗"
	}
	return "-"
}

func (r *run) print(sr *StepResult, total int) {
	r.printf("%s [%d/%d] %s: %s\n", mark(sr.Status), sr.N, total, sr.Title, sr.Summary)
	for _, e := range sr.Evidence {
		r.printf("      %s\n", e)
	}
}

func (r *run) summary(rep *Report) {
	if r.deps.Out == nil {
		return
	}
	changed := 0
	for _, c := range rep.Changes {
		if c.Result == "ok" {
			changed++
		}
	}
	r.printf("\nSummary: %s", rep.Result)
	switch rep.Result {
	case ResultHealthy:
		r.printf(" — no problem left")
	case ResultProblems:
		r.printf(" — %d problem(s) left unfixed", rep.Problems)
	case ResultFailed:
		r.printf(" — %s", rep.Error)
	}
	r.printf("\n")
	if rep.DryRun {
		r.printf("Dry run: %d change(s) planned, none made. Run again with --yes to apply them.\n", len(rep.Changes))
	} else {
		r.printf("Changed: %d\n", changed)
	}
	byAct := map[string]int{}
	for _, c := range rep.Changes {
		if c.Result == "ok" || c.Result == "would" {
			byAct[c.Action]++
		}
	}
	keys := make([]string, 0, len(byAct))
	for k := range byAct {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r.printf("  %s: %d\n", k, byAct[k])
	}
}
