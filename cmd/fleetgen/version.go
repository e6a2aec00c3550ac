package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fleetgen/fleetgen/generator"
)

// fleetgenVersion is generator.Version: set at build time with
// -ldflags "-X github.com/fleetgen/fleetgen/generator.version=v1.2.3",
// otherwise the module version from the build info. The generated CI
// files pin the same version.
func fleetgenVersion() string { return generator.Version() }

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print fleetgen's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "fleetgen %s\n", fleetgenVersion())
			return err
		},
	}
}
