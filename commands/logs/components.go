package logs

import (
	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/cmdutil"

	"github.com/nexus-compliance/nexus/commands/printer"
)

// ComponentsOptions are the inputs of `nexus logs components`.
type ComponentsOptions struct{ Deps }

// NewCmdComponents builds `nexus logs components`.
func NewCmdComponents(f *cmdutil.Factory, runF func(*ComponentsOptions) error) *cobra.Command {
	opts := &ComponentsOptions{Deps: NewDeps(f)}
	return &cobra.Command{
		Use:   "components",
		Short: "List the Nexus components and their log groups",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return componentsRun(opts)
		},
	}
}

func componentsRun(opts *ComponentsOptions) error {
	env, err := opts.Environment()
	if err != nil {
		return err
	}
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	comps := Components(env)
	return p.Print(comps, func() printer.Table {
		t := printer.Table{Headers: []string{"KEY", "COMPONENT", "LOG GROUP"}}
		for _, c := range comps {
			t.Rows = append(t.Rows, []string{c.Key, c.Name, c.LogGroup})
		}
		return t
	})
}
