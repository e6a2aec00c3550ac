package generator

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/fleetgen/fleetgen/generator/check"
	"github.com/fleetgen/fleetgen/generator/spec"
)

var ringsEdits = [][2]string{
	{"  regions:\n", "  rings:\n    - {name: canary, share: 5}\n    - {name: early, share: 20}\n    - {name: stable, share: 75}\n  regions:\n"},
	{"      clusterPrefix: ns-rig\n", "      clusterPrefix: ns-rig\n      rings: {canary: [ns-rig-0001], early: [ns-rig-0002]}\n"},
}

// validateCRD validates a YAML object against one of the offline CRD
// schemas in ../shared/schemas/crds (what kubeconform -strict uses).
// Only the objects of that kind are validated.
func validateCRD(t *testing.T, schemaFile, kind string, obj []byte) {
	t.Helper()
	p := filepath.Join("..", "..", "shared", "schemas", "crds", schemaFile)
	f, err := os.Open(p)
	if err != nil {
		t.Skipf("offline schemas not here: %v", err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("file:///"+schemaFile, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("file:///" + schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	validated := 0
	defer func() {
		if validated == 0 {
			t.Errorf("no %s to validate", kind)
		}
	}()
	for _, part := range bytes.Split(obj, []byte("\n---\n")) {
		js, err := sigsyaml.YAMLToJSON(part)
		if err != nil {
			t.Fatal(err)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
		if err != nil {
			t.Fatal(err)
		}
		if m, ok := v.(map[string]any); !ok || m["kind"] != kind {
			continue
		}
		validated++
		if err := sch.Validate(v); err != nil {
			t.Errorf("%s: %v", schemaFile, err)
		}
	}
}

// In operator mode each cluster's FluxInstance syncs its ring's branch,
// the first-boot copy syncs the ring provision.sh writes in, and the tree
// still builds and resolves.
func TestRingsSyncTheirBranch(t *testing.T) {
	l := loadExample(t, "offshore-platforms", ringsEdits...)
	res := planOf(t, l)
	seen := map[string]int{}
	for _, r := range l.Spec.Regions {
		rings := string(fileOf(t, res, "bootstrap/"+r.Name+"/"+RingsFile))
		for _, c := range l.RegionClusters(r.Name) {
			ring := l.Spec.ClusterRing(&r, c.Name)
			seen[ring]++
			var fi FluxInstance
			b := fileOf(t, res, ClusterPath(r.Name, c.Name)+"/flux-instance.yaml")
			if err := sigsyaml.Unmarshal(b, &fi); err != nil {
				t.Fatal(err)
			}
			if want := "refs/heads/fleet/ring/" + ring; fi.Spec.Sync.Ref != want {
				t.Errorf("%s: FluxInstance syncs %q, want %q", c.Name, fi.Spec.Sync.Ref, want)
			}
			if !strings.Contains(rings, "\n"+c.Name+" "+ring+"\n") {
				t.Errorf("bootstrap/%s/rings.txt has no line %q", r.Name, c.Name+" "+ring)
			}
			validateCRD(t, "fluxinstance-fluxcd-v1.json", "FluxInstance", b)
		}
		boot := fileOf(t, res, "bootstrap/"+r.Name+"/manifests/flux-instance.yaml")
		if !bytes.Contains(boot, []byte("ref: refs/heads/fleet/ring/"+RingPlaceholder+"\n")) {
			t.Errorf("bootstrap/%s first-boot FluxInstance does not sync the ring placeholder:\n%s", r.Name, boot)
		}
		validateCRD(t, "fluxinstance-fluxcd-v1.json", "FluxInstance", bytes.ReplaceAll(boot, []byte(RingPlaceholder), []byte("canary")))
		script := string(fileOf(t, res, "bootstrap/"+r.Name+"/provision.sh"))
		if !strings.Contains(script, `-e "s|CLUSTER_RING|$RING|g"`) {
			t.Errorf("bootstrap/%s/provision.sh does not write the ring in", r.Name)
		}
	}
	if seen["canary"] == 0 || seen["early"] == 0 || seen["stable"] == 0 {
		t.Errorf("clusters per ring %v: every ring should have one", seen)
	}
	rep, err := check.Tree(&res.Tree, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Errors {
		t.Error(f.String())
	}
}

// The classic layout (the farm-lab-rings golden case): gotk-sync's
// GitRepository follows the ring's branch, explicit lists win.
func TestRingsBootstrapLayout(t *testing.T) {
	res := planCase(t, "farm-lab-rings")
	sync := fileOf(t, res, ClusterPath("valle-norte", "granja-norte-0001")+"/flux-system/gotk-sync.yaml")
	if !bytes.Contains(sync, []byte("branch: fleet/ring/canary\n")) {
		t.Errorf("granja-norte-0001 is listed in canary, its gotk-sync.yaml:\n%s", sync)
	}
	validateCRD(t, "gitrepository-source-v1.json", "GitRepository", sync)
	validateCRD(t, "kustomization-kustomize-v1.json", "Kustomization", sync)
}

// Part 5 of issue 13: the Flux version is in each cluster's files, which a
// ring receives from its own branch: a bump on main changes the files, and
// reaches a ring only with its promotion (cmd/fleetgen TestPromote... shows
// the branches). Here: the version is per cluster file, not shared.
func TestFluxVersionLivesInTheClustersFiles(t *testing.T) {
	base := loadExample(t, "offshore-platforms", ringsEdits...)
	bumped := loadExample(t, "offshore-platforms", append(ringsEdits, [2]string{"  connectivity: satellite\n", "  connectivity: satellite\n  flux: {version: 2.10.x}\n"})...)
	a, b := planOf(t, base), planOf(t, bumped)
	c := l0(base)
	fa := fileOf(t, a, ClusterPath(c.Region, c.Name)+"/flux-instance.yaml")
	fb := fileOf(t, b, ClusterPath(c.Region, c.Name)+"/flux-instance.yaml")
	if !bytes.Contains(fa, []byte("version: 2.9.x")) || !bytes.Contains(fb, []byte("version: 2.10.x")) {
		t.Errorf("distribution.version not in the cluster's FluxInstance:\n%s\n%s", fa, fb)
	}
}

func l0(l *spec.Loaded) spec.Cluster { return l.Clusters[0] }
