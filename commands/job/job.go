// Package job is `nexus job`: the mapping jobs of a deployment. Each verb
// lives in its own package.
package job

import (
	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/job/get"
	"github.com/nexus-compliance/nexus/commands/job/list"
	"github.com/nexus-compliance/nexus/commands/job/status"
	"github.com/nexus-compliance/nexus/commands/job/wait"
)

// NewCmd builds `nexus job`.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "job",
		Short: "Inspect mapping jobs",
		Long: `Inspect the mapping jobs of the MappingJobs table: list them by status, age, control or
framework, and show one with its error or its mappings; follow a job of the Nexus API with
status and wait.`,
		Example: `  nexus job list --status PENDING --older-than 30m
  nexus job get 550e8400-e29b-41d4-a716-446655440000
  nexus job wait 550e8400-e29b-41d4-a716-446655440000 --timeout 5m`,
	}
	cmd.AddCommand(list.NewCmd(f, nil), get.NewCmd(f, nil), status.NewCmd(f, nil), wait.NewCmd(f, nil))
	return cmd
}
