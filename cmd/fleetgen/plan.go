package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fleetgen/fleetgen/generator"
)

type planOptions struct {
	specPath string
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
			l, err := loadSpec(o.specPath)
			if err != nil {
				return err
			}
			res, err := generator.Plan(l)
			if err != nil {
				return err
			}
			if o.output == "json" {
				return writePlanJSON(cmd.OutOrStdout(), res)
			}
			return writePlanText(cmd.OutOrStdout(), res)
		},
	}
	cmd.Flags().StringVar(&o.specPath, "spec", "", "fleet.yaml to read (default: the built-in offshore example)")
	cmd.Flags().StringVarP(&o.output, "output", "o", o.output, "output format: text or json")
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletion("text", "json"))
	return cmd
}

func writePlanText(w io.Writer, res *generator.Result) error {
	fmt.Fprintf(w, "Fleet %s: %d clusters in %d regions, %d files planned\n", res.Spec.Metadata.Name, len(res.Spec.Clusters), len(res.Decisions), len(res.Tree.Files))
	for _, d := range res.Decisions {
		hw := d.Hardware
		fmt.Fprintf(w, "\nRegion %s — %d clusters of %d × %s, %s RAM, %d cores, %s; connectivity %s\n",
			d.Region, len(res.Spec.RegionClusters(d.Region)), hw.Nodes, hw.Arch, hw.Memory, hw.CPUs, hw.Storage, d.Connectivity.Name)
		fmt.Fprintf(w, "  datastore: %s   flux: %s (size %s)   disabled: %s\n", d.Datastore, strings.Join(d.FluxComponents, ", "), d.FluxSize, strings.Join(d.Disable, ", "))
		p := d.Connectivity
		src := "git"
		if res.Spec.Spec.OCI() {
			reg, _ := res.Spec.Region(d.Region)
			src = "OCI (" + generator.RegionOCIURL(&res.Spec.Spec, reg) + ", one artifact per " + res.Spec.Spec.Delivery.Unit
			if reg != nil && reg.Delivery != nil && reg.Delivery.Repository != "" {
				src += ", the region's mirror: publish pushes there too"
			}
			src += ")"
		}
		fmt.Fprintf(w, "  %s poll %s (timeout %s), apply every %s (retry %s, timeout %s), jitter ±%d%%, sparse checkout %v\n",
			src, p.GitInterval, p.GitTimeout, p.SyncInterval, p.RetryInterval, p.ApplyTimeout, p.JitterPercent, p.SparseCheckout)
		fmt.Fprintf(w, "  nodes hold: %s\n", generator.NodeKey(res.Spec, d.Region))
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
	Regions  []regionJSON `json:"regions"`
}

type regionJSON struct {
	Name           string            `json:"name"`
	Clusters       int               `json:"clusters"`
	Hardware       any               `json:"hardware"`
	Datastore      string            `json:"datastore"`
	FluxComponents []string          `json:"fluxComponents"`
	FluxSize       string            `json:"fluxSize"`
	Disabled       []string          `json:"k3sDisabled"`
	Connectivity   generator.Profile `json:"connectivity"`
	NodeKey        string            `json:"nodeKey"`
	Reasons        []string          `json:"reasons"`
	Budget         generator.Budget  `json:"budget"`
}

func writePlanJSON(w io.Writer, res *generator.Result) error {
	out := planJSON{Fleet: res.Spec.Metadata.Name, Clusters: len(res.Spec.Clusters), Files: len(res.Tree.Files)}
	for _, d := range res.Decisions {
		out.Regions = append(out.Regions, regionJSON{
			Name: d.Region, Clusters: len(res.Spec.RegionClusters(d.Region)),
			Hardware:  map[string]any{"arch": d.Hardware.Arch, "memory": d.Hardware.Memory, "cpus": d.Hardware.CPUs, "storage": d.Hardware.Storage, "nodes": d.Hardware.Nodes},
			Datastore: d.Datastore, FluxComponents: d.FluxComponents, FluxSize: d.FluxSize, Disabled: d.Disable,
			Connectivity: d.Connectivity, NodeKey: generator.NodeKey(res.Spec, d.Region), Reasons: d.Reasons, Budget: d.Budget,
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
