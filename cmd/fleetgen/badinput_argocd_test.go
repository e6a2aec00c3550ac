package main

import "testing"

// argoBadCases: spec.engine (Argo CD in pull mode), through the real command
// line: one message naming the field and line, nothing written.
func argoBadCases(t *testing.T) []badCase {
	L := func(s, sub string) string { return biAt("fleet.yaml", biLineOf(s, sub)) }
	argo := func(more string) string {
		return biEdit(t, biSpec, "  connectivity: intermittent\n", "  connectivity: intermittent\n  engine: argocd\n"+more)
	}
	var cases []badCase
	s := biEdit(t, biSpec, "  connectivity: intermittent\n", "  connectivity: intermittent\n  engine: argo-cd\n")
	cases = append(cases, badCase{name: "engine/unknown", setup: biSpecCase(s, nil), field: "spec.engine", loc: L(s, "engine: argo-cd"), also: []string{"is not one of: flux, argocd"}})
	s = biEdit(t, biSpec, "      clusterCount: 2\n", "      clusterCount: 2\n      engine: Flux\n")
	cases = append(cases, badCase{name: "engine/unknown-region", setup: biSpecCase(s, nil), field: "spec.regions[1].engine", loc: L(s, "engine: Flux"), also: []string{"is not one of"}})
	// Argo CD on 2 GB single nodes: the budget says no.
	s = biEdit(t, argo(""), "    memory: 4Gi\n", "    memory: 2Gi\n")
	cases = append(cases, badCase{name: "engine/argocd-does-not-fit", setup: biSpecCase(s, nil), field: "spec.engine", loc: L(s, "engine: argocd"), also: []string{"Argo CD does not fit", "the minimal Flux would leave"}})
	s = argo("  distribution: k0s\n")
	cases = append(cases, badCase{name: "engine/argocd-k0s", setup: biSpecCase(s, nil), field: "spec.distribution", loc: L(s, "distribution: k0s"), also: []string{"runs Argo CD", "on k0s"}})
	s = argo("  delivery: {mode: oci, repository: ghcr.io/acme/fleet}\n")
	cases = append(cases, badCase{name: "engine/argocd-oci", setup: biSpecCase(s, nil), field: "spec.delivery.mode", loc: L(s, "delivery: {mode: oci"), also: []string{"not offered with Argo CD yet"}})
	s = argo("  rings: [{name: canary, share: 10}, {name: stable, share: 90}]\n")
	cases = append(cases, badCase{name: "engine/argocd-rings", setup: biSpecCase(s, nil), field: "spec.rings", loc: L(s, "rings: ["), also: []string{"rings are not offered with Argo CD yet"}})
	return cases
}
