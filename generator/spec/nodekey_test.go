package spec_test

import (
	"strings"
	"testing"

	"github.com/fleetgen/fleetgen/generator/spec"
)

const (
	fleetKey  = "age1su7jv0yqkw7lhv2t3shuy9l56t5epzjpkh74jraa35wc75gr6pasqll87f"
	regionKey = "age19e74ef3husy9muf43dvxkksuwm940kyyvvafqnnq2esfz5s49p0q7z8tvr"
)

func nodeKeySpec(secrets, region string) []byte {
	return []byte(`apiVersion: fleetgen.dev/v1alpha1
kind: Fleet
metadata: {name: f}
spec:
  context: {environment: e, hardware: h, mainChallenge: c}
  git: {url: "https://example.com/r.git"}
` + secrets + `  regions:
    - name: r1
      clusterCount: 2
` + region)
}

// A region that decrypts SOPS secrets must have an age key of its own: its
// nodes hold the private key, and the operators' fleet-wide key must never
// be on a node. The error names the field and its line.
func TestRegionNeedsItsOwnAgeKey(t *testing.T) {
	secrets := "  secrets:\n    ageRecipients: [" + fleetKey + "]\n"
	_, err := spec.Parse(nodeKeySpec(secrets, ""), "fleet.yaml")
	if err == nil || !strings.Contains(err.Error(), "fleet.yaml:10") || !strings.Contains(err.Error(), "spec.regions[0].ageRecipients") ||
		!strings.Contains(err.Error(), "fleet-wide key") {
		t.Errorf("a region without its own key: %v", err)
	}
	_, err = spec.Parse(nodeKeySpec(secrets, "      ageRecipients: ["+fleetKey+"]\n"), "fleet.yaml")
	if err == nil || !strings.Contains(err.Error(), "spec.regions[0].ageRecipients[0]") || !strings.Contains(err.Error(), "fleet.yaml:12") {
		t.Errorf("the fleet key listed as the region's: %v", err)
	}
	if _, err := spec.Parse(nodeKeySpec(secrets, "      ageRecipients: ["+regionKey+"]\n"), "fleet.yaml"); err != nil {
		t.Errorf("a region with its own key: %v", err)
	}
	if _, err := spec.Parse(nodeKeySpec("", ""), "fleet.yaml"); err != nil {
		t.Errorf("no encryption at all: %v", err)
	}
}

// The K3s version is an exact release: a channel gives the nodes of one
// fleet different patch releases.
func TestK3sVersionIsPinned(t *testing.T) {
	for v, ok := range map[string]bool{"v1.37": false, "v1.37.1+k3s1": true, "stable": false, "v1.37.1": false} {
		_, err := spec.Parse(nodeKeySpec("  k3s: {version: \""+v+"\"}\n", ""), "fleet.yaml")
		if (err == nil) != ok {
			t.Errorf("k3s version %q: %v", v, err)
		}
	}
	l, err := spec.Parse(nodeKeySpec("", ""), "fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if v := l.Spec.K3s.Version; strings.Count(v, ".") != 2 || !strings.Contains(v, "+k3s") {
		t.Errorf("default K3s version %q is not an exact release", v)
	}
}
