package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fleetgen/fleetgen/examples"
	"github.com/fleetgen/fleetgen/generator/fsutil"
	"github.com/fleetgen/fleetgen/generator/spec"
)

type initOptions struct {
	example string
}

func newInitCmd() *cobra.Command {
	o := &initOptions{example: examples.Default}
	cmd := &cobra.Command{
		Use:   "init DIR",
		Short: "Write a starter fleet.yaml to edit",
		Long:  "Write a starter fleet.yaml (and its inventory, if the example has one) into DIR, from one of the built-in examples: " + strings.Join(examples.Names(), ", ") + ".",
		Example: `  fleetgen init ./my-fleet
  fleetgen init ./trucks --example truck-fleet`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, args[0])
		},
	}
	cmd.Flags().StringVar(&o.example, "example", o.example, "example to start from: "+strings.Join(examples.Names(), ", "))
	_ = cmd.RegisterFlagCompletionFunc("example", fixedCompletion(examples.Names()...))
	return cmd
}

func (o *initOptions) run(cmd *cobra.Command, dir string) error {
	found := false
	for _, n := range examples.Names() {
		found = found || n == o.example
	}
	if !found {
		return fmt.Errorf("--example %q: not one of %s", o.example, strings.Join(examples.Names(), ", "))
	}
	entries, err := fs.ReadDir(examples.FS, o.example)
	if err != nil {
		return err
	}
	// The example's files, and the schema its fleet.yaml's first line names.
	files := map[string][]byte{spec.SchemaFile: spec.Schema}
	var names []string
	for _, e := range entries {
		b, err := fs.ReadFile(examples.FS, path.Join(o.example, e.Name()))
		if err != nil {
			return err
		}
		files[e.Name()] = b
		names = append(names, e.Name())
	}
	names = append(names, spec.SchemaFile)
	// Check everything before writing anything: never overwrite.
	for _, name := range names {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return fmt.Errorf("%s already exists; init never overwrites a file", filepath.Join(dir, name))
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return fmt.Errorf("%s is a file, not a directory", dir)
	}
	for _, name := range names {
		if err := fsutil.WriteFileAtomic(dir, name, files[name], 0o644); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", filepath.Join(dir, name))
	}
	fmt.Fprintf(cmd.OutOrStdout(), "next: edit %s, then fleetgen generate --spec %s --out <repo-dir>\n",
		filepath.Join(dir, "fleet.yaml"), filepath.Join(dir, "fleet.yaml"))
	return nil
}
