// Package generator turns a loaded fleet spec into the fleet repository:
// Plan is pure (same spec, same bytes, no I/O); Apply is the only stage
// that touches disk and git.
package generator

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/fleetgen/fleetgen/generator/check"
	"github.com/fleetgen/fleetgen/generator/spec"
	"github.com/fleetgen/fleetgen/generator/tree"
)

// Well-known names shared by every cluster.
const (
	FluxNamespace      = "flux-system"
	ClusterVarsName    = "cluster-vars"
	SopsSecretName     = "sops-age"
	RegionLabel        = "fleetgen.dev/region"
	ClusterLabel       = "fleetgen.dev/cluster"
	FleetLabel         = "fleetgen.dev/fleet"
	InfrastructureName = "infrastructure"
	AppsName           = "apps"
	ClusterPlaceholder = "CLUSTER_NAME" // replaced by provision.sh on the node
	// RingPlaceholder is replaced by provision.sh with the cluster's ring
	// (from bootstrap/<region>/rings.txt) in a fleet with spec.rings.
	RingPlaceholder = "CLUSTER_RING"
	// RingsFile lists, in bootstrap/<region>/, each cluster's ring.
	RingsFile = "rings.txt"
	// PruneAnnotation set to "disabled" keeps an object when its file
	// leaves the folder a pruning Kustomization applies.
	PruneAnnotation = "kustomize.toolkit.fluxcd.io/prune"
	// SubstituteAnnotation set to "disabled" keeps postBuild from
	// replacing ${...} in an object (Flux kustomize-controller).
	SubstituteAnnotation = "kustomize.toolkit.fluxcd.io/substitute"
)

// Result is a planned repository: the decisions taken and the files.
type Result struct {
	Spec      *spec.Loaded
	Decisions []Decisions // one per region, in spec order
	Tree      tree.Tree
	Regions   []string // the regions planned; nil: all (see PlanRegions)
}

// Region returns the decisions for the region named name.
func (r *Result) Region(name string) (*Decisions, bool) {
	for i := range r.Decisions {
		if r.Decisions[i].Region == name {
			return &r.Decisions[i], true
		}
	}
	return nil, false
}

// Plan computes the whole repository in memory.
func Plan(l *spec.Loaded) (*Result, error) { return PlanRegions(l, nil) }

// PlanRegions computes the repository, with the cluster and bootstrap
// folders of only the named regions (all when regions is empty): what a
// regeneration limited to those regions needs. Decisions cover every
// region, so an impossible spec is refused whatever the scope. A plan
// limited to regions leaves out the documents at the root and under docs/
// (README, prompts, .sops.yaml): no region's regeneration writes them.
// fleet.yaml and the inventory stay (inventory edits commit the latter).
func PlanRegions(l *spec.Loaded, regions []string) (*Result, error) {
	return planRegions(l, regions, Version())
}

// planRegions is PlanRegions for fleetgen version toolVersion (what the
// generated CI pins).
func planRegions(l *spec.Loaded, regions []string, toolVersion string) (*Result, error) {
	res := &Result{Spec: l, Regions: regions}
	for i := range l.Spec.Regions {
		d, err := decide(l, i)
		if err != nil {
			return nil, err
		}
		res.Decisions = append(res.Decisions, d)
	}
	if err := checkChartVars(l); err != nil {
		return nil, err
	}
	p := &planner{l: l, res: res, t: &res.Tree, version: toolVersion}
	p.infrastructure()
	if p.anyK3s() {
		if err := p.systemUpgradeController(); err != nil {
			return nil, err
		}
	}
	p.apps()
	if p.anyArgo() {
		if err := p.argocdShared(); err != nil {
			return nil, err
		}
	}
	for i := range l.Spec.Regions {
		r := &l.Spec.Regions[i]
		d := &res.Decisions[i]
		if len(regions) > 0 && !slices.Contains(regions, r.Name) {
			continue
		}
		p.regionOverlays(r, d)
		if !d.K0s() {
			p.k3sUpgradePlans(r, d)
		}
		if d.ArgoCD() {
			if err := p.argocdRegion(r, d); err != nil {
				return nil, err
			}
		}
		p.clusters(r, d, l.RegionClusters(r.Name))
		if err := p.bootstrap(r, d); err != nil {
			return nil, err
		}
	}
	if err := p.docs(len(regions) > 0); err != nil {
		return nil, err
	}
	if err := res.Tree.Finish(); err != nil {
		return nil, err
	}
	return res, nil
}

type planner struct {
	l   *spec.Loaded
	res *Result
	t   *tree.Tree
	// version is fleetgen's own, pinned in the generated CI.
	version string
}

func (p *planner) gen(path string, content []byte) {
	p.t.Add(tree.File{Path: path, Content: content, Owner: tree.Generated, Mode: tree.ModeFile})
}

func (p *planner) script(path string, content []byte) {
	p.t.Add(tree.File{Path: path, Content: content, Owner: tree.Generated, Mode: tree.ModeScript})
}

func (p *planner) seed(path string, content []byte) {
	p.t.Add(tree.File{Path: path, Content: content, Owner: tree.Seeded, Mode: tree.ModeFile})
}

// RegionPaths are the folders that belong to one region: regenerating the
// region rewrites only files below them.
func RegionPaths(region string) []string {
	return []string{
		path.Join("infrastructure/regions", region),
		path.Join("apps/regions", region),
		path.Join("clusters", region),
		path.Join("bootstrap", region),
		path.Join("argocd/regions", region),
	}
}

// ClusterPath is the folder a cluster's Flux syncs.
func ClusterPath(region, cluster string) string {
	return fmt.Sprintf("clusters/%s/%s", region, cluster)
}

func (p *planner) gitURL(r *spec.Region) string {
	if r.GitURL != "" {
		return r.GitURL
	}
	return p.l.Spec.Git.URL
}

// fullCheckClusters is the fleet size up to which CheckTree returns the
// whole tree.
const fullCheckClusters = 200

// CheckTree is what generate validates in memory before writing. Up to
// fullCheckClusters clusters, the whole tree. Beyond, every file outside
// clusters/ plus the first and last cluster folder of each region: the
// other folders come from the same code with other (validated) names and
// values, and building 5,000 of them in memory would cost seconds and
// hundreds of megabytes on every run. `fleetgen validate` checks them all.
func (r *Result) CheckTree() *tree.Tree {
	if len(r.Spec.Clusters) <= fullCheckClusters {
		return &r.Tree
	}
	keep := map[string]bool{}
	for _, reg := range r.Spec.Spec.Regions {
		cs := r.Spec.RegionClusters(reg.Name)
		if len(cs) > 0 {
			keep[ClusterPath(reg.Name, cs[0].Name)+"/"] = true
			keep[ClusterPath(reg.Name, cs[len(cs)-1].Name)+"/"] = true
		}
	}
	t := &tree.Tree{}
	for _, f := range r.Tree.Files {
		if strings.HasPrefix(f.Path, "clusters/") {
			parts := strings.SplitN(f.Path, "/", 4)
			if len(parts) < 4 || !keep[parts[0]+"/"+parts[1]+"/"+parts[2]+"/"] {
				continue
			}
		}
		t.Files = append(t.Files, f)
	}
	return t
}

// Check validates the planned repository before anything is written (see
// check.Tree): CheckTree's files; for a plan limited to regions, with only
// those regions' folders built on their own.
func (r *Result) Check() (*check.Report, error) {
	var opts check.Options
	for _, reg := range r.Regions {
		opts.Only = append(opts.Only, RegionPaths(reg)...)
	}
	return check.Tree(r.CheckTree(), opts)
}
