// Package get is `nexus job get`.
package get

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/dynamo"
	"github.com/nexus-compliance/nexus/aws/sfnx"
	"github.com/nexus-compliance/nexus/commands/apiclient"
	catshared "github.com/nexus-compliance/nexus/commands/catalog/shared"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	dbshared "github.com/nexus-compliance/nexus/commands/db/shared"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/job/shared"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/commands/settings"
	"github.com/nexus-compliance/nexus/pipeline"
)

// API is what `nexus job get` calls.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// Options are the inputs of `nexus job get`.
type Options struct {
	IO       *iostreams.IOStreams
	Printer  func() (*printer.Printer, error)
	DynamoDB func(context.Context) (API, error)
	Tables   func() (settings.Tables, error)
	Now      func() time.Time
	Context  context.Context
	// OpenLocal opens the local store, for --store local.
	OpenLocal catshared.Opener
	// Execution, when set, correlates the job with its Step Functions
	// execution (nil: not looked up).
	Execution ExecutionLookup

	JobID string
	Store string
	// API reaches the Nexus API; UseAPI says to read the job there (an
	// API URL is known and --store was not given).
	API    *apiclient.Source
	UseAPI bool
}

// NewCmd builds `nexus job get`. runF replaces Run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{
		IO:       f.IOStreams,
		Printer:  f.Printer,
		DynamoDB: dbshared.Client[API](f),
		Tables:   dbshared.TablesFunc(f),
		Now:      f.Now,
		API:      apiclient.NewSource(f),
	}
	local := catshared.StoreLocal
	opts.OpenLocal = catshared.NewOpener(f, &local)
	opts.Execution = NewExecutionLookup(f)
	cmd := &cobra.Command{
		Use:   "get JOB_ID",
		Short: "Show one mapping job: status, keys, timestamps, error and mappings",
		Long: `Show one job of the MappingJobs table, read directly from DynamoDB with a strongly
consistent read: status, source control and target framework, timestamps and age, expiry
(jobs expire 7 days after creation), the Step Functions execution, the error of a failed
job, and the mappings of a completed one. JOB_ID is the mappingId the API returned.

With --store local the job is read from the local store instead: the jobs that
` + "`nexus map`" + ` and ` + "`nexus map batch`" + ` ran on this machine.

When an API URL is known (--api-url, $NEXUS_API_URL or the environment's api_url) and
--store is not given, the job is read from the Nexus API (GET /api/v1/mappings/{id}).

A job that does not exist (or has expired) exits with status 5.`,
		Example: `  nexus job get 550e8400-e29b-41d4-a716-446655440000
  nexus job get 3f0c2a8e-5d4b-4c1e-9a7f-2b6d8e1f0a93 --store local
  nexus job get 550e8400-e29b-41d4-a716-446655440000 -o json | jq '.mappings[].reasoning'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
				return cmdutil.FlagErrorf("expected one JOB_ID, e.g. nexus job get 550e8400-e29b-41d4-a716-446655440000")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.JobID = strings.TrimSpace(args[0])
			ctx, cancel := f.Context(cmd.Context())
			defer cancel()
			opts.Context = ctx
			opts.UseAPI = !cmd.Flags().Changed("store") && opts.API.Known()
			if opts.Store == "" {
				opts.Store = catshared.DefaultStore(f)
			}
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	catshared.AddStoreFlag(cmd, &opts.Store)
	apiclient.AddFlag(cmd, opts.API)
	return cmd
}

// Run shows the job.
func Run(opts *Options) error {
	if opts.UseAPI {
		j, err := apiJob(opts)
		if err != nil {
			return err
		}
		return show(opts, j)
	}
	if opts.Store != "" { // empty: DynamoDB (tests call Run directly)
		if err := catshared.CheckStoreKind(opts.Store); err != nil {
			return err
		}
	}
	if opts.Store == catshared.StoreLocal {
		j, err := localJob(opts)
		if err != nil {
			return err
		}
		return show(opts, j)
	}
	ctx := opts.Context
	tables, err := opts.Tables()
	if err != nil {
		return err
	}
	api, err := opts.DynamoDB(ctx)
	if err != nil {
		return err
	}
	out, err := api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(tables.Jobs),
		Key:            dynamo.Item{dynamo.JobID: dynamo.S(opts.JobID)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return dbshared.Err(err, tables.Jobs, "jobs")
	}
	if len(out.Item) == 0 {
		return &cmdutil.NotFoundError{What: "job", Name: opts.JobID,
			Hint: fmt.Sprintf("No such job in %s: jobs expire 7 days after creation; `nexus job list` shows the current ones.", tables.Jobs)}
	}
	j, err := shared.Decode(out.Item)
	if err != nil {
		return err
	}
	return show(opts, j)
}

// apiJob reads the job from the API, as a job record.
func apiJob(opts *Options) (pipeline.Job, error) {
	c, err := opts.API.Mapping(opts.Context)
	if err != nil {
		return pipeline.Job{}, err
	}
	st, err := c.JobStatus(opts.Context, opts.JobID)
	if err != nil {
		return pipeline.Job{}, apiclient.Err(err)
	}
	j := pipeline.Job{JobID: st.MappingID, Status: pipeline.JobStatus(st.Status), ControlKey: st.ControlKey,
		TargetFrameworkKey: st.TargetFrameworkKey, CreatedAt: st.CreatedAt, UpdatedAt: st.UpdatedAt, ErrorMessage: st.Error}
	if st.Result != nil {
		for _, m := range st.Result.Mappings {
			j.Mappings = append(j.Mappings, map[string]any{"targetControlKey": m.TargetControlKey, "targetControlId": m.TargetControlID,
				"similarityScore": m.SimilarityScore, "rerankScore": m.RerankScore, "reasoning": m.Reasoning})
		}
	}
	return j, nil
}

func localJob(opts *Options) (pipeline.Job, error) {
	s, err := opts.OpenLocal(opts.Context)
	if err != nil {
		return pipeline.Job{}, err
	}
	defer s.Close()
	j, err := s.Job(opts.Context, opts.JobID)
	if errors.Is(err, pipeline.ErrNotFound) {
		return j, &cmdutil.NotFoundError{What: "job", Name: opts.JobID,
			Hint: fmt.Sprintf("No such job in the local store %s: jobs expire 7 days after creation; `nexus job list --store local` shows the current ones.", s.Location)}
	}
	if err != nil {
		return j, err
	}
	if st, err := pipeline.ParseJobStatus(string(j.Status)); err == nil {
		j.Status = st
	}
	return j, nil
}

func show(opts *Options, j pipeline.Job) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	ex, fail := correlate(opts, &j)
	if err := p.Print(j, func() printer.Table {
		t := Detail(j, opts.Now())
		if ex != nil {
			t.Rows = append(t.Rows, []string{"Execution status", ex.Status})
		}
		if fail != nil {
			t.Rows = append(t.Rows, []string{"Execution failure", fail.Summary()})
		}
		return t
	}); err != nil {
		return err
	}
	if p.IsStructured() || len(j.Mappings) == 0 {
		return nil
	}
	tty := opts.IO.IsStdoutTTY()
	if tty {
		fmt.Fprintln(opts.IO.Out)
	}
	return p.Print(nil, func() printer.Table { return MappingsTable(j.Mappings, tty) })
}

// correlate looks up the job's execution. A failure to look is a warning:
// job get shows the job whatever Step Functions says.
func correlate(opts *Options, j *pipeline.Job) (*sfnx.Execution, *sfnx.Failure) {
	if opts.Execution == nil {
		return nil, nil
	}
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	ex, fail, err := opts.Execution(ctx, j.JobID)
	if err != nil {
		fmt.Fprintf(opts.IO.ErrOut, "warning: could not look up the job's Step Functions execution: %v\n", err)
	}
	if ex != nil && j.ExecutionARN == "" {
		j.ExecutionARN = ex.ARN
	}
	return ex, fail
}

// Detail is the describe view of a job.
func Detail(j pipeline.Job, now time.Time) printer.Table {
	rows := [][]string{
		{"Job ID", j.JobID},
		{"Status", string(j.Status)},
		{"Control", j.ControlKey},
		{"Framework", j.TargetFrameworkKey},
	}
	if len(j.TargetControlIDs) > 0 {
		rows = append(rows, []string{"Target controls", strings.Join(j.TargetControlIDs, ", ")})
	}
	rows = append(rows, []string{"Created", withAge(j.CreatedAt, now)})
	for _, r := range [][2]string{{"Updated", j.UpdatedAt}, {"Completed", j.CompletedAt}, {"Failed", j.FailedAt}} {
		if r[1] != "" {
			rows = append(rows, []string{r[0], withAge(r[1], now)})
		}
	}
	if j.TTL > 0 {
		exp := time.Unix(j.TTL, 0).UTC()
		when := "in " + shared.Duration(exp.Sub(now))
		if exp.Before(now) {
			when = "overdue by " + shared.Duration(now.Sub(exp)) + "; DynamoDB deletes expired items lazily"
		}
		rows = append(rows, []string{"Expires", fmt.Sprintf("%s (%s)", exp.Format(time.RFC3339), when)})
	}
	if j.ExecutionARN != "" {
		rows = append(rows, []string{"Execution", j.ExecutionARN})
	}
	if e := ErrorText(j); e != "" {
		rows = append(rows, []string{"Error", e})
	}
	if j.Status == pipeline.JobCompleted || len(j.Mappings) > 0 {
		rows = append(rows, []string{"Mappings", strconv.Itoa(len(j.Mappings))})
	}
	return printer.Table{Detail: true, Rows: rows}
}

func withAge(ts string, now time.Time) string {
	if age := shared.Age(now, ts); age != "-" {
		return fmt.Sprintf("%s (%s ago)", ts, age)
	}
	return ts
}

// ErrorText is a failed job's error: error_message, or the Step Functions
// error's Error and Cause.
func ErrorText(j pipeline.Job) string {
	if j.ErrorMessage != "" {
		return j.ErrorMessage
	}
	if len(j.Error) == 0 {
		return ""
	}
	name, _ := j.Error["Error"].(string)
	cause, _ := j.Error["Cause"].(string)
	switch {
	case name != "" && cause != "":
		return name + ": " + cause
	case cause != "":
		return cause
	case name != "":
		return name
	}
	b, _ := json.Marshal(j.Error)
	return string(b)
}

// MappingsTable lists a job's mappings. The job updater has written them
// in both snake_case and camelCase over time; both are read.
func MappingsTable(ms []map[string]any, tty bool) printer.Table {
	t := printer.Table{Headers: []string{"TARGET", "SIMILARITY", "RERANK", "REASONING"}}
	for _, m := range ms {
		target := pick(m, "target_control_key", "targetControlKey", "mapped_control_key", "mappedControlKey", "target_control_id", "targetControlId", "control_id")
		reasoning := pick(m, "reasoning")
		if tty {
			reasoning = dbshared.Truncate(reasoning, 60)
		}
		row := []string{target, pick(m, "similarity_score", "similarityScore"), pick(m, "rerank_score", "rerankScore"), reasoning}
		if !tty {
			row = append([]string{"mapping"}, row...)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

func pick(m map[string]any, keys ...string) string {
	for _, k := range keys {
		switch v := m[k].(type) {
		case nil:
			continue
		case string:
			return v
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		default:
			return fmt.Sprint(v)
		}
	}
	return ""
}
