package generator

import (
	"path"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/fleetgen/fleetgen/examples"
	"github.com/fleetgen/fleetgen/generator/spec"
)

// These tests look at the flux-system Kustomization as it exists on a
// cluster, not as a file: in operator mode the Flux Operator renders it
// (with interval 10m and no decryption, whatever the FluxInstance says) and
// then applies the FluxInstance's kustomize.patches; in bootstrap mode it is
// gotk-sync.yaml.

// operatorSyncTmpl is what flux-operator renders for a FluxInstance's sync
// (controlplaneio-fluxcd/flux-operator internal/builder/templates.go,
// syncTmpl: a GitRepository follows ref.name, an OCIRepository ref.tag).
const operatorSyncTmpl = `apiVersion: source.toolkit.fluxcd.io/v1
kind: KIND
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: INTERVAL
  ref:
    REFFIELD: REF
  url: URL
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 10m0s
  path: PATH
  prune: true
  sourceRef:
    kind: KIND
    name: flux-system
`

// loadExample loads an example, with edits applied to its fleet.yaml text.
func loadExample(t testing.TB, name string, edits ...[2]string) *spec.Loaded {
	t.Helper()
	src, err := examples.FS.ReadFile(name + "/fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	for _, e := range edits {
		if !strings.Contains(text, e[0]) {
			t.Fatalf("%s/fleet.yaml has no %q to edit", name, e[0])
		}
		text = strings.Replace(text, e[0], e[1], 1)
	}
	fsys := fstest.MapFS{name + "/fleet.yaml": {Data: []byte(text)}}
	if csv, err := examples.FS.ReadFile(name + "/trucks.csv"); err == nil {
		fsys[name+"/trucks.csv"] = &fstest.MapFile{Data: csv}
	}
	l, err := spec.Load(fsys, name+"/fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func planOf(t testing.TB, l *spec.Loaded) *Result {
	t.Helper()
	res, err := Plan(l)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func fileOf(t testing.TB, res *Result, p string) []byte {
	t.Helper()
	for _, f := range res.Tree.Files {
		if f.Path == p {
			return f.Content
		}
	}
	t.Fatalf("%s: not planned", p)
	return nil
}

// krustyBuild builds a kustomization from in-memory files.
func krustyBuild(t testing.TB, files map[string]string) resmap.ResMap {
	t.Helper()
	fs := filesys.MakeFsInMemory()
	for p, c := range files {
		if err := fs.WriteFile(path.Join("/k", p), []byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, "/k")
	if err != nil {
		t.Fatalf("kustomize build: %v", err)
	}
	return m
}

// resource returns the object of that kind and name as plain data.
func findObject(t testing.TB, m resmap.ResMap, kind, name string) map[string]any {
	t.Helper()
	for _, r := range m.Resources() {
		if r.GetKind() == kind && r.GetName() == name {
			var out map[string]any
			b, err := r.AsYAML()
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(b, &out); err != nil {
				t.Fatal(err)
			}
			return out
		}
	}
	t.Fatalf("no %s %s in the build", kind, name)
	return nil
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// clusterSyncKustomization is the flux-system Kustomization of a cluster as
// it runs on the cluster.
func clusterSyncKustomization(t testing.TB, res *Result, region, cluster string) map[string]any {
	t.Helper()
	dir := ClusterPath(region, cluster)
	if res.Spec.Spec.Flux.Mode == "bootstrap" {
		m := krustyBuild(t, map[string]string{
			"kustomization.yaml": "resources: [gotk-sync.yaml]\n",
			"gotk-sync.yaml":     string(fileOf(t, res, dir+"/flux-system/gotk-sync.yaml")),
		})
		return findObject(t, m, "Kustomization", FluxNamespace)
	}
	var fi FluxInstance
	if err := yaml.Unmarshal(fileOf(t, res, dir+"/flux-instance.yaml"), &fi); err != nil {
		t.Fatal(err)
	}
	return findObject(t, operatorSync(t, fi), "Kustomization", FluxNamespace)
}

// operatorSync is what the Flux Operator applies for a FluxInstance's
// sync: its source and flux-system Kustomization, patched.
func operatorSync(t testing.TB, fi FluxInstance) resmap.ResMap {
	t.Helper()
	refField := "name"
	if fi.Spec.Sync.Kind == "OCIRepository" {
		refField = "tag"
	}
	sync := strings.NewReplacer("KIND", fi.Spec.Sync.Kind, "REFFIELD", refField, "INTERVAL", fi.Spec.Sync.Interval, "REF", fi.Spec.Sync.Ref, "URL", fi.Spec.Sync.URL, "PATH", fi.Spec.Sync.Path).Replace(operatorSyncTmpl)
	k := KustomizationFile{APIVersion: "kustomize.config.k8s.io/v1beta1", Kind: "Kustomization", Resources: []string{"sync.yaml"}, Patches: fi.Spec.Kustomize.Patches}
	kb, err := yaml.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	return krustyBuild(t, map[string]string{"kustomization.yaml": string(kb), "sync.yaml": sync})
}

// sopsRuleFor returns the age recipients .sops.yaml encrypts file p for
// (sops takes the first rule whose path_regex matches), "" if none.
func sopsRuleFor(t testing.TB, res *Result, p string) string {
	t.Helper()
	var cfg struct {
		Rules []struct {
			PathRegex string `json:"path_regex"`
			Age       string `json:"age"`
		} `json:"creation_rules"`
	}
	for _, f := range res.Tree.Files {
		if f.Path == ".sops.yaml" {
			if err := yaml.Unmarshal(f.Content, &cfg); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, r := range cfg.Rules {
		if regexp.MustCompile(r.PathRegex).MatchString(p) {
			return r.Age
		}
	}
	return ""
}

type exampleCase struct {
	name  string
	edits [][2]string
}

// syncCases: every example, plus farm-lab (the bootstrap layout) with age
// recipients, so that both layouts are seen with and without SOPS.
func syncCases() []exampleCase {
	var cs []exampleCase
	for _, n := range examples.Names() {
		cs = append(cs, exampleCase{name: n})
	}
	return append(cs, exampleCase{name: "farm-lab", edits: [][2]string{{"  connectivity: satellite\n", "  connectivity: satellite\n  secrets:\n    ageRecipients: [age1g0u3dhrdl4gaf399x4fw24jq008he0ng2msgsw592xymwr7zz4vqleyfqy]\n"},
		// each region its own key: nodes never hold the fleet-wide one
		{"      clusterPrefix: granja\n", "      clusterPrefix: granja\n      ageRecipients: [age1eclj72rguzna6qv0sevasltdr0tyh0fcjrhyn3n3cc0hzjnvsqkqvcq6rl]\n"},
		{"      clusterPrefix: granja-norte\n", "      clusterPrefix: granja-norte\n      ageRecipients: [age1cettg7xuc4rsjdy0rzau9jl8ppkt3tdzvnxt8um2xtfp0k4n256spcpws0]\n"}}})
}

// TestFluxSystemDecryptsWhatSopsEncrypts: a Secret that .sops.yaml
// encrypts in a cluster's folder is applied by the flux-system
// Kustomization, so that Kustomization must decrypt it with the region's
// key; otherwise kustomize-controller applies the ciphertext as it is.
func TestFluxSystemDecryptsWhatSopsEncrypts(t *testing.T) {
	for _, c := range syncCases() {
		res := planOf(t, loadExample(t, c.name, c.edits...))
		for _, d := range res.Decisions {
			if d.ArgoCD() {
				continue // no Flux there (argocd_test.go)
			}
			cl := res.Spec.RegionClusters(d.Region)[0].Name
			secret := ClusterPath(d.Region, cl) + "/db-credentials.yaml"
			encrypted := sopsRuleFor(t, res, secret) != ""
			ks := clusterSyncKustomization(t, res, d.Region, cl)
			dec := dig(ks, "spec", "decryption")
			switch {
			case encrypted && (dig(dec, "provider") != "sops" || dig(dec, "secretRef", "name") != SopsSecretName):
				t.Errorf("%s (%s mode) %s: .sops.yaml encrypts %s, but the flux-system Kustomization that applies it has decryption %v",
					c.name, res.Spec.Spec.Flux.Mode, cl, secret, dec)
			case !encrypted && dec != nil:
				t.Errorf("%s %s: flux-system decrypts (%v) though .sops.yaml encrypts nothing there (no sops-age Secret is made)", c.name, cl, dec)
			}
		}
	}
}

// TestFluxSystemAppliesAtTheProfileInterval: "apply every <SyncInterval>"
// holds for flux-system too (the Flux Operator renders 10m).
func TestFluxSystemAppliesAtTheProfileInterval(t *testing.T) {
	for _, c := range syncCases() {
		res := planOf(t, loadExample(t, c.name, c.edits...))
		for _, d := range res.Decisions {
			if d.ArgoCD() {
				continue // no Flux there (argocd_test.go)
			}
			cl := res.Spec.RegionClusters(d.Region)[0].Name
			ks := clusterSyncKustomization(t, res, d.Region, cl)
			got, _ := dig(ks, "spec", "interval").(string)
			if parseDur(got) != parseDur(d.Connectivity.SyncInterval) {
				t.Errorf("%s %s: flux-system applies every %s on the cluster, the plan says %s", c.name, cl, got, d.Connectivity.SyncInterval)
			}
			for field, want := range map[string]string{"retryInterval": d.Connectivity.RetryInterval, "timeout": d.Connectivity.ApplyTimeout} {
				if got, _ := dig(ks, "spec", field).(string); parseDur(got) != parseDur(want) {
					t.Errorf("%s %s: flux-system %s %q, want %s", c.name, cl, field, got, want)
				}
			}
		}
	}
}

// TestSelfManagedFluxInstanceIsNotPruned: the FluxInstance in a cluster
// folder is applied by the pruning flux-system Kustomization; moving the
// file must not uninstall Flux.
func TestSelfManagedFluxInstanceIsNotPruned(t *testing.T) {
	for _, name := range examples.Names() {
		res := planExample(t, name)
		if res.Spec.Spec.Flux.Mode != "operator" {
			continue
		}
		for _, f := range res.Tree.Files {
			if path.Base(f.Path) != "flux-instance.yaml" {
				continue
			}
			var fi FluxInstance
			if err := yaml.Unmarshal(f.Content, &fi); err != nil {
				t.Fatal(err)
			}
			if fi.Annotations["kustomize.toolkit.fluxcd.io/prune"] != "disabled" {
				t.Errorf("%s: FluxInstance without kustomize.toolkit.fluxcd.io/prune: disabled", f.Path)
			}
		}
	}
}

// gotkComponentsStandIn is the part of `flux install --export` the size
// patches touch: the controllers' Deployments with their default
// resources and arguments (fluxcd/flux2 manifests/bases).
const gotkComponentsStandIn = `apiVersion: apps/v1
kind: Deployment
metadata: {name: source-controller, namespace: flux-system}
spec:
  template:
    spec:
      containers:
      - name: manager
        args: [--events-addr=x, --watch-all-namespaces=true, --log-level=info]
        resources: {limits: {cpu: 1000m, memory: 1Gi}, requests: {cpu: 50m, memory: 64Mi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: kustomize-controller, namespace: flux-system}
spec:
  template:
    spec:
      containers:
      - name: manager
        args: [--events-addr=x, --watch-all-namespaces=true, --log-level=info]
        resources: {limits: {cpu: 1000m, memory: 1Gi}, requests: {cpu: 100m, memory: 64Mi}}
`

// TestBootstrapLayoutAppliesTheFluxSize: in the classic layout the plan's
// "Flux size small" must be what the controllers run with, as FluxInstance
// cluster.size: small gives in operator mode.
func TestBootstrapLayoutAppliesTheFluxSize(t *testing.T) {
	res := planExample(t, "farm-lab")
	for _, d := range res.Decisions {
		if d.FluxSize != "small" {
			t.Fatalf("%s: size %s; the test expects small", d.Region, d.FluxSize)
		}
		dir := ClusterPath(d.Region, res.Spec.RegionClusters(d.Region)[0].Name) + "/flux-system/"
		m := krustyBuild(t, map[string]string{
			"kustomization.yaml":   string(fileOf(t, res, dir+"kustomization.yaml")),
			"gotk-sync.yaml":       string(fileOf(t, res, dir+"gotk-sync.yaml")),
			"gotk-components.yaml": gotkComponentsStandIn,
		})
		for _, name := range []string{"source-controller", "kustomize-controller"} {
			dep := findObject(t, m, "Deployment", name)
			c := dig(dep, "spec", "template", "spec", "containers").([]any)[0]
			if got := dig(c, "resources", "limits", "memory"); got != "512Mi" {
				t.Errorf("%s %s: memory limit %v, the small profile's is 512Mi", dir, name, got)
			}
			args := dig(c, "args").([]any)
			has := func(a string) bool {
				for _, x := range args {
					if x == a {
						return true
					}
				}
				return false
			}
			if name == "kustomize-controller" && !has("--concurrent=5") {
				t.Errorf("%s %s: args %v without --concurrent=5", dir, name, args)
			}
			if !has("--interval-jitter-percentage=20") {
				t.Errorf("%s %s: args %v lost the jitter flag", dir, name, args)
			}
		}
	}
}

func parseDur(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		return -1
	}
	return d
}
