package check

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/openapi"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

func validate(t *testing.T, fx fixture) *Report {
	t.Helper()
	rep, err := Tree(fx.tree(t), Options{Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func dump(t *testing.T, rep *Report) {
	t.Helper()
	for _, e := range rep.Errors {
		t.Logf("error: %s", e)
	}
	for _, w := range rep.Warnings {
		t.Logf("warning: %s", w)
	}
}

// hasFinding reports whether fs holds a finding in file (and at line, when
// line > 0) whose message contains every one of subs.
func hasFinding(fs []Finding, file string, line int, subs ...string) bool {
next:
	for _, f := range fs {
		if f.File != file || (line > 0 && f.Line != line) {
			continue
		}
		for _, s := range subs {
			if !strings.Contains(f.Message, s) {
				continue next
			}
		}
		return true
	}
	return false
}

func TestValidFixture(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    fixtureOpts
	}{
		{"flux-operator", fixtureOpts{regions: 3, clusters: 4}},
		{"bootstrap", fixtureOpts{regions: 2, clusters: 3, classic: true, gotkComponents: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := validate(t, newFixture(tc.o))
			if !rep.OK() || len(rep.Warnings) != 0 {
				dump(t, rep)
				t.Fatalf("valid fixture: %d errors, %d warnings", len(rep.Errors), len(rep.Warnings))
			}
			dirs := 3 + 2*tc.o.regions + tc.o.regions*tc.o.clusters // bases + overlays + clusters
			if tc.o.classic {
				dirs += tc.o.regions * tc.o.clusters // flux-system
			}
			if rep.Kustomizations != dirs {
				t.Errorf("Kustomizations = %d, want %d", rep.Kustomizations, dirs)
			}
			if want := tc.o.regions * tc.o.clusters; rep.Clusters != want {
				t.Errorf("Clusters = %d, want %d", rep.Clusters, want)
			}
			if rep.Rendered != nil {
				t.Errorf("Rendered filled without KeepRendered")
			}
		})
	}
}

func TestBroken(t *testing.T) {
	const (
		c0   = "clusters/region-00/edge-0000"
		apps = c0 + "/apps.yaml"
		infr = c0 + "/infrastructure.yaml"
	)
	replace := func(fx fixture, file, old, new string) {
		t.Helper()
		if !strings.Contains(fx[file], old) {
			t.Fatalf("%s has no %q", file, old)
		}
		fx[file] = strings.Replace(fx[file], old, new, 1)
	}
	for _, tc := range []struct {
		name   string
		mutate func(fixture)
		file   string
		line   int
		subs   []string
		warn   bool // a warning, not an error
	}{{
		name: "kustomization lists a missing resource",
		mutate: func(fx fixture) {
			replace(fx, "apps/regions/region-01/kustomization.yaml", "  - ../../base\n", "  - ../../base\n  - missing.yaml\n")
		},
		file: "apps/regions/region-01/kustomization.yaml",
		subs: []string{"kustomize build apps/regions/region-01", "missing.yaml"},
	}, {
		name: "clusters of a broken overlay name it",
		mutate: func(fx fixture) {
			replace(fx, "apps/regions/region-01/kustomization.yaml", "  - ../../base\n", "  - ../../base\n  - missing.yaml\n")
		},
		file: "clusters/region-01/edge-0003/apps.yaml", line: 1,
		subs: []string{"does not build", "apps/regions/region-01/kustomization.yaml"},
	}, {
		name:   "flux path to a nonexistent directory",
		mutate: func(fx fixture) { replace(fx, apps, "./apps/regions/region-00", "./apps/regions/nowhere") },
		file:   apps, line: 1,
		subs: []string{"Kustomization flux-system/apps", `spec.path "./apps/regions/nowhere"`, "no such directory"},
	}, {
		name:   "flux path to a file",
		mutate: func(fx fixture) { replace(fx, apps, "./apps/regions/region-00", "./apps/base/web/service.yaml") },
		file:   apps, line: 1,
		subs: []string{"is a file, not a directory"},
	}, {
		name:   "flux path leaves the repository",
		mutate: func(fx fixture) { replace(fx, apps, "./apps/regions/region-00", "../elsewhere") },
		file:   apps, line: 1,
		subs: []string{"leaves the repository"},
	}, {
		name:   "dependsOn a missing name",
		mutate: func(fx fixture) { replace(fx, apps, "- name: infrastructure", "- name: infra") },
		file:   apps, line: 1,
		subs: []string{"dependsOn flux-system/infra: no such Kustomization"},
	}, {
		name: "dependsOn cycle",
		mutate: func(fx fixture) {
			replace(fx, infr, "spec:\n", "spec:\n  dependsOn:\n    - name: apps\n")
		},
		file: apps, line: 1,
		subs: []string{"dependsOn cycle: flux-system/apps -> flux-system/infrastructure -> flux-system/apps"},
	}, {
		name:   "sourceRef to a missing source",
		mutate: func(fx fixture) { replace(fx, apps, "name: flux-system", "name: fleet") },
		file:   apps, line: 1,
		subs: []string{"sourceRef GitRepository flux-system/fleet not found"},
	}, {
		name:   "sourceRef kind differs from the FluxInstance sync kind",
		mutate: func(fx fixture) { replace(fx, apps, "kind: GitRepository", "kind: OCIRepository") },
		file:   apps, line: 1,
		subs: []string{"sourceRef OCIRepository flux-system/flux-system not found"},
	}, {
		name:   "missing substituteFrom ConfigMap",
		mutate: func(fx fixture) { replace(fx, infr, "name: cluster-vars", "name: region-vars") },
		file:   infr, line: 1,
		subs: []string{"postBuild.substituteFrom ConfigMap flux-system/region-vars not found"},
	}, {
		name: "optional substituteFrom missing: variables only warned",
		mutate: func(fx fixture) {
			replace(fx, infr, "name: cluster-vars", "name: region-vars\n        optional: true")
		},
		file: infr, line: 1, warn: true,
		subs: []string{"${CLUSTER_NAME}", "unless a missing substituteFrom source provides it"},
	}, {
		name: "variable not provided",
		mutate: func(fx fixture) {
			replace(fx, "apps/base/web/deployment.yaml", "value: ${REGION}", "value: ${REGION}-${ZONE}")
		},
		file: apps, line: 1,
		subs: []string{"${ZONE} used in apps/regions/region-00 (Deployment apps/web) is not provided"},
	}, {
		name: "variable provided by substitute",
		mutate: func(fx fixture) {
			replace(fx, "apps/base/web/deployment.yaml", "value: ${REGION}", "value: ${REGION}-${ZONE}")
			for p := range fx {
				if strings.HasSuffix(p, "/apps.yaml") {
					fx[p] = strings.Replace(fx[p], "  postBuild:\n", "  postBuild:\n    substitute:\n      ZONE: a\n", 1)
				}
			}
			// Still reported where it is not provided:
			replace(fx, "infrastructure/base/cluster-info.yaml", "tier:", "zone: ${ZONE}\n  tier:")
		},
		file: infr, line: 1,
		subs: []string{"${ZONE} used in infrastructure/regions/region-00 (ConfigMap kube-system/cluster-info)"},
	}, {
		name: "plaintext Secret",
		mutate: func(fx fixture) {
			fx[c0+"/db.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: apps\nstringData:\n  password: hunter2\n"
		},
		file: c0 + "/db.yaml", line: 6,
		subs: []string{"plaintext Secret apps/db"},
	}, {
		name: "plaintext Secret in a built base",
		mutate: func(fx fixture) {
			replace(fx, "infrastructure/base/registry-auth.sops.yaml", "sops:\n", "notsops:\n")
		},
		file: "infrastructure/base/registry-auth.sops.yaml", line: 1,
		subs: []string{"plaintext Secret apps/registry-auth"},
	}, {
		name: "YAML syntax error",
		mutate: func(fx fixture) {
			fx["bootstrap/region-00/manifests/extra.yaml"] = "apiVersion: v1\nkind: ConfigMap\n---\nmetadata:\n  name: x\n   bad: indent\n"
		},
		file: "bootstrap/region-00/manifests/extra.yaml", line: 6,
		subs: []string{"YAML syntax error"},
	}, {
		name: "invalid Flux Kustomization",
		mutate: func(fx fixture) {
			replace(fx, apps, "  prune: true\n", "  prune: [true]\n")
		},
		file: apps, line: 1,
		subs: []string{"Kustomization flux-system/apps: invalid"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(fixtureOpts{regions: 2, clusters: 2})
			tc.mutate(fx)
			rep := validate(t, fx)
			got := rep.Errors
			if tc.warn {
				got = rep.Warnings
			}
			if !hasFinding(got, tc.file, tc.line, tc.subs...) {
				dump(t, rep)
				t.Fatalf("no finding in %s:%d with %q", tc.file, tc.line, tc.subs)
			}
			if tc.warn && !rep.OK() {
				dump(t, rep)
				t.Fatal("want warnings only")
			}
		})
	}
}

func TestSOPSSecretPasses(t *testing.T) {
	fx := newFixture(fixtureOpts{regions: 1, clusters: 1})
	fx["clusters/region-00/edge-0000/db.sops.yaml"] = fx["infrastructure/base/registry-auth.sops.yaml"]
	if rep := validate(t, fx); !rep.OK() {
		dump(t, rep)
		t.Fatal("SOPS-encrypted Secret reported")
	}
}

// TestEmptySecretPasses: a Secret without data (Argo CD's argocd-secret, which
// Argo CD fills on the cluster) holds nothing to encrypt; one with a value
// in data or stringData, even beside an empty one, is still refused.
func TestEmptySecretPasses(t *testing.T) {
	for _, c := range []struct {
		body string
		ok   bool
	}{
		{"", true},
		{"data: {}\n", true},
		{"data:\n", true},
		{"data: {}\nstringData: {password: hunter2}\n", false},
		{"data: {token: aHVudGVyMg==}\n", false},
	} {
		fx := newFixture(fixtureOpts{regions: 1, clusters: 1})
		fx["infrastructure/base/empty-secret.yaml"] = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: argocd-secret\n  namespace: argocd\ntype: Opaque\n" + c.body
		rep := validate(t, fx)
		found := hasFinding(rep.Errors, "infrastructure/base/empty-secret.yaml", 1, "plaintext Secret argocd/argocd-secret")
		if found == c.ok {
			dump(t, rep)
			t.Errorf("Secret with %q: reported %v, want %v", c.body, found, !c.ok)
		}
	}
}

func TestMissingGotkComponentsWarnsOnce(t *testing.T) {
	fx := newFixture(fixtureOpts{regions: 2, clusters: 3, classic: true})
	rep := validate(t, fx)
	if !rep.OK() {
		dump(t, rep)
		t.Fatal("missing gotk-components.yaml must not fail validation")
	}
	if len(rep.Warnings) != 1 {
		dump(t, rep)
		t.Fatalf("%d warnings, want 1 for the repository", len(rep.Warnings))
	}
	w := rep.Warnings[0]
	if w.File != "clusters/region-00/edge-0000/flux-system/gotk-components.yaml" ||
		!strings.Contains(w.Message, "flux install --export > clusters/region-00/edge-0000/flux-system/gotk-components.yaml") ||
		!strings.Contains(w.Message, "5 other directories: for d in clusters/*/*/flux-system; do flux install --export > \"$d/gotk-components.yaml\"; done") {
		t.Errorf("warning = %s", w)
	}
	// The rest of flux-system is still checked: gotk-sync's Kustomization
	// points at the cluster directory, its GitRepository is the source.
	fx["clusters/region-01/edge-0004/flux-system/gotk-sync.yaml"] = strings.Replace(
		fx["clusters/region-01/edge-0004/flux-system/gotk-sync.yaml"], "path: ./clusters/region-01/edge-0004", "path: ./clusters/region-01/gone", 1)
	rep = validate(t, fx)
	if !hasFinding(rep.Errors, "clusters/region-01/edge-0004/flux-system/gotk-sync.yaml", 14, "Kustomization flux-system/flux-system", "no such directory") {
		dump(t, rep)
		t.Fatal("bad gotk-sync path not reported")
	}
}

func TestKeepRendered(t *testing.T) {
	fx := newFixture(fixtureOpts{regions: 1, clusters: 2})
	rep, err := Tree(fx.tree(t), Options{KeepRendered: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rendered) != rep.Kustomizations {
		t.Fatalf("%d rendered, %d built", len(rep.Rendered), rep.Kustomizations)
	}
	y := string(rep.Rendered["apps/regions/region-00"])
	if !strings.Contains(y, "kind: Deployment") || !strings.Contains(y, "replicas: 2") {
		t.Errorf("rendered apps overlay:\n%s", y)
	}
}

func TestTreeAndDirAgree(t *testing.T) {
	for _, o := range []fixtureOpts{{regions: 2, clusters: 3}, {regions: 2, clusters: 2, classic: true}} {
		fx := newFixture(o)
		// some findings to compare as well
		fx["apps/regions/region-01/kustomization.yaml"] += "  - missing.yaml\n"
		fx["bootstrap/region-00/manifests/bad.yaml"] = "a: [\n"
		fx["clusters/region-00/edge-0000/s.yaml"] = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n"
		root := t.TempDir()
		fx.write(t, root)
		// a .git directory is skipped
		fx2 := fixture{".git/config.yaml": "{{{", ".git/objects/x.yaml": "kind: Secret\napiVersion: v1\n"}
		fx2.write(t, root)
		fromDir, err := Dir(root, Options{KeepRendered: true})
		if err != nil {
			t.Fatal(err)
		}
		fromTree, err := Tree(fx.tree(t), Options{KeepRendered: true, Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fromDir, fromTree) {
			dump(t, fromDir)
			dump(t, fromTree)
			t.Fatal("Dir and Tree disagree")
		}
		if fromDir.OK() || len(fromDir.Errors) < 3 {
			dump(t, fromDir)
			t.Fatal("expected findings")
		}
	}
}

func TestScanVars(t *testing.T) {
	got := scanVars(`a: ${A} b: ${B:=x} c: ${C:-y} d: $${D} e: ${E:0:2} f: ${F/a/b} g: $G h: ${H=1} i: ${1X} j: ${J}${A} k: $$$${K} l: $${L}${M}`)
	want := []string{"A", "E", "F", "J", "A", "M"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("scanVars = %q, want %q", got, want)
	}
}

func TestSubstituteDisabled(t *testing.T) {
	fx := newFixture(fixtureOpts{regions: 1, clusters: 1})
	fx["apps/base/web/service.yaml"] = strings.Replace(fx["apps/base/web/service.yaml"], "  name: web\n",
		"  name: web\n  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\n    note: ${UNSET}\n", 1)
	if rep := validate(t, fx); !rep.OK() {
		dump(t, rep)
		t.Fatal("object with substitution disabled was scanned")
	}
}

func TestImplicitKustomization(t *testing.T) {
	// A Flux path without a kustomization file: Flux renders every manifest
	// below it.
	fx := newFixture(fixtureOpts{regions: 1, clusters: 1})
	fx["apps/plain/cm.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\n  namespace: apps\ndata:\n  x: ${NOPE}\n"
	fx["apps/plain/values.yaml"] = "replicas: 3\n" // not a manifest: ignored
	fx["clusters/region-00/edge-0000/apps.yaml"] = strings.Replace(fx["clusters/region-00/edge-0000/apps.yaml"], "./apps/regions/region-00", "./apps/plain", 1)
	rep := validate(t, fx)
	if !hasFinding(rep.Errors, "clusters/region-00/edge-0000/apps.yaml", 1, "${NOPE} used in apps/plain (ConfigMap apps/plain)") || len(rep.Errors) != 1 {
		dump(t, rep)
		t.Fatal("plain directory not rendered as Flux does")
	}
}

func TestNestedKustomizations(t *testing.T) {
	// An overlay that itself holds Flux Kustomizations: they are checked in
	// each cluster's context, and a substituteFrom ConfigMap they need may
	// come from another path synced to the cluster.
	fx := newFixture(fixtureOpts{regions: 1, clusters: 2})
	fx["infrastructure/base/kustomization.yaml"] += "  - controllers.yaml\n"
	fx["infrastructure/base/controllers.yaml"] = `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: controllers
  namespace: flux-system
spec:
  interval: 1h
  prune: true
  path: ./infrastructure/controllers
  dependsOn:
    - name: missing-dep
  sourceRef:
    kind: GitRepository
    name: flux-system
`
	fx["infrastructure/controllers/kustomization.yaml"] = "resources: [cm.yaml]\n"
	fx["infrastructure/controllers/cm.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: flux-system\n"
	rep := validate(t, fx)
	n := 0
	for _, e := range rep.Errors {
		if e.File == "infrastructure/base/controllers.yaml" && strings.Contains(e.Message, "dependsOn flux-system/missing-dep") {
			n++
		}
	}
	if n != 1 || len(rep.Errors) != 1 {
		dump(t, rep)
		t.Fatalf("want one deduplicated dependsOn error in the shared base, got %d of %d", n, len(rep.Errors))
	}
	if strings.Contains(rep.Errors[0].Message, "in cluster") {
		t.Errorf("an error found in every cluster names one: %s", rep.Errors[0])
	}

	// Provided in one cluster only: the error names the other.
	fx["clusters/region-00/edge-0000/missing-dep.yaml"] = strings.Replace(fx["clusters/region-00/edge-0000/apps.yaml"], "name: apps", "name: missing-dep", 1)
	fx["clusters/region-00/edge-0000/kustomization.yaml"] += "  - missing-dep.yaml\n"
	rep = validate(t, fx)
	if len(rep.Errors) != 1 || !hasFinding(rep.Errors, "infrastructure/base/controllers.yaml", 1, "missing-dep", "(in cluster clusters/region-00/edge-0001)") {
		dump(t, rep)
		t.Fatal("partial shared error does not name its cluster")
	}
}

func TestCustomOpenAPISchemaBuildsAlone(t *testing.T) {
	before := openapi.GetSchemaVersion()
	fx := newFixture(fixtureOpts{regions: 2, clusters: 3})
	fx["extra/kustomization.yaml"] = "openapi:\n  path: schema.json\nresources: [cm.yaml]\n"
	fx["extra/schema.json"] = `{"definitions": {}}`
	fx["extra/cm.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n"
	if rep := validate(t, fx); !rep.OK() {
		dump(t, rep)
		t.Fatal("custom schema fixture failed")
	}
	if after := openapi.GetSchemaVersion(); after != before {
		t.Errorf("OpenAPI schema left at %q, was %q", after, before)
	}
}

func TestParallelMatchesSerial(t *testing.T) {
	fx := newFixture(fixtureOpts{regions: 4, clusters: 10})
	fx["apps/base/web/deployment.yaml"] = strings.Replace(fx["apps/base/web/deployment.yaml"], "value: ${REGION}", "value: ${REGION}${ZONE}", 1)
	tr := fx.tree(t)
	serial, err := Tree(tr, Options{Workers: 1, KeepRendered: true})
	if err != nil {
		t.Fatal(err)
	}
	par, err := Tree(tr, Options{Workers: 8, KeepRendered: true})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(serial, par) {
		t.Fatal("parallel and serial validation differ")
	}
	if len(par.Errors) != 40 {
		dump(t, par)
		t.Fatalf("%d errors, want one per cluster", len(par.Errors))
	}
}

func TestDirMissingRoot(t *testing.T) {
	if _, err := Dir(t.TempDir()+"/nope", Options{}); err == nil {
		t.Fatal("no error for a missing root")
	}
}

// TestOnly: with Options.Only (what a one-region regeneration checks), the
// region's overlays and clusters are built, the shared bases only inside
// them, another region's overlay only when a Flux path points at it; and
// what is broken in any of those is still found.
func TestOnly(t *testing.T) {
	only := []string{"infrastructure/regions/region-01", "apps/regions/region-01", "clusters/region-01"}
	run := func(fx fixture) *Report {
		t.Helper()
		rep, err := Tree(fx.tree(t), Options{Workers: 2, Only: only})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	fx := newFixture(fixtureOpts{regions: 3, clusters: 2})
	rep := run(fx)
	if !rep.OK() || rep.Kustomizations != 4 || rep.Clusters != 2 {
		dump(t, rep)
		t.Fatalf("valid fixture: %d errors, %d kustomizations built (want 2 overlays + 2 clusters), %d clusters (want 2)", len(rep.Errors), rep.Kustomizations, rep.Clusters)
	}

	broken := fx.clone()
	broken["apps/base/kustomization.yaml"] += "  - missing.yaml\n"
	rep = run(broken)
	if !hasFinding(rep.Errors, "apps/regions/region-01/kustomization.yaml", 0, "kustomize build apps/regions/region-01", "missing.yaml") {
		dump(t, rep)
		t.Error("a broken base is not reported through the overlay that includes it")
	}

	elsewhere := fx.clone()
	apps := "clusters/region-01/edge-0002/apps.yaml"
	if !strings.Contains(elsewhere[apps], "./apps/regions/region-01") {
		t.Fatalf("%s does not sync ./apps/regions/region-01", apps)
	}
	elsewhere[apps] = strings.Replace(elsewhere[apps], "./apps/regions/region-01", "./apps/regions/region-02", 1)
	elsewhere["apps/regions/region-02/kustomization.yaml"] = strings.Replace(elsewhere["apps/regions/region-02/kustomization.yaml"], "  - ../../base\n", "  - ../../base\n  - missing.yaml\n", 1)
	rep = run(elsewhere)
	if rep.Kustomizations != 5 {
		t.Errorf("%d kustomizations built, want 5 (region-02's apps overlay, which a Flux path names)", rep.Kustomizations)
	}
	if !hasFinding(rep.Errors, "apps/regions/region-02/kustomization.yaml", 0, "missing.yaml") ||
		!hasFinding(rep.Errors, apps, 1, "does not build", "apps/regions/region-02/kustomization.yaml") {
		dump(t, rep)
		t.Error("a broken overlay outside Only, named by a Flux path, is not reported")
	}
}

// nodeVars finds what a scan of the object's YAML text finds: keys, values
// in sequences and block scalars, escapes and defaults.
func TestNodeVarsMatchesTextScan(t *testing.T) {
	const doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels:\n    ${KEY_VAR}: v\ndata:\n" +
		"  list: [\"${IN_FLOW}\", \"$${ESCAPED}\"]\n  block: |\n    line one\n    uses ${IN_BLOCK} and ${WITH_DEFAULT:=d}\n  n: \"${A}${B}\"\n"
	n, err := kyaml.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	got := nodeVars(n.YNode(), nil)
	sort.Strings(got)
	want := scanVars(doc)
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) || len(want) != 5 {
		t.Errorf("nodeVars %v, text scan %v", got, want)
	}
}

// TestUnrenderedCharts: objects whose pods a controller on the cluster
// renders (a HelmRelease, a K3s HelmChart, a Flux Kustomization of another
// source) are listed, so that validate can say what it did not check; the
// first-boot Flux Operator HelmChart and the fleet's own Kustomizations
// are not.
func TestUnrenderedCharts(t *testing.T) {
	fx := newFixture(fixtureOpts{regions: 1, clusters: 1})
	if rep := validate(t, fx); len(rep.Unrendered) != 0 {
		t.Fatalf("plain fixture: unrendered %v", rep.Unrendered)
	}
	fx["apps/extra/charts.yaml"] = `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web, namespace: web}
spec: {interval: 10m, chartRef: {kind: OCIRepository, name: web}}
---
apiVersion: helm.cattle.io/v1
kind: HelmChart
metadata: {name: db, namespace: kube-system}
spec: {chart: db, repo: https://charts.example.com, version: 1.0.0}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: app-remote, namespace: flux-system}
spec: {interval: 10m, prune: true, path: ./deploy, sourceRef: {kind: GitRepository, name: app-remote}}
`
	fx["bootstrap/r/manifests/flux-operator.yaml"] = `apiVersion: helm.cattle.io/v1
kind: HelmChart
metadata: {name: flux-operator, namespace: kube-system}
spec: {chart: oci://ghcr.io/controlplaneio-fluxcd/charts/flux-operator, version: 0.58.1}
`
	rep := validate(t, fx)
	var got []string
	for _, u := range rep.Unrendered {
		got = append(got, u.String())
	}
	want := []string{
		"apps/extra/charts.yaml:1: Helm chart (Flux HelmRelease) web/web",
		"apps/extra/charts.yaml:6: Helm chart (K3s HelmChart) kube-system/db",
		"apps/extra/charts.yaml:11: remote Kustomize base (Flux Kustomization of app-remote) flux-system/app-remote",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("unrendered\n got %q\nwant %q", got, want)
	}
}
