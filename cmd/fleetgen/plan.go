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
	specPath      string
	dir           string
	output        string
	commitsPerDay float64
}

func newPlanCmd() *cobra.Command {
	o := &planOptions{output: "text", commitsPerDay: generator.DefaultCommitsPerDay}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show the decisions and the memory budget for each region, without writing anything",
		Long: `Show, for each region, what fleetgen decided from the hardware and the link — datastore,
Flux components and size, K3s components disabled, connectivity settings — and why, with
the memory budget of a node: K3s, each Flux component, each app's requests, against the
node's memory, and the margin left. When nothing fits, plan (and generate) refuse.

Then the fleet's load model, from the rendered files: polls and requests per minute at the
git server or registry, bytes a site downloads per commit that touches it and per commit
that does not, the fleet's egress per commit and per day at --commits-per-day, the time a
site needs to converge after an outage at its link's bandwidth, and the published rate
limits of the server (GitLab.com, Bitbucket, GitHub, Docker Hub), with a warning when the
fleet would exceed one. With spec.rings, a commit to the fleet's branch reaches no site until
a ring is promoted: plan adds, per ring, its clusters and what a promotion of it costs (a
site's download, the ring's egress, the peak requests, the time to converge).`,
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
			if o.commitsPerDay <= 0 {
				return fmt.Errorf("--commits-per-day %v: must be more than 0", o.commitsPerDay)
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
			load, err := generator.Load(res, generator.LoadOptions{CommitsPerDay: o.commitsPerDay})
			if err != nil {
				return err
			}
			if o.output == "json" {
				return writePlanJSON(cmd.OutOrStdout(), res, rings, load)
			}
			if err := writePlanText(cmd.OutOrStdout(), res, rings); err != nil {
				return err
			}
			writeLoadText(cmd.OutOrStdout(), load)
			return nil
		},
	}
	cmd.Flags().StringVar(&o.specPath, "spec", "", "fleet.yaml to read (default: the built-in offshore example)")
	cmd.Flags().StringVar(&o.dir, "dir", "", "a fleet repository: plan its fleet.yaml and show the revision each ring runs")
	cmd.Flags().StringVarP(&o.output, "output", "o", o.output, "output format: text or json")
	cmd.Flags().Float64Var(&o.commitsPerDay, "commits-per-day", o.commitsPerDay, "commits to the fleet repository per day, for the load model (each touching one region)")
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
		if d.K0s() {
			fmt.Fprintf(w, "  distribution: k0s (spec.distribution)\n")
		}
		if d.ArgoCD() {
			fmt.Fprintf(w, "  datastore: %s   engine: Argo CD %s core (%s)   disabled: %s\n", d.Datastore, generator.ArgoVersion, strings.Join(generator.ArgoComponents, ", "), strings.Join(d.Disable, ", "))
		} else {
			fmt.Fprintf(w, "  datastore: %s   flux: %s (size %s)   disabled: %s\n", d.Datastore, strings.Join(d.FluxComponents, ", "), d.FluxSize, strings.Join(d.Disable, ", "))
		}
		switch d.Charts {
		case generator.ChartsFlux:
			fmt.Fprintf(w, "  charts: Flux HelmRelease (helm-controller)\n")
		case generator.ChartsK3s:
			fmt.Fprintf(w, "  charts: K3s HelmChart (K3s's built-in helm-controller)\n")
		}
		for _, sh := range d.WasmShims() {
			by := "RuntimeClass " + sh.RuntimeClass + " from K3s (runtimes.yaml)"
			if sh.RuntimeClassBy == "fleetgen" {
				by = "RuntimeClass " + sh.RuntimeClass + " and containerd runtime written by fleetgen"
			}
			fmt.Fprintf(w, "  wasm: %s under shim %s: every node needs %s on its PATH; %s\n", sh.Apps, sh.Shim, sh.Binary, by)
		}
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
		if d.ArgoCD() {
			fmt.Fprintf(w, "  git poll %s (+ up to %s jitter, timeout %s), sync retry %s doubling up to %s, sync timeout %s, drift corrected on change (selfHeal), clone depth from the repository Secret (1 as the bootstrap README makes it)\n",
				p.GitInterval, generator.ArgoJitter(p), p.GitTimeout, p.RetryInterval, p.SyncInterval, p.ApplyTimeout)
		} else {
			fmt.Fprintf(w, "  %s poll %s (timeout %s), apply every %s (retry %s, timeout %s), jitter ±%d%%, sparse checkout %v\n",
				src, p.GitInterval, p.GitTimeout, p.SyncInterval, p.RetryInterval, p.ApplyTimeout, p.JitterPercent, p.SparseCheckout)
		}
		fmt.Fprintf(w, "  nodes hold: %s\n", generator.NodeKey(res.Spec, d.Region))
		if d.K0s() {
			fmt.Fprintf(w, "  k0s: %s (pinned), upgrades: not generated yet (no k0s autopilot Plan)\n", d.Upgrade.Version)
		} else {
			fmt.Fprintf(w, "  k3s: %s (pinned), upgrades by system-upgrade-controller %s, window: %s\n", d.Upgrade.Version, generator.SUCVersion, d.Upgrade.Window)
		}
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
	return nil
}

func writeLoadText(w io.Writer, m *generator.LoadModel) {
	what := "git, every site syncs the whole repository"
	if m.Mode == "oci" {
		what = "OCI, one artifact per " + m.Unit
	}
	fmt.Fprintf(w, "\nLoad model (%s; server %s; %g commits a day, each touching one region):\n", what, m.Server, m.CommitsPerDay)
	if m.Mode == "git" {
		fmt.Fprintf(w, "  every new commit: a depth-1 clone of the whole repository, %s (%d B), on every site\n", generator.FormatBytes(m.GitPackBytes), m.GitPackBytes)
	} else if m.Sampled {
		fmt.Fprintf(w, "  artifact sizes from a sample: the first and last cluster's artifact of each region (%d built)\n", m.Artifacts)
	}
	row := func(cols ...string) {
		fmt.Fprintf(w, "  %-14s %8s %6s %9s %10s %10s %11s %9s %9s %10s\n", cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7], cols[8], cols[9])
	}
	row("region", "clusters", "poll", "polls/min", "req/min", "site/touch", "site/other", "egress/rc", "bandwidth", "converge")
	for _, r := range m.Regions {
		row(r.Region, fmt.Sprint(r.Clusters), r.PollInterval, fmt.Sprintf("%.1f", r.PollsPerMinute), fmt.Sprintf("%.1f", r.RequestsPerMinute),
			generator.FormatBytes(r.SiteBytesTouching), generator.FormatBytes(r.SiteBytesOther), generator.FormatBytes(r.EgressPerRegionCommit),
			r.Bandwidth, generator.FormatSeconds(r.ConvergeSeconds))
	}
	f := m.Fleet
	row("fleet", fmt.Sprint(f.Clusters), "", fmt.Sprintf("%.1f", f.PollsPerMinute), fmt.Sprintf("%.1f", f.RequestsPerMinute), "", "", generator.FormatBytes(f.EgressPerRegionCommit), "", "")
	fmt.Fprintf(w, "  peak requests/min (the poll interval after a commit every site downloads): %.0f\n", f.PeakRequestsPerMinute)
	fmt.Fprintf(w, "  fleet egress: %s per commit every site downloads, %s per commit touching one region (mean), %s per day; %.0f downloads a day\n",
		generator.FormatBytes(f.EgressPerFleetCommit), generator.FormatBytes(f.EgressPerRegionCommit), generator.FormatBytes(f.EgressPerDay), f.DownloadsPerDay)
	fmt.Fprintln(w, "  (site/touch: one site's download for a commit that changes what it applies; site/other: for one that does not;")
	fmt.Fprintln(w, "   egress/rc: all of a region's sites for a commit touching that region; converge: after an outage, one poll")
	fmt.Fprintln(w, "   interval with jitter, then the download at the bandwidth; request headers and TLS are not counted)")
	if len(m.Rings) > 0 {
		writeRingLoadText(w, m)
	}
	fmt.Fprintln(w, "  published limits:")
	for _, c := range m.Limits {
		state := "not checked (another server, or other credentials)"
		switch {
		case c.Applies && c.Exceeded:
			state = fmt.Sprintf("EXCEEDED: %.0f %s", c.Value, c.Unit)
		case c.Applies:
			state = fmt.Sprintf("ok: %.1f %s", c.Value, c.Unit)
		case c.Max == 0:
			state = "no figure to check"
		}
		fmt.Fprintf(w, "    %s: %s — %s [%s]\n", c.Service, c.Limit, state, c.Source)
	}
	for _, x := range m.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", x)
	}
	fmt.Fprintln(w, "\nFigures and their sources: fleetgen plan --output json (or generator/budget.go, generator/load.go).")
}

// writeRingLoadText is the load model's part for spec.rings: per promotion
// of each ring.
func writeRingLoadText(w io.Writer, m *generator.LoadModel) {
	if m.Mode == "oci" {
		fmt.Fprintln(w, "  rings: a commit to the fleet's branch reaches no site (0 B: publish builds each cluster's artifact from its")
		fmt.Fprintln(w, "  ring's branch, which does not move); the figures above are per commit once promoted. A promotion of a ring")
		fmt.Fprintln(w, "  reaches its sites only:")
	} else {
		fmt.Fprintln(w, "  rings: a commit to the fleet's branch reaches no site (0 B: every site polls its ring's branch, which does not")
		fmt.Fprintln(w, "  move); the figures above are per commit once promoted. A promotion of a ring reaches its sites only:")
	}
	row := func(cols ...string) {
		fmt.Fprintf(w, "  %-14s %8s %11s %12s %12s %13s %9s\n", cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6])
	}
	row("ring", "clusters", "site/promo", "egress/promo", "egress/rp", "peak req/min", "converge")
	for _, r := range m.Rings {
		row(r.Ring, fmt.Sprint(r.Clusters), generator.FormatBytes(r.SiteBytesPerPromotion), generator.FormatBytes(r.EgressPerPromotion),
			generator.FormatBytes(r.EgressPerRegionPromotion), fmt.Sprintf("%.0f", r.PeakRequestsPerMinute), generator.FormatSeconds(r.ConvergeSeconds))
	}
	if m.Mode == "oci" {
		fmt.Fprintln(w, "  (egress/promo: every site of the ring downloads its artifact, a promotion carrying a fleet-wide change such as")
		fmt.Fprintln(w, "   a Flux or K3s bump; egress/rp: a promotion carrying a commit that touches one region, mean over regions;")
	} else {
		fmt.Fprintln(w, "  (egress/promo: every site of the ring clones the whole repository, whatever the promotion carries;")
		fmt.Fprintln(w, "   egress/rp: the same in git mode;")
	}
	fmt.Fprintln(w, "   peak req/min: the poll interval after the promotion; converge: the ring's slowest region. A promotion carrying")
	fmt.Fprintln(w, "   several commits costs one download per site; the per-day figure assumes every commit is promoted through every ring)")
}

type planJSON struct {
	Fleet    string       `json:"fleet"`
	Clusters int          `json:"clusters"`
	Files    int          `json:"files"`
	Rings    []ringStatus `json:"rings,omitempty"`
	Regions  []regionJSON `json:"regions"`
	// Load is the load model (generator.LoadModel; README "Load model").
	Load *generator.LoadModel `json:"load"`
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
	Distribution   string                    `json:"distribution"`
	Engine         string                    `json:"engine"`
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
	// Charts: how chart apps are installed (flux-helmrelease or
	// k3s-helmchart); absent without chart apps.
	Charts string `json:"charts,omitempty"`
	// Wasm: the region's WebAssembly apps, their shim, the binary its
	// nodes need and who creates the RuntimeClass (k3s or fleetgen).
	Wasm []generator.WasmApp `json:"wasm,omitempty"`
}

func writePlanJSON(w io.Writer, res *generator.Result, status []ringStatus, load *generator.LoadModel) error {
	out := planJSON{Fleet: res.Spec.Metadata.Name, Clusters: len(res.Spec.Clusters), Files: len(res.Tree.Files), Rings: status, Load: load}
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
			Hardware:     map[string]any{"arch": d.Hardware.Arch, "memory": d.Hardware.Memory, "cpus": d.Hardware.CPUs, "storage": d.Hardware.Storage, "nodes": d.Hardware.Nodes},
			Distribution: d.Distribution, Engine: d.Engine, Datastore: d.Datastore, FluxComponents: d.FluxComponents, FluxSize: d.FluxSize, Disabled: d.Disable,
			Connectivity: d.Connectivity, NodeKey: generator.NodeKey(res.Spec, d.Region), Reasons: d.Reasons, Budget: d.Budget,
			Upgrades: d.Upgrade, Charts: d.Charts, Wasm: d.Wasm,
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
