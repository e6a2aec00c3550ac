package generator

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/fleetgen/fleetgen/generator/spec"
)

// Footprint is the memory a component reserves on a node, with where the
// figure comes from. All figures live in this one table so that a reviewer
// can check them against their sources.
type Footprint struct {
	Component string
	MemoryMi  int64
	CPUm      int64
	Source    string
}

// Footprints, by key. K3s figures are measured working sets; Flux and K3s
// add-on figures are the requests in their published manifests.
var Footprints = map[string]Footprint{
	"os":                      {"Operating system and system daemons", 256, 100, "fleetgen assumption for a minimal server Linux (no desktop)"},
	"k3s-server-sqlite":       {"K3s server (SQLite/kine) with workload", 768, 300, "k3s-io/docs docs/reference/resource-profiling.md"},
	"k3s-server-etcd":         {"K3s server (embedded etcd) with workload", 896, 400, "k3s-io/docs docs/reference/resource-profiling.md"},
	"k3s-agent":               {"K3s agent", 256, 100, "k3s-io/docs docs/reference/resource-profiling.md"},
	"coredns":                 {"CoreDNS (K3s packaged)", 70, 100, "k3s-io/k3s manifests/coredns.yaml requests"},
	"metrics-server":          {"metrics-server (K3s packaged)", 70, 100, "k3s-io/k3s manifests/metrics-server requests"},
	"flux-operator":           {"Flux Operator", 64, 100, "controlplaneio-fluxcd/charts flux-operator values.yaml requests"},
	"source-controller":       {"Flux source-controller", 64, 50, "fluxcd/flux2 manifests/bases/source-controller requests"},
	"kustomize-controller":    {"Flux kustomize-controller", 64, 100, "fluxcd/flux2 manifests/bases/kustomize-controller requests"},
	"helm-controller":         {"Flux helm-controller", 64, 100, "fluxcd/flux2 manifests/bases/helm-controller requests"},
	"notification-controller": {"Flux notification-controller", 64, 100, "fluxcd/flux2 manifests/bases/notification-controller requests"},
	// SUC's manifest sets no request: the figure is the Flux controllers'
	// request, for a controller of the same kind (one Go process watching a
	// few kinds on a small cluster). The upgrade Job runs only while its
	// node is cordoned, so it is not part of the steady state.
	"system-upgrade-controller": {"system-upgrade-controller", 64, 10, "fleetgen estimate: rancher/system-upgrade-controller " + SUCVersion + " manifests set no request; counted as a Flux controller's 64Mi request"},
}

// Minimum free memory left on a node after every reservation, as a share
// of its memory: below it the node swaps or OOM-kills under load spikes.
const minMarginPercent = 10

// FullFluxMarginPercent: the full Flux set (with helm- and
// notification-controller) is only installed where at least this share of
// memory stays free with it; otherwise the minimal set is used.
const fullFluxMarginPercent = 40

// Decisions are the choices the plan makes for one region from its
// hardware and connectivity, with the reasons shown by `fleetgen plan`.
type Decisions struct {
	Region         string
	Distribution   string // k3s | k0s
	Engine         string // flux | argocd
	Hardware       spec.Hardware
	Datastore      string   // sqlite | etcd
	FluxComponents []string // controllers installed
	FluxSize       string   // FluxInstance cluster.size: small | medium
	Disable        []string // K3s packaged components turned off
	EmbeddedReg    bool     // K3s embedded registry mirror (Spegel)
	WireGuard      bool     // flannel-backend: wireguard-native
	Connectivity   Profile
	Reasons        []string
	Budget         Budget
	Exposed        []string // apps open to the site network, described for the docs
	Upgrade        UpgradeDecision
	// Charts is how the region's chart apps are installed: ChartsFlux
	// (HelmRelease, Flux's helm-controller) or ChartsK3s (HelmChart, K3s's
	// built-in helm-controller); "" without chart apps.
	Charts string
	// Wasm: the region's WebAssembly apps and their shims (wasm.go).
	Wasm []WasmApp
}

// How chart apps are installed.
const (
	ChartsFlux = "flux-helmrelease"
	ChartsK3s  = "k3s-helmchart"
)

// BudgetLine is one row of the budget table.
type BudgetLine struct {
	Component string `json:"component"`
	MemoryMi  int64  `json:"memoryMi"`
	CPUm      int64  `json:"cpuMilli"`
	Source    string `json:"source"`
}

// Budget is the memory plan of the busiest node of a region's clusters
// (the server, which runs everything on a single-node cluster).
type Budget struct {
	Lines         []BudgetLine `json:"lines"`
	TotalMi       int64        `json:"totalMi"`
	NodeMemoryMi  int64        `json:"nodeMemoryMi"`
	MarginMi      int64        `json:"marginMi"`
	MarginPercent int64        `json:"marginPercent"`
}

func (b *Budget) add(key string) {
	f := Footprints[key]
	b.Lines = append(b.Lines, BudgetLine{f.Component, f.MemoryMi, f.CPUm, f.Source})
}

func (b *Budget) addApp(a spec.App) {
	mem := resource.MustParse(a.Memory)
	cpu := resource.MustParse(a.CPU)
	switch {
	case a.Chart != nil:
		b.Lines = append(b.Lines, BudgetLine{
			Component: fmt.Sprintf("app %s (chart %s %s)", a.Name, a.Chart.Name, a.Chart.Version),
			MemoryMi:  mem.Value() / (1 << 20),
			CPUm:      cpu.MilliValue(),
			Source:    "fleet.yaml spec.apps[].memory and cpu: what the chart's pods request together, as given (not read from the chart)",
		})
	case a.Kustomize != nil:
		b.Lines = append(b.Lines, BudgetLine{
			Component: fmt.Sprintf("app %s (remote Kustomize base)", a.Name),
			MemoryMi:  mem.Value() / (1 << 20),
			CPUm:      cpu.MilliValue(),
			Source:    "fleet.yaml spec.apps[].memory and cpu: what the base's pods request together, as given (not read from the base)",
		})
	default:
		b.Lines = append(b.Lines, BudgetLine{
			Component: fmt.Sprintf("app %s (%d replica(s))", a.Name, a.Replicas),
			MemoryMi:  mem.Value() / (1 << 20) * int64(a.Replicas),
			CPUm:      cpu.MilliValue() * int64(a.Replicas),
			Source:    "fleet.yaml spec.apps requests",
		})
	}
}

// hasCharts reports whether any app is a Helm chart.
func hasCharts(apps []spec.App) bool {
	for _, a := range apps {
		if a.Chart != nil {
			return true
		}
	}
	return false
}

func (b *Budget) total(nodeMi int64) {
	b.TotalMi = 0
	for _, l := range b.Lines {
		b.TotalMi += l.MemoryMi
	}
	b.NodeMemoryMi = nodeMi
	b.MarginMi = nodeMi - b.TotalMi
	b.MarginPercent = b.MarginMi * 100 / nodeMi
}

var minimalFlux = []string{"source-controller", "kustomize-controller"}
var minimalHelmFlux = []string{"source-controller", "kustomize-controller", "helm-controller"}
var fullFlux = []string{"source-controller", "kustomize-controller", "helm-controller", "notification-controller"}

// decide applies the seed's Warning: drop what is too heavy for the
// hardware and choose the lighter alternative, saying why.
func decide(l *spec.Loaded, ri int) (Decisions, error) {
	r := &l.Spec.Regions[ri]
	s := &l.Spec
	hw := s.RegionHardware(r)
	memQ := resource.MustParse(hw.Memory)
	nodeMi := memQ.Value() / (1 << 20)
	if r.Distribution == "microk8s" {
		return Decisions{}, microK8sAnswer(l, ri, hw, nodeMi)
	}
	d := Decisions{Region: r.Name, Distribution: r.Distribution, Engine: r.Engine, Hardware: hw, Connectivity: Profiles[r.Connectivity], Disable: []string{"traefik", "servicelb"}}
	if r.Bandwidth != "" {
		d.Connectivity.Bandwidth, d.Connectivity.BandwidthBasis = r.Bandwidth, "fleet.yaml (bandwidth)"
	}
	if d.K0s() {
		d.Disable = []string{k0sUpdateProber}
		d.Reasons = append(d.Reasons, k0sReasons(s, hw)...)
	} else {
		d.Reasons = append(d.Reasons, "traefik and servicelb disabled: clusters only pull (no inbound port); apps get ClusterIP Services that only pods of their own namespace may reach (NetworkPolicy), unless spec.apps[].expose opens a NodePort to the site network")
	}
	d.Exposed = exposedApps(s.Apps)
	decideWasm(s, &d)
	for _, a := range s.Apps {
		if e := a.Expose; e != nil {
			d.Reasons = append(d.Reasons, fmt.Sprintf("app %s reached from %s on port %d of every node running it (NodePort, externalTrafficPolicy Local, NetworkPolicy)", a.Name, strings.Join(e.From, ", "), e.NodePort))
		}
	}
	if d.Connectivity.PreloadImages {
		if s.Flux.Mode == "operator" {
			d.Connectivity.Summary += ", and the Flux Operator installs the Flux manifests embedded in its image"
		} else {
			d.Connectivity.Summary += ", and Flux's controller images come from the region mirror (gotk-components.yaml is made on a connected machine)"
		}
	}
	if s.OCI() {
		// Nothing to trim: the artifact holds only what the cluster applies.
		d.Connectivity.SparseCheckout = false
		d.Connectivity.Summary += "; OCI delivery: a poll is one manifest HEAD request, and only a commit that changes what the site applies makes it download its artifact (a few KB)"
	}
	if d.Connectivity.SparseCheckout {
		d.Connectivity.Summary += "; sparse checkout: each new commit is still a depth-1 clone of the whole repository over the link, the node keeps only this cluster's folders in the artifact it stores and applies"
	}

	// Datastore: embedded etcd only for 3+ servers with the memory for it.
	etcdFits := hw.Nodes >= 3 && nodeMi >= 4096
	switch s.K3s.Datastore {
	case "etcd":
		if hw.Nodes < 3 {
			return d, l.Errorf("spec.k3s.datastore", "etcd needs at least 3 nodes per cluster for quorum, and region %q has %d; use sqlite (or auto)", r.Name, hw.Nodes)
		}
		d.Datastore = "etcd"
		d.Reasons = append(d.Reasons, "embedded etcd: requested in spec.k3s.datastore")
	case "sqlite":
		d.Datastore = "sqlite"
		d.Reasons = append(d.Reasons, "SQLite (kine): requested in spec.k3s.datastore")
	default:
		if etcdFits {
			d.Datastore = "etcd"
			what := "embedded etcd"
			if d.K0s() {
				what = "etcd (managed by k0s)"
			}
			d.Reasons = append(d.Reasons, fmt.Sprintf("%s: %d nodes of %s give an HA control plane with quorum", what, hw.Nodes, hw.Memory))
		} else {
			d.Datastore = "sqlite"
			why := "a single server cannot form an etcd quorum"
			if d.K0s() {
				why = "a single controller cannot form an etcd quorum"
			}
			if hw.Nodes >= 3 {
				why = fmt.Sprintf("%s per node is too little for etcd's extra ~128Mi and its disk writes", hw.Memory)
			} else if hw.Nodes > 1 {
				why = fmt.Sprintf("%d nodes cannot form an etcd quorum (3 needed): one server, %d agent(s)", hw.Nodes, hw.Nodes-1)
			}
			d.Reasons = append(d.Reasons, "SQLite (kine), no embedded etcd: "+why)
		}
	}
	if hw.Storage == "sd" || hw.Storage == "emmc" {
		d.Reasons = append(d.Reasons, fmt.Sprintf("%s storage wears under the datastore's writes: put %s on an SSD or USB disk where possible (see bootstrap README)", hw.Storage, d.dataMount()))
	}
	if nodeMi <= 2048 {
		d.Disable = append(d.Disable, "metrics-server")
		if d.K0s() {
			d.Reasons = append(d.Reasons, "metrics-server disabled (--disable-components): saves its 30M request on a node of "+hw.Memory)
		} else {
			d.Reasons = append(d.Reasons, "metrics-server disabled: saves ~70Mi on a node of "+hw.Memory)
		}
	}
	if d.K0s() {
		d.Reasons = append(d.Reasons, k0sTopology(d.Datastore, hw.Nodes))
	} else if hw.Nodes > 1 {
		d.EmbeddedReg = true
		d.WireGuard = true
		d.Reasons = append(d.Reasons, "embedded registry mirror (Spegel): nodes share pulled images instead of each using the uplink")
		d.Reasons = append(d.Reasons, "flannel-backend wireguard-native: node-to-node traffic encrypted")
	}

	build := func(flux []string) Budget {
		var b Budget
		b.add("os")
		if d.K0s() {
			b.add("k0s-controller-worker-" + d.Datastore)
			b.add("k0s-coredns")
			b.add("k0s-kube-router")
			if !contains(d.Disable, "metrics-server") {
				b.add("k0s-metrics-server")
			}
		} else {
			b.add("k3s-server-" + d.Datastore)
			b.add("coredns")
			if !contains(d.Disable, "metrics-server") {
				b.add("metrics-server")
			}
		}
		if s.Flux.Mode == "operator" && !d.ArgoCD() {
			b.add("flux-operator")
		}
		if !d.K0s() {
			// k0s clusters leave out system-upgrade-controller (no K3s Plans).
			b.add("system-upgrade-controller")
		}
		if d.ArgoCD() {
			for _, c := range ArgoComponents {
				b.add(c)
			}
		}
		for _, c := range flux {
			if _, ok := Footprints[c]; ok {
				b.add(c)
			} else {
				b.Lines = append(b.Lines, BudgetLine{Component: "Flux " + c, MemoryMi: 64, CPUm: 100, Source: "fleetgen estimate (Flux controllers request 64Mi)"})
			}
		}
		for _, a := range s.Apps {
			b.addApp(a)
		}
		b.total(nodeMi)
		return b
	}

	if d.ArgoCD() {
		return decideArgo(l, ri, &d, nodeMi, build)
	}
	charts := hasCharts(s.Apps)
	// withHelm is the margin the minimal set plus helm-controller leaves:
	// what decides where chart apps go when the full set does not fit.
	var withHelm Budget
	switch {
	case len(s.Flux.Components) > 0:
		d.FluxComponents = sortedCopy(s.Flux.Components)
		d.Budget = build(d.FluxComponents)
		d.Reasons = append(d.Reasons, "Flux components: as listed in spec.flux.components")
	default:
		full := build(fullFlux)
		if full.MarginPercent >= fullFluxMarginPercent {
			d.FluxComponents, d.Budget = fullFlux, full
			d.Reasons = append(d.Reasons, fmt.Sprintf("Flux: source, kustomize, helm and notification controllers (%d%% of memory stays free)", full.MarginPercent))
		} else if withHelm = build(minimalHelmFlux); charts && withHelm.MarginPercent >= fullFluxMarginPercent {
			d.FluxComponents, d.Budget = minimalHelmFlux, withHelm
			d.Reasons = append(d.Reasons, fmt.Sprintf("Flux: source, kustomize and helm controllers, for the chart apps (%d%% of memory stays free; with notification-controller too, only %d%% of %s would)", withHelm.MarginPercent, full.MarginPercent, hw.Memory))
		} else {
			d.FluxComponents, d.Budget = minimalFlux, build(minimalFlux)
			d.Reasons = append(d.Reasons, fmt.Sprintf("Flux: minimal set (source-controller, kustomize-controller): with the full set only %d%% of %s would stay free", full.MarginPercent, hw.Memory))
		}
	}
	if charts {
		switch {
		case contains(d.FluxComponents, "helm-controller"):
			d.Charts = ChartsFlux
			d.Reasons = append(d.Reasons, "chart apps: Flux HelmRelease (helm-controller is installed), with a HelmRepository or OCIRepository source per chart; apps/regions/"+r.Name+"/<app>-chart.yaml")
		case d.K0s():
			// k0s has no helm.cattle.io HelmChart controller: its charts
			// come from ClusterConfig extensions, which fleetgen keeps for
			// the first boot. Flux's helm-controller is the only way here.
			field := "spec.apps"
			for i, a := range s.Apps {
				if a.Chart != nil {
					field = fmt.Sprintf("spec.apps[%d].chart", i)
					break
				}
			}
			why := fmt.Sprintf("with it (+%dMi) only %d%% of %s would stay free (%d%% needed)", Footprints["helm-controller"].MemoryMi, withHelm.MarginPercent, hw.Memory, fullFluxMarginPercent)
			if len(s.Flux.Components) > 0 {
				why = "spec.flux.components does not list it"
			}
			return d, l.Errorf(field, "region %q runs k0s, which has no HelmChart controller (K3s's helm.cattle.io); its chart apps need Flux's helm-controller, and %s: add helm-controller to spec.flux.components, give the nodes more memory, or ship the app as an image or a Kustomize base", r.Name, why)
		case len(s.Flux.Components) > 0:
			d.Charts = ChartsK3s
			d.Reasons = append(d.Reasons, "chart apps: K3s HelmChart (helm.cattle.io/v1, K3s's built-in helm-controller): helm-controller is not in spec.flux.components")
		default:
			d.Charts = ChartsK3s
			d.Reasons = append(d.Reasons, fmt.Sprintf("chart apps: K3s HelmChart (helm.cattle.io/v1): K3s's built-in helm-controller runs inside the K3s server process (no extra controller; a short install Job per chart change), whereas with Flux's helm-controller (+%dMi) only %d%% of %s would stay free (%d%% needed)", Footprints["helm-controller"].MemoryMi, withHelm.MarginPercent, hw.Memory, fullFluxMarginPercent))
		}
		if d.Connectivity.PreloadImages {
			d.Reasons = append(d.Reasons, "air-gapped: the chart apps' repositories (and their images) must be reachable on the region's network; fleetgen does not rewrite chart or remote-base URLs to the region's mirrors")
		}
		if d.Charts == ChartsFlux {
			for _, a := range s.Apps {
				if a.Chart != nil && !a.Chart.IsChartOCI() {
					d.Reasons = append(d.Reasons, fmt.Sprintf("chart app %s comes from an HTTP(S) Helm repository: source-controller downloads that repository's whole index.yaml at every poll (every %s here), where a chart in an OCI registry costs one manifest request per poll", a.Name, d.Connectivity.GitInterval))
				}
			}
		}
	}
	if nodeMi < 8192 {
		d.FluxSize = "small"
		if s.Flux.Mode == "operator" {
			d.Reasons = append(d.Reasons, "Flux size small: the Flux Operator's small profile (limits 1000m/512Mi per controller, --concurrent=5)")
		} else {
			d.Reasons = append(d.Reasons, "Flux size small: flux-system/kustomization.yaml patches the controllers to the small edge profile (limits 1000m/512Mi per controller, --concurrent=5)")
		}
	} else {
		d.FluxSize = "medium"
	}
	if d.K0s() {
		decideK0sUpgrade(s, r, &d)
	} else {
		decideUpgrade(s, r, &d)
	}
	if d.Budget.MarginPercent < minMarginPercent {
		field := "spec.hardware.memory"
		if rf := fmt.Sprintf("spec.regions[%d].hardware.memory", ri); l.Has(rf) {
			field = rf
		}
		what := "K3s"
		if d.K0s() {
			what = "k0s (" + Footprints["k0s-controller-worker-"+d.Datastore].Component + ")"
		}
		return d, l.Errorf(field, "nothing fits in region %q: %s, the minimal Flux and the apps reserve %dMi of the %dMi a node has (%d%% free, %d%% needed); give the nodes more memory or lower spec.apps requests (fleetgen plan shows the budget)",
			r.Name, what, d.Budget.TotalMi, nodeMi, d.Budget.MarginPercent, minMarginPercent)
	}
	return d, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedCopy(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	return out
}
