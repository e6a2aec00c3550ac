package main

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The generated provision.sh and handover.sh, run as a node would under
// both dash and bash: from a copy of their own bootstrap folder only, into a
// scratch root (PROVISION_ROOT), with PROVISION_INSTALL=1 so that the
// installation steps run too, against recording stand-ins on PATH for curl,
// the K3s installer, systemctl, journalctl, k3s and age-keygen. Each
// stand-in appends its name, arguments and the environment it was given to a
// log the tests read.

const (
	northSeaKey   = "age1mhstk0u96aaw3fd60rrv7wzq089uh25386ku2sftnrn59mxq6axspwaehc"
	offshoreFleet = "age1g0u3dhrdl4gaf399x4fw24jq008he0ng2msgsw592xymwr7zz4vqleyfqy"
	testAgeSecret = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ5C5Y3L"
)

// The recording stand-ins. k3s and age-keygen are in folders of their own,
// on PATH only where K3s counts as installed already, or where the test
// gives age-keygen a public key to print.
const standInCurl = `#!/bin/sh
echo "curl $*" >> "$STANDIN_LOG"
[ -z "${CURL_FAIL:-}" ] || exit 22
out=""
while [ $# -gt 0 ]; do
  case "$1" in -o) out="$2"; shift 2 ;; *) shift ;; esac
done
cat > "$out" <<'EOF'
#!/bin/sh
echo "installer INSTALL_K3S_VERSION=${INSTALL_K3S_VERSION:-} INSTALL_K3S_EXEC=${INSTALL_K3S_EXEC:-} INSTALL_K3S_SKIP_DOWNLOAD=${INSTALL_K3S_SKIP_DOWNLOAD:-} config=$(cat "$PROVISION_ROOT/etc/rancher/k3s/config.yaml" >/dev/null 2>&1 && echo present || echo missing)" >> "$STANDIN_LOG"
EOF
`

const standInAirgapInstaller = `#!/bin/sh
echo "airgap-install INSTALL_K3S_VERSION=${INSTALL_K3S_VERSION:-} INSTALL_K3S_EXEC=${INSTALL_K3S_EXEC:-} INSTALL_K3S_SKIP_DOWNLOAD=${INSTALL_K3S_SKIP_DOWNLOAD:-} config=$(cat "$PROVISION_ROOT/etc/rancher/k3s/config.yaml" >/dev/null 2>&1 && echo present || echo missing) binary=$(test -x "$PROVISION_ROOT/usr/local/bin/k3s" && echo present || echo missing)" >> "$STANDIN_LOG"
`

const standInSystemctl = `#!/bin/sh
echo "systemctl $*" >> "$STANDIN_LOG"
if [ -n "${SYSTEMCTL_FAIL:-}" ] && [ "$1" = "$SYSTEMCTL_FAIL" ]; then
  echo "Job for $2.service failed because the control process exited with error code." >&2
  exit 1
fi
`

const standInJournalctl = `#!/bin/sh
echo "journalctl $*" >> "$STANDIN_LOG"
echo "k3s[42]: level=fatal msg=\"flag provided but not defined: -bogus\""
`

const standInK3s = `#!/bin/sh
echo "k3s $*" >> "$STANDIN_LOG"
case "$*" in
  *lastAppliedRevision*) printf '%s' "${STANDIN_REVISION:-}" ;;
  *Ready*) printf '%s' "${STANDIN_READY:-}" ;;
esac
`

const standInAgeKeygen = `#!/bin/sh
echo "age-keygen $*" >> "$STANDIN_LOG"
echo "$STANDIN_AGE_PUB"
`

type node struct {
	t      *testing.T
	shell  string
	dir    string // the copy of the bootstrap folder
	root   string // PROVISION_ROOT
	log    string
	bin    string // stand-ins
	k3sBin string // the k3s stand-in, on PATH when installed
}

var (
	provisionRepos   = map[string]string{}
	provisionReposMu sync.Mutex
)

// provisionRepo generates an example once per test binary.
func provisionRepo(t *testing.T, example string) string {
	t.Helper()
	provisionReposMu.Lock()
	defer provisionReposMu.Unlock()
	if r, ok := provisionRepos[example]; ok {
		return r
	}
	dir, err := os.MkdirTemp("", "fleetgen-provision-")
	if err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(dir, example)
	specFile := filepath.Join("../../examples", example, "fleet.yaml")
	if _, err := os.Stat(specFile); err != nil {
		specFile = filepath.Join("../../generator/testdata/cases", example, "fleet.yaml") // a golden case
	}
	mustFleetgen(t, append([]string{"generate", "--spec", specFile, "--out", repo, "-q"}, testAuthor...)...)
	provisionRepos[example] = repo
	return repo
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, r := range provisionRepos {
		os.RemoveAll(filepath.Dir(r))
	}
	os.Exit(code)
}

func shells(t *testing.T) []string {
	var out []string
	for _, sh := range []string{"dash", "bash"} {
		if p, err := exec.LookPath(sh); err == nil {
			out = append(out, p)
		}
	}
	if len(out) < 2 {
		t.Logf("shells found: %v (want dash and bash: apt-get install dash)", out)
	}
	if len(out) == 0 {
		t.Skip("neither dash nor bash")
	}
	return out
}

// newNode copies bootstrap/<region> of an example (and nothing else of the
// repository) and prepares an empty scratch root and the stand-ins.
func newNode(t *testing.T, shell, example, region string) *node {
	t.Helper()
	repo := provisionRepo(t, example)
	base := t.TempDir()
	n := &node{t: t, shell: shell, dir: filepath.Join(base, "copy", region), root: filepath.Join(base, "root"),
		log: filepath.Join(base, "log"), bin: filepath.Join(base, "bin"), k3sBin: filepath.Join(base, "k3sbin")}
	if err := os.MkdirAll(filepath.Join(base, "copy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-r", filepath.Join(repo, "bootstrap", region), filepath.Join(base, "copy")+"/").CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	for name, body := range map[string]string{"curl": standInCurl, "systemctl": standInSystemctl, "journalctl": standInJournalctl} {
		writeScript(t, filepath.Join(n.bin, name), body)
	}
	writeScript(t, filepath.Join(n.k3sBin, "k3s"), standInK3s)
	writeScript(t, filepath.Join(base, "agebin", "age-keygen"), standInAgeKeygen)
	writeFile(t, n.log, "")
	return n
}

func writeScript(t *testing.T, p, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// run runs a script of the copied folder (or an absolute path) and returns
// its output and exit code.
func (n *node) run(script string, installed bool, env []string, args ...string) (string, int) {
	n.t.Helper()
	if !filepath.IsAbs(script) {
		script = filepath.Join(n.dir, script)
	}
	path := n.bin + ":/usr/bin:/bin"
	if installed {
		path = n.k3sBin + ":" + path
	}
	for _, e := range env {
		if strings.HasPrefix(e, "STANDIN_AGE_PUB=") { // age-keygen is installed on this node
			path = filepath.Join(filepath.Dir(n.bin), "agebin") + ":" + path
		}
	}
	cmd := exec.Command(n.shell, append([]string{script}, args...)...)
	cmd.Dir = filepath.Dir(n.dir)
	cmd.Env = append([]string{"PATH=" + path, "HOME=" + n.dir, "PROVISION_ROOT=" + n.root, "PROVISION_INSTALL=1", "STANDIN_LOG=" + n.log}, env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		n.t.Fatal(err)
	}
	return string(out), code
}

func (n *node) logged() string { return readFile(n.t, n.log) }

// files lists every file under the scratch root, relative to it.
func (n *node) files() []string {
	var out []string
	_ = filepath.Walk(n.root, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(n.root, p)
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func (n *node) read(rel string) string { return readFile(n.t, filepath.Join(n.root, rel)) }

func (n *node) exists(rel string) bool {
	_, err := os.Lstat(filepath.Join(n.root, rel))
	return err == nil
}

// secretFile writes a file outside the copied folder, as an operator would.
func (n *node) secretFile(name, content string) string {
	p := filepath.Join(filepath.Dir(filepath.Dir(n.dir)), "secrets", name)
	writeFile(n.t, p, content)
	return p
}

const manifestsDir = "var/lib/rancher/k3s/server/manifests"

func gitSecret(name string) string {
	return "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: " + name + "\n  namespace: flux-system\nstringData:\n  username: git\n  password: s3cr3t\n"
}

// offshoreEnv is what the first server of north-sea needs.
func offshoreEnv(n *node) []string {
	return []string{
		"FLEETGEN_AGE_KEY_FILE=" + n.secretFile("north-sea.agekey", testAgeSecret+"\n"),
		"FLEETGEN_GIT_SECRET_FILE=" + n.secretFile("git.yaml", gitSecret("flux-system")),
	}
}

func eachShell(t *testing.T, f func(t *testing.T, sh string)) {
	for _, sh := range shells(t) {
		t.Run(filepath.Base(sh), func(t *testing.T) { f(t, sh) })
	}
}

// Online install of a first server: the installer is downloaded to a file
// with curl, then run with the pinned version, after the configuration is
// written; the first-boot files and the handover timer are installed.
func TestProvisionOnlineFirstServer(t *testing.T) {
	eachShell(t, func(t *testing.T, sh string) {
		n := newNode(t, sh, "offshore-platforms", "north-sea")
		out, code := n.run("provision.sh", false, offshoreEnv(n), "ns-rig-0002")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		log := n.logged()
		for _, want := range []string{
			"curl -sfL --retry 3 -o ",
			" https://get.k3s.io\n",
			"installer INSTALL_K3S_VERSION=v1.37.1+k3s1 INSTALL_K3S_EXEC=server INSTALL_K3S_SKIP_DOWNLOAD= config=present",
			"systemctl enable --now fleetgen-handover.timer",
		} {
			if !strings.Contains(log, want) {
				t.Errorf("stand-ins did not record %q:\n%s", want, log)
			}
		}
		for _, f := range []string{"flux-operator.yaml", "flux-instance.yaml", "sops-age.yaml", "flux-git-secret.yaml"} {
			if !n.exists(filepath.Join(manifestsDir, f)) {
				t.Errorf("%s not in the auto-deploy folder", f)
			}
		}
		if got := n.read(filepath.Join(manifestsDir, "flux-instance.yaml")); !strings.Contains(got, "clusters/north-sea/ns-rig-0002") || strings.Contains(got, "CLUSTER_NAME") {
			t.Errorf("flux-instance.yaml does not name the cluster:\n%s", got)
		}
		if got := n.read(filepath.Join(manifestsDir, "sops-age.yaml")); !strings.Contains(got, "age.agekey: "+base64.StdEncoding.EncodeToString([]byte(testAgeSecret+"\n"))) {
			t.Errorf("sops-age.yaml:\n%s", got)
		}
		for _, f := range []string{"usr/local/lib/fleetgen/handover.sh", "etc/systemd/system/fleetgen-handover.service", "etc/systemd/system/fleetgen-handover.timer", "etc/systemd/system/timers.target.wants/fleetgen-handover.timer"} {
			if !n.exists(f) {
				t.Errorf("%s is not installed", f)
			}
		}
	})
}

// A failed download exits non-zero before anything is written, and the
// installer never runs.
func TestProvisionFailedDownload(t *testing.T) {
	eachShell(t, func(t *testing.T, sh string) {
		n := newNode(t, sh, "offshore-platforms", "north-sea")
		out, code := n.run("provision.sh", false, append(offshoreEnv(n), "CURL_FAIL=1"), "ns-rig-0002")
		if code == 0 || !strings.Contains(out, "https://get.k3s.io failed") {
			t.Errorf("failed download: exit %d\n%s", code, out)
		}
		if strings.Contains(n.logged(), "installer ") {
			t.Errorf("the installer ran after a failed download:\n%s", n.logged())
		}
		if f := n.files(); len(f) > 0 {
			t.Errorf("a failed download wrote %v", f)
		}
	})
}

// Any missing or wrong input stops the script before it writes anything:
// the scratch root stays empty.
func TestProvisionRefusesMissingInputs(t *testing.T) {
	eachShell(t, func(t *testing.T, sh string) {
		type tc struct {
			name, example, region string
			env                   func(n *node) []string
			prepare               func(n *node)
			args                  []string
			want                  string
		}
		none := func(*node) []string { return nil }
		cases := []tc{
			{name: "no age key", example: "offshore-platforms", region: "north-sea", args: []string{"ns-rig-0002"}, want: "FLEETGEN_AGE_KEY_FILE",
				env: func(n *node) []string { return offshoreEnv(n)[1:] }},
			{name: "no age key under sudo", example: "offshore-platforms", region: "north-sea", args: []string{"ns-rig-0002"}, want: "sudo FLEETGEN_AGE_KEY_FILE=",
				env: func(n *node) []string { return append(offshoreEnv(n)[1:], "SUDO_USER=alice") }},
			{name: "unreadable age key", example: "offshore-platforms", region: "north-sea", args: []string{"ns-rig-0002"}, want: "cannot be read",
				env: func(n *node) []string { return append(offshoreEnv(n)[1:], "FLEETGEN_AGE_KEY_FILE=/nonexistent/key") }},
			{name: "fleet-wide age key", example: "offshore-platforms", region: "north-sea", args: []string{"ns-rig-0002"}, want: "fleet-wide key",
				env: func(n *node) []string { return append(offshoreEnv(n), "STANDIN_AGE_PUB="+offshoreFleet) }},
			{name: "another region's age key", example: "offshore-platforms", region: "north-sea", args: []string{"ns-rig-0002"}, want: "is not region north-sea's key",
				env: func(n *node) []string {
					return append(offshoreEnv(n), "STANDIN_AGE_PUB=age1eclj72rguzna6qv0sevasltdr0tyh0fcjrhyn3n3cc0hzjnvsqkqvcq6rl")
				}},
			{name: "no git secret (spec.git.secretName)", example: "truck-fleet", region: "eu-west", args: []string{"truck-0001"}, want: "FLEETGEN_GIT_SECRET_FILE",
				env: func(n *node) []string {
					return []string{"FLEETGEN_AGE_KEY_FILE=" + n.secretFile("k", testAgeSecret+"\n")}
				}},
			{name: "git secret of another name", example: "truck-fleet", region: "eu-west", args: []string{"truck-0001"}, want: "not a Secret named fleet-git-token",
				env: func(n *node) []string {
					return []string{"FLEETGEN_AGE_KEY_FILE=" + n.secretFile("k", testAgeSecret+"\n"), "FLEETGEN_GIT_SECRET_FILE=" + n.secretFile("g", gitSecret("flux-system"))}
				}},
			{name: "no signing keys", example: "smart-factory", region: "plant-monterrey", args: []string{"line-mty-01"}, want: "FLEETGEN_SIGNING_KEYS_FILE",
				env: func(n *node) []string {
					return []string{"FLEETGEN_AGE_KEY_FILE=" + n.secretFile("k", testAgeSecret+"\n"), "FLEETGEN_GIT_SECRET_FILE=" + n.secretFile("g", gitSecret("flux-system"))}
				}},
			{name: "join token file missing", example: "smart-factory", region: "plant-monterrey", env: none,
				args: []string{"line-mty-01", "--join", "https://10.0.0.1:6443", "--token-file", "/nonexistent/token"}, want: "--token-file /nonexistent/token"},
			{name: "bootstrap layout without flux-components.yaml", example: "farm-lab", region: "valle-central", env: none, args: []string{"granja-0001"},
				want: "flux install --export"},
			{name: "air-gapped without the K3s files", example: "farm-lab", region: "valle-norte", args: []string{"granja-norte-0001"}, want: "airgap/k3s is missing",
				env: func(n *node) []string {
					return []string{"FLEETGEN_GIT_SECRET_FILE=" + n.secretFile("g", gitSecret("flux-system"))}
				},
				prepare: func(n *node) {
					writeFile(t, filepath.Join(n.dir, "manifests/flux-components.yaml"), "# flux install --export\n")
				}},
			{name: "incomplete copy of the folder", example: "offshore-platforms", region: "north-sea", args: []string{"ns-rig-0002"}, want: "handover.sh is missing",
				env: offshoreEnv, prepare: func(n *node) { os.Remove(filepath.Join(n.dir, "handover.sh")) }},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				n := newNode(t, sh, c.example, c.region)
				if c.prepare != nil {
					c.prepare(n)
				}
				out, code := n.run("provision.sh", false, c.env(n), c.args...)
				if code == 0 || !strings.Contains(out, c.want) {
					t.Errorf("exit %d, want an error naming %q:\n%s", code, c.want, out)
				}
				if f := n.files(); len(f) > 0 {
					t.Errorf("refused, yet wrote %v", f)
				}
				if l := n.logged(); strings.Contains(l, "curl") || strings.Contains(l, "install") {
					t.Errorf("refused, yet downloaded or installed:\n%s", l)
				}
			})
		}
		t.Run("data-dir drop-in", func(t *testing.T) {
			n := newNode(t, sh, "offshore-platforms", "north-sea")
			writeFile(t, filepath.Join(n.root, "etc/rancher/k3s/config.yaml.d/05-data-dir.yaml"), "data-dir: /mnt/ssd/k3s\n")
			out, code := n.run("provision.sh", false, offshoreEnv(n), "ns-rig-0002")
			if code == 0 || !strings.Contains(out, "data-dir") {
				t.Errorf("exit %d\n%s", code, out)
			}
			if f := n.files(); len(f) != 1 {
				t.Errorf("refused, yet wrote %v", f)
			}
		})
	})
}

// Joining servers and agents write no Secret and no first-boot file, even
// with FLEETGEN_* set (the signing-key Secret was written empty before); a
// relative --token-file is made absolute; the installer gets the role.
func TestProvisionJoiningNodes(t *testing.T) {
	eachShell(t, func(t *testing.T, sh string) {
		for _, role := range []string{"server", "agent"} {
			t.Run(role, func(t *testing.T) {
				n := newNode(t, sh, "smart-factory", "plant-monterrey")
				writeFile(t, filepath.Join(filepath.Dir(n.dir), "k3s-token"), "K10abc::server:def\n")
				args := []string{"line-mty-02", "--join", "https://10.0.0.1:6443", "--token-file", "k3s-token"}
				if role == "agent" {
					args = append(args, "--agent")
				}
				env := []string{"FLEETGEN_SIGNING_KEYS_FILE=/nonexistent/keys.asc", "FLEETGEN_AGE_KEY_FILE=/nonexistent/age.key"}
				out, code := n.run("provision.sh", false, env, args...)
				if code != 0 {
					t.Fatalf("exit %d\n%s", code, out)
				}
				for _, f := range n.files() {
					if strings.HasPrefix(f, manifestsDir) {
						t.Errorf("a joining %s wrote %s: %s", role, f, n.read(f))
					}
					if strings.Contains(f, "fleetgen-handover") {
						t.Errorf("a joining %s installed %s", role, f)
					}
				}
				join := n.read("etc/rancher/k3s/config.yaml.d/20-join.yaml")
				wantToken := "token-file: " + filepath.Join(filepath.Dir(n.dir), "k3s-token") + "\n"
				if !strings.Contains(join, "server: https://10.0.0.1:6443\n") || !strings.Contains(join, wantToken) {
					t.Errorf("20-join.yaml:\n%s\nwant %q", join, wantToken)
				}
				if (role == "server") != strings.Contains(join, "cluster-init: false") {
					t.Errorf("%s: 20-join.yaml:\n%s", role, join)
				}
				cfg := "config.yaml"
				if role == "agent" {
					cfg = "agent-config.yaml"
				}
				if n.read("etc/rancher/k3s/config.yaml") != readFile(t, filepath.Join(n.dir, cfg)) {
					t.Errorf("%s: config.yaml is not %s", role, cfg)
				}
				if !strings.Contains(n.logged(), "installer INSTALL_K3S_VERSION=v1.37.1+k3s1 INSTALL_K3S_EXEC="+role+" ") {
					t.Errorf("installer not run as %s:\n%s", role, n.logged())
				}
			})
		}
	})
}

// Reruns: the role's unit is restarted (not the installer), its real error
// is shown when the restart fails, and a rerun without --join removes the
// stale join drop-in.
func TestProvisionRerun(t *testing.T) {
	eachShell(t, func(t *testing.T, sh string) {
		n := newNode(t, sh, "smart-factory", "plant-monterrey")
		writeFile(t, filepath.Join(filepath.Dir(n.dir), "k3s-token"), "K10abc::server:def\n")
		join := []string{"line-mty-02", "--join", "https://10.0.0.1:6443", "--token-file", "k3s-token"}
		if out, code := n.run("provision.sh", false, nil, append(join, "--agent")...); code != 0 {
			t.Fatalf("first run: exit %d\n%s", code, out)
		}
		writeFile(t, n.log, "")
		out, code := n.run("provision.sh", true, []string{"SYSTEMCTL_FAIL=restart"}, append(join, "--agent")...)
		if code == 0 || !strings.Contains(out, "systemctl restart k3s-agent failed") || !strings.Contains(out, "flag provided but not defined") {
			t.Errorf("failed restart: exit %d\n%s", code, out)
		}
		log := n.logged()
		if !strings.Contains(log, "systemctl restart k3s-agent\n") || strings.Contains(log, "systemctl restart k3s\n") || strings.Contains(log, "installer") {
			t.Errorf("rerun of an agent:\n%s", log)
		}

		// The node becomes the first server of its cluster: no join drop-in left.
		writeFile(t, n.log, "")
		env := []string{
			"FLEETGEN_AGE_KEY_FILE=" + n.secretFile("k", testAgeSecret+"\n"),
			"FLEETGEN_GIT_SECRET_FILE=" + n.secretFile("g", gitSecret("flux-system")),
			"FLEETGEN_SIGNING_KEYS_FILE=" + n.secretFile("keys.asc", "-----BEGIN PGP PUBLIC KEY BLOCK-----\nmQINBF...\n-----END PGP PUBLIC KEY BLOCK-----\n"),
		}
		out, code = n.run("provision.sh", true, env, "line-mty-02")
		if code != 0 {
			t.Fatalf("rerun as first server: exit %d\n%s", code, out)
		}
		if n.exists("etc/rancher/k3s/config.yaml.d/20-join.yaml") {
			t.Error("a rerun without --join left 20-join.yaml")
		}
		if log := n.logged(); !strings.Contains(log, "systemctl restart k3s\n") {
			t.Errorf("rerun of a server:\n%s", log)
		}
		keys := n.read(filepath.Join(manifestsDir, "flux-signing-keys.yaml"))
		if !strings.Contains(keys, "fleet.asc: "+base64.StdEncoding.EncodeToString([]byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\nmQINBF...\n-----END PGP PUBLIC KEY BLOCK-----\n"))) {
			t.Errorf("flux-signing-keys.yaml:\n%s", keys)
		}
	})
}

// Air-gapped: the configuration first, then the binary and images where
// docs.k3s.io's airgap install puts them, then the local install.sh with
// INSTALL_K3S_SKIP_DOWNLOAD=true and the role; nothing is downloaded. The
// classic bootstrap layout works from the bootstrap folder alone.
func TestProvisionAirGapped(t *testing.T) {
	repo := provisionRepo(t, "farm-lab")
	eachShell(t, func(t *testing.T, sh string) {
		for _, role := range []string{"server", "agent"} {
			t.Run(role, func(t *testing.T) {
				n := newNode(t, sh, "farm-lab", "valle-norte")
				writeFile(t, filepath.Join(n.dir, "manifests/flux-components.yaml"), "# flux install --export\napiVersion: v1\nkind: Namespace\nmetadata: {name: flux-system}\n")
				writeScript(t, filepath.Join(n.dir, "airgap/install.sh"), standInAirgapInstaller)
				writeScript(t, filepath.Join(n.dir, "airgap/k3s"), "#!/bin/sh\n")
				writeFile(t, filepath.Join(n.dir, "airgap/k3s-airgap-images-arm64.tar.zst"), "images")
				args := []string{"granja-norte-0002"}
				if role == "agent" {
					writeFile(t, filepath.Join(filepath.Dir(n.dir), "tok"), "K10x\n")
					args = append(args, "--join", "https://192.168.50.2:6443", "--token-file", "tok", "--agent")
				}
				var env []string
				if role == "server" { // farm-lab's repository is private (spec.git.secretName)
					env = []string{"FLEETGEN_GIT_SECRET_FILE=" + n.secretFile("g", gitSecret("flux-system"))}
				}
				out, code := n.run("provision.sh", false, env, args...)
				if code != 0 {
					t.Fatalf("exit %d\n%s", code, out)
				}
				log := n.logged()
				want := "airgap-install INSTALL_K3S_VERSION=v1.37.1+k3s1 INSTALL_K3S_EXEC=" + role + " INSTALL_K3S_SKIP_DOWNLOAD=true config=present binary=present"
				if !strings.Contains(log, want) || strings.Contains(log, "curl") {
					t.Errorf("want %q and no curl:\n%s", want, log)
				}
				for _, f := range []string{"usr/local/bin/k3s", "var/lib/rancher/k3s/agent/images/k3s-airgap-images-arm64.tar.zst"} {
					if !n.exists(f) {
						t.Errorf("%s not placed", f)
					}
				}
				if role == "agent" {
					return
				}
				got := uncommented(n.read(filepath.Join(manifestsDir, "flux-sync.yaml")))
				if want := uncommented(readFile(t, filepath.Join(repo, "clusters/valle-norte/granja-norte-0002/flux-system/gotk-sync.yaml"))); got != want {
					t.Errorf("first-boot flux-sync.yaml differs from the cluster's gotk-sync.yaml in git:\n%s\nwant:\n%s", got, want)
				}
				if !n.exists(filepath.Join(manifestsDir, "flux-components.yaml")) {
					t.Error("flux-components.yaml not installed")
				}
			})
		}
	})
}

// The inventory's label: columns reach the node's identity drop-in.
func TestProvisionWritesInventoryNodeLabels(t *testing.T) {
	eachShell(t, func(t *testing.T, sh string) {
		n := newNode(t, sh, "truck-fleet", "eu-west")
		env := []string{"FLEETGEN_AGE_KEY_FILE=" + n.secretFile("k", testAgeSecret+"\n"), "FLEETGEN_GIT_SECRET_FILE=" + n.secretFile("g", gitSecret("fleet-git-token"))}
		if out, code := n.run("provision.sh", false, env, "truck-0003"); code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		id := n.read("etc/rancher/k3s/config.yaml.d/10-identity.yaml")
		if id != "node-label+:\n  - fleetgen.dev/cluster=truck-0003\n  - fleet.example.com/depot=lyon\n" {
			t.Errorf("10-identity.yaml:\n%s", id)
		}
	})
}

// The handover: nothing happens until flux-system is Ready with a revision;
// then the first-boot files and their Secrets leave the auto-deploy folder,
// a .skip stands for each, the timer is disabled, and a rerun of
// provision.sh does not bring them back.
func TestProvisionHandover(t *testing.T) {
	eachShell(t, func(t *testing.T, sh string) {
		n := newNode(t, sh, "offshore-platforms", "north-sea")
		if out, code := n.run("provision.sh", false, offshoreEnv(n), "ns-rig-0002"); code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		handover := filepath.Join(n.root, "usr/local/lib/fleetgen/handover.sh")
		firstBoot := []string{"flux-instance.yaml", "sops-age.yaml", "flux-git-secret.yaml"}
		out, code := n.run(handover, true, []string{"STANDIN_READY=False"})
		if code != 0 || !strings.Contains(out, "not Ready") {
			t.Errorf("not ready: exit %d\n%s", code, out)
		}
		for _, f := range firstBoot {
			if !n.exists(filepath.Join(manifestsDir, f)) {
				t.Errorf("%s removed before Flux was Ready", f)
			}
		}
		out, code = n.run(handover, true, []string{"STANDIN_READY=True", "STANDIN_REVISION=main@sha1:0123abc"})
		if code != 0 {
			t.Fatalf("ready: exit %d\n%s", code, out)
		}
		for _, f := range firstBoot {
			if n.exists(filepath.Join(manifestsDir, f)) {
				t.Errorf("%s still in the auto-deploy folder after the handover", f)
			}
			if !n.exists(filepath.Join(manifestsDir, f+".skip")) {
				t.Errorf("no %s.skip", f)
			}
		}
		if !n.exists(filepath.Join(manifestsDir, "flux-operator.yaml")) {
			t.Error("flux-operator.yaml (not in git) was removed")
		}
		for _, f := range n.files() {
			if strings.Contains(n.read(f), base64.StdEncoding.EncodeToString([]byte(testAgeSecret+"\n"))) {
				t.Errorf("%s still holds the age key after the handover", f)
			}
		}
		if got := n.read("var/lib/rancher/k3s/server/fleetgen-handover.done"); got != "main@sha1:0123abc\n" {
			t.Errorf("handover record: %q", got)
		}
		if !strings.Contains(n.logged(), "systemctl disable --now fleetgen-handover.timer") {
			t.Errorf("timer not disabled:\n%s", n.logged())
		}
		// A rerun (no secrets given) writes no first-boot file again.
		out, code = n.run("provision.sh", true, nil, "ns-rig-0002")
		if code != 0 || !strings.Contains(out, "took this cluster over") {
			t.Fatalf("rerun after the handover: exit %d\n%s", code, out)
		}
		for _, f := range firstBoot {
			if n.exists(filepath.Join(manifestsDir, f)) {
				t.Errorf("a rerun after the handover wrote %s again", f)
			}
		}
	})
}

// Mirrors signed by a private CA: FLEETGEN_REGISTRY_CA_FILE is installed and
// named as every mirror's tls.ca_file; a file that is no certificate is
// refused before anything is written.
func TestProvisionRegistryCA(t *testing.T) {
	eachShell(t, func(t *testing.T, sh string) {
		n := newNode(t, sh, "offshore-platforms", "north-sea")
		bad := append(offshoreEnv(n), "FLEETGEN_REGISTRY_CA_FILE="+n.secretFile("ca.crt", "not a certificate\n"))
		if out, code := n.run("provision.sh", false, bad, "ns-rig-0002"); code == 0 || len(n.files()) > 0 {
			t.Errorf("a CA file that is no certificate: exit %d, wrote %v\n%s", code, n.files(), out)
		}
		pem := "-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n"
		env := append(offshoreEnv(n), "FLEETGEN_REGISTRY_CA_FILE="+n.secretFile("ca.crt", pem))
		if out, code := n.run("provision.sh", false, env, "ns-rig-0002"); code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		if n.read("etc/rancher/k3s/registry-ca.crt") != pem {
			t.Error("the CA is not installed")
		}
		reg := n.read("etc/rancher/k3s/registries.yaml")
		want := "configs:\n  \"registry.north-sea.acme-energy.example\":\n    tls:\n      ca_file: /etc/rancher/k3s/registry-ca.crt\n"
		if !strings.HasSuffix(reg, want) || !strings.Contains(reg, "mirrors:") {
			t.Errorf("registries.yaml:\n%s", reg)
		}
	})
}

// With spec.rings, the first-boot sync follows the cluster's ring (from
// rings.txt, explicit lists included); a cluster the region's rings.txt
// does not know is refused before anything is written.
func TestProvisionWritesTheRing(t *testing.T) {
	eachShell(t, func(t *testing.T, sh string) {
		n := newNode(t, sh, "farm-lab-rings", "valle-norte")
		writeFile(t, filepath.Join(n.dir, "manifests/flux-components.yaml"), "# flux install --export\napiVersion: v1\nkind: Namespace\nmetadata: {name: flux-system}\n")
		writeScript(t, filepath.Join(n.dir, "airgap/install.sh"), standInAirgapInstaller)
		writeScript(t, filepath.Join(n.dir, "airgap/k3s"), "#!/bin/sh\n")
		writeFile(t, filepath.Join(n.dir, "airgap/k3s-airgap-images-arm64.tar.zst"), "images")
		env := []string{"FLEETGEN_GIT_SECRET_FILE=" + n.secretFile("git.yaml", gitSecret("flux-system"))}
		out, code := n.run("provision.sh", false, env, "granja-norte-0001")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		got := n.read(filepath.Join(manifestsDir, "flux-sync.yaml"))
		if !strings.Contains(got, "branch: fleet/ring/canary\n") || strings.Contains(got, "CLUSTER_RING") || !strings.Contains(got, "clusters/valle-norte/granja-norte-0001") {
			t.Errorf("flux-sync.yaml of a canary:\n%s", got)
		}
		m := newNode(t, sh, "farm-lab-rings", "valle-norte")
		out, code = m.run("provision.sh", false, env, "granja-norte-0099")
		if code == 0 || !strings.Contains(out, "granja-norte-0099 is not in") {
			t.Errorf("an unknown cluster: exit %d\n%s", code, out)
		}
		if m.exists("etc/rancher/k3s/config.yaml") {
			t.Error("provision.sh wrote the K3s configuration of an unknown cluster")
		}
	})
}
