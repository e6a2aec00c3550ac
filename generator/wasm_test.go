package generator

import (
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	nodev1 "k8s.io/api/node/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/fleetgen/fleetgen/generator/check"
	"github.com/fleetgen/fleetgen/generator/spec"
)

// k3sWasmRuntimes is what K3s does for each WebAssembly shim it knows, read
// from k3s-io/k3s: findWasiRuntimes in pkg/agent/containerd/runtimes.go
// (the binary it looks up on its PATH, the containerd runtime_type it
// writes for the runtime named after the shim) and manifests/runtimes.yaml
// (a RuntimeClass of that name with the same handler). fleetgen's table
// must agree, or the pods name a RuntimeClass K3s does not have, or
// provision.sh checks for a binary K3s does not look for.
var k3sWasmRuntimes = map[string][2]string{
	"lunatic":  {"containerd-shim-lunatic-v1", "io.containerd.lunatic.v1"},
	"slight":   {"containerd-shim-slight-v1", "io.containerd.slight.v1"},
	"spin":     {"containerd-shim-spin-v2", "io.containerd.spin.v2"},
	"wws":      {"containerd-shim-wws-v1", "io.containerd.wws.v1"},
	"wasmedge": {"containerd-shim-wasmedge-v1", "io.containerd.wasmedge.v1"},
	"wasmer":   {"containerd-shim-wasmer-v1", "io.containerd.wasmer.v1"},
	"wasmtime": {"containerd-shim-wasmtime-v1", "io.containerd.wasmtime.v1"},
}

func TestWasmShimsMatchK3s(t *testing.T) {
	for _, sh := range spec.WasmShims {
		k, ok := k3sWasmRuntimes[sh.Name]
		if ok != sh.K3s {
			t.Errorf("%s: K3s %v in fleetgen's table, but K3s detects it: %v", sh.Name, sh.K3s, ok)
		}
		if ok && (k[0] != sh.Binary || k[1] != sh.RuntimeType) {
			t.Errorf("%s: fleetgen has %s/%s, K3s looks for %s and writes %s", sh.Name, sh.Binary, sh.RuntimeType, k[0], k[1])
		}
		// containerd derives the shim binary from runtime_type:
		// io.containerd.<name>.<version> -> containerd-shim-<name>-<version>.
		parts := strings.Split(sh.RuntimeType, ".")
		if want := "containerd-shim-" + parts[2] + "-" + parts[3]; want != sh.Binary {
			t.Errorf("%s: runtime_type %s makes containerd start %s, not %s", sh.Name, sh.RuntimeType, want, sh.Binary)
		}
	}
	for name := range k3sWasmRuntimes {
		if _, ok := spec.LookupWasmShim(name); !ok {
			t.Errorf("K3s detects %s, fleetgen does not offer it", name)
		}
	}
}

// TestWasmApps: the wasm-shops case runs a Spin app and a wasmtime app in a
// K3s region (K3s makes the containerd runtimes and RuntimeClasses) and a
// k0s region (fleetgen writes both), beside a container app.
func TestWasmApps(t *testing.T) {
	res := planCase(t, "wasm-shops")
	rep, err := check.Tree(&res.Tree, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Errors {
		t.Errorf("check: %s", f.String())
	}

	// The pods name the shim's RuntimeClass; the Spin app's image has no
	// entrypoint, so it gets command ["/"]; the container app is untouched.
	want := map[string]struct {
		class   string
		command []string
	}{"price-api": {"spin", []string{"/"}}, "receipt-worker": {"wasmtime", nil}, "shop-gateway": {"", nil}}
	for app, w := range want {
		f, ok := res.Tree.Get(path.Join("apps/base", app, "deployment.yaml"))
		if !ok {
			t.Fatalf("no deployment for %s", app)
		}
		var d appsv1.Deployment
		if err := sigsyaml.UnmarshalStrict(f.Content, &d); err != nil {
			t.Fatal(err)
		}
		pod := d.Spec.Template.Spec
		got := ""
		if pod.RuntimeClassName != nil {
			got = *pod.RuntimeClassName
		}
		if got != w.class || !slices.Equal(pod.Containers[0].Command, w.command) {
			t.Errorf("%s: runtimeClassName %q command %q, want %q %q", app, got, pod.Containers[0].Command, w.class, w.command)
		}
	}

	fsys := rsMemFS(t, res)
	classes := func(region string) map[string]string {
		out := map[string]string{}
		for _, dir := range []string{"infrastructure/regions/" + region, "apps/regions/" + region} {
			for _, r := range rsBuild(t, fsys, dir) {
				validateStrict(t, dir, r)
				if r.GetKind() != "RuntimeClass" {
					continue
				}
				var rc nodev1.RuntimeClass
				if err := rsDecode(r, &rc); err != nil {
					t.Fatal(err)
				}
				out[rc.Name] = rc.Handler
			}
		}
		return out
	}
	// K3s: its packaged runtimes.yaml owns the RuntimeClasses; a second
	// copy from Flux would fight K3s's deploy controller.
	if got := classes("iberia"); len(got) != 0 {
		t.Errorf("iberia (K3s) gets RuntimeClasses %v from fleetgen; K3s ships them", got)
	}
	cfg, _ := res.Tree.Get("bootstrap/iberia/config.yaml")
	var k3sCfg struct {
		Disable []string `json:"disable"`
	}
	if err := sigsyaml.Unmarshal(cfg.Content, &k3sCfg); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(k3sCfg.Disable, "runtimes") {
		t.Errorf("iberia config.yaml disables runtimes, the K3s component that creates the RuntimeClasses")
	}

	// k0s: one RuntimeClass per shim, and on the node a containerd runtime
	// whose name is the RuntimeClass's handler.
	got := classes("nordics")
	if len(got) != 2 || got["spin"] != "spin" || got["wasmtime"] != "wasmtime" {
		t.Errorf("nordics (k0s) RuntimeClasses %v, want spin and wasmtime, each its own handler", got)
	}
	table := regexp.MustCompile(`(?m)^\[plugins\."io\.containerd\.cri\.v1\.runtime"\.containerd\.runtimes\.([a-z0-9]+)\]\n  runtime_type = "([^"]+)"$`)
	for handler := range got {
		sh, _ := spec.LookupWasmShim(handler)
		f, ok := res.Tree.Get("bootstrap/nordics/containerd.d/wasm-" + handler + ".toml")
		if !ok {
			t.Errorf("nordics: no containerd drop-in for %s", handler)
			continue
		}
		m := table.FindStringSubmatch(string(f.Content))
		if m == nil || m[1] != handler || m[2] != sh.RuntimeType || !strings.Contains(string(f.Content), "\nversion = 3\n") {
			t.Errorf("nordics wasm-%s.toml: runtime %q, want [plugins.\"io.containerd.cri.v1.runtime\".containerd.runtimes.%s] runtime_type %q (config version 3):\n%s", handler, m, handler, sh.RuntimeType, f.Content)
		}
	}
	if _, ok := res.Tree.Get("bootstrap/iberia/containerd.d/wasm-spin.toml"); ok {
		t.Errorf("iberia (K3s) gets a k0s containerd drop-in")
	}

	// Both provision scripts check for both binaries; the k0s one installs
	// the drop-ins.
	for _, region := range []string{"iberia", "nordics"} {
		f, _ := res.Tree.Get("bootstrap/" + region + "/provision.sh")
		for _, bin := range []string{"containerd-shim-spin-v2", "containerd-shim-wasmtime-v1"} {
			if !strings.Contains(string(f.Content), "\nneed_shim "+bin+" ") {
				t.Errorf("%s provision.sh does not check for %s", region, bin)
			}
		}
		readme, _ := res.Tree.Get("bootstrap/" + region + "/README.md")
		if !strings.Contains(string(readme.Content), "## WebAssembly apps") || !strings.Contains(string(readme.Content), "`containerd-shim-spin-v2`") {
			t.Errorf("%s README.md does not say which shim binaries the nodes need", region)
		}
	}
	k0sProv, _ := res.Tree.Get("bootstrap/nordics/provision.sh")
	if !strings.Contains(string(k0sProv.Content), "containerd.d/wasm-spin.toml containerd.d/wasm-wasmtime.toml; do\n  install -d") {
		t.Errorf("nordics provision.sh does not install the wasm drop-ins")
	}

	// plan: per region, the apps, their shim, and who makes the RuntimeClass.
	for _, c := range []struct{ region, by string }{{"iberia", "k3s"}, {"nordics", "fleetgen"}} {
		d, _ := res.Region(c.region)
		if len(d.Wasm) != 2 || d.Wasm[0].App != "price-api" || d.Wasm[0].Shim != "spin" || d.Wasm[1].Shim != "wasmtime" || d.Wasm[0].RuntimeClassBy != c.by {
			t.Errorf("%s: plan's wasm apps %+v", c.region, d.Wasm)
		}
	}
}

// TestNoWasmNoChange: a fleet without WebAssembly apps gets no wasm file,
// check or README section.
func TestNoWasmNoChange(t *testing.T) {
	res := planCase(t, "offshore-mixed")
	for _, f := range res.Tree.Files {
		if strings.Contains(f.Path, "wasm") || strings.HasSuffix(f.Path, WasmRuntimeClassesFile) {
			t.Errorf("%s planned without a wasm app", f.Path)
		}
		if strings.HasPrefix(f.Path, "docs/design/") || f.Path == "fleet.schema.json" {
			continue // the prompt's own text and the schema of every fleet.yaml name WebAssembly
		}
		if strings.Contains(string(f.Content), "need_shim") || strings.Contains(string(f.Content), "WebAssembly") || strings.Contains(string(f.Content), "runtimeClassName") {
			t.Errorf("%s mentions WebAssembly without a wasm app", f.Path)
		}
	}
}
