package generator

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/fleetgen/fleetgen/generator/check"
	"github.com/fleetgen/fleetgen/generator/spec"
)

// Apps that fleetgen does not render pods for — Helm charts and remote
// Kustomize bases — are written per region, into the region's apps overlay
// (apps/regions/<region>/<app>-chart.yaml, <app>-kustomize.yaml): the
// controller that installs a chart is chosen per region by the memory
// budget, and the sources poll at the region's connectivity profile. Their
// namespace (Pod Security restricted, default-deny) comes from
// infrastructure/base like an image app's.

// K3sChartNamespace is where K3s HelmCharts live: K3s's own charts are
// there, the install Job runs there (kube-system is exempt from Pod
// Security in psa.yaml), and the chart's objects go to the app's namespace
// (targetNamespace).
const K3sChartNamespace = "kube-system"

// HelmChartLayerMediaType is the layer of a Helm chart pushed to an OCI
// registry (helm push); Flux's OCIRepository selects it with operation copy
// so helm-controller gets the chart archive as is [fluxcd/source-controller
// docs/spec/v1/ocirepositories.md, "Layer selector"].
const HelmChartLayerMediaType = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"

// ChartFile and KustomizeFile name an app's file in a region's apps overlay.
func ChartFile(app string) string     { return app + "-chart.yaml" }
func KustomizeFile(app string) string { return app + "-kustomize.yaml" }

// RemoteAppName is the Flux GitRepository and Kustomization of a remote
// Kustomize base app (in flux-system, beside the cluster's own).
func RemoteAppName(app string) string { return "app-" + app }

// regionApps writes the region's chart and remote-base apps and returns
// the files the overlay lists.
func (p *planner) regionApps(r *spec.Region, d *Decisions) []string {
	var files []string
	for _, a := range p.l.Spec.Apps {
		switch {
		case a.Chart != nil:
			values := mergeValues(a.Chart.Values, r.Values[a.Name])
			var objs []any
			var comment string
			if d.Charts == ChartsFlux {
				objs = fluxChart(a, values, d.Connectivity)
				comment = fmt.Sprintf("Chart %s %s from %s, installed by Flux's helm-controller (fleetgen plan says why).\nValues: spec.apps[].chart.values, then spec.regions[].values.%s; Flux substitutes ${VAR}s per cluster.", a.Chart.Name, a.Chart.Version, a.Chart.Repository, a.Name)
			} else {
				objs = []any{k3sChart(a, values)}
				comment = fmt.Sprintf("Chart %s %s from %s, installed by K3s's built-in helm-controller (fleetgen plan says why).\nValues: spec.apps[].chart.values, then spec.regions[].values.%s; Flux substitutes ${VAR}s per cluster.", a.Chart.Name, a.Chart.Version, a.Chart.Repository, a.Name)
			}
			p.gen("apps/regions/"+r.Name+"/"+ChartFile(a.Name), marshal(comment, objs...))
			files = append(files, ChartFile(a.Name))
		case a.Kustomize != nil:
			rb, err := spec.ParseRemoteBase(a.Kustomize.URL)
			if err != nil {
				panic(err) // validated when loading
			}
			comment := fmt.Sprintf("Remote Kustomize base %s, applied into namespace %s by its own Flux Kustomization.", a.Kustomize.URL, a.Name)
			p.gen("apps/regions/"+r.Name+"/"+KustomizeFile(a.Name), marshal(comment, remoteBase(a, rb, d.Connectivity)...))
			files = append(files, KustomizeFile(a.Name))
		}
	}
	return files
}

// mergeValues merges region values over fleet values as Helm merges value
// files: maps key by key, anything else (lists included) replaced; a null
// deletes the key.
func mergeValues(fleet, region map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range fleet {
		out[k] = v
	}
	for k, v := range region {
		if v == nil {
			delete(out, k)
			continue
		}
		if rm, ok := v.(map[string]any); ok {
			if fm, ok := out[k].(map[string]any); ok {
				out[k] = mergeValues(fm, rm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

func valuesJSON(values map[string]any) *apiextensionsv1.JSON {
	if len(values) == 0 {
		return nil
	}
	j, err := json.Marshal(values)
	if err != nil {
		panic(err) // keys are strings (checked when loading)
	}
	return &apiextensionsv1.JSON{Raw: j}
}

// fluxChart is the chart's source (HelmRepository or OCIRepository) and its
// HelmRelease, in the app's namespace.
func fluxChart(a spec.App, values map[string]any, prof Profile) []any {
	c := a.Chart
	hr := &helmv2.HelmRelease{TypeMeta: typeMeta(helmv2.GroupVersion.String(), helmv2.HelmReleaseKind), ObjectMeta: objectMeta(a.Name, a.Name)}
	var src any
	if c.IsChartOCI() {
		o := &sourcev1.OCIRepository{TypeMeta: typeMeta(sourcev1.GroupVersion.String(), sourcev1.OCIRepositoryKind), ObjectMeta: objectMeta(a.Name, a.Name)}
		o.Spec = sourcev1.OCIRepositorySpec{
			URL: strings.TrimSuffix(c.Repository, "/") + "/" + c.Name,
			// helm push tags a version with + written _ (OCI tags allow no +).
			Reference:     &sourcev1.OCIRepositoryRef{Tag: strings.ReplaceAll(c.Version, "+", "_")},
			LayerSelector: &sourcev1.OCILayerSelector{MediaType: HelmChartLayerMediaType, Operation: sourcev1.OCILayerCopy},
			Interval:      duration(prof.GitInterval),
			Timeout:       ptrDuration(prof.GitTimeout),
		}
		hr.Spec.ChartRef = &helmv2.CrossNamespaceSourceReference{Kind: sourcev1.OCIRepositoryKind, Name: a.Name}
		src = o
	} else {
		h := &sourcev1.HelmRepository{TypeMeta: typeMeta(sourcev1.GroupVersion.String(), sourcev1.HelmRepositoryKind), ObjectMeta: objectMeta(a.Name, a.Name)}
		h.Spec = sourcev1.HelmRepositorySpec{
			URL:      c.Repository,
			Interval: duration(prof.GitInterval),
			Timeout:  ptrDuration(prof.GitTimeout),
		}
		hr.Spec.Chart = &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
			Chart:     c.Name,
			Version:   c.Version,
			SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: a.Name},
			Interval:  ptrDuration(prof.GitInterval),
		}}
		src = h
	}
	hr.Spec.Interval = duration(prof.SyncInterval)
	hr.Spec.Timeout = ptrDuration(prof.ApplyTimeout)
	rollback := helmv2.RollbackRemediationStrategy
	hr.Spec.Install = &helmv2.Install{Remediation: &helmv2.InstallRemediation{Retries: 3}}
	hr.Spec.Upgrade = &helmv2.Upgrade{Remediation: &helmv2.UpgradeRemediation{Retries: 3, Strategy: &rollback}}
	hr.Spec.Values = valuesJSON(values)
	return []any{src, hr}
}

// k3sChart is the chart as a K3s HelmChart (helm.cattle.io/v1), field
// names as in k3s-io/helm-controller pkg/apis/helm.cattle.io/v1/types.go.
func k3sChart(a spec.App, values map[string]any) *HelmChart {
	c := a.Chart
	hc := &HelmChart{TypeMeta: typeMeta("helm.cattle.io/v1", "HelmChart"), ObjectMeta: objectMeta(a.Name, K3sChartNamespace)}
	hc.Spec = HelmChartSpec{Version: c.Version, TargetNamespace: a.Name}
	if c.IsChartOCI() {
		hc.Spec.Chart = strings.TrimSuffix(c.Repository, "/") + "/" + c.Name
	} else {
		hc.Spec.Chart = c.Name
		hc.Spec.Repo = c.Repository
	}
	if len(values) > 0 {
		hc.Spec.ValuesContent = string(encodeYAML(sortedValues(values)))
	}
	return hc
}

// sortedValues is values as plain data (yaml.v3 sorts map keys itself;
// this only normalises numbers the way the HelmRelease's JSON does).
func sortedValues(values map[string]any) any {
	return viaJSON(values)
}

// remoteBase is a GitRepository at the pinned ref and the Flux
// Kustomization that applies the base's folder into the app's namespace,
// with the cluster's variables substituted as in the fleet's own.
func remoteBase(a spec.App, rb spec.RemoteBase, prof Profile) []any {
	name := RemoteAppName(a.Name)
	g := &sourcev1.GitRepository{TypeMeta: typeMeta(sourcev1.GroupVersion.String(), sourcev1.GitRepositoryKind), ObjectMeta: objectMeta(name, FluxNamespace)}
	g.Spec = sourcev1.GitRepositorySpec{
		URL:       rb.RepoURL,
		Reference: &sourcev1.GitRepositoryRef{Tag: rb.Tag, Commit: rb.Commit},
		Interval:  duration(prof.GitInterval),
		Timeout:   ptrDuration(prof.GitTimeout),
	}
	k := &kustomizev1.Kustomization{TypeMeta: typeMeta(kustomizev1.GroupVersion.String(), kustomizev1.KustomizationKind), ObjectMeta: objectMeta(name, FluxNamespace)}
	k.Spec = kustomizev1.KustomizationSpec{
		Interval:        duration(prof.SyncInterval),
		RetryInterval:   ptrDuration(prof.RetryInterval),
		Timeout:         ptrDuration(prof.ApplyTimeout),
		Path:            rb.Path,
		Prune:           true,
		Wait:            true,
		TargetNamespace: a.Name,
		SourceRef:       kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: name},
		PostBuild: &kustomizev1.PostBuild{SubstituteFrom: []kustomizev1.SubstituteReference{
			{Kind: "ConfigMap", Name: ClusterVarsName},
		}},
	}
	return []any{g, k}
}

// chartApps lists the names of the fleet's chart apps, sorted.
func chartApps(apps []spec.App) []string {
	var out []string
	for _, a := range apps {
		if a.Chart != nil {
			out = append(out, a.Name)
		}
	}
	sort.Strings(out)
	return out
}

// builtinVars are the cluster-vars every cluster has (clusterVars).
var builtinVars = []string{"CLUSTER_NAME", "REGION", "FLEET_NAME", "CONNECTIVITY"}

// checkChartVars refuses a ${VAR} in chart values that some cluster of a
// region does not provide: Flux would make it empty on that cluster. The
// field named is where the variable is written (the region's values, else
// the chart's).
func checkChartVars(l *spec.Loaded) error {
	s := &l.Spec
	for ai, a := range s.Apps {
		if a.Chart == nil {
			continue
		}
		fleetVars := valueVars(a.Chart.Values)
		for ri := range s.Regions {
			r := &s.Regions[ri]
			regionVars := valueVars(r.Values[a.Name])
			for _, v := range append(append([]string(nil), regionVars...), fleetVars...) {
				if contains(builtinVars, v) {
					continue
				}
				for _, c := range l.RegionClusters(r.Name) {
					if _, ok := c.Values[v]; ok {
						continue
					}
					field := fmt.Sprintf("spec.apps[%d].chart.values", ai)
					if contains(regionVars, v) {
						field = fmt.Sprintf("spec.regions[%d].values.%s", ri, a.Name)
					}
					return l.Errorf(field, "${%s} is not a variable of cluster %s (region %s): Flux would make it empty there. Cluster variables are %s and the inventory's value columns; write ${%s:=default} for a default, or $${%s} for a literal", v, c.Name, r.Name, strings.Join(builtinVars, ", "), v, v)
				}
			}
		}
	}
	return nil
}

// valueVars lists the ${VAR}s Flux needs in the strings of values.
func valueVars(values map[string]any) []string {
	var out []string
	var walk func(x any)
	walk = func(x any) {
		switch t := x.(type) {
		case map[string]any:
			for _, v := range t {
				walk(v)
			}
		case []any:
			for _, v := range t {
				walk(v)
			}
		case string:
			for _, v := range check.ScanVars(t) {
				if !contains(out, v) {
					out = append(out, v)
				}
			}
		}
	}
	walk(map[string]any(values))
	sort.Strings(out)
	return out
}
