package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// WebAssembly apps (generator/testdata/cases/wasm-shops): every node of a
// region running them needs the shims' binaries where the distribution's
// containerd finds them. provision.sh checks before it writes anything, on
// K3s (iberia) and k0s (nordics), under dash and bash.

// putShim installs a stand-in shim binary under the node's root.
func putShim(t *testing.T, n *node, rel string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(n.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // WriteFile keeps an existing file's mode
		t.Fatal(err)
	}
}

func wasmShopsEnv(n *node) []string {
	return []string{"FLEETGEN_GIT_SECRET_FILE=" + n.secretFile("git.yaml", gitSecret("flux-system"))}
}

// refusesWithoutShims: with no shim, then with one of two, then with the
// second present but not executable, then in a folder no distribution
// searches, the script stops naming the missing binary and its app, and
// writes nothing (only the shims the test put
// there are under the root; no download, no install).
func refusesWithoutShims(t *testing.T, n *node, env []string, cluster string) {
	t.Helper()
	for _, step := range []struct {
		put     func()
		missing string
		app     string
	}{
		{func() {}, "containerd-shim-spin-v2", "price-api"},
		{func() { putShim(t, n, "usr/local/bin/containerd-shim-spin-v2", 0o755) }, "containerd-shim-wasmtime-v1", "receipt-worker"},
		{func() { putShim(t, n, "usr/bin/containerd-shim-wasmtime-v1", 0o644) }, "containerd-shim-wasmtime-v1", "receipt-worker"},
		{func() { putShim(t, n, "srv/bin/containerd-shim-wasmtime-v1", 0o755) }, "containerd-shim-wasmtime-v1", "receipt-worker"},
	} {
		step.put()
		before := n.files()
		out, code := n.run("provision.sh", false, env, cluster)
		if code == 0 {
			t.Fatalf("exit 0 without %s\n%s", step.missing, out)
		}
		for _, want := range []string{"provision.sh: " + step.missing + " is not installed", "the WebAssembly app(s) " + step.app, "/usr/local/bin/" + step.missing, "nothing was changed"} {
			if !strings.Contains(out, want) {
				t.Errorf("message does not say %q:\n%s", want, out)
			}
		}
		if got := n.files(); !slices.Equal(got, before) {
			t.Errorf("files written before refusing: %v (before: %v)", got, before)
		}
		if l := n.logged(); l != "" {
			t.Errorf("stand-ins ran before refusing:\n%s", l)
		}
	}
}

func TestProvisionChecksWasmShimsK3s(t *testing.T) {
	eachShell(t, func(t *testing.T, sh string) {
		n := newNode(t, sh, "wasm-shops", "iberia")
		env := wasmShopsEnv(n)
		refusesWithoutShims(t, n, env, "shop-mad-01")
		// Where the kwasm operator installs shims: K3s searches it too.
		putShim(t, n, "opt/kwasm/bin/containerd-shim-wasmtime-v1", 0o755)
		out, code := n.run("provision.sh", false, env, "shop-mad-01")
		if code != 0 {
			t.Fatalf("exit %d with both shims installed\n%s", code, out)
		}
		if l := n.logged(); !strings.Contains(l, "installer INSTALL_K3S_VERSION=v1.37.1+k3s1 INSTALL_K3S_EXEC=server") {
			t.Errorf("K3s was not installed:\n%s", l)
		}
		if !n.exists("etc/rancher/k3s/config.yaml") {
			t.Error("config.yaml not written")
		}
	})
}

func TestProvisionChecksWasmShimsK0s(t *testing.T) {
	eachShell(t, func(t *testing.T, sh string) {
		n, rel := newK0sNodeOf(t, sh, "wasm-shops", "nordics")
		env := append(wasmShopsEnv(n), rel)
		refusesWithoutShims(t, n, env, "shop-osl-01")
		// K3s searches the kwasm operator's folder; k0s's containerd does not.
		putShim(t, n, "opt/kwasm/bin/containerd-shim-wasmtime-v1", 0o755)
		if out, code := n.run("provision.sh", false, env, "shop-osl-01"); code == 0 || !strings.Contains(out, "containerd-shim-wasmtime-v1 is not installed") {
			t.Fatalf("k0s node with the shim in /opt/kwasm/bin only: exit %d\n%s", code, out)
		}
		// In a folder of systemd's default PATH, executable: containerd finds it.
		putShim(t, n, "usr/bin/containerd-shim-wasmtime-v1", 0o755)
		out, code := n.run("provision.sh", false, env, "shop-osl-01")
		if code != 0 {
			t.Fatalf("exit %d with both shims installed\n%s", code, out)
		}
		// The containerd runtimes the RuntimeClasses name, where k0s imports them.
		for _, shim := range []string{"spin", "wasmtime"} {
			f := "containerd.d/wasm-" + shim + ".toml"
			if got, want := n.read("etc/k0s/"+f), readFile(t, filepath.Join(n.dir, f)); got != want || !strings.Contains(got, "containerd.runtimes."+shim+"]") {
				t.Errorf("/etc/k0s/%s:\n%s\nwant the bootstrap folder's:\n%s", f, got, want)
			}
		}
		if l := n.logged(); !strings.Contains(l, "k0s install controller --single") {
			t.Errorf("k0s was not installed:\n%s", l)
		}
	})
}
