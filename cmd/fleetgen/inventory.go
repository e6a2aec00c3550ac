package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing/fstest"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/fleetgen/fleetgen/generator"
	"github.com/fleetgen/fleetgen/generator/spec"
)

type inventoryOptions struct {
	writeOptions
	dir    string
	region string
	labels []string
	values []string
}

func newInventoryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inventory",
		Short: "Add or remove clusters in the fleet's inventory file and regenerate the affected regions",
		Long: `Large fleets list their clusters in an inventory file beside fleet.yaml (spec.inventory:
a CSV with the header name,region[,label:KEY...][,VAR...], or a YAML list of
{name, region, labels, values}). These commands edit it and regenerate only the regions
whose clusters changed, in one commit.`,
	}
	cmd.AddCommand(newInventoryAddCmd(), newInventoryRemoveCmd())
	return cmd
}

func newInventoryAddCmd() *cobra.Command {
	o := &inventoryOptions{}
	cmd := &cobra.Command{
		Use:     "add NAME...",
		Short:   "Add clusters to a region",
		Example: `  fleetgen inventory add --dir ./fleet --region eu-west truck-0004 truck-0005 --label fleet.example.com/depot=lyon --value DEPOT=Lyon`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, args, true)
		},
	}
	cmd.Flags().StringVar(&o.dir, "dir", ".", "the fleet repository")
	cmd.Flags().StringVar(&o.region, "region", "", "region of the new clusters")
	cmd.Flags().StringArrayVar(&o.labels, "label", nil, "node label KEY=VALUE for the new clusters (repeatable)")
	cmd.Flags().StringArrayVar(&o.values, "value", nil, "cluster-vars value VAR=VALUE for the new clusters (repeatable)")
	_ = cmd.MarkFlagRequired("region")
	o.register(cmd)
	return cmd
}

func newInventoryRemoveCmd() *cobra.Command {
	o := &inventoryOptions{}
	cmd := &cobra.Command{
		Use:     "remove NAME...",
		Short:   "Remove clusters (their generated files are deleted, edited ones kept)",
		Example: `  fleetgen inventory remove --dir ./fleet truck-0002`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, args, false)
		},
	}
	cmd.Flags().StringVar(&o.dir, "dir", ".", "the fleet repository")
	o.register(cmd)
	return cmd
}

func (o *inventoryOptions) run(cmd *cobra.Command, names []string, add bool) error {
	start := time.Now()
	l, err := loadRepoSpec(o.dir)
	if err != nil {
		return err
	}
	inv := l.Spec.Inventory
	if inv == "" {
		return fmt.Errorf("%s has no inventory: add `inventory: clusters.csv` under spec in fleet.yaml, with the header line name,region", filepath.Join(o.dir, "fleet.yaml"))
	}
	rows, err := spec.ParseInventory(l.InventorySource, inv)
	if err != nil {
		return err
	}
	affected := map[string]bool{}
	if add {
		if _, ok := l.Region(o.region); !ok {
			var known []string
			for _, r := range l.Spec.Regions {
				known = append(known, r.Name)
			}
			return fmt.Errorf("--region %q: no such region in %s (regions: %s)", o.region, filepath.Join(o.dir, "fleet.yaml"), strings.Join(known, ", "))
		}
		labels, err := keyValues("--label", o.labels)
		if err != nil {
			return err
		}
		values, err := keyValues("--value", o.values)
		if err != nil {
			return err
		}
		for _, n := range names {
			rows = append(rows, spec.InventoryRow{Name: n, Region: o.region, Labels: labels, Values: values})
		}
		affected[o.region] = true
	} else {
		keep := rows[:0]
		found := map[string]bool{}
		for _, r := range rows {
			if contains(names, r.Name) {
				found[r.Name] = true
				affected[r.Region] = true
				continue
			}
			keep = append(keep, r)
		}
		for _, n := range names {
			if !found[n] {
				return fmt.Errorf("cluster %q is not in %s", n, inv)
			}
		}
		rows = keep
	}
	newInv, err := encodeInventory(inv, l.InventorySource, rows)
	if err != nil {
		return err
	}
	// Re-load the spec with the edited inventory, in memory: every check
	// runs before anything is written.
	mem := fstest.MapFS{"fleet.yaml": {Data: l.Source}, path.Clean(inv): {Data: newInv}}
	l2, err := spec.Load(mem, "fleet.yaml")
	if err != nil {
		return err
	}
	var regions []string
	for r := range affected {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	defer collectLessIfSmall(clustersIn(l2, regions))()
	verb := "add"
	if !add {
		verb = "remove"
	}
	ao, err := o.applyOptions(o.dir, fmt.Sprintf("fleetgen: inventory %s %s (region %s)", verb, strings.Join(names, ", "), strings.Join(regions, ", ")), l.Spec.Git.Branch)
	if err != nil {
		return err
	}
	ao.Regions = regions
	ao.Paths = []string{path.Clean(inv)}
	ao.Inputs = specInputs(l)
	ao.DirFlag = "--dir"
	ao.Check = checkPlanned
	ao.Progress = progress(cmd.ErrOrStderr(), o.quiet)
	// The repository is read while the plan is made, and checked while
	// the reading finishes.
	rep, err := generator.ApplyPlanned(ao, func() (*generator.Result, error) { return generator.PlanRegions(l2, regions) })
	if err != nil {
		return err
	}
	if !o.quiet {
		printReport(cmd.OutOrStdout(), rep, o.dryRun, o.dir, time.Since(start))
	}
	return nil
}

func keyValues(flag string, kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: use KEY=VALUE", flag, kv)
		}
		m[k] = v
	}
	return m, nil
}

// encodeInventory writes rows back in the file's own format. A CSV keeps
// its header (new label or value columns are added at the end).
func encodeInventory(name string, old []byte, rows []spec.InventoryRow) ([]byte, error) {
	if !strings.HasSuffix(name, ".csv") {
		var b bytes.Buffer
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(rows); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	header := []string{"name", "region"}
	if recs, err := csv.NewReader(bytes.NewReader(old)).Read(); err == nil && len(recs) >= 2 {
		header = recs
	}
	for _, r := range rows {
		// New columns in sorted order: the same rows give the same bytes.
		for _, k := range slices.Sorted(maps.Keys(r.Labels)) {
			if !contains(header, "label:"+k) {
				header = append(header, "label:"+k)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(r.Values)) {
			if !contains(header, k) {
				header = append(header, k)
			}
		}
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(header)
	for _, r := range rows {
		rec := []string{r.Name, r.Region}
		for _, h := range header[2:] {
			if k, ok := strings.CutPrefix(h, "label:"); ok {
				rec = append(rec, r.Labels[k])
			} else {
				rec = append(rec, r.Values[h])
			}
		}
		_ = w.Write(rec)
	}
	w.Flush()
	return b.Bytes(), w.Error()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
