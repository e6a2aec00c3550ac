package generator

import (
	"fmt"
	"path"
	"strings"

	nodev1 "k8s.io/api/node/v1"

	"github.com/fleetgen/fleetgen/generator/spec"
)

// WebAssembly apps (spec.apps[].runtime: wasm): the app's pods name the
// RuntimeClass of their shim, and every node of a region running them
// needs the shim's binary where containerd finds it.
//
// K3s (v1.32+) looks for each shim it knows on its PATH when it starts
// (exec.LookPath in k3s-io/k3s pkg/agent/containerd/runtimes.go), writes a
// containerd runtime named after it, and its server applies
// manifests/runtimes.yaml, one RuntimeClass per shim with the same name
// and handler, as the packaged component "runtimes". fleetgen writes no
// RuntimeClass for K3s regions: a second owner of the same object (Flux)
// would fight K3s's deploy controller, which re-applies its manifests at
// every start.
//
// k0s does neither: containerd runtimes are drop-ins in
// /etc/k0s/containerd.d/*.toml (imported by k0s's containerd config and
// reloaded on change, k0s docs/runtime.md, containerd config version 3
// since k0s 1.36), and the RuntimeClass is the user's to apply (the same
// page's gVisor example). fleetgen writes both: the drop-in into the node
// bootstrap, the RuntimeClass into the region's infrastructure overlay
// (applied before apps).

// WasmApp is one WebAssembly app of a region, as plan shows it.
type WasmApp struct {
	App          string `json:"app"`
	Shim         string `json:"shim"`
	Binary       string `json:"binary"`       // the shim's executable, on every node's PATH
	RuntimeType  string `json:"runtimeType"`  // containerd runtime_type
	RuntimeClass string `json:"runtimeClass"` // the pods' runtimeClassName (= the handler)
	// RuntimeClassBy: "k3s" (K3s's packaged manifest runtimes.yaml) or
	// "fleetgen" (infrastructure/regions/<region>/runtimeclasses.yaml).
	RuntimeClassBy string `json:"runtimeClassBy"`
}

// WasmNodePATH are the folders provision.sh accepts a shim binary in:
// systemd's default PATH for system services (systemd.exec(5), "PATH"),
// which the k3s and k0s units inherit (k0s prepends its own
// /var/lib/k0s/bin, pkg/supervisor/supervisor.go).
var WasmNodePATH = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// K3sWasmExtraPATH: K3s puts these in front of its PATH for the search
// only (runtimesPath in pkg/agent/containerd/config_linux.go: the GPU
// operator's and the kwasm operator's folders), and writes the full path
// it found into containerd's runtime options, so a shim there works on
// K3s. k0s's containerd looks on its own PATH only.
var K3sWasmExtraPATH = []string{"/usr/local/nvidia/toolkit", "/opt/kwasm/bin"}

// WasmRuntimeClassesFile is the k0s region's RuntimeClass file in its
// infrastructure overlay.
const WasmRuntimeClassesFile = "runtimeclasses.yaml"

func wasmApps(apps []spec.App, k0s bool) []WasmApp {
	var out []WasmApp
	for _, a := range apps {
		sh, ok := a.WasmShim()
		if !ok || a.Image == "" {
			continue
		}
		by := "k3s"
		if k0s {
			by = "fleetgen"
		}
		out = append(out, WasmApp{App: a.Name, Shim: sh.Name, Binary: sh.Binary, RuntimeType: sh.RuntimeType, RuntimeClass: sh.Name, RuntimeClassBy: by})
	}
	return out
}

// decideWasm records the region's WebAssembly apps and says what the
// nodes need.
func decideWasm(s *spec.FleetSpec, d *Decisions) {
	d.Wasm = wasmApps(s.Apps, d.K0s())
	for _, sh := range d.WasmShims() {
		if d.K0s() {
			d.Reasons = append(d.Reasons, fmt.Sprintf("WebAssembly app(s) %s run under the %s shim: every node needs %s on its PATH (provision.sh checks, e.g. /usr/local/bin); fleetgen writes the containerd runtime %s (%s, %s/containerd.d/%s) and the RuntimeClass %s (k0s creates neither)",
				sh.Apps, sh.Shim, sh.Binary, sh.Shim, sh.RuntimeType, K0sEtc, wasmDropInName(sh.Shim), sh.RuntimeClass))
		} else {
			d.Reasons = append(d.Reasons, fmt.Sprintf("WebAssembly app(s) %s run under the %s shim: every node needs %s on its PATH (provision.sh checks, e.g. /usr/local/bin); K3s detects it at start and its packaged manifest runtimes.yaml provides the RuntimeClass %s (fleetgen does not write it)",
				sh.Apps, sh.Shim, sh.Binary, sh.RuntimeClass))
		}
	}
}

// WasmShimUse is one shim of a region and the apps that run under it.
type WasmShimUse struct {
	Shim, Binary, RuntimeType, RuntimeClass, RuntimeClassBy string
	Apps                                                    string // comma-separated
}

// WasmShims are the region's distinct shims, in the order of spec.apps.
func (d *Decisions) WasmShims() []WasmShimUse {
	var out []WasmShimUse
	at := map[string]int{}
	for _, w := range d.Wasm {
		if i, ok := at[w.Shim]; ok {
			out[i].Apps += ", " + w.App
			continue
		}
		at[w.Shim] = len(out)
		out = append(out, WasmShimUse{Shim: w.Shim, Binary: w.Binary, RuntimeType: w.RuntimeType, RuntimeClass: w.RuntimeClass, RuntimeClassBy: w.RuntimeClassBy, Apps: w.App})
	}
	return out
}

// WasmNodePATH is where the region's distribution finds a shim, as
// provision.sh checks it (space-separated, for the templates).
func (d *Decisions) WasmNodePATH() string {
	if d.K0s() {
		return strings.Join(WasmNodePATH, " ")
	}
	return strings.Join(append(append([]string{}, K3sWasmExtraPATH...), WasmNodePATH...), " ")
}

func wasmDropInName(shim string) string { return "wasm-" + shim + ".toml" }

// wasmContainerdFiles are the k0s drop-ins (bootstrap/<region>/containerd.d/…)
// declaring a containerd runtime per shim of the region.
func wasmContainerdFiles(r *spec.Region, d *Decisions) map[string][]byte {
	out := map[string][]byte{}
	for _, sh := range d.WasmShims() {
		name := path.Join("containerd.d", wasmDropInName(sh.Shim))
		out[name] = []byte("# Code generated by fleetgen. DO NOT EDIT.\n" +
			"# Installed at " + K0sEtc + "/" + name + " by provision.sh: the containerd runtime " + sh.Shim + "\n" +
			"# for the WebAssembly app(s) " + sh.Apps + " of region " + r.Name + " (spec.apps[].wasm.shim).\n" +
			"# k0s imports every .toml of containerd.d into its containerd configuration and reloads\n" +
			"# containerd when one changes (k0s docs/runtime.md; config version 3 since k0s 1.36).\n" +
			"# containerd starts " + sh.Binary + " for runtime_type " + sh.RuntimeType + ", looked up on its PATH\n" +
			"# (k0s prepends " + K0sDataDir + "/bin to the unit's): provision.sh checks it is installed.\n" +
			"version = 3\n\n" +
			"[plugins.\"io.containerd.cri.v1.runtime\".containerd.runtimes." + sh.Shim + "]\n" +
			"  runtime_type = \"" + sh.RuntimeType + "\"\n")
	}
	return out
}

// wasmRuntimeClasses are the RuntimeClasses of a k0s region's shims: name
// and handler are the shim's, as K3s names its own, so that the app's
// pods read the same in every region.
func wasmRuntimeClasses(d *Decisions) []any {
	var out []any
	for _, sh := range d.WasmShims() {
		rc := &nodev1.RuntimeClass{TypeMeta: typeMeta("node.k8s.io/v1", "RuntimeClass"), ObjectMeta: objectMeta(sh.RuntimeClass, ""), Handler: sh.Shim}
		out = append(out, rc)
	}
	return out
}
