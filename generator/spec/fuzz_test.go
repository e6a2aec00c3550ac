package spec_test

import (
	"path"
	"strings"
	"testing"
	"testing/fstest"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/fleetgen/fleetgen/examples"
	"github.com/fleetgen/fleetgen/generator/spec"
	"github.com/fleetgen/fleetgen/generator/tree"
)

// The checked-in seed corpus lives in testdata/fuzz/FuzzParse and
// testdata/fuzz/FuzzParseInventory (the examples and broken variants of
// them); the examples are also added here from the embedded copies so the
// seeds follow them when they change.
//
//	go test -fuzz FuzzParse -fuzztime 60s ./generator/spec/
//	go test -fuzz FuzzParseInventory -fuzztime 60s ./generator/spec/

// checkClusters asserts what the generator relies on for every cluster of a
// successfully loaded spec: its name is a DNS-1123 label, it is a safe path
// segment under its region's folder, names are unique and regions exist.
func checkClusters(t *testing.T, l *spec.Loaded) {
	t.Helper()
	regions := map[string]bool{}
	for _, r := range l.Spec.Regions {
		if errs := validation.IsDNS1123Label(r.Name); len(errs) > 0 {
			t.Fatalf("accepted region name %q: %v", r.Name, errs)
		}
		if err := tree.CheckPath(r.Name); err != nil {
			t.Fatalf("accepted region name %q: %v", r.Name, err)
		}
		regions[r.Name] = true
	}
	seen := map[string]bool{}
	for _, c := range l.Clusters {
		if errs := validation.IsDNS1123Label(c.Name); len(errs) > 0 {
			t.Fatalf("accepted cluster name %q: %v", c.Name, errs)
		}
		if err := tree.CheckPath(c.Name); err != nil {
			t.Fatalf("accepted cluster name %q is not a safe path segment: %v", c.Name, err)
		}
		if err := tree.CheckPath("clusters/" + c.Region + "/" + c.Name); err != nil {
			t.Fatalf("cluster %q of region %q: %v", c.Name, c.Region, err)
		}
		if seen[c.Name] {
			t.Fatalf("cluster name %q accepted twice", c.Name)
		}
		seen[c.Name] = true
		if !regions[c.Region] {
			t.Fatalf("cluster %q is in region %q, which the spec does not define", c.Name, c.Region)
		}
	}
	if len(l.Clusters) > spec.MaxClusters {
		t.Fatalf("%d clusters accepted, limit %d", len(l.Clusters), spec.MaxClusters)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range examples.Names() {
		b, err := examples.FS.ReadFile(path.Join(name, "fleet.yaml"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := spec.Parse(data, "fleet.yaml")
		if err != nil {
			if l != nil {
				t.Fatalf("Parse returned a spec and an error: %v", err)
			}
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("Parse failed with an empty message")
			}
			return
		}
		// A parsed spec is defaulted and valid: defaulting again changes
		// nothing that validation would refuse, and validating again agrees.
		l.Default()
		if errs := l.Validate(); len(errs) > 0 {
			t.Fatalf("Parse accepted a spec that does not validate again:\n%v", errs)
		}
		if len(l.Spec.Regions) == 0 || len(l.Spec.Regions) > spec.MaxRegions {
			t.Fatalf("accepted %d regions", len(l.Spec.Regions))
		}
		checkClusters(t, l)
		if l.Spec.Inventory == "" { // else the inventory (Load) fills regions
			for _, r := range l.Spec.Regions {
				if len(l.RegionClusters(r.Name)) == 0 {
					t.Fatalf("region %q accepted with no cluster", r.Name)
				}
			}
		}
		// Only the exact bytes read are kept for the repository's copy.
		if string(l.Source) != string(data) {
			t.Fatal("Source is not the input")
		}
	})
}

// invSpec is fleet.yaml for the inventory fuzzer: two regions whose clusters
// all come from the inventory (INV is replaced by its file name).
const invSpec = `apiVersion: fleetgen.dev/v1alpha1
kind: Fleet
metadata:
  name: inv-fuzz
spec:
  context:
    environment: e
    hardware: h
    mainChallenge: c
  git:
    url: https://git.example.com/o/fleet.git
  inventory: INV
  regions:
    - name: north
    - name: south
      clusters: [s-0001]
`

func FuzzParseInventory(f *testing.F) {
	if b, err := examples.FS.ReadFile("truck-fleet/trucks.csv"); err == nil {
		f.Add(b, true)
	}
	f.Add([]byte("- name: n-0001\n  region: north\n  labels: {site: a}\n  values: {DEPOT: A}\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, isCSV bool) {
		name := "clusters.yaml"
		if isCSV {
			name = "clusters.csv"
		}
		rows, err := spec.ParseInventory(data, name)
		if err == nil {
			lines := strings.Count(string(data), "\n") + 1
			for _, r := range rows {
				if r.Line < 1 || r.Line > lines {
					t.Fatalf("row %q at line %d of a %d-line file", r.Name, r.Line, lines)
				}
			}
		} else if strings.TrimSpace(err.Error()) == "" {
			t.Fatal("ParseInventory failed with an empty message")
		}
		// The same bytes through the whole loader, against a spec.
		fsys := fstest.MapFS{
			"fleet.yaml": {Data: []byte(strings.Replace(invSpec, "INV", name, 1))},
			name:         {Data: data},
		}
		l, err := spec.Load(fsys, "fleet.yaml")
		if err != nil {
			if l != nil {
				t.Fatalf("Load returned a spec and an error: %v", err)
			}
			return
		}
		checkClusters(t, l)
		for _, r := range l.Spec.Regions {
			if len(l.RegionClusters(r.Name)) == 0 {
				t.Fatalf("region %q accepted with no cluster", r.Name)
			}
		}
		for _, c := range l.Clusters {
			for k, v := range c.Labels {
				if errs := validation.IsQualifiedName(k); len(errs) > 0 {
					t.Fatalf("cluster %q: label key %q accepted: %v", c.Name, k, errs)
				}
				if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
					t.Fatalf("cluster %q: label value %q accepted: %v", c.Name, v, errs)
				}
			}
			for k := range c.Values {
				if !spec.ValidVarName(k) {
					t.Fatalf("cluster %q: value name %q accepted", c.Name, k)
				}
			}
		}
	})
}
