package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fleetgen/fleetgen/generator"
	"github.com/fleetgen/fleetgen/generator/merge"
)

type diffOptions struct {
	dir     string
	regions []string
}

func newDiffCmd() *cobra.Command {
	o := &diffOptions{}
	cmd := &cobra.Command{
		Use:   "diff",
		Short: "Show what a regen would change, as a unified diff",
		Example: `  fleetgen diff --dir ./edge-fleet
  fleetgen diff --dir ./edge-fleet --region north-sea | less`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := loadRepoSpec(o.dir)
			if err != nil {
				return err
			}
			if err := checkRegionNames(o.dir, l, o.regions); err != nil {
				return err
			}
			res, err := generator.PlanRegions(l, o.regions)
			if err != nil {
				return err
			}
			rep, err := generator.Apply(res, generator.ApplyOptions{Dir: o.dir, DirFlag: "--dir", Regions: o.regions, DryRun: true})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, c := range rep.Written() {
				if c.Action == generator.Delete {
					fmt.Fprint(w, merge.Unified(c.Path, c.Old, nil))
				} else {
					fmt.Fprint(w, merge.Unified(c.Path, c.Old, c.New))
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.dir, "dir", ".", "the fleet repository")
	cmd.Flags().StringArrayVar(&o.regions, "region", nil, "only this region (repeatable)")
	return cmd
}
