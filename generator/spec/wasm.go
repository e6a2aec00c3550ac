package spec

import (
	"fmt"
	"strings"
)

// Runtimes an app may run under (spec.apps[].runtime): "container" (the
// default, runc) or "wasm" (a WebAssembly module run by a containerd shim).
var Runtimes = []string{"container", "wasm"}

// WasmShim is a containerd shim that runs WebAssembly workloads: the
// containerd runtime (and Kubernetes RuntimeClass, and its handler) is
// named Name, containerd starts the binary Binary for runtime_type
// RuntimeType.
type WasmShim struct {
	Name        string
	Binary      string
	RuntimeType string
	// K3s: K3s detects the shim on its PATH at start, writes the
	// containerd runtime for it and ships a RuntimeClass of the same name
	// (k3s-io/k3s pkg/agent/containerd/runtimes.go findWasiRuntimes and
	// manifests/runtimes.yaml). A shim K3s does not detect would need a
	// containerd config template on every node, which fleetgen does not
	// write.
	K3s bool
	// ManifestImage: the image is the shim's application (spin.toml,
	// slightfile), with no entrypoint; the pod gives command ["/"], as
	// K3s's own test workloads do (k3s-io/k3s
	// tests/e2e/amd64_resource_files/wasm-workloads.yaml). The other
	// shims run the image's entrypoint, the .wasm module.
	ManifestImage bool
}

// WasmShims are the shims fleetgen knows, by name. Names, binaries and
// runtime types are K3s's (findWasiRuntimes, after k3s-io/k3s#9519 fixed
// the names) and, for wamr, containerd/runwasi's
// crates/containerd-shim-wamr. On k0s fleetgen writes the containerd
// runtime itself (a drop-in in /etc/k0s/containerd.d, k0s docs/runtime.md),
// so every shim here works there.
var WasmShims = []WasmShim{
	{Name: "lunatic", Binary: "containerd-shim-lunatic-v1", RuntimeType: "io.containerd.lunatic.v1", K3s: true},
	{Name: "slight", Binary: "containerd-shim-slight-v1", RuntimeType: "io.containerd.slight.v1", K3s: true, ManifestImage: true},
	{Name: "spin", Binary: "containerd-shim-spin-v2", RuntimeType: "io.containerd.spin.v2", K3s: true, ManifestImage: true},
	{Name: "wamr", Binary: "containerd-shim-wamr-v1", RuntimeType: "io.containerd.wamr.v1", K3s: false},
	{Name: "wasmedge", Binary: "containerd-shim-wasmedge-v1", RuntimeType: "io.containerd.wasmedge.v1", K3s: true},
	{Name: "wasmer", Binary: "containerd-shim-wasmer-v1", RuntimeType: "io.containerd.wasmer.v1", K3s: true},
	{Name: "wasmtime", Binary: "containerd-shim-wasmtime-v1", RuntimeType: "io.containerd.wasmtime.v1", K3s: true},
	{Name: "wws", Binary: "containerd-shim-wws-v1", RuntimeType: "io.containerd.wws.v1", K3s: true},
}

// MinK3sWasm is the oldest K3s release fleetgen generates WebAssembly apps
// for. K3s began detecting shims in late 2023 (k3s-io/k3s#8751,
// RuntimeClasses in #8936), but only in /opt/kwasm/bin, /usr/bin and
// /usr/sbin, and under wrong binary names until the March 2024 releases
// (#9519); the search of the PATH, which the node bootstrap checks
// against, came with #10761, backported to the release branches in
// October 2024 (#10998-#11001). fleetgen asks for a minor that has it
// from its first release rather than for a table of patch releases.
const MinK3sWasm = "v1.32.0+k3s1"

// LookupWasmShim finds a shim by name.
func LookupWasmShim(name string) (WasmShim, bool) {
	for _, s := range WasmShims {
		if s.Name == name {
			return s, true
		}
	}
	return WasmShim{}, false
}

// WasmShimNames lists the shims fleetgen knows (k3sOnly: those K3s detects).
func WasmShimNames(k3sOnly bool) []string {
	var out []string
	for _, s := range WasmShims {
		if !k3sOnly || s.K3s {
			out = append(out, s.Name)
		}
	}
	return out
}

// AppWasm says how a WebAssembly app runs.
type AppWasm struct {
	// Shim is the containerd shim that runs the module: spin, wasmtime,
	// wasmedge, wasmer, slight, wws, lunatic (all detected by K3s) or
	// wamr (k0s only). Its binary must be on every node of the regions
	// that run the app; provision.sh checks it.
	Shim string `yaml:"shim"`
}

// IsWasm reports whether the app runs as WebAssembly.
func (a *App) IsWasm() bool { return a.Runtime == "wasm" }

// WasmShim is the app's shim (ok false for a container app or an
// unknown shim).
func (a *App) WasmShim() (WasmShim, bool) {
	if !a.IsWasm() || a.Wasm == nil {
		return WasmShim{}, false
	}
	return LookupWasmShim(a.Wasm.Shim)
}

// wasmApp checks spec.apps[].runtime and spec.apps[].wasm of one app.
func (v *validator) wasmApp(p string, a *App) {
	if a.Runtime != "" {
		v.oneOf(p+".runtime", a.Runtime, Runtimes)
	}
	switch {
	case a.IsWasm() && a.Image == "" && (a.Chart != nil || a.Kustomize != nil):
		v.add(p+".runtime", "wasm is for image apps only: app %q is a %s, whose own manifests shape its pods (set runtimeClassName in the %s's values or files)", a.Name, a.Kind(), a.Kind())
	case a.IsWasm() && a.Wasm == nil:
		v.add(p+".runtime", "wasm needs %s.wasm.shim, the containerd shim that runs the module, e.g. wasm: {shim: spin} (one of: %s)", p, strings.Join(WasmShimNames(false), ", "))
	case a.IsWasm():
		if _, ok := LookupWasmShim(a.Wasm.Shim); !ok {
			v.add(p+".wasm.shim", "%q is not a WebAssembly shim fleetgen knows: one of %s", short(a.Wasm.Shim), strings.Join(WasmShimNames(false), ", "))
		}
	case a.Wasm != nil:
		v.add(p+".wasm", "is for WebAssembly apps: set runtime: wasm on app %q, or remove wasm", a.Name)
	}
}

// wasmSupport checks that every region can run the fleet's WebAssembly
// apps: K3s regions need a shim K3s detects and a K3s release that finds
// it on the PATH. Reported once per app and once for the K3s version.
func (v *validator) wasmSupport(s *FleetSpec) {
	var k3sRegions []string
	for _, r := range s.Regions {
		if r.Distribution == "k3s" {
			k3sRegions = append(k3sRegions, r.Name)
		}
	}
	if len(k3sRegions) == 0 {
		return
	}
	which := fmt.Sprintf("region %s runs", strings.Join(k3sRegions, ", "))
	if len(k3sRegions) > 1 {
		which = fmt.Sprintf("regions %s run", strings.Join(k3sRegions, ", "))
	}
	var wasmApps []string
	for i := range s.Apps {
		a := &s.Apps[i]
		sh, ok := a.WasmShim()
		if !ok || a.Image == "" {
			continue
		}
		wasmApps = append(wasmApps, a.Name)
		if !sh.K3s {
			v.add(fmt.Sprintf("spec.apps[%d].wasm.shim", i), "%s: K3s does not detect this shim (it configures containerd for %s only: k3s-io/k3s pkg/agent/containerd/runtimes.go), and %s K3s; use one of those, or run the app's regions on k0s (spec.regions[].distribution), where fleetgen writes the containerd runtime", sh.Name, strings.Join(WasmShimNames(true), ", "), which)
		}
	}
	if len(wasmApps) == 0 {
		return
	}
	have, ok1 := ParseK3sRelease(s.K3s.Version)
	min, _ := ParseK3sRelease(MinK3sWasm)
	if ok1 && have.Compare(min) < 0 {
		v.add("spec.k3s.version", "%s is older than %s, the first K3s minor that finds WebAssembly shims on its PATH from its first release (older ones looked in fixed folders, some under other names: k3s-io/k3s#9519, #10761), and %s it for the WebAssembly app(s) %s; pin %s or newer", s.K3s.Version, MinK3sWasm, which, strings.Join(wasmApps, ", "), MinK3sWasm)
	}
}
