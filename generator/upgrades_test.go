package generator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jsv "github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/resource"

	"github.com/fleetgen/fleetgen/generator/spec"
)

// schemaDir is ../shared/schemas beside the repository (as
// scripts/check-examples.sh finds it): kubeconform's strict offline schemas.
var schemaDir = filepath.Join("..", "..", "shared", "schemas")

var schemaCache sync.Map // file -> *jsv.Schema

// strictSchema loads the kubeconform schema of an object the way
// kubeconform names it: {{ .ResourceKind }}{{ .KindSuffix }}.json.
func strictSchema(t *testing.T, apiVersion, kind string) *jsv.Schema {
	t.Helper()
	if _, err := os.Stat(schemaDir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no schemas at %s", schemaDir)
		}
		t.Skipf("no schemas at %s", schemaDir)
	}
	suffix := "-" + apiVersion
	if g, v, ok := strings.Cut(apiVersion, "/"); ok {
		suffix = "-" + strings.Split(g, ".")[0] + "-" + v
	}
	name := strings.ToLower(kind) + suffix + ".json"
	file := filepath.Join(schemaDir, "kubernetes", name)
	if _, err := os.Stat(file); err != nil {
		file = filepath.Join(schemaDir, "crds", name)
	}
	if _, err := os.Stat(file); err != nil {
		// Made here from the upstream CRD: testdata/schemas/README.md.
		file = filepath.Join("testdata", "schemas", name)
	}
	if s, ok := schemaCache.Load(file); ok {
		return s.(*jsv.Schema)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%s %s: no schema: %v", apiVersion, kind, err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc, "$schema") // "http://json-schema.org/schema#": read as the default draft
	c := jsv.NewCompiler()
	if err := c.AddResource(file, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(file)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	schemaCache.Store(file, s)
	return s
}

// validateStrict checks one rendered object against its strict schema.
func validateStrict(t *testing.T, where string, r *resource.Resource) {
	t.Helper()
	j, err := r.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsv.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	if err := strictSchema(t, r.GetApiVersion(), r.GetKind()).Validate(v); err != nil {
		t.Errorf("%s: %s %s does not validate: %v", where, r.GetKind(), r.GetName(), err)
	}
}

// TestUpgradePlans builds every region's infrastructure overlay of every
// example as Flux would, and checks the system-upgrade-controller objects
// and the two Plans as an operator would read them.
func TestUpgradePlans(t *testing.T) {
	plans := 0
	for _, ex := range k3sTestPlans(t) {
		fsys := rsMemFS(t, ex.res)
		s := &ex.res.Spec.Spec
		for i := range s.Regions {
			r := &s.Regions[i]
			d, _ := ex.res.Region(r.Name)
			if d.K0s() {
				continue
			}
			label := ex.name + " " + r.Name
			got := map[string]map[string]any{}
			accounts := map[string]bool{}
			var sucImage string
			for _, res := range rsBuild(t, fsys, path.Join("infrastructure/regions", r.Name)) {
				if res.GetNamespace() != SUCNamespace && res.GetKind() != "CustomResourceDefinition" && !strings.Contains(res.GetKind(), "Cluster") && res.GetName() != SUCNamespace {
					continue
				}
				validateStrict(t, label, res)
				m, err := res.Map()
				if err != nil {
					t.Fatal(err)
				}
				switch res.GetKind() {
				case "Plan":
					got[res.GetName()] = m["spec"].(map[string]any)
				case "ServiceAccount":
					accounts[res.GetName()] = true
				case "Deployment":
					var dep struct {
						Spec struct {
							Template struct {
								Spec struct {
									Containers []struct{ Image string }
								}
							}
						}
					}
					b, _ := json.Marshal(m)
					_ = json.Unmarshal(b, &dep)
					sucImage = dep.Spec.Template.Spec.Containers[0].Image
				case "Namespace":
					if l := res.GetLabels()["pod-security.kubernetes.io/enforce"]; l != "privileged" {
						t.Errorf("%s: namespace %s is %q: the upgrade Jobs are privileged", label, SUCNamespace, l)
					}
				}
			}
			if sucImage != SUCImage {
				t.Errorf("%s: system-upgrade-controller image %q, want %q", label, sucImage, SUCImage)
			}
			server, agent := got[ServerPlanName], got[AgentPlanName]
			if server == nil || agent == nil || len(got) != 2 {
				t.Errorf("%s: Plans %v, want %s and %s", label, slices.Sorted(mapsKeys(got)), ServerPlanName, AgentPlanName)
				continue
			}
			plans += 2
			for name, p := range got {
				where := label + " Plan " + name
				if p["version"] != s.K3s.Version {
					t.Errorf("%s: version %v, want spec.k3s.version %s", where, p["version"], s.K3s.Version)
				}
				if fmt.Sprint(p["concurrency"]) != "1" || p["cordon"] != true {
					t.Errorf("%s: concurrency %v, cordon %v; want 1 and true", where, p["concurrency"], p["cordon"])
				}
				if sa, _ := p["serviceAccountName"].(string); !accounts[sa] {
					t.Errorf("%s: serviceAccountName %q is not a ServiceAccount of namespace %s", where, sa, SUCNamespace)
				}
				if up := p["upgrade"].(map[string]any); up["image"] != K3sUpgradeImage {
					t.Errorf("%s: upgrade image %v", where, up["image"])
				}
				checkWindow(t, where, s.RegionWindow(r), p["window"])
			}
			prep, _ := agent["prepare"].(map[string]any)
			if prep == nil || fmt.Sprint(prep["args"]) != "[prepare "+ServerPlanName+"]" {
				t.Errorf("%s: the agent Plan does not wait for the server Plan: prepare %v", label, prep)
			}
			if agent["drain"] == nil {
				t.Errorf("%s: agents are not drained", label)
			}
			if single := d.Hardware.Nodes == 1; single != (server["drain"] == nil) {
				t.Errorf("%s: %d node(s) per cluster, server drain %v: a single node is only cordoned, a node with others is drained", label, d.Hardware.Nodes, server["drain"])
			}
			// The release provision.sh installs is the one the Plans pin.
			sh := findFile(t, ex.res, path.Join("bootstrap", r.Name, "provision.sh"))
			if !strings.Contains(sh, "INSTALL_K3S_VERSION="+s.K3s.Version+" ") {
				t.Errorf("%s: provision.sh does not install %s", label, s.K3s.Version)
			}
			readme := findFile(t, ex.res, path.Join("bootstrap", r.Name, "README.md"))
			for _, img := range UpgradeImages(s.K3s.Version) {
				if want := "`docker.io/" + img + "`"; d.Connectivity.PreloadImages != strings.Contains(readme, want) {
					t.Errorf("%s: air-gapped %v, but the bootstrap README lists %s: %v", label, d.Connectivity.PreloadImages, want, !d.Connectivity.PreloadImages)
				}
			}
		}
	}
	if plans == 0 {
		t.Fatal("no Plan checked")
	}
}

func mapsKeys(m map[string]map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func findFile(t *testing.T, res *Result, p string) string {
	t.Helper()
	for _, f := range res.Tree.Files {
		if f.Path == p {
			return string(f.Content)
		}
	}
	t.Fatalf("%s not planned", p)
	return ""
}

// kuredDays is what kured's timewindow (which SUC v0.20.1 parses
// Plan.spec.window with) accepts as day names, besides 0-6.
var kuredDays = map[string]time.Weekday{"su": 0, "sun": 0, "sunday": 0, "mo": 1, "mon": 1, "monday": 1, "tu": 2, "tue": 2, "tuesday": 2,
	"we": 3, "wed": 3, "wednesday": 3, "th": 4, "thu": 4, "thursday": 4, "fr": 5, "fri": 5, "friday": 5, "sa": 6, "sat": 6, "saturday": 6}

// checkWindow: the Plan's window is the spec's, and parses the way kured's
// timewindow.New parses it (days, "15:04" times, time.LoadLocation).
func checkWindow(t *testing.T, where string, w *spec.MaintenanceWindow, got any) {
	t.Helper()
	if w == nil {
		if got != nil {
			t.Errorf("%s: window %v, but the spec has none", where, got)
		}
		return
	}
	m, _ := got.(map[string]any)
	if m == nil {
		t.Errorf("%s: no window, want %s", where, w)
		return
	}
	if fmt.Sprint(m["days"]) != fmt.Sprint(w.Days) || m["startTime"] != w.Start || m["endTime"] != w.End || m["timeZone"] != w.TimeZone {
		t.Errorf("%s: window %v, want %s", where, m, w)
	}
	loc, err := time.LoadLocation(m["timeZone"].(string))
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return
	}
	start, err1 := time.ParseInLocation("15:04", m["startTime"].(string), loc)
	end, err2 := time.ParseInLocation("15:04", m["endTime"].(string), loc)
	if err1 != nil || err2 != nil || !end.After(start) {
		t.Errorf("%s: window times do not parse as kured's 15:04, or end is not after start: %v %v", where, err1, err2)
	}
	for _, d := range m["days"].([]any) {
		if _, ok := kuredDays[d.(string)]; !ok {
			t.Errorf("%s: day %v is not a kured day name", where, d)
		}
	}
}

// TestNoChannel: versions are pinned everywhere: no object of any example
// has a channel field (only the Plan CRD's schema defines one), and
// provision.sh never names a channel.
func TestNoChannel(t *testing.T) {
	for _, ex := range k3sTestPlans(t) {
		for _, f := range ex.res.Tree.Files {
			if strings.Contains(string(f.Content), "INSTALL_K3S_CHANNEL") || strings.Contains(string(f.Content), "update.k3s.io") {
				t.Errorf("%s %s: names a K3s channel", ex.name, f.Path)
			}
			if !strings.HasSuffix(f.Path, ".yaml") || strings.HasPrefix(path.Base(f.Path), ".") {
				continue
			}
			dec := yaml.NewDecoder(bytes.NewReader(f.Content))
			for {
				var doc map[string]any
				if err := dec.Decode(&doc); err != nil {
					break
				}
				if doc["kind"] == "CustomResourceDefinition" {
					continue
				}
				if p := findKey(doc, "channel", ""); p != "" {
					t.Errorf("%s %s: %s: a channel (versions must be pinned)", ex.name, f.Path, p)
				}
			}
		}
	}
}

func findKey(v any, key, at string) string {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if k == key {
				return at + "." + k
			}
			if p := findKey(e, key, at+"."+k); p != "" {
				return p
			}
		}
	case []any:
		for i, e := range x {
			if p := findKey(e, key, fmt.Sprintf("%s[%d]", at, i)); p != "" {
				return p
			}
		}
	}
	return ""
}

// TestUpgradeBudget: system-upgrade-controller is in every region's memory
// budget.
func TestUpgradeBudget(t *testing.T) {
	for _, ex := range k3sTestPlans(t) {
		for _, d := range ex.res.Decisions {
			if d.K0s() {
				continue
			}
			found := false
			for _, l := range d.Budget.Lines {
				found = found || (l.Component == Footprints["system-upgrade-controller"].Component && l.MemoryMi > 0)
			}
			if !found {
				t.Errorf("%s %s: system-upgrade-controller is not in the memory budget", ex.name, d.Region)
			}
		}
	}
}

func TestK3sUpgradeImage(t *testing.T) {
	if got := K3sUpgradeImageFor("v1.37.1+k3s1"); got != "rancher/k3s-upgrade:v1.37.1-k3s1" {
		t.Errorf("got %s", got)
	}
}

// TestStrictSchemaRefuses: the schema check is strict: a misspelt window
// field, or a day SUC does not know, fails.
func TestStrictSchemaRefuses(t *testing.T) {
	for _, bad := range []string{
		`{"apiVersion":"upgrade.cattle.io/v1","kind":"Plan","metadata":{"name":"p"},"spec":{"upgrade":{"image":"x"},"window":{"days":["mon"],"start":"02:00"}}}`,
		`{"apiVersion":"upgrade.cattle.io/v1","kind":"Plan","metadata":{"name":"p"},"spec":{"upgrade":{"image":"x"},"window":{"days":["montag"]}}}`,
	} {
		v, err := jsv.UnmarshalJSON(strings.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		if strictSchema(t, "upgrade.cattle.io/v1", "Plan").Validate(v) == nil {
			t.Errorf("accepted: %s", bad)
		}
	}
}
