package e2e

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	sigyaml "sigs.k8s.io/yaml"

	"github.com/fleetgen/fleetgen/generator/spec"
)

// upgradeWant is what a region's K3s upgrade Plans must say, read from
// fleet.yaml at the revision a cluster applied (not from the generated
// file the Plans come from).
type upgradeWant struct {
	version string         // spec.k3s.version (or fleetgen's default)
	window  map[string]any // Plan.spec.window; nil: none
	plans   map[string]obj // the generated Plans, by name
	file    string         // infrastructure/regions/<region>/k3s-upgrade.yaml
}

// readUpgradeWant reads fleet.yaml and the region's k3s-upgrade.yaml at
// commit rev of the repository checkout repo.
func readUpgradeWant(t *testing.T, repo, rev, region string) upgradeWant {
	t.Helper()
	w := upgradeWant{file: "infrastructure/regions/" + region + "/k3s-upgrade.yaml", plans: map[string]obj{}}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(gitCmd(t, repo, "show", rev+":fleet.yaml")), &doc); err != nil {
		t.Fatalf("fleet.yaml at %s: %v", rev, err)
	}
	sp := yamlMap(doc.Content[0], "spec")
	var reg *yaml.Node
	for _, r := range yamlMap(sp, "regions").Content {
		if yamlMap(r, "name").Value == region {
			reg = r
		}
	}
	if reg == nil {
		t.Fatalf("fleet.yaml at %s has no region %s", rev, region)
	}
	w.version = spec.DefaultK3sVersion
	if v := yamlMap(yamlMap(sp, "k3s"), "version"); v != nil && v.Value != "" {
		w.version = v.Value
	}
	mw := yamlMap(reg, "maintenanceWindow")
	if mw == nil {
		mw = yamlMap(sp, "maintenanceWindow")
	}
	if mw != nil {
		var days []any
		for _, d := range yamlMap(mw, "days").Content {
			days = append(days, d.Value)
		}
		tz := spec.DefaultWindowTimeZone
		if z := yamlMap(mw, "timeZone"); z != nil && z.Value != "" {
			tz = z.Value
		}
		w.window = map[string]any{"days": days, "startTime": yamlMap(mw, "start").Value, "endTime": yamlMap(mw, "end").Value, "timeZone": tz}
	}
	objs, err := decodeManifests([]byte(gitCmd(t, repo, "show", rev+":"+w.file)))
	if err != nil {
		t.Fatalf("%s at %s: %v", w.file, rev, err)
	}
	for _, o := range objs {
		if str(o, "apiVersion") == "upgrade.cattle.io/v1" && str(o, "kind") == "Plan" {
			w.plans[str(o, "metadata", "name")] = o
		}
	}
	if len(w.plans) != 2 || w.plans["server-plan"] == nil || w.plans["agent-plan"] == nil {
		t.Fatalf("%s at %s: want the Plans server-plan and agent-plan, got %v", w.file, rev, sortedNames(w.plans))
	}
	return w
}

func sortedNames(m map[string]obj) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkUpgradePlans checks that the real API server holds what fleetgen
// generated for K3s upgrades, applied by Flux: system-upgrade-controller's
// Plan CRD (Established), its Deployment, and exactly the region's two
// Plans in system-upgrade, each applied by the infrastructure Kustomization,
// with the version fleet.yaml pins (no channel), concurrency 1, the region's
// maintenance window, and every field of the generated spec as generated.
// There is no kubelet, so no upgrade Job runs: what is checked is that the
// objects are accepted by the real schemas and carry the spec.
func checkUpgradePlans(t *testing.T, s *site, repo, rev string) {
	t.Helper()
	ctx := context.Background()
	c := s.c
	want := readUpgradeWant(t, repo, rev, s.region)
	crd, err := c.kube.get(ctx, "apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "plans.upgrade.cattle.io")
	if err != nil {
		t.Fatalf("%s: the Plan CRD (infrastructure/base/system-upgrade/plan-crd.yaml): %v", c.name, err)
	}
	if cond := condition(crd, "Established"); cond == nil || cond["status"] != "True" {
		t.Errorf("%s: CRD plans.upgrade.cattle.io not Established: %v", c.name, cond)
	}
	if _, err := c.kube.get(ctx, "apps/v1", "Deployment", "system-upgrade", "system-upgrade-controller"); err != nil {
		t.Errorf("%s: system-upgrade-controller Deployment: %v", c.name, err)
	}
	plans, err := c.kube.list(ctx, "upgrade.cattle.io/v1", "Plan", "system-upgrade")
	if err != nil {
		t.Fatalf("%s: list Plans: %v", c.name, err)
	}
	var names []string
	for _, p := range plans {
		names = append(names, str(p, "metadata", "name"))
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "agent-plan,server-plan" {
		t.Errorf("%s: Plans in system-upgrade: %v, want agent-plan and server-plan", c.name, names)
	}
	for _, name := range sortedNames(want.plans) {
		got, err := c.kube.get(ctx, "upgrade.cattle.io/v1", "Plan", "system-upgrade", name)
		if err != nil {
			t.Errorf("%s: Plan system-upgrade/%s (%s): %v", c.name, name, want.file, err)
			continue
		}
		if by := str(got, "metadata", "labels", "kustomize.toolkit.fluxcd.io/name"); by != "infrastructure" {
			t.Errorf("%s: Plan %s applied by %q, want the infrastructure Kustomization", c.name, name, by)
		}
		sp, _ := field(got, "spec").(obj)
		if v, _ := sp["version"].(string); v != want.version {
			t.Errorf("%s: Plan %s version %q, want fleet.yaml's %s", c.name, name, v, want.version)
		}
		if ch, ok := sp["channel"]; ok {
			t.Errorf("%s: Plan %s has channel %v: a channel floats", c.name, name, ch)
		}
		if n, _ := sp["concurrency"].(float64); n != 1 {
			t.Errorf("%s: Plan %s concurrency %v, want 1", c.name, name, sp["concurrency"])
		}
		gotWindow, _ := sp["window"].(obj)
		if want.window == nil && gotWindow != nil {
			t.Errorf("%s: Plan %s has window %v; fleet.yaml sets none for region %s", c.name, name, gotWindow, s.region)
		}
		if want.window != nil && !reflect.DeepEqual(map[string]any(gotWindow), want.window) {
			t.Errorf("%s: Plan %s window %v, want fleet.yaml's %v", c.name, name, gotWindow, want.window)
		}
		// Every field fleetgen generated reached the server unchanged.
		if diffs := subsetDiff("spec", jsonish(t, field(want.plans[name], "spec")), sp); len(diffs) > 0 {
			t.Errorf("%s: Plan %s on the API server differs from %s:\n  %s", c.name, name, want.file, strings.Join(diffs, "\n  "))
		}
	}
	if !t.Failed() {
		t.Logf("%s: Plans server-plan and agent-plan applied by Flux: version %s (no channel), concurrency 1, window %v", c.name, want.version, windowText(want.window))
	}
}

func windowText(w map[string]any) string {
	if w == nil {
		return "none"
	}
	return fmt.Sprintf("%v %v-%v %v", w["days"], w["startTime"], w["endTime"], w["timeZone"])
}

// jsonish turns a value decoded from YAML into what the API server's JSON
// decodes to (numbers float64).
func jsonish(t *testing.T, v any) any {
	t.Helper()
	b, err := sigyaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := sigyaml.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// subsetDiff lists where got lacks or differs from a field of want (fields
// the server adds, such as defaults, are not differences).
func subsetDiff(path string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %v, want %v", path, got, want)}
		}
		var out []string
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			gv, present := g[k]
			if !present {
				out = append(out, fmt.Sprintf("%s.%s: missing, want %v", path, k, w[k]))
				continue
			}
			out = append(out, subsetDiff(path+"."+k, w[k], gv)...)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: %v, want %v", path, got, want)}
		}
		var out []string
		for i := range w {
			out = append(out, subsetDiff(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return out
	default:
		if !reflect.DeepEqual(want, got) {
			return []string{fmt.Sprintf("%s: %v, want %v", path, got, want)}
		}
		return nil
	}
}
