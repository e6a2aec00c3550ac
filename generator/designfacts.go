package generator

import "github.com/fleetgen/fleetgen/generator/design"

// The default distribution and the GitOps engine a plan builds: K3s (or
// k0s, spec.distribution, per region too) with Flux; design.Check takes
// them as inputs (its rules expect whatever the facts name, "k0s" or
// "argocd" included), so a spec that chooses otherwise only changes what
// DesignFacts reports.
const (
	PlanDistribution = "k3s"
	PlanGitOps       = "flux"
)

// DesignFacts is what `fleetgen design check` compares the design document
// with: the fleet's distribution, GitOps engine and delivery mode, and per
// region the nodes, their memory and the datastore the budget chose.
func DesignFacts(res *Result) design.Facts {
	s := &res.Spec.Spec
	f := design.Facts{Distribution: PlanDistribution, GitOps: PlanGitOps, Delivery: s.Delivery.Mode} // defaulted: git | oci
	if s.Distribution != "" {
		f.Distribution = s.Distribution
	}
	for _, d := range res.Decisions {
		dist := ""
		if d.Distribution != f.Distribution {
			dist = d.Distribution // a region's own choice
		}
		f.Regions = append(f.Regions, design.RegionFacts{
			Distribution: dist,
			Name:         d.Region,
			Nodes:        d.Hardware.Nodes,
			MemoryMi:     d.Budget.NodeMemoryMi,
			Datastore:    d.Datastore,
		})
	}
	return f
}
