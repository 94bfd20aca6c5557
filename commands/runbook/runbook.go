// Package runbook is `nexus runbook`: list, show and run the runbooks of the
// support guide (package runbooks), built in or from --dir.
package runbook

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/cw"
	"github.com/nexus-compliance/nexus/aws/logs"
	"github.com/nexus-compliance/nexus/aws/queue"
	"github.com/nexus-compliance/nexus/aws/sfnx"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/runbooks"
	"github.com/nexus-compliance/nexus/runbooks/audit"
)

// Options are the inputs of `nexus runbook run`.
type Options struct {
	F        *cmdutil.Factory
	Ctx      context.Context
	Name     string
	Dir      string
	Params   []string
	DryRun   bool
	Yes      bool
	FromStep int

	// Deps, when set, replaces the clients the Factory builds (tests).
	Deps func(context.Context) (runbooks.Deps, error)
	// Identity returns the caller's AWS identity ("" when unknown).
	Identity func(context.Context) string
}

// NewCmd builds `nexus runbook`.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	return newCmd(f, nil)
}

func newCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "runbook",
		Short: "List, show and run the support guide's runbooks",
		Long: `Runbooks are the support guide's procedures (§8) as data: YAML files of typed
parameters and steps (check, decide, act, note). The built-in ones ship inside nexus;
add your team's with --dir DIR (every *.yaml file there; one named like a built-in
replaces it).

Exit status of run: 0 healthy, 3 problems found or left unfixed (including under
--dry-run), 1 the runbook could not run to the end (a check failed, for instance
AccessDenied: that step shows ✗ with the reason), 2 a usage error.`,
	}
	cmd.PersistentFlags().StringVar(&dir, "dir", "", "also load the runbooks of `DIR`")
	_ = cmd.MarkPersistentFlagDirname("dir")
	// Runbook names (from --dir too) complete the NAME argument.
	completeName := func(c *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		all, err := runbooks.Catalog(dir)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var names []string
		for _, rb := range all {
			names = append(names, rb.Name+"\t"+rb.Title)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}

	list := &cobra.Command{
		Use:   "list",
		Short: "List the runbooks",
		Example: `  nexus runbook list
  nexus runbook list --dir ./our-runbooks -o json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			all, err := catalog(dir)
			if err != nil {
				return err
			}
			p, err := f.Printer()
			if err != nil {
				return err
			}
			return p.Print(all, func() printer.Table {
				t := printer.Table{Headers: []string{"NAME", "TITLE", "STEPS", "SOURCE"}}
				for _, rb := range all {
					t.Rows = append(t.Rows, []string{rb.Name, rb.Title, fmt.Sprint(len(rb.Steps)), rb.Source})
				}
				return t
			})
		},
	}
	show := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a runbook's parameters and steps",
		Example: `  nexus runbook show bedrock-rate-limit
  nexus runbook show stuck-pending -o yaml`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeName,
		RunE: func(c *cobra.Command, args []string) error {
			rb, err := find(dir, args[0])
			if err != nil {
				return err
			}
			p, err := f.Printer()
			if err != nil {
				return err
			}
			if p.IsStructured() {
				return p.Print(rb, nil)
			}
			showText(f.IOStreams.Out, rb)
			return nil
		},
	}
	opts := &Options{F: f}
	run := &cobra.Command{
		Use:   "run NAME",
		Short: "Run a runbook: check, decide, and (after asking) fix",
		Long: `Run a runbook's steps in order. Every act step asks first on a terminal and needs
--yes elsewhere; --dry-run makes no change at all and prints what each act would do.
--from-step N skips the acts and notes before step N (earlier checks still run, since
later steps need their findings). Every run is written to the audit log.`,
		Example: `  # What is wrong, and what would be done about it: no change made
  nexus runbook run stuck-pending --dry-run

  # Fix it unattended (CI, cron), with a parameter
  nexus runbook run stuck-pending --param threshold=1h --yes --env prod

  # Machine-readable report; exit 0 healthy, 3 problems, 1 failed
  nexus runbook run high-latency --dry-run -o json | jq '.steps[] | select(.status != "ok")'

  # Resume at the requeue step after handling the DLQ by hand
  nexus runbook run stuck-pending --from-step 9`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeName,
		RunE: func(c *cobra.Command, args []string) error {
			opts.Name, opts.Dir, opts.Ctx = args[0], dir, c.Context()
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	fl := run.Flags()
	fl.StringArrayVarP(&opts.Params, "param", "p", nil, "set a parameter, `NAME=VALUE` (repeatable)")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "check and plan only; make no change")
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "do not ask before acting (required when not on a terminal)")
	fl.IntVar(&opts.FromStep, "from-step", 0, "skip the acts and notes before step `N`")
	// --param completes NAME= with the chosen runbook's parameters.
	_ = run.RegisterFlagCompletionFunc("param", func(c *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		all, err := runbooks.Catalog(dir)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		rb, err := runbooks.Find(all, args[0])
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, p := range rb.Parameters {
			out = append(out, fmt.Sprintf("%s=\t%s (default %v)", p.Name, p.Description, p.Default))
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	})
	cmd.AddCommand(list, show, run)
	return cmd
}

func catalog(dir string) ([]*runbooks.Runbook, error) {
	all, err := runbooks.Catalog(dir)
	if err != nil {
		return nil, &cmdutil.FlagError{Err: fmt.Errorf("loading runbooks: %w", err)}
	}
	return all, nil
}

func find(dir, name string) (*runbooks.Runbook, error) {
	all, err := catalog(dir)
	if err != nil {
		return nil, err
	}
	rb, err := runbooks.Find(all, name)
	if err != nil {
		return nil, &cmdutil.FlagError{Err: err}
	}
	return rb, nil
}

func showText(w io.Writer, rb *runbooks.Runbook) {
	fmt.Fprintf(w, "%s — %s\nsource: %s\n\n%s\n", rb.Name, rb.Title, rb.Source, strings.TrimSpace(rb.Description))
	if len(rb.Parameters) > 0 {
		fmt.Fprintln(w, "\nParameters:")
		for _, p := range rb.Parameters {
			fmt.Fprintf(w, "  %-12s %-8s default %v  %s\n", p.Name, p.Type, p.Default, p.Description)
		}
	}
	fmt.Fprintln(w, "\nSteps:")
	whats := make([]string, len(rb.Steps))
	idW, whatW := 0, 0
	for i, s := range rb.Steps {
		whats[i] = s.Kind
		switch s.Kind {
		case runbooks.KindCheck:
			whats[i] += " " + s.Probe
		case runbooks.KindAct:
			whats[i] += " " + s.Action
		}
		idW, whatW = max(idW, len(s.ID)), max(whatW, len(whats[i]))
	}
	for i, s := range rb.Steps {
		fmt.Fprintf(w, "  %2d. %-*s  %-*s  %s\n", i+1, idW, s.ID, whatW, whats[i], s.Title)
		if s.When != nil {
			fmt.Fprintf(w, "      when %s.count %s %d\n", s.When.Step, s.When.Op, s.When.Value)
		}
		if s.Unless != nil {
			fmt.Fprintf(w, "      unless %s.count %s %d\n", s.Unless.Step, s.Unless.Op, s.Unless.Value)
		}
		if s.Advisory {
			fmt.Fprintln(w, "      advisory: findings shown, not counted as problems")
		}
		if len(s.Resolves) > 0 {
			fmt.Fprintf(w, "      resolves %s\n", strings.Join(s.Resolves, ", "))
		}
	}
}

// Run is `nexus runbook run`.
func Run(opts *Options) error {
	f := opts.F
	rb, err := find(opts.Dir, opts.Name)
	if err != nil {
		return err
	}
	set := map[string]string{}
	for _, kv := range opts.Params {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return cmdutil.FlagErrorf("--param %q: want NAME=VALUE", kv)
		}
		set[strings.TrimSpace(k)] = v
	}
	vals, err := rb.Params(set)
	if err != nil {
		return &cmdutil.FlagError{Err: err}
	}
	p, err := f.Printer()
	if err != nil {
		return err
	}
	ctx, cancel := f.Context(opts.Ctx)
	defer cancel()
	deps, err := factoryDeps(ctx, opts)
	if err != nil {
		return err
	}
	if !p.IsStructured() {
		deps.Out = f.IOStreams.Out
	}
	if f.IOStreams.CanPrompt() {
		deps.Confirm = f.IOStreams.Confirm
	}
	rep, err := runbooks.Run(ctx, rb, deps, runbooks.Options{Params: vals, DryRun: opts.DryRun, Yes: opts.Yes, FromStep: opts.FromStep})
	if err != nil {
		return &cmdutil.FlagError{Err: err}
	}
	identity := ""
	if opts.Identity != nil {
		identity = opts.Identity(ctx)
	} else {
		identity = callerIdentity(ctx, f)
	}
	f.Audit(record(rep, identity))
	if p.IsStructured() {
		if err := p.Print(rep, nil); err != nil {
			return err
		}
	}
	switch rep.Result {
	case runbooks.ResultFailed:
		return cmdutil.SilentError
	case runbooks.ResultProblems:
		return &cmdutil.ProblemsError{Msg: fmt.Sprintf("runbook %s: %d problem(s) found or left unfixed", rb.Name, rep.Problems)}
	}
	return nil
}

func record(rep *runbooks.Report, identity string) audit.Record {
	var acts []map[string]any
	ok, failed := 0, 0
	for _, c := range rep.Changes {
		acts = append(acts, map[string]any{"step": c.Step, "action": c.Action, "target": c.Target, "result": c.Result})
		switch {
		case c.Result == "ok":
			ok++
		case strings.HasPrefix(c.Result, "failed"):
			failed++
		}
	}
	details := map[string]any{"outcome": rep.Result, "problems": rep.Problems, "changed": ok}
	if failed > 0 {
		details["failed"] = failed
	}
	if len(acts) > 0 {
		details["acts"] = acts
	}
	result := "ok"
	switch {
	case rep.Result == runbooks.ResultFailed:
		result = "error"
	case failed > 0:
		result = "partial"
	}
	return audit.Record{Action: "runbook." + rep.Runbook, Identity: identity, Params: rep.Params, DryRun: rep.DryRun, Result: result, Details: details}
}

// callerIdentity asks STS who we are, within 2 s; it says nothing when an
// emulator endpoint is configured (there is no STS there) or the call fails.
func callerIdentity(ctx context.Context, f *cmdutil.Factory) string {
	env, err := f.Environment()
	if err != nil || env.EndpointURL != "" {
		return ""
	}
	for _, v := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_DYNAMODB"} {
		if f.Getenv(v) != "" {
			return ""
		}
	}
	cfg, err := f.AWSConfig(ctx)
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}, func(o *sts.Options) { o.RetryMaxAttempts = 1 })
	if err != nil {
		return ""
	}
	return aws.ToString(out.Arn)
}

func factoryDeps(ctx context.Context, opts *Options) (runbooks.Deps, error) {
	if opts.Deps != nil {
		return opts.Deps(ctx)
	}
	f := opts.F
	env, err := f.Environment()
	if err != nil {
		return runbooks.Deps{}, err
	}
	return runbooks.Deps{
		Env: env,
		Now: f.Now,
		SQS: func(ctx context.Context) (queue.API, error) { return cmdutil.AsAPI[queue.API](f.SQS(ctx)) },
		DynamoDB: func(ctx context.Context) (runbooks.DynamoAPI, error) {
			return cmdutil.AsAPI[runbooks.DynamoAPI](f.DynamoDB(ctx))
		},
		SFN:        func(ctx context.Context) (sfnx.API, error) { return cmdutil.AsAPI[sfnx.API](f.SFN(ctx)) },
		CloudWatch: func(ctx context.Context) (cw.API, error) { return cmdutil.AsAPI[cw.API](f.CloudWatch(ctx)) },
		ECS:        func(ctx context.Context) (runbooks.ECSAPI, error) { return cmdutil.AsAPI[runbooks.ECSAPI](f.ECS(ctx)) },
		Logs:       func(ctx context.Context) (logs.API, error) { return cmdutil.AsAPI[logs.API](f.Logs(ctx)) },
	}, nil
}
