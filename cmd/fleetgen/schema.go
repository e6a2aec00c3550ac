package main

import (
	"github.com/spf13/cobra"

	"github.com/fleetgen/fleetgen/generator/spec"
)

func newSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of fleet.yaml",
		Long: `Print the JSON Schema (draft 2020-12) of fleet.yaml, derived from the same Go types as
the loader. Editors with a YAML language server use it through the first line of the
fleet.yaml files fleetgen writes:
  ` + spec.SchemaComment + `
(init writes ` + spec.SchemaFile + ` beside fleet.yaml; a generated repository has it at its top).
The loader remains the authority: cross-field rules, names and quantities are checked by
'fleetgen plan' and 'generate', which name the field and line.`,
		Example: `  fleetgen schema > fleet.schema.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(spec.Schema)
			return err
		},
	}
}
