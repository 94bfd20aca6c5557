// Package config is `nexus config`: create, show and change the named
// environments nexus talks to.
package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/commands/settings"
)

// NewCmd builds `nexus config`.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Manage named environments (dev, staging, prod, local…)",
		Long: `nexus keeps named environments in a YAML file ($XDG_CONFIG_HOME/nexus/config.yaml, or
--config / NEXUS_CONFIG). Each names the region, profile, API URL, the six table names, the
queue and DLQ, the state machine, the science and Strands services and the log groups of one
deployment. Unset values default to the names of the Nexus architecture (MappingJobs,
ControlMappings, …). The Lambdas' own variables (JOB_TABLE_NAME, DLQ_URL, STATE_MACHINE_ARN, …)
and NEXUS_<KEY> variables override the file, so a pasted Lambda environment just works.`,
	}
	cmd.AddCommand(newInitCmd(f), newViewCmd(f), newSetCmd(f), newUseCmd(f))
	return cmd
}

type initOptions struct {
	name, region, profile, apiURL string
	force                         bool
}

func newInitCmd(f *cmdutil.Factory) *cobra.Command {
	o := &initOptions{}
	cmd := &cobra.Command{
		Use:   "init [NAME]",
		Short: "Create an environment with the Nexus defaults",
		Long: `Create an environment in the config file. Values come from the flags, then from the
variables of the current shell (JOB_TABLE_NAME, DLQ_URL, … and NEXUS_<KEY>), then from the
Nexus defaults. The first environment created becomes the current one.`,
		Example: `  nexus config init dev --region eu-west-1 --profile nexus-dev
  nexus config init local --endpoint-url http://127.0.0.1:8000 --region us-east-1`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.name = settings.DefaultEnvironment
			if len(args) == 1 {
				o.name = args[0]
			}
			return initRun(f, o)
		},
	}
	cmd.Flags().StringVar(&o.region, "region", "", "AWS region of the deployment")
	cmd.Flags().StringVar(&o.profile, "profile", "", "AWS profile for the deployment")
	cmd.Flags().StringVar(&o.apiURL, "api-url", "", "base URL of the Nexus API")
	cmd.Flags().BoolVar(&o.force, "force", false, "replace an existing environment of that name")
	return cmd
}

func initRun(f *cmdutil.Factory, o *initOptions) error {
	file, err := f.ConfigFile()
	if err != nil {
		return err
	}
	// Resolve the defaults environment so pasted variables are captured.
	env, err := (&settings.File{}).Resolve("", f.Getenv)
	if err != nil {
		return err
	}
	env.Name = o.name
	for flagValue, dst := range map[*string]*string{&o.region: &env.Region, &o.profile: &env.Profile, &o.apiURL: &env.APIURL, &f.Flags.EndpointURL: &env.EndpointURL} {
		if *flagValue != "" {
			*dst = *flagValue
		}
	}
	if err := file.AddEnvironment(env, o.force); err != nil {
		return &cmdutil.FlagError{Err: err}
	}
	fmt.Fprintf(f.IOStreams.ErrOut, "Created environment %q in %s\n", o.name, file.Path())
	return nil
}

func newViewCmd(f *cmdutil.Factory) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "view",
		Short: "Show the resolved environment (secrets hidden)",
		Long: `Show the environment nexus would use now, after the file, the variables and the flags
are applied. Secrets (api_token) are never printed, only whether they are set.`,
		Example: "  nexus config view\n  nexus config view --env prod -o yaml\n  nexus config view --all",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := f.Printer()
			if err != nil {
				return err
			}
			if all {
				file, err := f.ConfigFile()
				if err != nil {
					return err
				}
				envs := make([]*settings.Environment, 0, len(file.Environments))
				for _, name := range file.Names() {
					envs = append(envs, file.Environments[name].Redacted())
				}
				return p.Print(envs, func() printer.Table {
					t := printer.Table{Headers: []string{"NAME", "CURRENT", "REGION", "PROFILE", "ENDPOINT", "API URL"}}
					for _, e := range envs {
						cur := ""
						if e.Name == file.CurrentEnvironment {
							cur = "*"
						}
						t.Rows = append(t.Rows, []string{e.Name, cur, e.Region, e.Profile, e.EndpointURL, e.APIURL})
					}
					return t
				})
			}
			env, err := f.Environment()
			if err != nil {
				return err
			}
			red := env.Redacted()
			return p.Print(red, func() printer.Table { return detail(red) })
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "list every configured environment")
	return cmd
}

func detail(e *settings.Environment) printer.Table {
	t := printer.Table{Detail: true}
	add := func(k, v string) {
		if v == "" {
			v = "-"
		}
		t.Rows = append(t.Rows, []string{k, v})
	}
	add("environment", e.Name)
	add("region", e.Region)
	add("profile", e.Profile)
	add("endpoint_url", e.EndpointURL)
	add("api_url", e.APIURL)
	add("api_token", e.APIToken)
	add("token_command", e.TokenCommand)
	for _, fl := range settings.Fields {
		if strings.HasPrefix(fl.Key, "tables.") {
			add(fl.Key, tableValue(e, fl.Key))
		}
	}
	add("queue_url", firstNonEmpty(e.QueueURL, "(by name) "+e.QueueName))
	add("dlq_url", firstNonEmpty(e.DLQURL, "(by name) "+e.DLQName))
	add("state_machine_arn", e.StateMachineARN)
	add("science_url", e.ScienceURL)
	add("strands_url", e.StrandsURL)
	add("model_version", e.ModelVersion)
	keys := make([]string, 0, len(e.LogGroups))
	for k := range e.LogGroups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		add("log_groups."+k, e.LogGroups[k])
	}
	return t
}

func tableValue(e *settings.Environment, key string) string {
	switch key {
	case "tables.jobs":
		return e.Tables.Jobs
	case "tables.mappings":
		return e.Tables.Mappings
	case "tables.enrichment":
		return e.Tables.Enrichment
	case "tables.embedding_cache":
		return e.Tables.EmbeddingCache
	case "tables.frameworks":
		return e.Tables.Frameworks
	case "tables.controls":
		return e.Tables.Controls
	}
	return ""
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func newSetCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "set KEY VALUE",
		Short: "Set one value of an environment",
		Long: "Set one value of the environment named by --env (default: the current one).\n\nKeys:\n" +
			keyHelp(),
		Example: `  nexus config set region eu-west-1
  nexus --env prod config set dlq_url https://sqs.eu-west-1.amazonaws.com/123456789012/MappingRequestDLQ
  nexus config set tables.jobs MappingJobs-staging
  nexus config set log_groups.ecs_service /ecs/nexus-science`,
		Args: cobra.ExactArgs(2),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) == 0 {
				return settings.Keys(), cobra.ShellCompDirectiveNoFileComp
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := settings.LookupField(args[0]); err != nil {
				return &cmdutil.FlagError{Err: err}
			}
			file, err := f.ConfigFile()
			if err != nil {
				return err
			}
			name := firstNonEmpty(f.Flags.Env, firstNonEmpty(f.Getenv("NEXUS_ENV"), firstNonEmpty(file.CurrentEnvironment, settings.DefaultEnvironment)))
			if err := file.Set(name, args[0], args[1]); err != nil {
				return err
			}
			shown := args[1]
			if fl, _ := settings.LookupField(args[0]); fl.Secret {
				shown = "(hidden)"
			}
			fmt.Fprintf(f.IOStreams.ErrOut, "Set %s = %s in environment %q (%s)\n", args[0], shown, name, file.Path())
			return nil
		},
	}
	return cmd
}

func keyHelp() string {
	var b strings.Builder
	for _, fl := range settings.Fields {
		vars := ""
		if len(fl.Vars) > 0 {
			vars = " (overridden by " + strings.Join(fl.Vars, ", ") + ")"
		}
		fmt.Fprintf(&b, "  %-24s %s%s\n", fl.Key, fl.Help, vars)
	}
	b.WriteString("  log_groups.<component>   log group of a component: ")
	comps := make([]string, len(settings.Components))
	for i, c := range settings.Components {
		comps[i] = c.Key
	}
	b.WriteString(strings.Join(comps, ", "))
	b.WriteString("\n\nEvery key can also be overridden with NEXUS_<KEY> (dots become underscores).")
	return b.String()
}

func newUseCmd(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "use NAME",
		Short:   "Make an environment the current one",
		Example: "  nexus config use staging",
		Args:    cobra.ExactArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			file, err := f.ConfigFile()
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return file.Names(), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			file, err := f.ConfigFile()
			if err != nil {
				return err
			}
			if err := file.Use(args[0]); err != nil {
				return &cmdutil.FlagError{Err: err}
			}
			fmt.Fprintf(f.IOStreams.ErrOut, "Now using environment %q\n", args[0])
			return nil
		},
	}
}
