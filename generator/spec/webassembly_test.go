package spec_test

import (
	"strings"
	"testing"

	"github.com/fleetgen/fleetgen/generator/spec"
)

const wasmFleet = `apiVersion: fleetgen.dev/v1alpha1
kind: Fleet
metadata:
  name: wasm
spec:
  context: {environment: shops, hardware: mini PCs, mainChallenge: small functions}
  git: {url: https://git.example.com/o/fleet.git}
  hardware: {arch: amd64, memory: 4Gi, storage: ssd}
  connectivity: always-on
  DIST
  apps:
    - name: hello
      image: ghcr.io/acme/hello-wasm:1.0
      runtime: wasm
      wasm: {shim: SHIM}
  regions:
    - name: one
      clusters: [a-1]
`

func wasmSpec(dist, shim string) []byte {
	return []byte(strings.NewReplacer("DIST", dist, "SHIM", shim).Replace(wasmFleet))
}

// TestWasmSupportByDistribution: which shim and distribution combinations
// load. k0s runs every shim fleetgen knows (it writes the containerd
// runtime); K3s only those it detects, and only from MinK3sWasm on.
func TestWasmSupportByDistribution(t *testing.T) {
	for _, c := range []struct {
		dist, shim, err string
	}{
		{"distribution: k3s", "spin", ""},
		{"distribution: k3s", "wasmtime", ""},
		{"distribution: k0s", "wamr", ""},
		{"distribution: k0s", "spin", ""},
		{"distribution: k3s", "wamr", "spec.apps[0].wasm.shim: wamr: K3s does not detect this shim"},
		{"k3s: {version: v1.31.9+k3s1}", "spin", "spec.k3s.version: v1.31.9+k3s1 is older than v1.32.0+k3s1"},
		{"k3s: {version: v1.32.0+k3s1}", "spin", ""},
		// The K3s pin does not matter when no region runs K3s.
		{"distribution: k0s\n  k3s: {version: v1.31.9+k3s1}", "spin", ""},
		{"distribution: k3s", "runc", `spec.apps[0].wasm.shim: "runc" is not a WebAssembly shim`},
	} {
		_, err := spec.Parse(wasmSpec(c.dist, c.shim), "fleet.yaml")
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s, shim %s: %v", c.dist, c.shim, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s, shim %s: error %v, want one saying %q", c.dist, c.shim, err, c.err)
		}
	}
}
