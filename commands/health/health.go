// Package health is `nexus health`: one screen saying whether an
// environment works, from the ECS services to stuck jobs, for operators and
// CI.
package health

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/cw"
	"github.com/nexus-compliance/nexus/aws/dynamo"
	"github.com/nexus-compliance/nexus/aws/ecsx"
	"github.com/nexus-compliance/nexus/aws/queue"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/commands/settings"
	"github.com/nexus-compliance/nexus/pipeline/api/client"
)

// Check statuses, worst last.
const (
	StatusOK   = "OK"
	StatusWarn = "WARN"
	StatusFail = "FAIL"
)

func rank(s string) int {
	switch s {
	case StatusFail:
		return 2
	case StatusWarn:
		return 1
	}
	return 0
}

// Thresholds of the seed's CloudWatch alarms.
const (
	QueueBacklogThreshold = 100  // Queue Backlog: ApproximateNumberOfMessages > 100
	MessageAgeThreshold   = 3600 // Message Age: ApproximateAgeOfOldestMessage > 3600 s
)

// ExecutionsAPI is the Step Functions call the executions check makes.
type ExecutionsAPI interface {
	ListExecutions(ctx context.Context, in *sfn.ListExecutionsInput, optFns ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error)
}

// Options are the inputs of `nexus health`.
type Options struct {
	IO          *iostreams.IOStreams
	Environment func() (*settings.Environment, error)
	Printer     func() (*printer.Printer, error)
	Context     func(parent context.Context) (context.Context, context.CancelFunc)
	Now         func() time.Time
	CloudWatch  func(context.Context) (cw.API, error)
	ECS         func(context.Context) (ecsx.API, error)
	SQS         func(context.Context) (queue.API, error)
	DynamoDB    func(context.Context) (dynamo.PagerAPI, error)
	SFN         func(context.Context) (ExecutionsAPI, error)
	// HTTPClient sends the /health and /ready probes (default http.DefaultClient).
	HTTPClient *http.Client

	Ctx          context.Context
	Only, Skip   []string
	CheckTimeout time.Duration
	HTTPTimeout  time.Duration
	StuckAge     time.Duration
	StuckWarn    int
	StuckFail    int
}

// Check is one line of the report.
type Check struct {
	Name      string `json:"name"`
	Status    string `json:"status"`
	Value     string `json:"value"`
	Threshold string `json:"threshold"`
	Detail    string `json:"detail"`
}

// Report is the output of `nexus health`.
type Report struct {
	Environment string  `json:"environment"`
	Status      string  `json:"status"`
	Checks      []Check `json:"checks"`
}

// checkDef is one check: its name, the group --only/--skip may name instead,
// and the function that runs it.
type checkDef struct {
	name, group string
	run         func(ctx context.Context, o *Options, env *settings.Environment) Check
}

func checks() []checkDef {
	return []checkDef{
		{"ecs-science", "ecs", func(ctx context.Context, o *Options, e *settings.Environment) Check {
			return ecsCheck(ctx, o, e.ECSCluster, e.ScienceService)
		}},
		{"ecs-strands", "ecs", func(ctx context.Context, o *Options, e *settings.Environment) Check {
			return ecsCheck(ctx, o, e.ECSCluster, e.StrandsService)
		}},
		{"science-health", "endpoints", func(ctx context.Context, o *Options, e *settings.Environment) Check {
			return httpCheck(ctx, o, e.ScienceURL, "science_url", false)
		}},
		{"science-ready", "endpoints", func(ctx context.Context, o *Options, e *settings.Environment) Check {
			return httpCheck(ctx, o, e.ScienceURL, "science_url", true)
		}},
		{"strands-health", "endpoints", func(ctx context.Context, o *Options, e *settings.Environment) Check {
			return httpCheck(ctx, o, e.StrandsURL, "strands_url", false)
		}},
		{"strands-ready", "endpoints", func(ctx context.Context, o *Options, e *settings.Environment) Check {
			return httpCheck(ctx, o, e.StrandsURL, "strands_url", true)
		}},
		{"queue-depth", "queue", queueDepthCheck},
		{"queue-age", "queue", queueAgeCheck},
		{"dlq", "queue", dlqCheck},
		{"alarms", "alarms", alarmsCheck},
		{"executions", "executions", executionsCheck},
		{"stuck-jobs", "jobs", stuckJobsCheck},
	}
}

// CheckNames lists the checks and their groups, for --only and --skip.
func CheckNames() []string {
	var names []string
	for _, c := range checks() {
		names = append(names, c.name)
		if !slices.Contains(names, c.group) {
			names = append(names, c.group)
		}
	}
	return names
}

// NewCmd builds `nexus health`.
func NewCmd(f *cmdutil.Factory) *cobra.Command { return NewCmdHealth(f, nil) }

// NewCmdHealth builds `nexus health`. runF replaces healthRun in tests.
func NewCmdHealth(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{
		IO:          f.IOStreams,
		Environment: f.Environment,
		Printer:     f.Printer,
		Context:     f.Context,
		Now:         f.Now,
		CloudWatch:  func(ctx context.Context) (cw.API, error) { return cmdutil.AsAPI[cw.API](f.CloudWatch(ctx)) },
		ECS:         func(ctx context.Context) (ecsx.API, error) { return cmdutil.AsAPI[ecsx.API](f.ECS(ctx)) },
		SQS:         func(ctx context.Context) (queue.API, error) { return cmdutil.AsAPI[queue.API](f.SQS(ctx)) },
		DynamoDB: func(ctx context.Context) (dynamo.PagerAPI, error) {
			return cmdutil.AsAPI[dynamo.PagerAPI](f.DynamoDB(ctx))
		},
		SFN: func(ctx context.Context) (ExecutionsAPI, error) { return cmdutil.AsAPI[ExecutionsAPI](f.SFN(ctx)) },
	}
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Check every part of an environment and say OK, WARN or FAIL",
		Long: `Check the environment in one go, each check on one line:

  ecs-science, ecs-strands    ECS services: desired/running/pending tasks and deployments;
                              FAIL when a stable service runs fewer tasks than desired or
                              a deployment failed
  science-health, -ready      GET /health and /ready of science_url and strands_url
  strands-health, -ready      (WARN "not configured" when the URL is empty)
  queue-depth                 visible messages of MappingRequestQueue (WARN > 100)
  queue-age                   CloudWatch ApproximateAgeOfOldestMessage (WARN > 3600 s)
  dlq                         messages in MappingRequestDLQ (FAIL > 0)
  alarms                      CloudWatch alarms in ALARM (FAIL if any)
  executions                  failed Step Functions executions in the last hour (WARN >= 1)
  stuck-jobs                  PENDING jobs older than --stuck-age (WARN/FAIL thresholds)

Checks run concurrently, each under --check-timeout. A check that cannot ask its service
(no permission, not configured) is WARN with the reason. --only and --skip take check
names or groups (ecs, endpoints, queue, alarms, executions, jobs).

Exit status 3 when any check FAILs.`,
		Example: `  nexus health
  nexus health --env prod -o json
  nexus health --only ecs,endpoints
  nexus health --skip executions,stuck-jobs`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateSelectors(opts.Only, opts.Skip); err != nil {
				return err
			}
			if opts.StuckWarn < 1 || opts.StuckFail < opts.StuckWarn {
				return cmdutil.FlagErrorf("--stuck-warn must be at least 1 and --stuck-fail at least --stuck-warn")
			}
			if opts.CheckTimeout <= 0 || opts.StuckAge <= 0 {
				return cmdutil.FlagErrorf("--check-timeout and --stuck-age must be positive")
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return healthRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&opts.Only, "only", nil, "run only these checks or groups (comma-separated)")
	fl.StringSliceVar(&opts.Skip, "skip", nil, "skip these checks or groups (comma-separated)")
	fl.DurationVar(&opts.CheckTimeout, "check-timeout", 15*time.Second, "time limit of each check")
	fl.DurationVar(&opts.HTTPTimeout, "http-timeout", 5*time.Second, "time limit of each /health and /ready request")
	fl.DurationVar(&opts.StuckAge, "stuck-age", 30*time.Minute, "a PENDING job older than this is stuck")
	fl.IntVar(&opts.StuckWarn, "stuck-warn", 1, "WARN at this many stuck jobs")
	fl.IntVar(&opts.StuckFail, "stuck-fail", 10, "FAIL at this many stuck jobs")
	completeNames := cobra.FixedCompletions(CheckNames(), cobra.ShellCompDirectiveNoFileComp)
	_ = cmd.RegisterFlagCompletionFunc("only", completeNames)
	_ = cmd.RegisterFlagCompletionFunc("skip", completeNames)
	return cmd
}

func validateSelectors(lists ...[]string) error {
	known := CheckNames()
	for _, l := range lists {
		for _, s := range l {
			if !slices.Contains(known, strings.TrimSpace(s)) {
				return cmdutil.FlagErrorf("unknown check %q: use one of %s", s, strings.Join(known, ", "))
			}
		}
	}
	return nil
}

func selected(c checkDef, only, skip []string) bool {
	match := func(l []string) bool {
		for _, s := range l {
			s = strings.TrimSpace(s)
			if s == c.name || s == c.group {
				return true
			}
		}
		return false
	}
	if len(only) > 0 && !match(only) {
		return false
	}
	return !match(skip)
}

func healthRun(opts *Options) error {
	ctx, cancel := opts.Context(opts.Ctx)
	defer cancel()
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	env, err := opts.Environment()
	if err != nil {
		return err
	}
	r := Run(ctx, opts, env)
	if err := p.Print(r, func() printer.Table { return table(r) }); err != nil {
		return err
	}
	var failed []string
	for _, c := range r.Checks {
		if c.Status == StatusFail {
			failed = append(failed, c.Name)
		}
	}
	if len(failed) > 0 {
		return &cmdutil.ProblemsError{Msg: fmt.Sprintf("%d check(s) failed: %s", len(failed), strings.Join(failed, ", "))}
	}
	return nil
}

// Run runs the selected checks concurrently and returns them in their fixed
// order. It never fails: a check that cannot run reports WARN.
func Run(ctx context.Context, opts *Options, env *settings.Environment) Report {
	var defs []checkDef
	for _, c := range checks() {
		if selected(c, opts.Only, opts.Skip) {
			defs = append(defs, c)
		}
	}
	results := make([]Check, len(defs))
	var wg sync.WaitGroup
	for i, d := range defs {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, opts.CheckTimeout)
			defer cancel()
			done := make(chan Check, 1)
			go func() {
				defer func() {
					if v := recover(); v != nil {
						done <- Check{Status: StatusWarn, Value: "error", Detail: fmt.Sprintf("check crashed: %v", v)}
					}
				}()
				done <- d.run(cctx, opts, env)
			}()
			var c Check
			select {
			case c = <-done:
			case <-cctx.Done():
				c = Check{Status: StatusWarn, Value: "timeout", Detail: fmt.Sprintf("no answer within %s", opts.CheckTimeout)}
			}
			c.Name = d.name
			results[i] = c
		})
	}
	wg.Wait()
	r := Report{Environment: env.Name, Status: StatusOK, Checks: results}
	for _, c := range results {
		if rank(c.Status) > rank(r.Status) {
			r.Status = c.Status
		}
	}
	return r
}

func table(r Report) printer.Table {
	t := printer.Table{Headers: []string{"STATUS", "CHECK", "VALUE", "THRESHOLD", "DETAIL"}}
	for _, c := range r.Checks {
		th := ""
		if c.Threshold != "" {
			th = "(" + c.Threshold + ")"
		}
		t.Rows = append(t.Rows, []string{c.Status, c.Name, c.Value, th, c.Detail})
	}
	return t
}

// unavailable is the WARN of a check whose service could not be asked.
func unavailable(value string, err error) Check {
	var detail string
	if errors.Is(err, context.DeadlineExceeded) {
		detail = "timed out"
	} else {
		detail = cw.FirstLine(err.Error())
	}
	return Check{Status: StatusWarn, Value: value, Detail: detail}
}

func notConfigured(key string) Check {
	return Check{Status: StatusWarn, Value: "not configured", Detail: "set " + key + " (`nexus config set " + key + " ...`)"}
}

func ecsCheck(ctx context.Context, o *Options, cluster, service string) Check {
	if cluster == "" || service == "" {
		return notConfigured("ecs_cluster/service")
	}
	api, err := o.ECS(ctx)
	if err != nil {
		return unavailable("unknown", err)
	}
	svcs, err := ecsx.DescribeServices(ctx, api, cluster, service)
	if err != nil {
		return unavailable("unknown", err)
	}
	s := svcs[0]
	c := Check{Threshold: "running = desired", Value: fmt.Sprintf("%d/%d running, %d pending", s.Running, s.Desired, s.Pending)}
	switch {
	case s.Status != "ACTIVE":
		c.Status, c.Value = StatusFail, strings.ToLower(s.Status)
		c.Detail = fmt.Sprintf("service %s in cluster %s is %s", service, cluster, s.Status)
		return c
	}
	if d, failed := s.FailedDeployment(); failed {
		c.Status = StatusFail
		c.Detail = "deployment " + d.ID + " failed"
		if d.Reason != "" {
			c.Detail += ": " + d.Reason
		}
		return c
	}
	switch {
	case s.Rolling():
		c.Status, c.Detail = StatusWarn, fmt.Sprintf("deployment rolling (%d deployments)", len(s.Deployments))
	case s.Running < s.Desired:
		c.Status, c.Detail = StatusFail, fmt.Sprintf("%d task(s) missing", s.Desired-s.Running)
	case s.Desired == 0:
		c.Status, c.Detail = StatusWarn, "desired count is 0: the service is scaled down"
	default:
		c.Status = StatusOK
	}
	return c
}

func httpCheck(ctx context.Context, o *Options, baseURL, key string, ready bool) Check {
	path := "/health"
	if ready {
		path = "/ready"
	}
	if baseURL == "" {
		return notConfigured(key)
	}
	cl, err := client.New(baseURL, client.Options{Timeout: o.HTTPTimeout, MaxAttempts: 1, HTTPClient: o.HTTPClient, UserAgent: "nexus-health"})
	if err != nil {
		return Check{Status: StatusWarn, Value: "bad URL", Detail: err.Error()}
	}
	start := time.Now()
	call := cl.Health
	if ready {
		call = cl.Ready
	}
	h, err := call(ctx)
	took := time.Since(start).Round(time.Millisecond)
	c := Check{Threshold: "2xx", Detail: "GET " + strings.TrimRight(baseURL, "/") + path}
	if err != nil {
		c.Status, c.Value = StatusFail, "down"
		var apiErr *client.Error
		if errors.As(err, &apiErr) {
			c.Value = fmt.Sprintf("HTTP %d", apiErr.StatusCode)
			if h.Status != "" {
				c.Value += " " + h.Status
			}
		}
		c.Detail += ": " + cw.FirstLine(err.Error())
		return c
	}
	c.Status, c.Value = StatusOK, fmt.Sprintf("%s in %s", orDefault(h.Status, "ok"), took)
	return c
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func queueURL(ctx context.Context, o *Options, url, name string) (queue.API, string, error) {
	api, err := o.SQS(ctx)
	if err != nil {
		return nil, "", err
	}
	u, err := queue.Resolve(ctx, api, url, name)
	return api, u, err
}

func queueDepthCheck(ctx context.Context, o *Options, e *settings.Environment) Check {
	api, u, err := queueURL(ctx, o, e.QueueURL, e.QueueName)
	if err != nil {
		return unavailable("unknown", err)
	}
	s, err := queue.GetStats(ctx, api, u)
	if err != nil {
		return unavailable("unknown", err)
	}
	c := Check{Status: StatusOK, Value: fmt.Sprintf("%d visible", s.Visible), Threshold: fmt.Sprintf("> %d", QueueBacklogThreshold),
		Detail: fmt.Sprintf("%s: %d in flight, %d delayed", s.Name, s.InFlight, s.Delayed)}
	if s.Visible > QueueBacklogThreshold {
		c.Status = StatusWarn
	}
	return c
}

func queueAgeCheck(ctx context.Context, o *Options, e *settings.Environment) Check {
	name := e.QueueName
	if e.QueueURL != "" {
		name = queue.NameFromURL(e.QueueURL)
	}
	if name == "" {
		return notConfigured("queue_name")
	}
	api, err := o.CloudWatch(ctx)
	if err != nil {
		return unavailable("unknown", err)
	}
	m := cw.Metric{Namespace: "AWS/SQS", Name: "ApproximateAgeOfOldestMessage", Dimensions: map[string]string{"QueueName": name}, Stat: "Maximum", Period: time.Minute}
	dp, err := cw.Latest(ctx, api, m, o.Now(), 15*time.Minute)
	if err != nil {
		return unavailable("unknown", err)
	}
	c := Check{Status: StatusOK, Threshold: fmt.Sprintf("> %d s", MessageAgeThreshold)}
	if dp == nil {
		c.Value, c.Detail = "no data", "CloudWatch has no datapoint for "+name+" in the last 15 min (an idle queue)"
		return c
	}
	c.Value = (time.Duration(dp.Value) * time.Second).String()
	c.Detail = fmt.Sprintf("%s, CloudWatch Maximum at %s", name, dp.Time.UTC().Format(time.RFC3339))
	if dp.Value > MessageAgeThreshold {
		c.Status = StatusWarn
	}
	return c
}

func dlqCheck(ctx context.Context, o *Options, e *settings.Environment) Check {
	api, u, err := queueURL(ctx, o, e.DLQURL, e.DLQName)
	if err != nil {
		return unavailable("unknown", err)
	}
	s, err := queue.GetStats(ctx, api, u)
	if err != nil {
		return unavailable("unknown", err)
	}
	c := Check{Status: StatusOK, Value: fmt.Sprintf("%d messages", s.Total()), Threshold: "> 0", Detail: s.Name}
	if s.Total() > 0 {
		c.Status = StatusFail
		c.Detail = s.Name + " is not empty: see `nexus dlq peek`, then `nexus dlq redrive --dry-run`"
	}
	return c
}

func alarmsCheck(ctx context.Context, o *Options, _ *settings.Environment) Check {
	api, err := o.CloudWatch(ctx)
	if err != nil {
		return unavailable("unknown", err)
	}
	list, err := cw.ListAlarms(ctx, api, cw.Filter{State: cw.StateAlarm})
	if err != nil {
		return unavailable("unknown", err)
	}
	c := Check{Status: StatusOK, Value: fmt.Sprintf("%d in ALARM", len(list)), Threshold: "> 0"}
	if len(list) > 0 {
		c.Status = StatusFail
		names := make([]string, 0, 3)
		for _, a := range list[:min(3, len(list))] {
			names = append(names, a.Name)
		}
		c.Detail = strings.Join(names, ", ")
		if len(list) > 3 {
			c.Detail += fmt.Sprintf(" and %d more (`nexus alarms --state ALARM`)", len(list)-3)
		}
	}
	return c
}

// maxExecutionPages bounds the ListExecutions pages read for one check.
const maxExecutionPages = 10

func executionsCheck(ctx context.Context, o *Options, e *settings.Environment) Check {
	if e.StateMachineARN == "" {
		return notConfigured("state_machine_arn")
	}
	api, err := o.SFN(ctx)
	if err != nil {
		return unavailable("unknown", err)
	}
	since := o.Now().Add(-time.Hour)
	in := &sfn.ListExecutionsInput{StateMachineArn: aws.String(e.StateMachineARN), StatusFilter: sfntypes.ExecutionStatusFailed, MaxResults: 100}
	var failed []string
	truncated := false
	for page := 0; ; page++ {
		if page == maxExecutionPages {
			truncated = true
			break
		}
		out, err := api.ListExecutions(ctx, in)
		if err != nil {
			return unavailable("unknown", err)
		}
		older := false
		for _, x := range out.Executions {
			stop := aws.ToTime(x.StopDate)
			if stop.IsZero() {
				stop = aws.ToTime(x.StartDate)
			}
			if !stop.Before(since) {
				failed = append(failed, aws.ToString(x.Name))
			}
			// Newest first by start: one started more than an hour before
			// the window cannot have failed inside it in practice.
			if aws.ToTime(x.StartDate).Before(since.Add(-time.Hour)) {
				older = true
			}
		}
		if older || aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	c := Check{Status: StatusOK, Value: fmt.Sprintf("%d failed in 1h", len(failed)), Threshold: ">= 1"}
	if truncated {
		c.Value = fmt.Sprintf("%d+ failed in 1h", len(failed))
	}
	if len(failed) > 0 {
		c.Status = StatusWarn
		sort.Strings(failed)
		c.Detail = strings.Join(failed[:min(3, len(failed))], ", ")
		if len(failed) > 3 {
			c.Detail += fmt.Sprintf(" and %d more", len(failed)-3)
		}
	}
	return c
}

func stuckJobsCheck(ctx context.Context, o *Options, e *settings.Environment) Check {
	if e.Tables.Jobs == "" {
		return notConfigured("tables.jobs")
	}
	api, err := o.DynamoDB(ctx)
	if err != nil {
		return unavailable("unknown", err)
	}
	// created_at is ISO 8601 in UTC; a cutoff without zone or fraction
	// compares correctly as a string against any suffix.
	cutoff := o.Now().UTC().Add(-o.StuckAge).Format("2006-01-02T15:04:05")
	b := dynamo.NewBuilder()
	filter := dynamo.And(b.Equal("status", dynamo.S("PENDING")), b.Name("created_at")+" < "+b.Value(dynamo.S(cutoff)))
	res, err := dynamo.Count(ctx, api, dynamo.Request{Table: e.Tables.Jobs, Filter: filter, Names: b.Names(), Values: b.Values()})
	if err != nil {
		return unavailable("unknown", err)
	}
	c := Check{Status: StatusOK, Value: fmt.Sprintf("%d PENDING > %s", res.Items, o.StuckAge),
		Threshold: fmt.Sprintf("warn >= %d, fail >= %d", o.StuckWarn, o.StuckFail), Detail: fmt.Sprintf("scanned %d jobs", res.Scanned)}
	switch {
	case res.Items >= o.StuckFail:
		c.Status = StatusFail
	case res.Items >= o.StuckWarn:
		c.Status = StatusWarn
	}
	if c.Status != StatusOK {
		c.Detail += "; list them with `nexus job list --status PENDING`"
	}
	return c
}
