package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The k0s provision.sh and handover.sh (examples/offshore-k0s), run under
// dash and bash as provision_sh_test.go runs the K3s ones: from a copy of
// their bootstrap folder, into a scratch root, with recording stand-ins on
// PATH. curl serves a stand-in k0s "release": the binary (a script that
// records its arguments and prints its version) and a sha256sums.txt
// naming it.

const k0sVersion = "v1.36.3+k0s.2"

// standInK0s is both the downloaded binary and, on PATH, an installed k0s.
const standInK0s = `#!/bin/sh
echo "k0s $*" >> "$STANDIN_LOG"
case "$1" in
  version) echo "${STANDIN_K0S_VERSION:-v1.36.3+k0s.2}" ;;
  kubectl)
    case "$*" in
      *lastAppliedRevision*) printf '%s' "${STANDIN_REVISION:-}" ;;
      *Ready*) printf '%s' "${STANDIN_READY:-}" ;;
      *"get fluxinstances.fluxcd.controlplane.io flux"*) [ -n "${STANDIN_FI:-}" ] || exit 1 ;;
      *" get "*" -A -l "*) printf '%s' "${STANDIN_LEFT:-}" ;;
    esac ;;
esac
`

const standInK0sCurl = `#!/bin/sh
echo "curl $*" >> "$STANDIN_LOG"
[ -z "${CURL_FAIL:-}" ] || exit 22
out=""; url=""
while [ $# -gt 0 ]; do
  case "$1" in -o) out="$2"; shift 2 ;; https://*) url="$1"; shift ;; *) shift ;; esac
done
case "$url" in
  */sha256sums.txt)
    h=$(sha256sum "$STANDIN_RELEASE/k0s" | awk '{ print $1 }')
    [ -z "${SUMS_WRONG:-}" ] || h=0000000000000000000000000000000000000000000000000000000000000000
    printf '%s *k0s-v1.36.3+k0s.2-arm64\n%s *k0s-v1.36.3+k0s.2-amd64\n' "$h" "$h" > "$out" ;;
  *) cp "$STANDIN_RELEASE/k0s" "$out" ;;
esac
`

// newK0sNode is newNode for a k0s region: the curl stand-in serves the
// stand-in release, and "installed" puts k0s (not k3s) on PATH.
func newK0sNode(t *testing.T, shell, region string) (*node, string) {
	t.Helper()
	return newK0sNodeOf(t, shell, "offshore-k0s", region)
}

// newK0sNodeOf is newK0sNode for a region of another example or case.
func newK0sNodeOf(t *testing.T, shell, example, region string) (*node, string) {
	t.Helper()
	n := newNode(t, shell, example, region)
	writeScript(t, filepath.Join(n.bin, "curl"), standInK0sCurl)
	if err := os.Remove(filepath.Join(n.k3sBin, "k3s")); err != nil {
		t.Fatal(err)
	}
	writeScript(t, filepath.Join(n.k3sBin, "k0s"), standInK0s)
	release := filepath.Join(filepath.Dir(n.bin), "release")
	writeScript(t, filepath.Join(release, "k0s"), standInK0s)
	return n, "STANDIN_RELEASE=" + release
}

const k0sStack = "var/lib/k0s/manifests/fleetgen-first-boot"

// A first controller, online: the binary and the release's checksums are
// downloaded to files and checked (checksum, version) before anything is
// installed; the configuration, the first-boot stack and the handover timer
// are written; k0s is installed as a single node with the hardened profile
// and the region's labels, then started.
func TestK0sProvisionOnlineFirstController(t *testing.T) {
	eachShell(t, func(t *testing.T, sh string) {
		n, rel := newK0sNode(t, sh, "north-sea")
		out, code := n.run("provision.sh", false, append(offshoreEnv(n), rel), "ns-rig-0002")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		log := n.logged()
		url := "https://github.com/k0sproject/k0s/releases/download/" + k0sVersion
		for _, want := range []string{
			"curl -sfL --retry 3 -o ", " " + url + "/k0s-" + k0sVersion + "-arm64\n", " " + url + "/sha256sums.txt\n",
			"k0s version\n",
			"k0s install controller --single -c /etc/k0s/k0s.yaml --profile fleetgen-controller --labels fleetgen.dev/region=north-sea,topology.kubernetes.io/region=north-sea,fleetgen.dev/cluster=ns-rig-0002 --disable-components update-prober,metrics-server\n",
			"systemctl start k0scontroller\n",
			"systemctl enable --now fleetgen-handover.timer",
		} {
			if !strings.Contains(log, want) {
				t.Errorf("stand-ins did not record %q:\n%s", want, log)
			}
		}
		if strings.Index(log, "k0s version") > strings.Index(log, "k0s install") {
			t.Errorf("installed before the version check:\n%s", log)
		}
		for _, f := range []string{"flux-instance.yaml", "sops-age.yaml", "flux-git-secret.yaml"} {
			if !n.exists(filepath.Join(k0sStack, f)) {
				t.Errorf("%s not in the first-boot stack", f)
			}
		}
		if got := n.read(filepath.Join(k0sStack, "flux-instance.yaml")); !strings.Contains(got, "clusters/north-sea/ns-rig-0002") || strings.Contains(got, "CLUSTER_NAME") {
			t.Errorf("flux-instance.yaml does not name the cluster:\n%s", got)
		}
		for _, f := range []string{"usr/local/bin/k0s", "etc/k0s/k0s.yaml", "etc/k0s/psa.yaml", "etc/k0s/audit.yaml", "etc/sysctl.d/90-kubelet.conf",
			"etc/k0s/containerd.d/cri-registry.toml", "etc/k0s/containerd.d/certs.d/docker.io/hosts.toml", "var/log/k0s-audit",
			"usr/local/lib/fleetgen/handover.sh", "etc/systemd/system/fleetgen-handover.timer"} {
			if !n.exists(f) {
				t.Errorf("%s is not installed", f)
			}
		}
		enc := n.read("etc/k0s/encryption.yaml")
		if !strings.Contains(enc, "kind: EncryptionConfiguration") || !strings.Contains(enc, "aescbc") {
			t.Errorf("encryption.yaml:\n%s", enc)
		}
		if fi, err := os.Stat(filepath.Join(n.root, "etc/k0s/encryption.yaml")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("encryption.yaml mode: %v %v", fi.Mode(), err)
		}
		// A rerun keeps the cluster's key (Secrets written with it stay readable).
		out, code = n.run("provision.sh", true, append(offshoreEnv(n), rel), "ns-rig-0002")
		if code != 0 {
			t.Fatalf("rerun: exit %d\n%s", code, out)
		}
		if n.read("etc/k0s/encryption.yaml") != enc {
			t.Error("a rerun replaced the encryption key")
		}
		if l := n.logged(); !strings.Contains(l, "k0s install controller --force --single") || !strings.Contains(l, "systemctl restart k0scontroller") {
			t.Errorf("rerun did not reinstall and restart:\n%s", l)
		}
	})
}

// A download that fails, a binary whose checksum is not the release's, or
// that reports another version: the script stops with the node untouched.
func TestK0sProvisionRefusesBadDownloads(t *testing.T) {
	eachShell(t, func(t *testing.T, sh string) {
		for _, c := range []struct{ name, env, want string }{
			{"failed download", "CURL_FAIL=1", "failed (curl exit"},
			{"checksum mismatch", "SUMS_WRONG=1", "does not match the checksum of k0s-" + k0sVersion + "-arm64"},
			{"other version", "STANDIN_K0S_VERSION=v1.36.2+k0s.0", "reports version v1.36.2+k0s.0, not " + k0sVersion},
		} {
			t.Run(c.name, func(t *testing.T) {
				n, rel := newK0sNode(t, sh, "north-sea")
				out, code := n.run("provision.sh", false, append(offshoreEnv(n), rel, c.env), "ns-rig-0002")
				if code == 0 || !strings.Contains(out, c.want) || !strings.Contains(out, "nothing was changed") {
					t.Errorf("exit %d, want %q:\n%s", code, c.want, out)
				}
				if f := n.files(); len(f) > 0 {
					t.Errorf("refused, yet wrote %v", f)
				}
				if strings.Contains(n.logged(), "install ") {
					t.Errorf("refused, yet installed:\n%s", n.logged())
				}
			})
		}
	})
}

// Air-gapped: without the release's files nothing is written; with them
// (checked against sha256sums.txt) the binary, the image bundle and the
// Flux Operator chart go where k0s takes them, and nothing is downloaded.
func TestK0sProvisionAirGapped(t *testing.T) {
	eachShell(t, func(t *testing.T, sh string) {
		n, rel := newK0sNode(t, sh, "barents-sea")
		env := []string{rel, "FLEETGEN_GIT_SECRET_FILE=" + n.secretFile("git.yaml", gitSecret("flux-system")),
			"FLEETGEN_AGE_KEY_FILE=" + n.secretFile("k", testAgeSecret+"\n")}
		out, code := n.run("provision.sh", false, env, "bs-rig-0001")
		if code == 0 || !strings.Contains(out, "airgap/k0s is missing") {
			t.Fatalf("exit %d\n%s", code, out)
		}
		if f := n.files(); len(f) > 0 {
			t.Errorf("refused, yet wrote %v", f)
		}
		bundle := "k0s-airgap-bundle-" + k0sVersion + "-linux-arm64.tar"
		bin, err := os.ReadFile(filepath.Join(strings.TrimPrefix(rel, "STANDIN_RELEASE="), "k0s"))
		if err != nil {
			t.Fatal(err)
		}
		sum := func(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }
		writeScript(t, filepath.Join(n.dir, "airgap", "k0s"), string(bin))
		writeFile(t, filepath.Join(n.dir, "airgap", bundle), "images\n")
		writeFile(t, filepath.Join(n.dir, "airgap", "flux-operator-0.58.1.tgz"), "chart\n")
		writeFile(t, filepath.Join(n.dir, "airgap", "sha256sums.txt"), sum(bin)+" *k0s-"+k0sVersion+"-arm64\n"+sum([]byte("tampered\n"))+" *"+bundle+"\n")
		out, code = n.run("provision.sh", false, env, "bs-rig-0001")
		if code == 0 || !strings.Contains(out, bundle+" does not match its checksum") {
			t.Fatalf("tampered bundle: exit %d\n%s", code, out)
		}
		writeFile(t, filepath.Join(n.dir, "airgap", "sha256sums.txt"), sum(bin)+" *k0s-"+k0sVersion+"-arm64\n"+sum([]byte("images\n"))+" *"+bundle+"\n")
		out, code = n.run("provision.sh", false, env, "bs-rig-0001")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		for _, f := range []string{"usr/local/bin/k0s", "var/lib/k0s/images/" + bundle, "var/lib/k0s/charts/flux-operator-0.58.1.tgz", "etc/k0s/containerd.d/certs.d/ghcr.io/hosts.toml"} {
			if !n.exists(f) {
				t.Errorf("%s is not installed", f)
			}
		}
		if l := n.logged(); strings.Contains(l, "curl") || !strings.Contains(l, "k0s install controller --single") {
			t.Errorf("air-gapped: %s", l)
		}
		if k := n.read("etc/k0s/k0s.yaml"); !strings.Contains(k, "chartname: /var/lib/k0s/charts/flux-operator-0.58.1.tgz") || !strings.Contains(k, "default_pull_policy: Never") {
			t.Errorf("k0s.yaml:\n%s", k)
		}
	})
}

// Joining nodes: a worker joins with its token and the worker profile and
// writes no first-boot file; a second controller of an etcd cluster needs
// the first one's encryption key; a single-node region takes no join.
func TestK0sProvisionJoiningNodes(t *testing.T) {
	eachShell(t, func(t *testing.T, sh string) {
		n, rel := newK0sNode(t, sh, "campos-basin")
		writeFile(t, filepath.Join(filepath.Dir(n.dir), "token"), "H4sIAAAA\n")
		out, code := n.run("provision.sh", false, []string{rel}, "p-51", "--token-file", "token", "--worker")
		if code != 0 {
			t.Fatalf("worker: exit %d\n%s", code, out)
		}
		tok := filepath.Join(filepath.Dir(n.dir), "token")
		if l := n.logged(); !strings.Contains(l, "k0s install worker --token-file "+tok+" --profile fleetgen-worker --labels fleetgen.dev/region=campos-basin,topology.kubernetes.io/region=campos-basin,acme-energy.example/operator=petrobras-jv,fleetgen.dev/cluster=p-51\n") || !strings.Contains(l, "systemctl start k0sworker") {
			t.Errorf("worker install:\n%s", l)
		}
		if n.exists(k0sStack) || n.exists("etc/k0s/k0s.yaml") || n.exists("etc/k0s/encryption.yaml") {
			t.Errorf("a worker wrote controller files: %v", n.files())
		}

		m, rel := newK0sNode(t, sh, "campos-basin")
		writeFile(t, filepath.Join(filepath.Dir(m.dir), "token"), "H4sIAAAA\n")
		out, code = m.run("provision.sh", false, []string{rel}, "p-51", "--token-file", "token")
		if code == 0 || !strings.Contains(out, "needs --encryption-config") || len(m.files()) > 0 {
			t.Errorf("controller without the key: exit %d\n%s", code, out)
		}
		enc := m.secretFile("encryption.yaml", "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n")
		out, code = m.run("provision.sh", false, []string{rel}, "p-51", "--token-file", "token", "--encryption-config", enc)
		if code != 0 {
			t.Fatalf("joining controller: exit %d\n%s", code, out)
		}
		if l := m.logged(); !strings.Contains(l, "k0s install controller --enable-worker --no-taints --token-file ") {
			t.Errorf("joining controller:\n%s", l)
		}
		if m.read("etc/k0s/encryption.yaml") != readFile(t, enc) || m.exists(k0sStack) {
			t.Error("joining controller: not the first controller's key, or a first-boot stack")
		}

		s, rel := newK0sNode(t, sh, "north-sea")
		writeFile(t, filepath.Join(filepath.Dir(s.dir), "token"), "H4sIAAAA\n")
		out, code = s.run("provision.sh", false, []string{rel}, "ns-rig-0001", "--token-file", "token", "--worker")
		if code == 0 || !strings.Contains(out, "have one node") {
			t.Errorf("join on a single-node region: exit %d\n%s", code, out)
		}
	})
}

// The handover: while flux-system is not Ready the stack stays (and is
// touched when the FluxInstance is not applied yet); once Ready, the
// stack's objects lose the k0s stack label first, and the stack goes only
// when nothing carries the label any more (else k0s would delete them).
func TestK0sHandover(t *testing.T) {
	eachShell(t, func(t *testing.T, sh string) {
		n, rel := newK0sNode(t, sh, "north-sea")
		if out, code := n.run("provision.sh", false, append(offshoreEnv(n), rel), "ns-rig-0002"); code != 0 {
			t.Fatalf("provision: exit %d\n%s", code, out)
		}
		handover := filepath.Join(n.root, "usr/local/lib/fleetgen/handover.sh")
		out, code := n.run(handover, true, []string{"STANDIN_READY=False"})
		if code != 0 || !strings.Contains(out, "not Ready yet") || !n.exists(filepath.Join(k0sStack, "flux-instance.yaml")) {
			t.Fatalf("not ready: exit %d\n%s", code, out)
		}
		if !strings.Contains(n.logged(), "k0s kubectl -n flux-system get fluxinstances.fluxcd.controlplane.io flux") {
			t.Errorf("did not look for the FluxInstance:\n%s", n.logged())
		}
		ready := []string{"STANDIN_READY=True", "STANDIN_REVISION=main@sha1:abc123", "STANDIN_FI=1"}
		out, code = n.run(handover, true, append(ready, "STANDIN_LEFT=secret/flux-system"))
		if code == 0 || !strings.Contains(out, "k0s would delete them") || !n.exists(filepath.Join(k0sStack, "sops-age.yaml")) {
			t.Fatalf("objects still labelled: exit %d\n%s", code, out)
		}
		out, code = n.run(handover, true, ready)
		if code != 0 || !strings.Contains(out, "stack fleetgen-first-boot removed") {
			t.Fatalf("ready: exit %d\n%s", code, out)
		}
		log := n.logged()
		label := "k0s kubectl -n flux-system label secrets,fluxinstances.fluxcd.controlplane.io -l k0s.k0sproject.io/stack=fleetgen-first-boot k0s.k0sproject.io/stack-"
		if !strings.Contains(log, label) || strings.LastIndex(log, label) > strings.LastIndex(log, "-A -l k0s.k0sproject.io/stack=fleetgen-first-boot") {
			t.Errorf("the label was not removed before the check:\n%s", log)
		}
		if n.exists(k0sStack) || strings.TrimSpace(n.read("var/lib/k0s/fleetgen-handover.done")) != "main@sha1:abc123" {
			t.Errorf("stack left, or no record: %v", n.files())
		}
		if !strings.Contains(log, "systemctl disable --now fleetgen-handover.timer") {
			t.Errorf("timer not disabled:\n%s", log)
		}
		// A rerun of provision.sh after the handover writes no first-boot file.
		if out, code := n.run("provision.sh", true, append(offshoreEnv(n), rel), "ns-rig-0002"); code != 0 || !strings.Contains(out, "took this cluster over") || n.exists(k0sStack) {
			t.Errorf("rerun after the handover: exit %d\n%s", code, out)
		}
	})
}
