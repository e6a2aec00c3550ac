package main

import "testing"

// wasmBadCases: WebAssembly apps (spec.apps[].runtime wasm), through the
// real command line: one message naming the field and its line, nothing
// written.
func wasmBadCases(t *testing.T) []badCase {
	L := func(s, sub string) string { return biAt("fleet.yaml", biLineOf(s, sub)) }
	app := func(base, block string) string {
		return biEdit(t, base, "      port: 8080\n", "      port: 8080\n"+block)
	}
	var cases []badCase
	add := func(name, s, field, marker string, also ...string) {
		cases = append(cases, badCase{name: "wasm/" + name, setup: biSpecCase(s, nil), field: field, loc: L(s, marker), also: also})
	}

	s := app(biSpec, "    - name: hello\n      image: ghcr.io/acme/hello-wasm:1.0\n      runtime: wasm\n      wasm: {shim: wasmtim}\n")
	add("unknown-shim", s, "spec.apps[1].wasm.shim", "wasm: {shim: wasmtim}", `"wasmtim" is not a WebAssembly shim fleetgen knows`, "spin", "wasmtime")

	s = app(biSpec, "    - name: metrics\n      memory: 64Mi\n      runtime: wasm\n      wasm: {shim: spin}\n      chart: {repository: oci://ghcr.io/acme/charts, name: metrics, version: 1.2.3}\n")
	add("chart-app", s, "spec.apps[1].runtime", "runtime: wasm", "wasm is for image apps only", `app "metrics" is a chart`)

	s = app(biSpec, "    - name: hello\n      image: ghcr.io/acme/hello-wasm:1.0\n      runtime: wasm\n")
	add("no-shim", s, "spec.apps[1].runtime", "runtime: wasm", "wasm needs spec.apps[1].wasm.shim", "wasm: {shim: spin}")

	s = app(biSpec, "    - name: hello\n      image: ghcr.io/acme/hello-wasm:1.0\n      runtime: webassembly\n")
	add("unknown-runtime", s, "spec.apps[1].runtime", "runtime: webassembly", `"webassembly" is not one of: container, wasm`)

	s = app(biSpec, "    - name: hello\n      image: ghcr.io/acme/hello-wasm:1.0\n      wasm: {shim: spin}\n")
	add("shim-without-runtime", s, "spec.apps[1].wasm", "wasm: {shim: spin}", "set runtime: wasm")

	s = app(biSpec, "    - name: hello\n      image: ghcr.io/acme/hello-wasm:1.0\n      runtime: wasm\n      wasm: {shim: spin, version: 0.19.0}\n")
	add("unknown-key", s, "spec.apps[1].wasm.version", "wasm: {shim: spin, version", "unknown")

	// wamr is a runwasi shim K3s does not detect: fine on k0s (fleetgen
	// writes its containerd runtime), refused on K3s.
	s = app(biSpec, "    - name: hello\n      image: ghcr.io/acme/hello-wasm:1.0\n      runtime: wasm\n      wasm: {shim: wamr}\n")
	add("shim-k3s-does-not-detect", s, "spec.apps[1].wasm.shim", "wasm: {shim: wamr}", "K3s does not detect this shim", "regions north, south run K3s", "k0s")
	s = biEdit(t, s, "      clusterCount: 2\n", "      clusterCount: 2\n      distribution: k0s\n")
	add("shim-k3s-does-not-detect-one-region", s, "spec.apps[1].wasm.shim", "wasm: {shim: wamr}", "region north runs K3s")

	s = app(biEdit(t, biSpec, "  connectivity: intermittent\n", "  connectivity: intermittent\n  k3s: {version: v1.31.4+k3s1}\n"),
		"    - name: hello\n      image: ghcr.io/acme/hello-wasm:1.0\n      runtime: wasm\n      wasm: {shim: spin}\n")
	add("k3s-too-old", s, "spec.k3s.version", "k3s: {version: v1.31.4+k3s1}", "older than v1.32.0+k3s1", "hello", "PATH")
	return cases
}
