package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The node side. provision.sh is run for real (by /bin/sh, as on the node)
// into a scratch root; K3s itself is not installed. What the script would
// ask of the host goes to stand-ins on PATH that record their arguments:
// curl (which answers the get.k3s.io installer with a recording stand-in),
// wget, systemctl, sysctl, and the K3s installer. The contract the rest of
// the test relies on: after provision.sh, the files K3s would auto-deploy are
// under $PROVISION_ROOT<data-dir>/server/manifests (data-dir from the K3s
// configuration it wrote, default /var/lib/rancher/k3s).

// node is what provision.sh left for K3s.
type node struct {
	root          string
	standIns      string   // the stand-ins' folder (on PATH for the node's scripts)
	manifestsDir  string   // what K3s would auto-deploy
	apiserverArgs []string // kube-apiserver-arg of the K3s configuration, paths under root
	calls         []string // what the stand-ins were asked
	output        string
	k0s           bool  // a k0s node (k0s_test.go): manifestsDir is its first-boot stack
	k0sCharts     []obj // k0s.yaml's Helm extension charts
}

const standInScript = `#!/bin/sh
# e2e stand-in: records what it is asked, changes nothing on the host.
{ printf '%s' "$(basename "$0")"; for a in "$@"; do printf ' %s' "$a"; done
  env | grep '^INSTALL_K3S_\|^K3S_' | sort | tr '\n' ' ' | sed 's/^./ | &/'
  echo; } >> "$E2E_STANDIN_LOG"
`

// curl prints the stand-in installer for get.k3s.io (to stdout or -o FILE);
// like the real one, the installer puts a k3s (stand-in) on PATH.
const curlStandIn = standInScript + `out=""
while [ $# -gt 0 ]; do case "$1" in -o|--output) out="$2"; shift 2 ;; *) shift ;; esac; done
installer='#!/bin/sh
{ printf "k3s-installer"; for a in "$@"; do printf " %s" "$a"; done
  env | grep "^INSTALL_K3S_\|^K3S_" | sort | tr "\n" " " | sed "s/^./ | &/"; echo; } >> "$E2E_STANDIN_LOG"
cp "$E2E_STANDIN_DIR/.k3s" "$E2E_STANDIN_DIR/k3s"
'
if [ -n "$out" ]; then printf '%s' "$installer" > "$out"; else printf '%s' "$installer"; fi
`

func writeStandIns(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"curl":      curlStandIn,
		"wget":      standInScript,
		"systemctl": standInScript,
		"sysctl":    standInScript,
		"modprobe":  standInScript,
		".k3s":      standInScript, // installed as k3s by the installer stand-in
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// provision runs bootstrap/<region>/provision.sh of the repository checkout
// for the first server of cluster, with the node-only files in env
// (FLEETGEN_*), into a scratch root. Keep this the one place that knows
// provision.sh's command line.
func provision(t *testing.T, repo, region, cluster, scratch string, env []string) *node {
	t.Helper()
	n := &node{root: filepath.Join(scratch, "root"), standIns: filepath.Join(scratch, "stand-ins")}
	bin := n.standIns
	writeStandIns(t, bin)
	record := filepath.Join(scratch, "stand-ins.log")
	script := filepath.Join(repo, "bootstrap", region, "provision.sh")
	placeWasmShims(t, script, n.root)
	cmd := exec.Command("/bin/sh", script, cluster)
	cmd.Dir = filepath.Dir(script)
	cmd.Env = append(os.Environ(),
		"PATH="+bin+":"+os.Getenv("PATH"),
		"PROVISION_ROOT="+n.root,
		"E2E_STANDIN_LOG="+record, "E2E_STANDIN_DIR="+bin)
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	n.output = string(out)
	if err != nil {
		t.Fatalf("provision.sh %s (region %s): %v\n%s", cluster, region, err, out)
	}
	if b, err := os.ReadFile(record); err == nil {
		n.calls = strings.Split(strings.TrimSpace(string(b)), "\n")
	}

	if k0sProvisioned(t, n) {
		return n
	}
	dataDir, args := readK3sConfig(t, n.root)
	n.manifestsDir = filepath.Join(n.root, dataDir, "server", "manifests")
	if _, err := os.Stat(n.manifestsDir); err != nil {
		t.Fatalf("provision.sh %s: K3s's auto-deploy folder %s is missing: %v\n%s", cluster, n.manifestsDir, err, out)
	}
	// Paths in the K3s configuration are on the node: they are under the scratch root here.
	for _, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(v, "/") {
			a = k + "=" + filepath.Join(n.root, v)
		}
		n.apiserverArgs = append(n.apiserverArgs, "--"+a)
	}
	return n
}

// placeWasmShims puts a stand-in for every WebAssembly shim binary the
// region's provision.sh checks for (its "need_shim BINARY" lines) at
// /usr/local/bin under the root, as a node image built for the fleet's
// WebAssembly apps would carry it. Nothing here runs a pod, so the shim is
// never started.
func placeWasmShims(t *testing.T, script, root string) {
	t.Helper()
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "need_shim ") {
			continue
		}
		bin := strings.Fields(line)[1]
		p := filepath.Join(root, "usr", "local", "bin", bin)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\necho e2e stand-in for "+bin+" >&2\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// readK3sConfig reads the K3s configuration provision.sh wrote (config.yaml
// and config.yaml.d/*.yaml in order, "key+" appending as K3s does) for
// data-dir and kube-apiserver-arg.
func readK3sConfig(t *testing.T, root string) (string, []string) {
	t.Helper()
	etc := filepath.Join(root, "etc", "rancher", "k3s")
	files := []string{filepath.Join(etc, "config.yaml")}
	drop, _ := filepath.Glob(filepath.Join(etc, "config.yaml.d", "*.yaml"))
	sort.Strings(drop)
	files = append(files, drop...)
	dataDir := "/var/lib/rancher/k3s"
	var args []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var cfg map[string]any
		if err := yaml.Unmarshal(b, &cfg); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if d, ok := cfg["data-dir"].(string); ok && d != "" {
			dataDir = d
		}
		list := func(key string) []string {
			var out []string
			switch v := cfg[key].(type) {
			case []any:
				for _, x := range v {
					out = append(out, strings.TrimSpace(toString(x)))
				}
			case string:
				out = append(out, v)
			}
			return out
		}
		if v := list("kube-apiserver-arg"); v != nil {
			args = v
		}
		args = append(args, list("kube-apiserver-arg+")...)
	}
	return dataDir, args
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := yaml.Marshal(v)
	return strings.TrimSpace(string(b))
}

// autoDeployFiles lists what K3s's deploy controller applies from the
// manifests folder: *.yaml, *.yml and *.json files, recursively, in path
// order, except dotfiles and files with a "<name>.skip" beside them
// (k3s pkg/deploy/controller.go).
func autoDeployFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	skips := map[string]bool{}
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		if strings.HasSuffix(info.Name(), ".skip") {
			skips[strings.TrimSuffix(info.Name(), ".skip")] = true
		}
		files = append(files, p)
		return nil
	})
	sort.Strings(files)
	var out []string
	for _, p := range files {
		name := filepath.Base(p)
		ext := filepath.Ext(name)
		if strings.HasPrefix(name, ".") || skips[name] || (ext != ".yaml" && ext != ".yml" && ext != ".json") {
			continue
		}
		out = append(out, p)
	}
	return out
}

// k3sKubectlStandIn answers handover.sh's two `k3s kubectl get
// kustomizations ... -o jsonpath=...` queries with what the test read from
// the cluster's API server just before (E2E_READY, E2E_REVISION).
const k3sKubectlStandIn = standInScript + `case "$*" in
*'.status.conditions'*) printf '%s' "$E2E_READY" ;;
*'.status.lastAppliedRevision'*) printf '%s' "$E2E_REVISION" ;;
esac
`

// handover runs the handover.sh provision.sh installed on the node, as its
// timer would, with `k3s kubectl` answering the flux-system Kustomization's
// Ready status and applied revision as the API server reports them.
func handover(t *testing.T, n *node, ready, revision string) string {
	t.Helper()
	script := filepath.Join(n.root, "usr", "local", "lib", "fleetgen", "handover.sh")
	if _, err := os.Stat(script); err != nil {
		t.Fatalf("provision.sh installed no handover script: %v", err)
	}
	if err := os.WriteFile(filepath.Join(n.standIns, "k3s"), []byte(k3sKubectlStandIn), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", script)
	cmd.Env = append(os.Environ(),
		"PATH="+n.standIns+":"+os.Getenv("PATH"),
		"PROVISION_ROOT="+n.root,
		"E2E_STANDIN_LOG="+filepath.Join(filepath.Dir(n.standIns), "stand-ins.log"),
		"E2E_READY="+ready, "E2E_REVISION="+revision)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("handover.sh: %v\n%s", err, out)
	}
	return string(out)
}
