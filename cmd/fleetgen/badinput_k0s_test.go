package main

import "testing"

// k0sBadCases: spec.distribution and k0s (issue 14 parts 1 and 2), through
// the real command line: one message naming the field and line, nothing
// written.
func k0sBadCases(t *testing.T) []badCase {
	L := func(s, sub string) string { return biAt("fleet.yaml", biLineOf(s, sub)) }
	k0s := func(more string) string {
		return biEdit(t, biSpec, "  connectivity: intermittent\n", "  connectivity: intermittent\n  distribution: k0s\n"+more)
	}
	var cases []badCase
	s := biEdit(t, biSpec, "  connectivity: intermittent\n", "  connectivity: intermittent\n  distribution: k8s\n")
	cases = append(cases, badCase{name: "distribution/unknown", setup: biSpecCase(s, nil), field: "spec.distribution", loc: L(s, "distribution: k8s"), also: []string{"is not one of: k3s, k0s, microk8s"}})
	s = biEdit(t, biSpec, "      clusterCount: 2\n", "      clusterCount: 2\n      distribution: K0S\n")
	cases = append(cases, badCase{name: "distribution/unknown-region", setup: biSpecCase(s, nil), field: "spec.regions[1].distribution", loc: L(s, "distribution: K0S"), also: []string{"is not one of"}})
	s = biEdit(t, k0s(""), "    memory: 4Gi\n", "    memory: 1Gi\n")
	cases = append(cases, badCase{name: "distribution/k0s-does-not-fit", setup: biSpecCase(s, nil), field: "spec.hardware.memory", loc: L(s, "memory: 1Gi"), also: []string{"nothing fits", "k0s controller+worker"}})
	s = k0s("  k0s: {version: latest}\n")
	cases = append(cases, badCase{name: "distribution/k0s-version", setup: biSpecCase(s, nil), field: "spec.k0s.version", loc: L(s, "k0s: {version: latest}"), also: []string{"not an exact k0s release"}})
	s = k0s("  flux: {mode: bootstrap}\n")
	cases = append(cases, badCase{name: "distribution/k0s-bootstrap-layout", setup: biSpecCase(s, nil), field: "spec.distribution", loc: L(s, "distribution: k0s"), also: []string{"use spec.flux.mode operator"}})
	s = biEdit(t, biSpec, "  connectivity: intermittent\n", "  connectivity: intermittent\n  distribution: microk8s\n")
	cases = append(cases, badCase{name: "distribution/microk8s", setup: biSpecCase(s, nil), field: "spec.distribution", loc: L(s, "distribution: microk8s"), also: []string{"microk8s is refused", "fleetgen generates no MicroK8s bootstrap"}})
	return cases
}
