package app

import (
	"github.com/spf13/cobra"

	"berth.dev/berth/internal/agent/runtime"
)

// shimCommand is "berth shim <container dir>": the per-container monitor
// the node agent starts (see runtime.RunShim). Hidden: people do not run it.
func shimCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "shim CONTAINER_DIR",
		Short:  "Supervise one container (started by the node agent)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return runtime.RunShim(args[0])
		},
	}
}
