// Package logs is `nexus logs`: read the CloudWatch Logs of every Nexus
// component, merged and tagged, follow them live, and run the Support
// Guide's Logs Insights queries.
package logs

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	awslogs "github.com/nexus-compliance/nexus/aws/logs"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/commands/settings"
)

// NewCmd builds `nexus logs`.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Read, follow and query the CloudWatch Logs of every Nexus component",
		Long: `Every Lambda, the two ECS services and the mapping state machine write to a CloudWatch
Logs group. The groups come from the environment (log_groups.<component>, or
NEXUS_LOG_GROUP_<COMPONENT>); ` + "`nexus logs components`" + ` lists them.`,
		Example: `  nexus logs components
  nexus logs tail --job 3f2a… --since 2h
  nexus logs tail ecs_service strands_service -f --grep 'CUDA|OOM'
  nexus logs query errors-by-component --since 24h`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdComponents(f, nil), NewCmdTail(f, nil), NewCmdQuery(f, nil))
	return cmd
}

// Deps are what every logs subcommand needs from the Factory; tests replace
// Logs with a client for a fake.
type Deps struct {
	IO          *iostreams.IOStreams
	Environment func() (*settings.Environment, error)
	Printer     func() (*printer.Printer, error)
	Context     func(context.Context) (context.Context, context.CancelFunc)
	Logs        func(context.Context) (awslogs.API, error)
	Now         func() time.Time
}

// NewDeps takes the dependencies from f.
func NewDeps(f *cmdutil.Factory) Deps {
	return Deps{
		IO: f.IOStreams, Environment: f.Environment, Printer: f.Printer, Context: f.Context, Now: f.Now,
		Logs: func(ctx context.Context) (awslogs.API, error) { return f.Logs(ctx) },
	}
}

// Component is one part of Nexus and its log group in the environment.
type Component struct {
	Key      string `json:"key"`
	Name     string `json:"name"`
	LogGroup string `json:"log_group"`
}

// Components lists the environment's components in request-flow order.
func Components(env *settings.Environment) []Component {
	out := make([]Component, 0, len(settings.Components))
	for _, c := range settings.Components {
		g := env.LogGroups[c.Key]
		if g == "" {
			g = c.DefaultGroup
		}
		out = append(out, Component{Key: c.Key, Name: c.Name, LogGroup: g})
	}
	return out
}

// resolveGroups turns COMPONENT|GROUP arguments into groups (none: every
// component) and returns the tag of each group.
func resolveGroups(env *settings.Environment, args []string) ([]string, map[string]string, error) {
	comps := Components(env)
	tags := map[string]string{}
	for _, c := range comps {
		tags[c.LogGroup] = c.Key
	}
	if len(args) == 0 {
		groups := make([]string, 0, len(comps))
		for _, c := range comps {
			groups = append(groups, c.LogGroup)
		}
		return groups, tags, nil
	}
	var groups []string
	seen := map[string]bool{}
	for _, a := range args {
		g := ""
		for _, c := range comps {
			if strings.EqualFold(a, c.Key) || strings.EqualFold(a, c.Name) || a == c.LogGroup {
				g = c.LogGroup
			}
		}
		if g == "" {
			if !strings.Contains(a, "/") {
				keys := make([]string, 0, len(comps))
				for _, c := range comps {
					keys = append(keys, c.Key)
				}
				return nil, nil, cmdutil.FlagErrorf("unknown component %q: use a log group name or one of %s", a, strings.Join(keys, ", "))
			}
			g = a
			tags[g] = path.Base(g)
		}
		if !seen[g] {
			seen[g] = true
			groups = append(groups, g)
		}
	}
	return groups, tags, nil
}

// parseSince reads 10m, 2h, 3d, or an ISO 8601 time / date.
func parseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err == nil && fmt.Sprint(days) == n {
			return now.Add(-time.Duration(days) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			d = -d
		}
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, cmdutil.FlagErrorf("--since %q: use a duration (10m, 2h, 3d) or an ISO time (2025-12-04T10:00:00Z)", s)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
