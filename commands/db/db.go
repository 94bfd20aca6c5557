// Package db is `nexus db`.
package db

import (
	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/cmdutil"
)

// NewCmd builds `nexus db`.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "db"}
	return cmd
}
