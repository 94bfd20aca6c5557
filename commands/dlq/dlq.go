// Package dlq is `nexus dlq`: look into MappingRequestDLQ and move its
// messages back to MappingRequestQueue.
package dlq

import (
	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/dlq/peek"
	"github.com/nexus-compliance/nexus/commands/dlq/redrive"
	"github.com/nexus-compliance/nexus/commands/dlq/status"
)

// NewCmd builds `nexus dlq`.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "Inspect the dead-letter queue and redrive it",
		Long: `A mapping request that fails three times in the SQS trigger (for instance because Step
Functions rejected it) lands in MappingRequestDLQ, where it is kept for 14 days. Once the
cause is fixed, move the messages back to MappingRequestQueue so their jobs run again.

The queues come from the environment: queue_url / dlq_url (MAIN_QUEUE_URL, DLQ_URL), else
the names queue_name / dlq_name (MappingRequestQueue, MappingRequestDLQ).`,
		Example: `  nexus dlq status
  nexus dlq peek -n 5
  nexus dlq redrive --dry-run
  nexus dlq redrive --yes`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(
		status.NewCmdStatus(f, nil),
		peek.NewCmdPeek(f, nil),
		redrive.NewCmdRedrive(f, nil),
	)
	return cmd
}
