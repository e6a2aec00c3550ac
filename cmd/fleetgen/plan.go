package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fleetgen/fleetgen/generator"
	"github.com/fleetgen/fleetgen/generator/gitrepo"
	"github.com/fleetgen/fleetgen/generator/spec"
)

type planOptions struct {
	specPath string
	dir      string
	output   string
}

func newPlanCmd() *cobra.Command {
	o := &planOptions{output: "text"}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show the decisions and the memory budget for each region, without writing anything",
		Long: `Show, for each region, what fleetgen decided from the hardware and the link — datastore,
Flux components and size, K3s components disabled, connectivity settings — and why, with
the memory budget of a node: K3s, each Flux component, each app's requests, against the
node's memory, and the margin left. When nothing fits, plan (and generate) refuse.`,
		Example: `  fleetgen plan
  fleetgen plan --spec fleet.yaml --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.output != "text" && o.output != "json" {
				return fmt.Errorf("--output %q: use text or json", o.output)
			}
			if o.dir != "" && o.specPath != "" {
				return fmt.Errorf("--spec and --dir: give one (--dir reads DIR/fleet.yaml and the revisions its rings run)")
			}
			var l *spec.Loaded
			var err error
			if o.dir != "" {
				l, err = loadRepoSpec(o.dir)
			} else {
				l, err = loadSpec(o.specPath)
			}
			if err != nil {
				return err
			}
			res, err := generator.Plan(l)
			if err != nil {
				return err
			}
			var rings []ringStatus
			if o.dir != "" && l.Spec.HasRings() {
				repo, err := gitrepo.Open(o.dir)
				if err != nil {
					return err
				}
				if rings, err = ringStatuses(l, repo); err != nil {
					return err
				}
			}
			if o.output == "json" {
				return writePlanJSON(cmd.OutOrStdout(), res, rings)
			}
			return writePlanText(cmd.OutOrStdout(), res, rings)
		},
	}
	cmd.Flags().StringVar(&o.specPath, "spec", "", "fleet.yaml to read (default: the built-in offshore example)")
	cmd.Flags().StringVar(&o.dir, "dir", "", "a fleet repository: plan its fleet.yaml and show the revision each ring runs")
	cmd.Flags().StringVarP(&o.output, "output", "o", o.output, "output format: text or json")
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletion("text", "json"))
	return cmd
}

func writePlanText(w io.Writer, res *generator.Result, status []ringStatus) error {
	fmt.Fprintf(w, "Fleet %s: %d clusters in %d regions, %d files planned\n", res.Spec.Metadata.Name, len(res.Spec.Clusters), len(res.Decisions), len(res.Tree.Files))
	s := &res.Spec.Spec
	if s.HasRings() {
		fmt.Fprintf(w, "Rings (each syncs %s<ring>; fleetgen commits to %s, promote moves a ring):\n", spec.RingBranchPrefix, s.Git.Branch)
		for i, r := range s.Rings {
			n := totalRingSizes(res.Spec)[i]
			line := fmt.Sprintf("  %d. %-10s share %3d%%  %6d clusters", i+1, r.Name, r.Share, n)
			if i < len(status) {
				if st := status[i]; st.Revision != "" {
					line += fmt.Sprintf("  runs %s (%d behind %s): %s", st.Revision[:12], st.Behind, s.Git.Branch, st.Subject)
				} else {
					line += "  (no branch yet: fleetgen regen creates it)"
				}
			}
			fmt.Fprintln(w, line)
		}
	}
	for _, d := range res.Decisions {
		hw := d.Hardware
		fmt.Fprintf(w, "\nRegion %s — %d clusters of %d × %s, %s RAM, %d cores, %s; connectivity %s\n",
			d.Region, len(res.Spec.RegionClusters(d.Region)), hw.Nodes, hw.Arch, hw.Memory, hw.CPUs, hw.Storage, d.Connectivity.Name)
		fmt.Fprintf(w, "  datastore: %s   flux: %s (size %s)   disabled: %s\n", d.Datastore, strings.Join(d.FluxComponents, ", "), d.FluxSize, strings.Join(d.Disable, ", "))
		p := d.Connectivity
		src := "git"
		if res.Spec.Spec.OCI() {
			src = "OCI (" + generator.OCIURL(&res.Spec.Spec) + ", one artifact per " + res.Spec.Spec.Delivery.Unit + ")"
		}
		fmt.Fprintf(w, "  %s poll %s (timeout %s), apply every %s (retry %s, timeout %s), jitter ±%d%%, sparse checkout %v\n",
			src, p.GitInterval, p.GitTimeout, p.SyncInterval, p.RetryInterval, p.ApplyTimeout, p.JitterPercent, p.SparseCheckout)
		fmt.Fprintf(w, "  nodes hold: %s\n", generator.NodeKey(res.Spec, d.Region))
		fmt.Fprintf(w, "  k3s: %s (pinned), upgrades by system-upgrade-controller %s, window: %s\n", d.Upgrade.Version, generator.SUCVersion, d.Upgrade.Window)
		if sizes := res.Spec.RingSizes(d.Region); sizes != nil {
			var parts []string
			for i, r := range s.Rings {
				part := fmt.Sprintf("%s %d", r.Name, sizes[i])
				if i < len(status) && status[i].Revision != "" {
					part += " @" + status[i].Revision[:12]
				}
				parts = append(parts, part)
			}
			fmt.Fprintf(w, "  rings: %s\n", strings.Join(parts, ", "))
		}
		fmt.Fprintln(w, "  why:")
		for _, r := range d.Reasons {
			fmt.Fprintf(w, "    - %s\n", r)
		}
		fmt.Fprintln(w, "  memory budget of a server node:")
		row := func(name, mem, cpu string) { fmt.Fprintf(w, "    %-44s %12s %6s\n", name, mem, cpu) }
		row("component", "memory", "cpu")
		for _, l := range d.Budget.Lines {
			row(l.Component, fmt.Sprintf("%dMi", l.MemoryMi), fmt.Sprintf("%dm", l.CPUm))
		}
		b := d.Budget
		row("total", fmt.Sprintf("%dMi", b.TotalMi), "")
		row("node memory", fmt.Sprintf("%dMi", b.NodeMemoryMi), "")
		row("margin", fmt.Sprintf("%dMi (%d%%)", b.MarginMi, b.MarginPercent), "")
	}
	fmt.Fprintln(w, "\nFigures and their sources: fleetgen plan --output json (or generator/budget.go).")
	return nil
}

type planJSON struct {
	Fleet    string       `json:"fleet"`
	Clusters int          `json:"clusters"`
	Files    int          `json:"files"`
	Rings    []ringStatus `json:"rings,omitempty"`
	Regions  []regionJSON `json:"regions"`
}

// regionRingJSON is a ring's part of a region.
type regionRingJSON struct {
	Name     string `json:"name"`
	Clusters int    `json:"clusters"`
	Branch   string `json:"branch"`
	Revision string `json:"revision,omitempty"`
}

type regionJSON struct {
	Name           string                    `json:"name"`
	Clusters       int                       `json:"clusters"`
	Hardware       any                       `json:"hardware"`
	Datastore      string                    `json:"datastore"`
	FluxComponents []string                  `json:"fluxComponents"`
	FluxSize       string                    `json:"fluxSize"`
	Disabled       []string                  `json:"k3sDisabled"`
	Connectivity   generator.Profile         `json:"connectivity"`
	NodeKey        string                    `json:"nodeKey"`
	Reasons        []string                  `json:"reasons"`
	Budget         generator.Budget          `json:"budget"`
	Rings          []regionRingJSON          `json:"rings,omitempty"`
	Upgrades       generator.UpgradeDecision `json:"k3sUpgrades"`
}

func writePlanJSON(w io.Writer, res *generator.Result, status []ringStatus) error {
	out := planJSON{Fleet: res.Spec.Metadata.Name, Clusters: len(res.Spec.Clusters), Files: len(res.Tree.Files), Rings: status}
	s := &res.Spec.Spec
	if s.HasRings() && status == nil {
		for i, n := range totalRingSizes(res.Spec) {
			r := s.Rings[i]
			out.Rings = append(out.Rings, ringStatus{Ring: r.Name, Share: r.Share, Clusters: n, Branch: spec.RingBranch(r.Name)})
		}
	}
	for _, d := range res.Decisions {
		var rings []regionRingJSON
		for i, n := range res.Spec.RingSizes(d.Region) {
			rr := regionRingJSON{Name: s.Rings[i].Name, Clusters: n, Branch: spec.RingBranch(s.Rings[i].Name)}
			if i < len(status) {
				rr.Revision = status[i].Revision
			}
			rings = append(rings, rr)
		}
		out.Regions = append(out.Regions, regionJSON{Rings: rings,
			Name: d.Region, Clusters: len(res.Spec.RegionClusters(d.Region)),
			Hardware:  map[string]any{"arch": d.Hardware.Arch, "memory": d.Hardware.Memory, "cpus": d.Hardware.CPUs, "storage": d.Hardware.Storage, "nodes": d.Hardware.Nodes},
			Datastore: d.Datastore, FluxComponents: d.FluxComponents, FluxSize: d.FluxSize, Disabled: d.Disable,
			Connectivity: d.Connectivity, NodeKey: generator.NodeKey(res.Spec, d.Region), Reasons: d.Reasons, Budget: d.Budget,
			Upgrades: d.Upgrade,
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// totalRingSizes counts the fleet's clusters per ring, in ring order.
func totalRingSizes(l *spec.Loaded) []int {
	out := make([]int, len(l.Spec.Rings))
	for _, r := range l.Spec.Regions {
		for i, n := range l.RingSizes(r.Name) {
			out[i] += n
		}
	}
	return out
}
