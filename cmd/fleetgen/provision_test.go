package main

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// provision runs a generated provision.sh against a scratch root.
func provision(t *testing.T, script, root string, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("/bin/sh", append([]string{script}, args...)...)
	cmd.Env = append(append(os.Environ(), "PROVISION_ROOT="+root), env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// uncommented drops comment lines, to compare objects whatever their header.
func uncommented(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// The node provisioning script, run as a node would (into a scratch root):
// it refuses before writing anything when a required secret file is
// missing, then installs the hardened K3s files, the node's identity and
// first-boot manifests that sync exactly the cluster's folder in git.
func TestProvisionScriptInstallsTheNode(t *testing.T) {
	for _, tool := range []string{"/bin/sh", "install", "sed", "base64", "grep"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not available", tool)
		}
	}
	repo := filepath.Join(t.TempDir(), "fleet")
	mustFleetgen(t, append([]string{"generate", "--out", repo, "-q"}, testAuthor...)...)
	script := filepath.Join(repo, "bootstrap/north-sea/provision.sh")
	root := filepath.Join(t.TempDir(), "node")

	if out, code := provision(t, script, root, nil, "Bad_Name"); code != 2 {
		t.Errorf("bad cluster name: exit %d, %s", code, out)
	}
	if out, code := provision(t, script, root, nil, "ns-rig-0002"); code != 1 || !strings.Contains(out, "FLEETGEN_GIT_SECRET_FILE") {
		t.Errorf("without the git pull Secret (spec.git.secretName): exit %d, %s", code, out)
	}
	gitOnly := []string{"FLEETGEN_GIT_SECRET_FILE=" + filepath.Join(t.TempDir(), "git.yaml")}
	writeFile(t, strings.TrimPrefix(gitOnly[0], "FLEETGEN_GIT_SECRET_FILE="), "apiVersion: v1\nkind: Secret\nmetadata: {name: flux-system, namespace: flux-system}\n")
	if out, code := provision(t, script, root, gitOnly, "ns-rig-0002"); code != 1 || !strings.Contains(out, "FLEETGEN_AGE_KEY_FILE") {
		t.Errorf("without the region's age key: exit %d, %s", code, out)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Fatalf("a refused provisioning wrote into %s", root)
	}

	dir := t.TempDir()
	key := "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ5C5Y3L"
	writeFile(t, filepath.Join(dir, "age.key"), key+"\n")
	writeFile(t, filepath.Join(dir, "git.yaml"), "apiVersion: v1\nkind: Secret\nmetadata: {name: flux-system, namespace: flux-system}\n")
	env := []string{"FLEETGEN_AGE_KEY_FILE=" + filepath.Join(dir, "age.key"), "FLEETGEN_GIT_SECRET_FILE=" + filepath.Join(dir, "git.yaml")}
	out, code := provision(t, script, root, env, "ns-rig-0002")
	if code != 0 {
		t.Fatalf("provision: exit %d\n%s", code, out)
	}
	same := func(installed, fromRepo string) {
		t.Helper()
		if got, want := readFile(t, filepath.Join(root, installed)), readFile(t, filepath.Join(repo, fromRepo)); got != want {
			t.Errorf("%s differs from %s", installed, fromRepo)
		}
	}
	same("etc/rancher/k3s/config.yaml", "bootstrap/north-sea/config.yaml")
	same("etc/rancher/k3s/registries.yaml", "bootstrap/north-sea/registries.yaml")
	same("var/lib/rancher/k3s/server/psa.yaml", "bootstrap/north-sea/psa.yaml")
	same("var/lib/rancher/k3s/server/audit.yaml", "bootstrap/north-sea/audit.yaml")
	same("etc/sysctl.d/90-kubelet.conf", "bootstrap/north-sea/90-kubelet.conf")
	same("var/lib/rancher/k3s/server/manifests/flux-operator.yaml", "bootstrap/north-sea/manifests/flux-operator.yaml")
	// First boot syncs exactly what git holds for this cluster.
	got := uncommented(readFile(t, filepath.Join(root, "var/lib/rancher/k3s/server/manifests/flux-instance.yaml")))
	want := uncommented(readFile(t, filepath.Join(repo, "clusters/north-sea/ns-rig-0002/flux-instance.yaml")))
	if got != want {
		t.Errorf("first-boot FluxInstance differs from the cluster's in git:\n%s\nwant:\n%s", got, want)
	}
	if id := readFile(t, filepath.Join(root, "etc/rancher/k3s/config.yaml.d/10-identity.yaml")); !strings.Contains(id, "fleetgen.dev/cluster=ns-rig-0002") {
		t.Errorf("identity drop-in: %q", id)
	}
	sops := readFile(t, filepath.Join(root, "var/lib/rancher/k3s/server/manifests/sops-age.yaml"))
	if !strings.Contains(sops, "age.agekey: "+base64.StdEncoding.EncodeToString([]byte(key+"\n"))) {
		t.Errorf("sops-age Secret does not carry the key:\n%s", sops)
	}
	for _, p := range []string{"etc/rancher/k3s/config.yaml", "var/lib/rancher/k3s/server/manifests/sops-age.yaml", "var/lib/rancher/k3s/server/manifests/flux-git-secret.yaml"} {
		st, err := os.Stat(filepath.Join(root, p))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v (want 0600)", p, st.Mode().Perm(), err)
		}
	}
	// Nothing secret reached the repository.
	for p, content := range snapshotDir(t, repo) {
		if strings.Contains(content, "AGE-SECRET-KEY") {
			t.Errorf("%s in the repository holds an age secret key", p)
		}
	}

	// An agent joining the cluster gets the agent config and the join drop-in.
	agentRoot := filepath.Join(t.TempDir(), "agent")
	out, code = provision(t, script, agentRoot, nil, "ns-rig-0002", "--join", "https://10.0.0.1:6443", "--token-file", "/root/token", "--agent")
	if code != 0 {
		t.Fatalf("agent: exit %d\n%s", code, out)
	}
	if got, want := readFile(t, filepath.Join(agentRoot, "etc/rancher/k3s/config.yaml")), readFile(t, filepath.Join(repo, "bootstrap/north-sea/agent-config.yaml")); got != want {
		t.Error("agent config differs from agent-config.yaml")
	}
	if j := readFile(t, filepath.Join(agentRoot, "etc/rancher/k3s/config.yaml.d/20-join.yaml")); j != "server: https://10.0.0.1:6443\ntoken-file: /root/token\n" {
		t.Errorf("join drop-in: %q", j)
	}
}
