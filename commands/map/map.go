// Package mapcmd is `nexus map`: map one source control to the controls of
// a target framework by running the mapping pipeline in this process, and
// `nexus map batch` for many.
package mapcmd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/apiclient"
	catshared "github.com/nexus-compliance/nexus/commands/catalog/shared"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	dbshared "github.com/nexus-compliance/nexus/commands/db/shared"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/map/batch"
	"github.com/nexus-compliance/nexus/commands/map/shared"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/mapper"
)

// Options are the inputs of `nexus map`.
type Options struct {
	IO      *iostreams.IOStreams
	Printer func() (*printer.Printer, error)
	Open    catshared.Opener
	Hooks   shared.Hooks
	Context context.Context
	Debug   bool

	ControlKey string
	shared.Flags
	// API reaches the Nexus API for --mode remote (and auto with a URL).
	API          *apiclient.Source
	NoWait       bool
	PollInterval time.Duration
}

// NewCmd builds `nexus map` with its `batch` subcommand.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := NewCmdMap(f, nil)
	cmd.AddCommand(batch.NewCmd(f, nil))
	return cmd
}

// NewCmdMap builds `nexus map` alone. runF replaces Run in tests.
func NewCmdMap(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Printer: f.Printer, Hooks: shared.NewHooks(f)}
	opts.Open = catshared.NewOpener(f, &opts.Store)
	opts.API = apiclient.NewSource(f)
	cmd := &cobra.Command{
		Use:   "map CONTROL_KEY --framework FW_KEY",
		Short: "Map a control to the controls of a target framework",
		Long: `Map one source control to the controls of a target framework. With --mode remote the
job goes to the Nexus API (--api-url, $NEXUS_API_URL or the environment's api_url; try
` + "`nexus serve`" + `): nexus submits it, polls its status every --poll-interval (on a terminal a
spinner shows the status and the time waited) and prints what local mode prints; --no-wait
prints the mappingId (-o json: the 202 response) and exits, and a wait that runs past
--timeout exits 1 naming the job to follow with ` + "`nexus job wait ID`" + `. --mode auto (the default)
goes remote when an API URL is known. Remote, the server's pipeline settings apply: the
local scoring flags below (--top-k, --threshold, --reasoning, --store…) do not.

With --mode local the whole Nexus mapping pipeline runs in this process: validate the keys, use the control's enriched text when
one is cached, score every live control of the framework, keep the best --top-k, rerank
them, drop those below --threshold, and write a justification for each (five at a time).

CONTROL_KEY is {framework}#{version}#{controlId} and FW_KEY is {name}#{version}. The
catalog comes from --store: the local store (default) starts with a demo catalog of AWS
checks and a NIST SP 800-53 rev. 5 subset, and ` + "`nexus catalog import`" + ` adds real ones; with
--store dynamodb nexus reads the environment's tables instead.

Each run is recorded as a mapping job, as the Nexus API records it (PENDING, RUNNING,
then COMPLETED or FAILED, kept 7 days): see it again with ` + "`nexus job get ID --store local`" + `.
-o json prints the API's status response; a FAILED job prints its error response and
exits 3. An unknown control exits 5 and suggests close keys. On a terminal the running
stage shows on stderr; --debug prints each stage's time.`,
		Example: `  # Map an AWS check to NIST SP 800-53 rev. 5
  nexus map AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED --framework NIST-SP-800-53#R5

  # Only to some controls, keeping mappings scored 0.3 or more, as JSON
  nexus map AWS.ControlCatalog#1.0#RDS_STORAGE_ENCRYPTED -F NIST-SP-800-53#R5 \
    --targets SC-28,SC-28(1),SC-13 --threshold 0.3 -o json

  # The five best, without reasoning, with stage timings on stderr
  nexus map AWS.ControlCatalog#1.0#CLOUDTRAIL_ENABLED -F NIST-SP-800-53#R5 --top-k 5 --reasoning off --debug

  # Through the Nexus API, or just submit it
  nexus map AWS.ControlCatalog#1.0#S3_BUCKET_VERSIONING_ENABLED -F NIST-SP-800-53#R5 --mode remote --api-url http://127.0.0.1:8080
  nexus map AWS.ControlCatalog#1.0#S3_BUCKET_VERSIONING_ENABLED -F NIST-SP-800-53#R5 --mode remote --no-wait

  # Against the deployed tables of an environment
  nexus map AWS.ControlCatalog#1.0#IAM_ROOT_ACCESS_KEY_CHECK -F NIST-SP-800-53#R5 --store dynamodb --env staging`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cmdutil.FlagErrorf("expected one CONTROL_KEY, e.g. nexus map %s --framework %s", pipeline.ExampleControlKey, pipeline.ExampleFrameworkKey)
			}
			return nil
		},
		ValidArgsFunction: catshared.CompleteControls(opts.Open),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ControlKey = strings.TrimSpace(args[0])
			opts.ThresholdSet = cmd.Flags().Changed("threshold")
			opts.Debug = f.Flags.Debug
			ctx, cancel := f.Context(cmd.Context())
			defer cancel()
			opts.Context = ctx
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	shared.AddFlags(cmd, &opts.Flags, opts.Open, true)
	apiclient.AddFlag(cmd, opts.API)
	cmd.Flags().BoolVar(&opts.NoWait, "no-wait", false, "remote: print the mappingId once the API accepts the job, and exit")
	cmd.Flags().DurationVar(&opts.PollInterval, "poll-interval", apiclient.DefaultPollInterval, "remote: how often to ask the API for the job's status")
	return cmd
}

// Run maps the control.
func Run(opts *Options) error {
	if err := shared.ValidateControlKey(opts.ControlKey); err != nil {
		return err
	}
	if err := opts.Flags.Validate(); err != nil {
		return err
	}
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	remote, err := shared.Remote(opts.Mode, opts.API)
	if err != nil {
		return err
	}
	if remote {
		return runRemote(opts, p)
	}
	if opts.NoWait {
		return cmdutil.FlagErrorf("--no-wait applies to --mode remote: a local mapping runs in this process")
	}
	ctx := opts.Context
	store, err := opts.Open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	catshared.NoteSeeded(opts.IO, store)

	// Unknown keys are reported (exit 5, with suggestions) before the
	// scorers spend time indexing the framework.
	if err := (&mapper.Mapper{Store: store}).Validate(ctx, opts.Flags.Request(opts.ControlKey, nil)); err != nil {
		return catshared.Err(err)
	}
	_, id, _ := pipeline.SplitControlKey(opts.ControlKey)
	spin := shared.StartSpinner(opts.IO, "Mapping "+id)
	defer spin.Stop()
	timings := &shared.Timings{}
	spin.Observe(mapper.Event{Stage: shared.StagePrepare})
	m, err := shared.NewMapper(ctx, opts.Hooks, store, &opts.Flags, opts.Framework, func(s string) { fmt.Fprintln(opts.IO.ErrOut, s) }, timings.Observe)
	if err != nil {
		spin.Stop()
		return err
	}
	m.Observer = shared.Observers(spin.Observe, timings.Observe)
	start := time.Now()
	job, runErr := m.Run(ctx, opts.Flags.Request(opts.ControlKey, nil))
	elapsed := time.Since(start)
	spin.Stop()
	if opts.Debug {
		timings.Write(opts.IO.ErrOut)
	}
	if job.JobID == "" {
		return catshared.Err(runErr)
	}
	if job.Status != pipeline.JobCompleted {
		if p.IsStructured() {
			if err := p.Print(shared.FailedResponse(job), nil); err != nil {
				return err
			}
		}
		if errors.Is(runErr, context.Canceled) {
			return runErr
		}
		return &cmdutil.ProblemsError{Msg: fmt.Sprintf("mapping job %s failed: %s", job.JobID, shared.FailedResponse(job).Error)}
	}

	resp := shared.CompletedResponse(job)
	results := mapper.ResultMappings(job.Mappings)
	if err := p.Print(resp, func() printer.Table { return Table(results, opts.IO) }); err != nil {
		return err
	}
	if !p.IsStructured() {
		if len(results) == 0 {
			fmt.Fprintf(opts.IO.ErrOut, "No control of %s scored at or above --threshold %g.\n", opts.Framework, opts.Threshold)
		}
		if opts.IO.IsStderrTTY() {
			fmt.Fprintf(opts.IO.ErrOut, "%d mappings in %s · job %s (nexus job get %s --store %s)\n",
				len(results), shared.FormatDuration(elapsed), job.JobID, job.JobID, store.Kind)
		}
	}
	return nil
}

// Table is the table view of a job's mappings. On a terminal titles and
// reasoning are cut to fit; off one every cell is whole and tab-separated.
func Table(ms []pipeline.ResultMapping, ios *iostreams.IOStreams) printer.Table {
	tty := ios.IsStdoutTTY()
	t := printer.Table{Headers: []string{"TARGET", "TITLE", "SIMILARITY", "RERANK", "REASONING"}}
	reasonWidth := 60
	if w := ios.TerminalWidth(); w > 0 {
		reasonWidth = max(20, w-10-40-10-6-3*4)
	}
	for _, m := range ms {
		title, reasoning := m.Title, m.Reasoning
		if tty {
			title, reasoning = dbshared.Truncate(title, 40), dbshared.Truncate(reasoning, reasonWidth)
		}
		t.Rows = append(t.Rows, []string{m.TargetControlID, title, fmt.Sprintf("%.3f", m.SimilarityScore), fmt.Sprintf("%.3f", m.RerankScore), reasoning})
	}
	return t
}
