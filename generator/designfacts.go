package generator

import "github.com/fleetgen/fleetgen/generator/design"

// The default distribution and GitOps engine a plan builds: K3s with Flux;
// spec.distribution (k0s) and spec.engine (argocd), fleet-wide or per
// region, change what DesignFacts reports, and design.Check's rules expect
// whatever the facts name.
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
	if s.Engine != "" {
		f.GitOps = s.Engine
	}
	for _, d := range res.Decisions {
		dist, engine := "", ""
		if d.Distribution != f.Distribution {
			dist = d.Distribution // a region's own choice
		}
		if d.Engine != "" && d.Engine != f.GitOps {
			engine = d.Engine
		}
		f.Regions = append(f.Regions, design.RegionFacts{
			GitOps:       engine,
			Distribution: dist,
			Name:         d.Region,
			Nodes:        d.Hardware.Nodes,
			MemoryMi:     d.Budget.NodeMemoryMi,
			Datastore:    d.Datastore,
		})
	}
	return f
}
