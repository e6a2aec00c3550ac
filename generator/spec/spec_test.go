package spec_test

import (
	"path"
	"strings"
	"testing"

	"github.com/fleetgen/fleetgen/examples"
	"github.com/fleetgen/fleetgen/generator/spec"
)

func TestExamplesLoad(t *testing.T) {
	for _, name := range examples.Names() {
		l, err := spec.Load(examples.FS, path.Join(name, "fleet.yaml"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(l.Clusters) == 0 {
			t.Errorf("%s: no clusters", name)
		}
		for _, r := range l.Spec.Regions {
			if len(l.RegionClusters(r.Name)) == 0 {
				t.Errorf("%s: region %s has no clusters", name, r.Name)
			}
		}
	}
}

func TestClusterCountNamesAreStable(t *testing.T) {
	src := func(n string) []byte {
		return []byte(strings.ReplaceAll(`apiVersion: fleetgen.dev/v1alpha1
kind: Fleet
metadata: {name: f}
spec:
  context: {environment: e, hardware: h, mainChallenge: c}
  git: {url: "https://example.com/r.git"}
  regions:
    - {name: r1, clusterCount: N}
`, "N", n))
	}
	a, err := spec.Parse(src("40"), "fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, err := spec.Parse(src("4000"), "fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Clusters {
		if a.Clusters[i].Name != b.Clusters[i].Name {
			t.Fatalf("growing the count renamed cluster %d: %s -> %s", i, a.Clusters[i].Name, b.Clusters[i].Name)
		}
	}
	if a.Clusters[0].Name != "r1-0001" {
		t.Errorf("first name = %s, want r1-0001", a.Clusters[0].Name)
	}
}
