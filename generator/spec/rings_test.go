package spec_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fleetgen/fleetgen/generator/spec"
)

const ringSpec = `apiVersion: fleetgen.dev/v1alpha1
kind: Fleet
metadata: {name: f}
spec:
  context: {environment: e, hardware: h, mainChallenge: c}
  git: {url: https://example.com/r.git}
RINGS
  regions:
    - name: r1
      clusters: [a, b, c, d]
REGION
    - {name: r2, clusterCount: 3}
`

func parseRings(rings, region string) (*spec.Loaded, error) {
	src := strings.NewReplacer("RINGS\n", rings, "REGION\n", region).Replace(ringSpec)
	return spec.Parse([]byte(src), "fleet.yaml")
}

const threeRings = "  rings:\n    - {name: canary, share: 5}\n    - {name: early, share: 20}\n    - {name: stable, share: 75}\n"

func TestRingsExplicitListsOverrideTheHash(t *testing.T) {
	l, err := parseRings(threeRings, "      rings: {canary: [a, b], stable: [c]}\n")
	if err != nil {
		t.Fatal(err)
	}
	r, _ := l.Region("r1")
	for c, want := range map[string]string{"a": "canary", "b": "canary", "c": "stable"} {
		if got := l.Spec.ClusterRing(r, c); got != want {
			t.Errorf("cluster %s in ring %q, want %q", c, got, want)
		}
	}
	if got, want := l.Spec.ClusterRing(r, "d"), spec.HashRing(l.Spec.Rings, "d"); got != want {
		t.Errorf("unlisted cluster d in ring %q, want its hash ring %q", got, want)
	}
	sizes := l.RingSizes("r1")
	if sum := sizes[0] + sizes[1] + sizes[2]; sum != 4 || sizes[0] < 2 {
		t.Errorf("ring sizes of r1 %v: want 4 clusters, at least 2 canaries", sizes)
	}
	if spec.RingBranch("canary") != "fleet/ring/canary" {
		t.Errorf("ring branch %q", spec.RingBranch("canary"))
	}
}

func TestNoRingsNoRing(t *testing.T) {
	l, err := parseRings("", "")
	if err != nil {
		t.Fatal(err)
	}
	r, _ := l.Region("r1")
	if l.Spec.HasRings() || l.Spec.ClusterRing(r, "a") != "" || l.RingSizes("r1") != nil {
		t.Error("a fleet without spec.rings has rings")
	}
}

// The property that makes rings usable at scale: a cluster's ring depends
// on its own name and the shares only. Adding or removing other clusters
// never moves it, and at 5,000 clusters the shares are respected.
func TestRingAssignmentIsStableUnderAddAndRemove(t *testing.T) {
	rings := []spec.Ring{{Name: "canary", Share: 5}, {Name: "early", Share: 20}, {Name: "stable", Share: 75}}
	for _, seed := range []uint64{1, 2, 3, 42, 2026} {
		rng := rand.New(rand.NewPCG(seed, seed*7919))
		fleet := map[string]string{}
		name := func() string { return fmt.Sprintf("truck-%08x", rng.Uint32()) }
		for len(fleet) < 5000 {
			n := name()
			fleet[n] = spec.HashRing(rings, n)
		}
		// Shares at 5,000: within 1.5 percentage points.
		count := map[string]int{}
		for _, r := range fleet {
			count[r]++
		}
		for _, r := range rings {
			got := float64(count[r.Name]) * 100 / float64(len(fleet))
			if got < float64(r.Share)-1.5 || got > float64(r.Share)+1.5 {
				t.Errorf("seed %d: ring %s holds %.1f%% of 5,000 clusters, share %d%%", seed, r.Name, got, r.Share)
			}
		}
		// Add 500 and remove 500 at random, in rounds: nobody else moves.
		for round := 0; round < 10; round++ {
			for i := 0; i < 50; i++ {
				n := name()
				fleet[n] = spec.HashRing(rings, n)
			}
			removed := 0
			for n := range fleet {
				if removed == 50 {
					break
				}
				delete(fleet, n)
				removed++
			}
			for n, r := range fleet {
				if got := spec.HashRing(rings, n); got != r {
					t.Fatalf("seed %d round %d: cluster %s moved from %s to %s", seed, round, n, r, got)
				}
			}
		}
	}
}

// Through the loader too: adding clusters to a region (clusterCount 40 ->
// 400) keeps every existing cluster in its ring.
func TestRingAssignmentStableWhenARegionGrows(t *testing.T) {
	load := func(n int) *spec.Loaded {
		src := strings.Replace(strings.NewReplacer("RINGS\n", threeRings, "REGION\n", "").Replace(ringSpec), "{name: r2, clusterCount: 3}", fmt.Sprintf("{name: r2, clusterCount: %d}", n), 1)
		l, err := spec.Parse([]byte(src), "fleet.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	small, big := load(40), load(400)
	rs, _ := small.Region("r2")
	rb, _ := big.Region("r2")
	for _, c := range small.RegionClusters("r2") {
		if a, b := small.Spec.ClusterRing(rs, c.Name), big.Spec.ClusterRing(rb, c.Name); a != b {
			t.Errorf("cluster %s moved from %s to %s when the region grew", c.Name, a, b)
		}
	}
}

// Every refusal names the field and its line, and nothing else is loaded.
func TestRingRefusals(t *testing.T) {
	for _, c := range []struct {
		name, rings, region, want, msg string
	}{
		{"shares do not add up", "  rings:\n    - {name: canary, share: 5}\n    - {name: stable, share: 90}\n", "", "fleet.yaml:7: spec.rings", "add up to 95, not 100"},
		{"duplicate ring", "  rings:\n    - {name: canary, share: 50}\n    - {name: canary, share: 50}\n", "", "fleet.yaml:9: spec.rings[1].name", `ring "canary" is defined twice`},
		{"bad ring name", "  rings:\n    - {name: Canary, share: 100}\n", "", "fleet.yaml:8: spec.rings[0].name", "DNS-1123"},
		{"share out of range", "  rings:\n    - {name: canary, share: 120}\n    - {name: stable, share: -20}\n", "", "fleet.yaml:8: spec.rings[0].share", "not a percentage"},
		{"unknown ring in region", threeRings, "      rings: {beta: [a]}\n", "fleet.yaml:14: spec.regions[0].rings.beta", `ring "beta" is not defined in spec.rings (canary, early, stable)`},
		{"cluster listed twice", threeRings, "      rings: {canary: [a], stable: [a]}\n", "fleet.yaml:14: spec.regions[0].rings.stable[0]", `cluster "a" is already listed in ring "canary"`},
		{"unknown cluster", threeRings, "      rings: {canary: [zz]}\n", "fleet.yaml:14: spec.regions[0].rings.canary[0]", `cluster "zz" is not a cluster of region "r1"`},
		{"cluster of another region", threeRings, "      rings: {canary: [r2-0001]}\n", "fleet.yaml:14: spec.regions[0].rings.canary[0]", `(it is in region "r2")`},
		{"region rings without spec.rings", "", "      rings: {canary: [a]}\n", "fleet.yaml:10: spec.regions[0].rings", "spec.rings defines none"},
		{"rings with one artifact per region", threeRings + "  delivery: {mode: oci, repository: ghcr.io/a/f, unit: region}\n", "", "fleet.yaml:", "spec.delivery.unit: region: one artifact would hold clusters of several rings"},
		{"branch collides", threeRings + "  git: {url: https://example.com/r.git, branch: fleet}\n", "", "", "collides with the ring branches"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := strings.NewReplacer("RINGS\n", c.rings, "REGION\n", c.region).Replace(ringSpec)
			if strings.Contains(c.rings, "branch: fleet") {
				src = strings.Replace(src, "  git: {url: https://example.com/r.git}\n", "", 1)
			}
			_, err := spec.Parse([]byte(src), "fleet.yaml")
			if err == nil {
				t.Fatalf("accepted:\n%s", src)
			}
			found := false
			for _, line := range strings.Split(err.Error(), "\n") {
				if strings.HasPrefix(line, c.want) && strings.Contains(line, c.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("error\n%v\nhas no line starting %q containing %q\nspec:\n%s", err, c.want, c.msg, src)
			}
		})
	}
}
