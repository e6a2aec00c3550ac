package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// k0s nodes (spec.distribution: k0s). provision.sh runs as for K3s; what
// k0s would then do is played here: its Helm extension installs the Flux
// Operator (the same stand-in as K3s's helm-controller), and its manifest
// deployer applies the first-boot stack with the stack label k0s puts on
// every object (k0sproject/k0s pkg/applier/stack.go prepareResource). The
// handover runs against the real API server: `k0s kubectl` is kubectl.

const (
	k0sStackDir   = "var/lib/k0s/manifests/fleetgen-first-boot"
	k0sStackLabel = "k0s.k0sproject.io/stack"
	k0sStack      = "fleetgen-first-boot"
)

// k0sProvisioned fills n from what provision.sh wrote for k0s: the stack
// folder and the API server arguments of k0s.yaml (paths under the root).
// It reports false for a K3s node.
func k0sProvisioned(t *testing.T, n *node) bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(n.root, "etc", "k0s", "k0s.yaml"))
	if os.IsNotExist(err) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Spec struct {
			API struct {
				ExtraArgs map[string]string `yaml:"extraArgs"`
			} `yaml:"api"`
			Extensions struct {
				Helm struct {
					Charts []struct {
						Name, Chartname, Version, Namespace string
					} `yaml:"charts"`
				} `yaml:"helm"`
			} `yaml:"extensions"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("k0s.yaml: %v", err)
	}
	n.k0s = true
	n.manifestsDir = filepath.Join(n.root, k0sStackDir)
	keys := make([]string, 0, len(cfg.Spec.API.ExtraArgs))
	for k := range cfg.Spec.API.ExtraArgs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := cfg.Spec.API.ExtraArgs[k]
		if strings.HasPrefix(v, "/") {
			v = filepath.Join(n.root, v)
		}
		n.apiserverArgs = append(n.apiserverArgs, "--"+k+"="+v)
	}
	for _, c := range cfg.Spec.Extensions.Helm.Charts {
		n.k0sCharts = append(n.k0sCharts, obj{"metadata": obj{"name": c.Name},
			"spec": obj{"chart": c.Chartname, "version": c.Version, "targetNamespace": c.Namespace, "createNamespace": true}})
	}
	return true
}

// k0sDeploy does what k0s would at its first start: the Helm extension's
// chart (k0s installs charts with --create-namespace), then the stack,
// each object labelled with the stack's name, retried until it applies
// (a FluxInstance waits for its CRD).
func k0sDeploy(t *testing.T, tl *tools, c *cluster, n *node) {
	t.Helper()
	if len(n.k0sCharts) != 1 {
		t.Fatalf("%s: k0s.yaml has %d charts, want the Flux Operator's", c.name, len(n.k0sCharts))
	}
	standInHelmController(t, tl, c, n.k0sCharts[0])
	files, _ := filepath.Glob(filepath.Join(n.manifestsDir, "*.yaml"))
	if len(files) == 0 {
		t.Fatalf("%s: nothing in k0s's stack %s", c.name, n.manifestsDir)
	}
	t.Logf("k0s would apply the stack %s: %d files", k0sStack, len(files))
	ctx := context.Background()
	deadline := time.Now().Add(2 * time.Minute)
	for pending := files; len(pending) > 0; {
		var failed, errs []string
		for _, f := range pending {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := decodeManifests(b)
			if err != nil {
				t.Fatalf("k0s would not parse %s: %v", f, err)
			}
			for _, o := range objs {
				md, _ := o["metadata"].(map[string]any)
				labels, _ := md["labels"].(map[string]any)
				if labels == nil {
					labels = map[string]any{}
				}
				labels[k0sStackLabel] = k0sStack
				md["labels"] = labels
				if err := c.kube.apply(ctx, o, "k0s-applier"); err != nil {
					failed = append(failed, f)
					errs = append(errs, filepath.Base(f)+": "+err.Error())
					break
				}
			}
		}
		pending = failed
		if len(pending) > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: k0s's stack would keep failing:\n%s", c.name, strings.Join(errs, "\n"))
			}
			time.Sleep(2 * time.Second)
		}
	}
}

// k0sStandIn is `k0s`: `k0s kubectl` is the real kubectl on the cluster's
// API server; anything else is recorded.
const k0sStandIn = `#!/bin/sh
if [ "$1" = kubectl ]; then shift; exec kubectl --kubeconfig "$E2E_KUBECONFIG" "$@"; fi
echo "k0s $*" >> "$E2E_STANDIN_LOG"
`

// checkK0sHandover runs handover.sh for real once Flux has synced, then
// checks what k0s would do next: the stack folder is gone, so k0s deletes
// every object still labelled with the stack's name. None may be left, and
// the FluxInstance and the Secrets Flux needs must still be there.
func checkK0sHandover(t *testing.T, c *cluster, n *node) {
	t.Helper()
	ctx := context.Background()
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Fatalf("kubectl is needed to run the k0s handover against the API server: %v", err)
	}
	if err := os.WriteFile(filepath.Join(n.standIns, "k0s"), []byte(k0sStandIn), 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(n.root, "usr", "local", "lib", "fleetgen", "handover.sh")
	cmd := exec.Command("/bin/sh", script)
	cmd.Env = append(os.Environ(), "PATH="+n.standIns+":"+os.Getenv("PATH"), "PROVISION_ROOT="+n.root,
		"E2E_STANDIN_LOG="+filepath.Join(filepath.Dir(n.standIns), "stand-ins.log"), "E2E_KUBECONFIG="+c.kubeconfig)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: handover.sh: %v\n%s", c.name, err, out)
	}
	t.Logf("%s: handover.sh: %s", c.name, strings.TrimSpace(string(out)))
	if fileExists(n.manifestsDir) {
		t.Errorf("%s: the handover left the stack %s", c.name, n.manifestsDir)
	}
	var kept []string
	for _, kind := range [][2]string{{"v1", "Secret"}, {"fluxcd.controlplane.io/v1", "FluxInstance"}, {"v1", "Namespace"}} {
		objs, err := c.kube.list(ctx, kind[0], kind[1], "")
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if str(o, "metadata", "labels", k0sStackLabel) == k0sStack {
				t.Errorf("%s: %s %s/%s still carries %s=%s: k0s would delete it with the stack", c.name, kind[1], str(o, "metadata", "namespace"), str(o, "metadata", "name"), k0sStackLabel, k0sStack)
			}
			if kind[1] != "Namespace" && str(o, "metadata", "namespace") == "flux-system" {
				kept = append(kept, kind[1]+"/"+str(o, "metadata", "name"))
			}
		}
	}
	t.Logf("%s: after the handover, released from the stack: %s", c.name, strings.Join(kept, ", "))
	if _, err := c.kube.get(ctx, "fluxcd.controlplane.io/v1", "FluxInstance", "flux-system", "flux"); err != nil {
		t.Errorf("%s: the FluxInstance is gone after the handover: %v", c.name, err)
	}
	k, err := c.kube.get(ctx, "kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "flux-system")
	if err != nil {
		t.Fatal(err)
	}
	done, err := os.ReadFile(filepath.Join(n.root, "var", "lib", "k0s", "fleetgen-handover.done"))
	if err != nil || strings.TrimSpace(string(done)) != str(k, "status", "lastAppliedRevision") {
		t.Errorf("%s: handover's record %q (%v) is not the revision Flux applied", c.name, done, err)
	}
}
