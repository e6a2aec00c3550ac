package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetgen/fleetgen/generator"
	"github.com/fleetgen/fleetgen/generator/spec"
)

type regenOptions struct {
	writeOptions
	dir         string
	regions     []string
	pruneEdited bool
}

func newRegenCmd() *cobra.Command {
	o := &regenOptions{}
	cmd := &cobra.Command{
		Use:   "regen",
		Short: "Regenerate a fleet repository from its fleet.yaml, keeping hand edits",
		Long: `Re-plan DIR from DIR/fleet.yaml and apply only the difference, for the named regions or
all of them. Generated files you have not touched are updated; files you edited are merged
three-way (what fleetgen generated last time, your version, the new version); if any merge
conflicts, nothing is written and the files are listed. Seeded files are never rewritten.
Files of clusters and regions removed from the spec are deleted, unless you edited them
(--prune-edited deletes those too). With --region, every byte outside that region's
folders stays as it is. Refuses, before writing anything, when a file it would write has
uncommitted changes, and where it cannot write as git would (the message names the git setting
and the way out).`,
		Example: `  fleetgen regen --dir ./edge-fleet
  fleetgen regen --dir ./edge-fleet --region north-sea --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd)
		},
	}
	cmd.Flags().StringVar(&o.dir, "dir", ".", "the fleet repository")
	cmd.Flags().StringArrayVar(&o.regions, "region", nil, "regenerate only this region (repeatable)")
	cmd.Flags().BoolVar(&o.pruneEdited, "prune-edited", false, "also delete edited files whose cluster or region left the spec")
	o.register(cmd)
	return cmd
}

func (o *regenOptions) run(cmd *cobra.Command) error {
	start := time.Now()
	l, err := loadRepoSpec(o.dir)
	if err != nil {
		return err
	}
	if err := checkRegionNames(o.dir, l, o.regions); err != nil {
		return err
	}
	defer collectLessIfSmall(clustersIn(l, o.regions))()
	what := "all regions"
	if len(o.regions) > 0 {
		what = "region " + strings.Join(o.regions, ", ")
	}
	ao, err := o.applyOptions(o.dir, fmt.Sprintf("fleetgen: regenerate %s of %s", what, l.Metadata.Name), l.Spec.Git.Branch)
	if err != nil {
		return err
	}
	ao.Regions = o.regions
	ao.Inputs = specInputs(l)
	ao.PruneEdited = o.pruneEdited
	ao.DirFlag = "--dir"
	ao.Check = checkPlanned
	ao.Progress = progress(cmd.ErrOrStderr(), o.quiet)
	// The repository is read while the plan is made, and checked while
	// the reading finishes.
	rep, err := generator.ApplyPlanned(ao, func() (*generator.Result, error) { return generator.PlanRegions(l, o.regions) })
	if err != nil {
		return err
	}
	if !o.quiet {
		printReport(cmd.OutOrStdout(), rep, o.dryRun, o.dir, time.Since(start))
	}
	return nil
}

// checkRegionNames accepts regions of the spec, and regions that only
// still have folders (to remove them).
func checkRegionNames(dir string, l *spec.Loaded, names []string) error {
	for _, n := range names {
		if _, ok := l.Region(n); ok {
			continue
		}
		if st, err := os.Stat(filepath.Join(dir, "clusters", n)); err == nil && st.IsDir() && validRegionName(n) {
			continue
		}
		var known []string
		for _, r := range l.Spec.Regions {
			known = append(known, r.Name)
		}
		return fmt.Errorf("--region %q: no such region in %s (regions: %s)", n, filepath.Join(dir, "fleet.yaml"), strings.Join(known, ", "))
	}
	return nil
}

func validRegionName(n string) bool {
	return n != "" && !strings.ContainsAny(n, "/\\.") && len(n) <= 63
}
