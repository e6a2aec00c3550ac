package generator

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/fleetgen/fleetgen/generator/check"
)

// TestOCIDeliveryOperatorSource: in oci mode the source the Flux Operator
// renders from each cluster's FluxInstance is an OCIRepository that
// follows the cluster's own tag, with the profile's timeout and the pull
// Secret, and every Kustomization of the cluster syncs from it at the
// same paths as in git.
func TestOCIDeliveryOperatorSource(t *testing.T) {
	res := planExample(t, "cargo-ships")
	s := &res.Spec.Spec
	for _, c := range res.Spec.Clusters {
		d, _ := res.Region(c.Region)
		dir := ClusterPath(c.Region, c.Name)
		var fi FluxInstance
		if err := yaml.Unmarshal(fileOf(t, res, dir+"/flux-instance.yaml"), &fi); err != nil {
			t.Fatal(err)
		}
		src := findObject(t, operatorSync(t, fi), "OCIRepository", FluxNamespace)
		for _, w := range []struct {
			keys []string
			want any
		}{
			{[]string{"spec", "url"}, "oci://" + s.Delivery.Repository},
			{[]string{"spec", "ref", "tag"}, c.Name},
			{[]string{"spec", "timeout"}, d.Connectivity.GitTimeout},
			{[]string{"spec", "interval"}, d.Connectivity.GitInterval},
			{[]string{"spec", "sparseCheckout"}, nil},
		} {
			if got := dig(src, w.keys...); got != w.want {
				t.Errorf("%s: OCIRepository %s = %v, want %v", dir, strings.Join(w.keys, "."), got, w.want)
			}
		}
		if fi.Spec.Sync.PullSecret != s.Delivery.PullSecret || fi.Spec.Sync.Path != dir {
			t.Errorf("%s: sync %+v", dir, fi.Spec.Sync)
		}
		for _, f := range []string{"infrastructure.yaml", "apps.yaml"} {
			var ks map[string]any
			if err := yaml.Unmarshal(fileOf(t, res, dir+"/"+f), &ks); err != nil {
				t.Fatal(err)
			}
			if dig(ks, "spec", "sourceRef", "kind") != "OCIRepository" {
				t.Errorf("%s/%s: sourceRef %v", dir, f, dig(ks, "spec", "sourceRef"))
			}
		}
	}
	// The first-boot copy follows the cluster's tag once provision.sh
	// writes the name in.
	for _, r := range s.Regions {
		b := string(fileOf(t, res, "bootstrap/"+r.Name+"/manifests/flux-instance.yaml"))
		if !strings.Contains(b, "ref: "+ClusterPlaceholder+"\n") || !strings.Contains(b, "kind: OCIRepository\n") {
			t.Errorf("bootstrap/%s/manifests/flux-instance.yaml does not follow the cluster's tag:\n%s", r.Name, b)
		}
	}
}

// TestOCIDeliveryRegionUnit: with one artifact per region (bootstrap
// layout case), every cluster follows its region's tag and still applies
// its own folder.
func TestOCIDeliveryRegionUnit(t *testing.T) {
	res := planCase(t, "farm-lab-oci")
	for _, c := range res.Spec.Clusters {
		dir := ClusterPath(c.Region, c.Name)
		m := krustyBuild(t, map[string]string{
			"kustomization.yaml": "resources: [gotk-sync.yaml]\n",
			"gotk-sync.yaml":     string(fileOf(t, res, dir+"/flux-system/gotk-sync.yaml")),
		})
		src := findObject(t, m, "OCIRepository", FluxNamespace)
		if got := dig(src, "spec", "ref", "tag"); got != c.Region {
			t.Errorf("%s: tag %v, want the region's %s", dir, got, c.Region)
		}
		ks := findObject(t, m, "Kustomization", FluxNamespace)
		if dig(ks, "spec", "path") != "./"+dir || dig(ks, "spec", "sourceRef", "kind") != "OCIRepository" {
			t.Errorf("%s: flux-system %v", dir, dig(ks, "spec"))
		}
	}
}

// TestGoldenCasesValidate: the cases build with krusty and every Flux
// reference resolves, as the examples do (TestEveryExampleValidates).
func TestGoldenCasesValidate(t *testing.T) {
	for _, name := range goldenCases(t) {
		res := planCase(t, name)
		rep, err := check.Tree(&res.Tree, check.Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, f := range rep.Errors {
			t.Errorf("%s: %s", name, f.String())
		}
		if rep.Kustomizations == 0 {
			t.Errorf("%s: nothing built", name)
		}
	}
}
