// Package app wires berth's components into the commands of the berth
// binary. It is the only package that imports every component.
package app

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"berth.dev/berth/internal/version"
)

// Command returns the root command with every subcommand.
func Command() *cobra.Command {
	root := &cobra.Command{
		Use:           "berth",
		Short:         "A secure-by-default container orchestrator that speaks the Kubernetes API",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serverCommand(), agentCommand(), simCommand(), imageCommand(), tokenCommand(), versionCommand(), shimCommand())
	return root
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the berth version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := json.MarshalIndent(version.Info(), "", "  ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), string(b))
			return err
		},
	}
}
