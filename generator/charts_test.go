package generator

import (
	"encoding/json"
	"fmt"
	"path"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/resource"

	"github.com/fleetgen/fleetgen/generator/spec"
)

// chartObjects builds apps/regions/<region> of the plan as Flux does, checks
// every object against its strict schema (kubeconform's, the HelmRelease
// one from testdata/schemas) and returns them by "Kind namespace/name".
func chartObjects(t *testing.T, res *Result, region string) map[string]*resource.Resource {
	t.Helper()
	out := map[string]*resource.Resource{}
	for _, r := range rsBuild(t, rsMemFS(t, res), path.Join("apps/regions", region)) {
		validateStrict(t, region, r)
		out[r.GetKind()+" "+r.GetNamespace()+"/"+r.GetName()] = r
	}
	return out
}

func specOf(t *testing.T, r *resource.Resource) map[string]any {
	t.Helper()
	m, err := r.Map()
	if err != nil {
		t.Fatal(err)
	}
	return m["spec"].(map[string]any)
}

// TestChartAppsFollowTheBudget: the truck-charts case has a 2 GB region,
// where helm-controller does not fit and charts go to K3s's HelmChart,
// and an 8 GB one, where Flux's full set runs them as HelmReleases.
func TestChartAppsFollowTheBudget(t *testing.T) {
	res := planCase(t, "truck-charts")
	small, _ := res.Region("eu-old")
	big, _ := res.Region("na-new")
	if small.Charts != ChartsK3s || contains(small.FluxComponents, "helm-controller") {
		t.Errorf("eu-old (2Gi): charts %q with Flux %v, want %q without helm-controller", small.Charts, small.FluxComponents, ChartsK3s)
	}
	if big.Charts != ChartsFlux || !contains(big.FluxComponents, "helm-controller") {
		t.Errorf("na-new (8Gi): charts %q with Flux %v, want %q with helm-controller", big.Charts, big.FluxComponents, ChartsFlux)
	}
	found := false
	for _, why := range small.Reasons {
		if strings.Contains(why, "K3s HelmChart") && strings.Contains(why, "40% needed") {
			found = true
		}
	}
	if !found {
		t.Errorf("eu-old: plan does not say why charts go to K3s: %q", small.Reasons)
	}

	// 2 GB: one HelmChart per chart in kube-system, into the app's
	// namespace, values merged (fleet, then region), no Flux Helm objects.
	objs := chartObjects(t, res, "eu-old")
	hc, ok := objs["HelmChart kube-system/podinfo"]
	if !ok {
		t.Fatalf("eu-old: no HelmChart podinfo in %v", keys(objs))
	}
	s := specOf(t, hc)
	if s["chart"] != "oci://ghcr.io/stefanprodan/charts/podinfo" || s["version"] != "6.7.1" || s["targetNamespace"] != "podinfo" || s["repo"] != nil {
		t.Errorf("HelmChart podinfo spec %v", s)
	}
	var vals map[string]any
	if err := yaml.Unmarshal([]byte(s["valuesContent"].(string)), &vals); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"replicaCount": 1, "ui": map[string]any{"message": "truck ${CLUSTER_NAME}", "color": "#34577c"},
		"resources": map[string]any{"requests": map[string]any{"cpu": "10m", "memory": "32Mi"}, "limits": map[string]any{"memory": "64Mi"}}}
	if !reflect.DeepEqual(vals, want) {
		t.Errorf("eu-old podinfo values\n got %v\nwant %v", vals, want)
	}
	s = specOf(t, objs["HelmChart kube-system/log-forwarder"])
	if s["chart"] != "fluent-bit" || s["repo"] != "https://fluent.github.io/helm-charts" || s["version"] != "0.48.9" {
		t.Errorf("HelmChart log-forwarder spec %v", s)
	}
	for k := range objs {
		if strings.HasPrefix(k, "HelmRelease ") || strings.HasPrefix(k, "HelmRepository ") || strings.HasPrefix(k, "OCIRepository ") {
			t.Errorf("eu-old has %s, but helm-controller is not installed there", k)
		}
	}

	// 8 GB: OCIRepository + HelmRelease (chartRef), HelmRepository +
	// HelmRelease (chart.spec), the region's values merged over the fleet's.
	objs = chartObjects(t, res, "na-new")
	oci := specOf(t, objs["OCIRepository podinfo/podinfo"])
	if oci["url"] != "oci://ghcr.io/stefanprodan/charts/podinfo" || dig(oci, "ref", "tag") != "6.7.1" ||
		dig(oci, "layerSelector", "mediaType") != HelmChartLayerMediaType || dig(oci, "layerSelector", "operation") != "copy" || oci["interval"] != "1m0s" {
		t.Errorf("OCIRepository podinfo %v", oci)
	}
	hr := specOf(t, objs["HelmRelease podinfo/podinfo"])
	if dig(hr, "chartRef", "kind") != "OCIRepository" || dig(hr, "chartRef", "name") != "podinfo" || fmt.Sprint(dig(hr, "values", "replicaCount")) != "2" {
		t.Errorf("HelmRelease podinfo %v", hr)
	}
	if dig(hr, "values", "ui", "color") != nil {
		t.Errorf("na-new got eu-old's values: %v", dig(hr, "values"))
	}
	hr = specOf(t, objs["HelmRelease log-forwarder/log-forwarder"])
	if dig(hr, "chart", "spec", "chart") != "fluent-bit" || dig(hr, "chart", "spec", "version") != "0.48.9" || dig(hr, "chart", "spec", "sourceRef", "kind") != "HelmRepository" {
		t.Errorf("HelmRelease log-forwarder %v", hr)
	}
	if _, ok := objs["HelmRepository log-forwarder/log-forwarder"]; !ok {
		t.Errorf("na-new: no HelmRepository for log-forwarder in %v", keys(objs))
	}

	// The remote base: a GitRepository at the tag, a Kustomization into the
	// app's namespace with the cluster's variables; the same in both regions.
	for _, region := range []string{"eu-old", "na-new"} {
		objs := chartObjects(t, res, region)
		g := specOf(t, objs["GitRepository flux-system/app-route-api"])
		k := specOf(t, objs["Kustomization flux-system/app-route-api"])
		if g["url"] != "https://github.com/stefanprodan/podinfo" || dig(g, "ref", "tag") != "6.7.1" || k["path"] != "./kustomize" || k["targetNamespace"] != "route-api" || dig(k, "sourceRef", "name") != "app-route-api" {
			t.Errorf("%s: remote base %v %v", region, g, k)
		}
	}
}

// TestChartControllerChoice walks the budget's rule on 4 GB nodes: the full
// Flux set when it leaves 40% free; else source, kustomize and helm
// controllers when they do; else K3s's HelmChart. An explicit
// spec.flux.components decides by itself.
func TestChartControllerChoice(t *testing.T) {
	base := `apiVersion: fleetgen.dev/v1alpha1
kind: Fleet
metadata: {name: f}
spec:
  context: {environment: e, hardware: h, mainChallenge: c}
  git: {url: https://git.example.com/o/f.git}
  hardware: {memory: 4Gi}
FLUX  apps:
    - name: chart
      memory: MEMMi
      chart: {repository: oci://ghcr.io/acme/charts, name: chart, version: 1.0.0}
  regions: [{name: r, clusterCount: 1}]
`
	// On 4Gi with metrics-server: K3s and the minimal Flux reserve 1420Mi,
	// helm-controller and notification-controller 64Mi each.
	for _, c := range []struct {
		flux, mem string
		charts    string
		flux3     bool // source, kustomize, helm only
	}{
		{"", "900", ChartsFlux, false}, // full: (4096-1548-900)*100/4096 = 40
		{"", "940", ChartsFlux, true},  // full 39%, with helm alone 40%
		{"", "1000", ChartsK3s, false}, // with helm alone 39%
		{"  flux: {components: [source-controller, kustomize-controller]}\n", "100", ChartsK3s, false},
		{"  flux: {components: [source-controller, kustomize-controller, helm-controller]}\n", "1000", ChartsFlux, false},
	} {
		src := strings.NewReplacer("FLUX", c.flux, "MEM", c.mem).Replace(base)
		l, err := spec.Parse([]byte(src), "fleet.yaml")
		if err != nil {
			t.Fatal(err)
		}
		res, err := Plan(l)
		if err != nil {
			t.Fatal(err)
		}
		d := res.Decisions[0]
		if d.Charts != c.charts {
			t.Errorf("flux %q, chart %sMi: charts %s (margin %d%%, Flux %v), want %s", c.flux, c.mem, d.Charts, d.Budget.MarginPercent, d.FluxComponents, c.charts)
		}
		if c.flux3 && !reflect.DeepEqual(d.FluxComponents, minimalHelmFlux) {
			t.Errorf("chart %sMi: Flux %v, want %v", c.mem, d.FluxComponents, minimalHelmFlux)
		}
		if _, ok := res.Tree.Get("apps/regions/r/" + ChartFile("chart")); !ok {
			t.Errorf("chart %sMi: no %s", c.mem, ChartFile("chart"))
		}
	}
}

func TestMergeValues(t *testing.T) {
	fleet := map[string]any{"a": map[string]any{"x": 1, "y": []any{1, 2}}, "b": "keep", "c": "drop"}
	region := map[string]any{"a": map[string]any{"y": []any{3}, "z": true}, "c": nil}
	got := mergeValues(fleet, region)
	want := map[string]any{"a": map[string]any{"x": 1, "y": []any{3}, "z": true}, "b": "keep"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("merge: got %v, want %v", got, want)
	}
	if j, _ := json.Marshal(fleet); string(j) != `{"a":{"x":1,"y":[1,2]},"b":"keep","c":"drop"}` {
		t.Errorf("merge changed the fleet values: %s", j)
	}
}

func keys(m map[string]*resource.Resource) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestHelmReleaseSchemaIsStrict: the schema made from helm-controller's
// CRD (testdata/schemas) refuses a misspelt field and a missing interval,
// so the passes above mean something.
func TestHelmReleaseSchemaIsStrict(t *testing.T) {
	s := strictSchema(t, "helm.toolkit.fluxcd.io/v2", "HelmRelease")
	for _, c := range []struct {
		name, doc string
		ok        bool
	}{
		{"good", `{"apiVersion":"helm.toolkit.fluxcd.io/v2","kind":"HelmRelease","metadata":{"name":"a"},"spec":{"interval":"10m","chartRef":{"kind":"OCIRepository","name":"a"}}}`, true},
		{"misspelt", `{"apiVersion":"helm.toolkit.fluxcd.io/v2","kind":"HelmRelease","metadata":{"name":"a"},"spec":{"interval":"10m","chartRef":{"kind":"OCIRepository","nmae":"a"}}}`, false},
		{"no-interval", `{"apiVersion":"helm.toolkit.fluxcd.io/v2","kind":"HelmRelease","metadata":{"name":"a"},"spec":{"chartRef":{"kind":"OCIRepository","name":"a"}}}`, false},
	} {
		var v any
		if err := json.Unmarshal([]byte(c.doc), &v); err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(v); (err == nil) != c.ok {
			t.Errorf("%s: valid %v, want %v (%v)", c.name, err == nil, c.ok, err)
		}
	}
}

// TestChartValuesUseInventoryVariables: an inventory value column is a
// cluster variable, so chart values may use it; a default makes any name
// acceptable.
func TestChartValuesUseInventoryVariables(t *testing.T) {
	fsys := fstest.MapFS{
		"fleet.yaml": {Data: []byte(`apiVersion: fleetgen.dev/v1alpha1
kind: Fleet
metadata: {name: f}
spec:
  context: {environment: e, hardware: h, mainChallenge: c}
  git: {url: https://git.example.com/o/f.git}
  inventory: trucks.csv
  apps:
    - name: chart
      memory: 32Mi
      chart: {repository: oci://ghcr.io/acme/charts, name: chart, version: 1.0.0,
              values: {depot: "${DEPOT}", owner: "${OWNER:=acme}"}}
  regions: [{name: r}]
`)},
		"trucks.csv": {Data: []byte("name,region,DEPOT\nt-1,r,Lyon\nt-2,r,Oslo\n")},
	}
	l, err := spec.Load(fsys, "fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Plan(l)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := res.Check(); err != nil || !rep.OK() {
		t.Fatalf("check: %v %+v", err, rep)
	}
	f, _ := res.Tree.Get("apps/regions/r/" + ChartFile("chart"))
	if !strings.Contains(string(f.Content), "depot: ${DEPOT}") || !strings.Contains(string(f.Content), "owner: ${OWNER:=acme}") {
		t.Errorf("values not kept for Flux:\n%s", f.Content)
	}
}

// k0s has no helm.cattle.io HelmChart controller: a k0s region's chart
// apps go through Flux's helm-controller, and where it does not fit (or
// spec.flux.components leaves it out) the spec is refused at the chart,
// never rendered as a HelmChart nothing would install.
func TestChartAppsOnK0s(t *testing.T) {
	base := `apiVersion: fleetgen.dev/v1alpha1
kind: Fleet
metadata: {name: f}
spec:
  context: {environment: e, hardware: h, mainChallenge: c}
  git: {url: https://git.example.com/o/f.git}
  distribution: k0s
  k0s: {version: v1.36.3+k0s.2}
  hardware: {memory: MEMGi}
FLUX  apps:
    - name: chart
      memory: 200Mi
      chart: {repository: oci://ghcr.io/acme/charts, name: chart, version: 1.0.0}
  regions: [{name: r, clusterCount: 1}]
`
	for _, c := range []struct {
		mem, flux string
		refused   string
	}{
		{"8", "", ""},
		{"2", "", "only"},
		{"8", "  flux: {components: [source-controller, kustomize-controller]}\n", "spec.flux.components does not list it"},
	} {
		src := strings.NewReplacer("MEM", c.mem, "FLUX", c.flux).Replace(base)
		res, err := planSpec(t, src)
		if c.refused == "" {
			if err != nil {
				t.Fatalf("%sGi: %v", c.mem, err)
			}
			if d := res.Decisions[0]; d.Charts != ChartsFlux {
				t.Errorf("%sGi k0s: charts %s, want %s", c.mem, d.Charts, ChartsFlux)
			}
			continue
		}
		if err == nil {
			t.Errorf("%sGi %q: accepted", c.mem, c.flux)
			continue
		}
		line := strings.Count(src[:strings.Index(src, "chart: {")], "\n") + 1
		want := "fleet.yaml:" + itoa(line) + ": spec.apps[0].chart: region \"r\" runs k0s, which has no HelmChart controller"
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), c.refused) {
			t.Errorf("%sGi %q: %v\nwant %q ... %q", c.mem, c.flux, err, want, c.refused)
		}
	}
}
