// Package fleetspec makes the large fleet.yaml of the scale benchmarks
// (bench/scale.sh via bench/specgen, and generator/bench_test.go): the
// fleet-wide settings and apps of examples/offshore-platforms/fleet.yaml,
// with N regions of M clusters each (clusterCount). Region 1 has a registry
// mirror, the last region uses "intermittent" connectivity, the others
// inherit the fleet's "satellite".
package fleetspec

import (
	"fmt"
	"strings"
)

// header is examples/offshore-platforms/fleet.yaml up to its regions.
const header = `# Scale benchmark fleet (bench/specgen), after examples/offshore-platforms.
apiVersion: fleetgen.dev/v1alpha1
kind: Fleet
metadata:
  name: offshore-platforms
spec:
  language: es
  context:
    environment: Plataformas petrolíferas marinas
    hardware: Nodos ARM64 con 2GB de RAM y almacenamiento eMMC
    mainChallenge: Conectividad intermitente, ancho de banda extremadamente bajo, riesgo de robo físico
    scale: %d clústeres distribuidos globalmente
  git:
    url: ssh://git@github.com/acme-energy/offshore-fleet.git
    branch: main
    secretName: flux-system
  hardware:
    arch: arm64
    memory: 2Gi
    cpus: 4
    storage: emmc
    nodes: 1
  connectivity: satellite
  secrets:
    ageRecipients:
      - age1g0u3dhrdl4gaf399x4fw24jq008he0ng2msgsw592xymwr7zz4vqleyfqy
  apps:
    - name: sensor-gateway
      image: docker.io/eclipse-mosquitto:2.0.20
      port: 1883
      cpu: 20m
      memory: 32Mi
      runAsUser: 1883
      writablePaths: [/mosquitto/data, /mosquitto/log]
    - name: log-shipper
      image: cr.fluentbit.io/fluent/fluent-bit:3.2.4
      port: 2020
      cpu: 20m
      memory: 48Mi
  regions:
`

// RegionName is the name of region i (0-based).
func RegionName(i int) string { return fmt.Sprintf("region-%02d", i+1) }

// Spec returns the fleet.yaml. With bump naming a region, that region gets
// connectivity always-on and one more label: a change that rewrites every one
// of its clusters' Flux settings, for a regeneration to do.
func Spec(regions, perRegion int, bump string) []byte {
	b := fmt.Appendf(nil, header, regions*perRegion)
	for i := 0; i < regions; i++ {
		name := RegionName(i)
		b = fmt.Appendf(b, "    - name: %s\n      clusterCount: %d\n      clusterPrefix: r%02d-rig\n", name, perRegion, i+1)
		// Each region decrypts with a key of its own (fleet.yaml requires
		// one); the benchmark shares one public key between its regions.
		b = append(b, "      ageRecipients: [age1mhstk0u96aaw3fd60rrv7wzq089uh25386ku2sftnrn59mxq6axspwaehc]\n"...)
		if i == 0 {
			b = append(b, "      registryMirrors: [registry.region-01.acme-energy.example]\n"...)
		}
		switch {
		case name == bump:
			// A change to every cluster of the region: its Flux intervals.
			b = append(b, "      connectivity: always-on\n      labels:\n        acme-energy.example/bench: bumped\n"...)
		case i == regions-1:
			b = append(b, "      connectivity: intermittent\n"...)
		}
	}
	return b
}

// OCIRepository is where the OCI-delivery variant of the benchmark fleet
// says its artifacts live (the benchmarks push to a loopback registry with
// fleetgen publish --registry instead).
const OCIRepository = "registry.acme-energy.example/offshore-fleet"

// WithOCIDelivery turns a Spec into the same fleet delivered as OCI
// artifacts, one per cluster or per region (unit).
func WithOCIDelivery(spec []byte, unit string) []byte {
	s := string(spec)
	const at = "  hardware:\n"
	i := strings.Index(s, at)
	return []byte(s[:i] + "  delivery:\n    mode: oci\n    repository: " + OCIRepository + "\n    unit: " + unit + "\n" + s[i:])
}

// WithRings adds spec.rings to a Spec: rings is name:share,... in rollout
// order (e.g. canary:5,early:20,stable:75).
func WithRings(spec []byte, rings string) ([]byte, error) {
	var b strings.Builder
	b.WriteString("  rings:\n")
	for _, r := range strings.Split(rings, ",") {
		name, share, ok := strings.Cut(strings.TrimSpace(r), ":")
		if !ok || name == "" || share == "" {
			return nil, fmt.Errorf("rings: %q is not name:share", r)
		}
		fmt.Fprintf(&b, "    - {name: %s, share: %s}\n", name, share)
	}
	s := string(spec)
	const at = "  regions:\n"
	i := strings.Index(s, at)
	if i < 0 {
		return nil, fmt.Errorf("rings: the spec has no regions")
	}
	return []byte(s[:i] + b.String() + s[i:]), nil
}
