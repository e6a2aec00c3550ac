package generator

import (
	"fmt"
	"strings"

	"github.com/fleetgen/fleetgen/generator/spec"
)

// MicroK8s is answered, not generated: `plan` and `generate` refuse
// spec.distribution microk8s with the reasons and figures for the region's
// hardware, from these published sources.
const (
	// MicroK8sMinMB and MicroK8sRecommendedMi: "MicroK8s runs in as little
	// as 540MB of memory, but to accommodate workloads, we recommend a
	// system with at least 20G of disk space and 4G of memory."
	MicroK8sMinMB         = 540
	MicroK8sRecommendedMi = 4096
	microK8sDocs          = "https://microk8s.io/docs/getting-started"
	microK8sDqliteIssues  = "canonical/microk8s#2280 (API server hanging on Raspberry Pi: writes \"stored in database\" after up to 1.6 s, load from disk wait), #3087 (Raspberry Pi 4 on microSD: k8s-dqlite among the top CPU users), #3227 (k8s-dqlite spiking a core to 100%)"
	microK8sSnapDocs      = "https://snapcraft.io/docs/managing-updates (snapd refreshes snaps automatically, several times a day, unless held)"
)

// MicroK8sFootprintMi is MicroK8s's documented floor in MiB.
func MicroK8sFootprintMi() int64 { return int64(MicroK8sMinMB) * 1000 * 1000 / (1 << 20) }

// microK8sAnswer is the refusal for region ri, naming the field that asks
// for MicroK8s and the line it is on.
func microK8sAnswer(l *spec.Loaded, ri int, hw spec.Hardware, nodeMi int64) error {
	s := &l.Spec
	r := &s.Regions[ri]
	field := fmt.Sprintf("spec.regions[%d].distribution", ri)
	if !l.Has(field) {
		field = "spec.distribution"
	}
	// The budget fleetgen would make: OS, MicroK8s's floor, the minimal
	// Flux with its operator, the apps.
	var b Budget
	b.add("os")
	b.Lines = append(b.Lines, BudgetLine{Component: "MicroK8s (documented floor, 540MB)", MemoryMi: MicroK8sFootprintMi(), Source: microK8sDocs})
	if s.Flux.Mode == "operator" {
		b.add("flux-operator")
	}
	for _, c := range minimalFlux {
		b.add(c)
	}
	for _, a := range s.Apps {
		b.addApp(a)
	}
	b.total(nodeMi)
	var why []string
	if nodeMi < MicroK8sRecommendedMi {
		why = append(why, fmt.Sprintf("memory: a node has %dMi, %d%% of the 4G (%dMi) MicroK8s recommends to accommodate workloads; counted on its 540MB idle floor instead, the budget would be OS %dMi + MicroK8s %dMi + Flux %dMi + apps %dMi = %dMi (%d%% free), a figure MicroK8s's own documentation does not offer for running workloads",
			nodeMi, nodeMi*100/MicroK8sRecommendedMi, MicroK8sRecommendedMi, b.Lines[0].MemoryMi, MicroK8sFootprintMi(), fluxMi(b), appsMi(b), b.TotalMi, b.MarginPercent))
	} else {
		why = append(why, fmt.Sprintf("memory: a node has %dMi, at least the 4G MicroK8s recommends (budget on its 540MB floor: %dMi, %d%% free)", nodeMi, b.TotalMi, b.MarginPercent))
	}
	switch hw.Storage {
	case "sd", "emmc":
		why = append(why, fmt.Sprintf("datastore: MicroK8s keeps the cluster state in dqlite (k8s-dqlite, Raft-replicated SQLite) on every control-plane node; on %s its writes stall the API server and wear the flash (%s); K3s and k0s run kine/SQLite here, with a wear warning too but without the Raft log", hw.Storage, microK8sDqliteIssues))
	default:
		why = append(why, fmt.Sprintf("datastore: dqlite on %s is what MicroK8s is tested on; no storage objection", hw.Storage))
	}
	switch r.Connectivity {
	case "air-gapped":
		why = append(why, "packaging: MicroK8s is a snap, so each node needs snapd, and an air-gapped node needs the snaps side-loaded (snap download, snap ack, snap install) for every release, with auto-refresh held; "+microK8sSnapDocs)
	case "satellite", "intermittent":
		why = append(why, fmt.Sprintf("packaging: MicroK8s is a snap: each node needs snapd, and snapd refreshes the microk8s snap over the %s link on its own schedule, restarting Kubernetes outside any maintenance window, unless every node holds refreshes (snap refresh --hold); %s", r.Connectivity, microK8sSnapDocs))
	default:
		why = append(why, "packaging: MicroK8s is a snap: each node needs snapd, and refreshes must be held (snap refresh --hold) for the fleet to stay on one release; "+microK8sSnapDocs)
	}
	why = append(why, "fleetgen generates no MicroK8s bootstrap (no snap install, no dqlite join, no first-boot Flux through MicroK8s's addons): use spec.distribution k3s or k0s")
	var b2 strings.Builder
	for i, w := range why {
		fmt.Fprintf(&b2, " (%d) %s;", i+1, w)
	}
	// One line: fleetgen's refusals are one message each.
	return l.Errorf(field, "microk8s is refused for region %q (%d × %s, %s RAM, %s, %s):%s sources: %s",
		r.Name, hw.Nodes, hw.Arch, hw.Memory, hw.Storage, r.Connectivity, b2.String(), microK8sDocs)
}

func fluxMi(b Budget) int64 {
	var n int64
	for _, l := range b.Lines {
		if strings.HasPrefix(l.Component, "Flux") {
			n += l.MemoryMi
		}
	}
	return n
}

func appsMi(b Budget) int64 {
	var n int64
	for _, l := range b.Lines {
		if strings.HasPrefix(l.Component, "app ") {
			n += l.MemoryMi
		}
	}
	return n
}
