package spec_test

import (
	"strings"
	"testing"

	"github.com/fleetgen/fleetgen/generator/spec"
)

const engineSpec = `apiVersion: fleetgen.dev/v1alpha1
kind: Fleet
metadata: {name: f}
spec:
  context: {environment: e, hardware: h, mainChallenge: c}
  git:
    url: https://example.com/r.git
EXTRA
  regions:
    - {name: r1, clusterCount: 2}
    - name: r2
      clusterCount: 1
REGION
`

func parseEngine(extra, region string) (*spec.Loaded, error) {
	return spec.Parse([]byte(strings.NewReplacer("EXTRA\n", extra, "REGION\n", region).Replace(engineSpec)), "fleet.yaml")
}

func TestEngineDefaultsAndOverride(t *testing.T) {
	l, err := parseEngine("", "")
	if err != nil {
		t.Fatal(err)
	}
	if l.Spec.Engine != "flux" || l.Spec.Regions[0].Engine != "flux" || l.Spec.Regions[1].Engine != "flux" {
		t.Errorf("default engines %q %q %q, want flux everywhere", l.Spec.Engine, l.Spec.Regions[0].Engine, l.Spec.Regions[1].Engine)
	}
	l, err = parseEngine("  engine: argocd\n", "      engine: flux\n")
	if err != nil {
		t.Fatal(err)
	}
	if l.Spec.Regions[0].Engine != "argocd" || l.Spec.Regions[1].Engine != "flux" {
		t.Errorf("engines %q %q, want argocd (inherited) and flux (the region's own)", l.Spec.Regions[0].Engine, l.Spec.Regions[1].Engine)
	}
}

// TestEngineRefusals: each refusal names the field and its line.
func TestEngineRefusals(t *testing.T) {
	const key = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
	for _, c := range []struct{ name, extra, region, want string }{
		{"unknown fleet engine", "  engine: argo\n", "", `fleet.yaml:8: spec.engine: "argo" is not one of: flux, argocd`},
		{"unknown region engine", "", "      engine: fluxcd\n", `fleet.yaml:12: spec.regions[1].engine: "fluxcd" is not one of: flux, argocd`},
		{"k0s", "  engine: argocd\n  distribution: k0s\n", "", `fleet.yaml:9: spec.distribution: region "r1" runs Argo CD (spec.engine) on k0s`},
		{"oci", "  engine: argocd\n  delivery: {mode: oci, repository: ghcr.io/a/b}\n", "", "fleet.yaml:9: spec.delivery.mode: oci is not offered with Argo CD yet"},
		{"rings", "  engine: argocd\n  rings: [{name: a, share: 50}, {name: b, share: 50}]\n", "", "fleet.yaml:9: spec.rings: rings are not offered with Argo CD yet"},
		{"sops region key", "", "      engine: argocd\n      ageRecipients: [" + key + "]\n", `fleet.yaml:13: spec.regions[1].ageRecipients: region "r2" runs Argo CD (spec.regions[1].engine), which does not decrypt SOPS files`},
		{"chart app", "  engine: argocd\n  apps:\n    - {name: p, chart: {repository: oci://ghcr.io/x, name: p, version: 1.0.0}, memory: 32Mi}\n", "",
			`fleet.yaml:10: spec.apps[0].chart: region "r1" runs Argo CD (spec.engine): chart apps`},
		{"signed commits", "    verifySecretName: fleet-keys\n  engine: argocd\n", "", "fleet.yaml:8: spec.git.verifySecretName: region \"r1\" runs Argo CD (spec.engine): commit signature verification is generated for Flux only"},
		{"flux region beside an argocd one", "  engine: argocd\n", "      engine: flux\n", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseEngine(c.extra, c.region)
			if c.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v\nwant it to contain %q", err, c.want)
			}
		})
	}
}
