package generator

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/fleetgen/fleetgen/examples"
	"github.com/fleetgen/fleetgen/generator/spec"
	"github.com/fleetgen/fleetgen/generator/tree"
)

// k3sTestPlan is one example planned in memory.
type k3sTestPlan struct {
	name string
	res  *Result
}

// k3sTestPlans plans every example with a K3s region (each test gets its
// own results, so tests stay independent of each other's order). The k0s
// regions of a fleet are left to k0s_test.go: k3sBootstrapDirs skips them.
func k3sTestPlans(t *testing.T) []k3sTestPlan {
	t.Helper()
	var out []k3sTestPlan
	for _, name := range examples.Names() {
		l, err := spec.Load(examples.FS, name+"/fleet.yaml")
		if err != nil {
			t.Fatalf("%s: load: %v", name, err)
		}
		res, err := Plan(l)
		if err != nil {
			t.Fatalf("%s: plan: %v", name, err)
		}
		if !res.anyK3s() {
			continue
		}
		out = append(out, k3sTestPlan{name: name, res: res})
	}
	if len(out) == 0 {
		t.Fatal("no examples")
	}
	return out
}

// k3sBootstrapDirs lists the bootstrap/<region> folders of a planned tree.
func k3sBootstrapDirs(res *Result) []string {
	seen := map[string]bool{}
	for _, f := range res.Tree.Files {
		parts := strings.Split(f.Path, "/")
		if _, k0s := res.Tree.Get(path.Join("bootstrap", parts[min(1, len(parts)-1)], "k0s.yaml")); k0s {
			continue
		}
		if len(parts) >= 3 && parts[0] == "bootstrap" {
			seen[path.Join(parts[0], parts[1])] = true
		}
	}
	var dirs []string
	for d := range seen {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	return dirs
}

// k3sLoadFlags reads testdata/k3s/<file>: one flag per line, '#' comments.
func k3sLoadFlags(t *testing.T, file string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "k3s", file))
	if err != nil {
		t.Fatal(err)
	}
	flags := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "-") || strings.ContainsAny(line, " \t=") {
			t.Fatalf("%s: %q is not a bare flag name", file, line)
		}
		flags[line] = true
	}
	if len(flags) == 0 {
		t.Fatalf("%s: no flags", file)
	}
	return flags
}

// k3sFlagLists returns the valid config keys of a server (server flags plus
// agent flags: a server also runs an agent) and of an agent.
func k3sFlagLists(t *testing.T) (server, agent map[string]bool) {
	t.Helper()
	agent = k3sLoadFlags(t, "agent-flags.txt")
	server = k3sLoadFlags(t, "server-flags.txt")
	for f := range agent {
		server[f] = true
	}
	return server, agent
}

func k3sReadConfig(t *testing.T, res *Result, p string) map[string]any {
	t.Helper()
	f, ok := res.Tree.Get(p)
	if !ok {
		t.Errorf("%s is not generated", p)
		return nil
	}
	var m map[string]any
	if err := yaml.Unmarshal(f.Content, &m); err != nil {
		t.Errorf("%s: %v", p, err)
		return nil
	}
	if len(m) == 0 {
		t.Errorf("%s: empty config", p)
	}
	return m
}

// k3sCheckKeys reports every top-level key that is not a known flag. A
// trailing '+' (K3s appends to the value from an earlier file) is stripped.
func k3sCheckKeys(t *testing.T, p string, cfg map[string]any, known map[string]bool) {
	t.Helper()
	for k := range cfg {
		if !known[strings.TrimSuffix(k, "+")] {
			t.Errorf("%s: key %q is not a K3s flag (see testdata/k3s)", p, k)
		}
	}
}

func TestK3sConfigKeysAreKnownFlags(t *testing.T) {
	server, agent := k3sFlagLists(t)
	for _, ex := range k3sTestPlans(t) {
		dirs := k3sBootstrapDirs(ex.res)
		if len(dirs) != len(ex.res.Spec.Spec.Regions) {
			t.Errorf("%s: %d bootstrap folders for %d regions", ex.name, len(dirs), len(ex.res.Spec.Spec.Regions))
		}
		for _, dir := range dirs {
			p := path.Join(dir, "config.yaml")
			k3sCheckKeys(t, ex.name+"/"+p, k3sReadConfig(t, ex.res, p), server)
			p = path.Join(dir, "agent-config.yaml")
			k3sCheckKeys(t, ex.name+"/"+p, k3sReadConfig(t, ex.res, p), agent)
		}
	}
}

// TestK3sFlagsUsedByProvision checks the keys provision.sh writes into
// config.yaml.d on the node (identity and join), which are not in the
// generated config.yaml itself.
func TestK3sFlagsUsedByProvision(t *testing.T) {
	server, agent := k3sFlagLists(t)
	for _, k := range []string{"node-label", "server", "token-file"} {
		if !server[k] || !agent[k] {
			t.Errorf("%q is written by provision.sh for servers and agents but is not a known flag of both", k)
		}
	}
	for _, ex := range k3sTestPlans(t) {
		for _, dir := range k3sBootstrapDirs(ex.res) {
			p := path.Join(dir, "provision.sh")
			f, ok := ex.res.Tree.Get(p)
			if !ok {
				t.Errorf("%s: %s is not generated", ex.name, p)
				continue
			}
			s := string(f.Content)
			for _, want := range []string{"node-label+:", "server: %s", "token-file: %s"} {
				if !strings.Contains(s, want) {
					t.Errorf("%s/%s: does not write %q into config.yaml.d", ex.name, p, want)
				}
			}
		}
	}
}

func k3sStrings(t *testing.T, where string, v any) []string {
	t.Helper()
	list, ok := v.([]any)
	if !ok {
		t.Errorf("%s: want a list of strings, got %T", where, v)
		return nil
	}
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, ok := x.(string)
		if !ok {
			t.Errorf("%s: want a string, got %T (%v)", where, x, x)
			continue
		}
		out = append(out, s)
	}
	return out
}

// k3sArgValue finds "name=value" in args.
func k3sArgValue(args []string, name string) (string, bool) {
	for _, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

func TestK3sCISHardening(t *testing.T) {
	for _, ex := range k3sTestPlans(t) {
		for _, dir := range k3sBootstrapDirs(ex.res) {
			where := ex.name + "/" + path.Join(dir, "config.yaml")
			cfg := k3sReadConfig(t, ex.res, path.Join(dir, "config.yaml"))
			if cfg == nil {
				continue
			}
			for _, k := range []string{"secrets-encryption", "protect-kernel-defaults"} {
				if cfg[k] != true {
					t.Errorf("%s: %s = %v, want true", where, k, cfg[k])
				}
			}
			api := k3sStrings(t, where+": kube-apiserver-arg", cfg["kube-apiserver-arg"])
			apiWant := map[string]string{
				"enable-admission-plugins":      "NodeRestriction,EventRateLimit",
				"admission-control-config-file": "/var/lib/rancher/k3s/server/psa.yaml",
			}
			for k, want := range apiWant {
				if v, ok := k3sArgValue(api, k); !ok || v != want {
					t.Errorf("%s: kube-apiserver-arg %s=%q (set %v), want %q", where, k, v, ok, want)
				}
			}
			for _, k := range []string{"audit-policy-file", "audit-log-path", "audit-log-maxage", "audit-log-maxbackup", "audit-log-maxsize"} {
				if v, ok := k3sArgValue(api, k); !ok || v == "" {
					t.Errorf("%s: kube-apiserver-arg has no %s=...", where, k)
				}
			}
			kcm := k3sStrings(t, where+": kube-controller-manager-arg", cfg["kube-controller-manager-arg"])
			if v, ok := k3sArgValue(kcm, "terminated-pod-gc-threshold"); !ok || v == "" {
				t.Errorf("%s: kube-controller-manager-arg has no terminated-pod-gc-threshold=...", where)
			}
			k3sCheckKubelet(t, where, cfg)

			// Agents: same kernel and kubelet hardening.
			awhere := ex.name + "/" + path.Join(dir, "agent-config.yaml")
			if acfg := k3sReadConfig(t, ex.res, path.Join(dir, "agent-config.yaml")); acfg != nil {
				if acfg["protect-kernel-defaults"] != true {
					t.Errorf("%s: protect-kernel-defaults = %v, want true", awhere, acfg["protect-kernel-defaults"])
				}
				k3sCheckKubelet(t, awhere, acfg)
			}
		}
	}
}

func k3sCheckKubelet(t *testing.T, where string, cfg map[string]any) {
	t.Helper()
	kubelet := k3sStrings(t, where+": kubelet-arg", cfg["kubelet-arg"])
	if v, ok := k3sArgValue(kubelet, "streaming-connection-idle-timeout"); !ok || v != "5m" {
		t.Errorf("%s: kubelet-arg streaming-connection-idle-timeout=%q (set %v), want 5m", where, v, ok)
	}
}

func TestK3sSysctlForProtectKernelDefaults(t *testing.T) {
	want := map[string]string{
		"vm.panic_on_oom":      "0",
		"vm.overcommit_memory": "1",
		"kernel.panic":         "10",
		"kernel.panic_on_oops": "1",
	}
	for _, ex := range k3sTestPlans(t) {
		for _, dir := range k3sBootstrapDirs(ex.res) {
			p := path.Join(dir, "90-kubelet.conf")
			f, ok := ex.res.Tree.Get(p)
			if !ok {
				t.Errorf("%s: %s is not generated", ex.name, p)
				continue
			}
			got := map[string]string{}
			for _, line := range strings.Split(string(f.Content), "\n") {
				line = strings.TrimSpace(line)
				if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
					continue
				}
				k, v, ok := strings.Cut(line, "=")
				if !ok {
					t.Errorf("%s/%s: line %q is not key=value", ex.name, p, line)
					continue
				}
				got[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s/%s: %s=%q, want %q", ex.name, p, k, got[k], v)
				}
			}
		}
	}
}

func TestProvisionScript(t *testing.T) {
	sh, shErr := exec.LookPath("/bin/sh")
	tmp := t.TempDir()
	checked := 0
	for _, ex := range k3sTestPlans(t) {
		for _, dir := range k3sBootstrapDirs(ex.res) {
			p := path.Join(dir, "provision.sh")
			where := ex.name + "/" + p
			f, ok := ex.res.Tree.Get(p)
			if !ok {
				t.Errorf("%s is not generated", where)
				continue
			}
			if f.Mode != tree.ModeScript {
				t.Errorf("%s: mode %#o, want %#o", where, f.Mode, tree.ModeScript)
			}
			if !bytes.HasPrefix(f.Content, []byte("#!/bin/sh\n")) {
				t.Errorf("%s: does not start with #!/bin/sh", where)
			}
			if shErr != nil {
				continue
			}
			file := filepath.Join(tmp, ex.name+"-"+path.Base(dir)+".sh")
			if err := os.WriteFile(file, f.Content, 0o755); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(sh, "-n", file).CombinedOutput(); err != nil {
				t.Errorf("%s: sh -n: %v\n%s", where, err, out)
			}
			checked++
		}
	}
	if shErr != nil {
		t.Skipf("no /bin/sh: syntax not checked (%v)", shErr)
	}
	t.Logf("sh -n accepted %d provision.sh", checked)
}

// The K3s CIS hardening guide, "v1.29 and newer" tab (k3s-io/docs
// docs/security/hardening-guide.md): every argument it sets, with its value.
func TestK3sCISGuideV129(t *testing.T) {
	ciphers := "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305"
	guide := map[string]map[string]string{
		"kube-apiserver-arg": {
			"enable-admission-plugins":                "NodeRestriction,EventRateLimit",
			"admission-control-config-file":           "/var/lib/rancher/k3s/server/psa.yaml",
			"audit-log-path":                          "/var/lib/rancher/k3s/server/logs/audit.log",
			"audit-policy-file":                       "/var/lib/rancher/k3s/server/audit.yaml",
			"audit-log-maxage":                        "30",
			"audit-log-maxbackup":                     "10",
			"audit-log-maxsize":                       "100",
			"service-account-extend-token-expiration": "false",
		},
		"kube-controller-manager-arg": {"terminated-pod-gc-threshold": "100"},
		"kubelet-arg":                 {"streaming-connection-idle-timeout": "5m", "tls-cipher-suites": ciphers},
	}
	for _, ex := range k3sTestPlans(t) {
		for _, dir := range k3sBootstrapDirs(ex.res) {
			for _, file := range []string{"config.yaml", "agent-config.yaml"} {
				where := ex.name + "/" + path.Join(dir, file)
				cfg := k3sReadConfig(t, ex.res, path.Join(dir, file))
				for key, args := range guide {
					if file == "agent-config.yaml" && key != "kubelet-arg" {
						continue
					}
					got := k3sStrings(t, where+": "+key, cfg[key])
					for k, want := range args {
						if v, ok := k3sArgValue(got, k); !ok || v != want {
							t.Errorf("%s: %s %s=%q (set %v), want %q (CIS guide v1.29+)", where, key, k, v, ok, want)
						}
					}
				}
			}
		}
	}
}

// eviction-hard replaces all the kubelet's default thresholds: every one is
// set. The memory of the OS and of K3s is reserved from pods, and what is
// left for pods still holds what the plan puts there, on a 2 GB node too.
func TestK3sKubeletEvictionAndReservations(t *testing.T) {
	defaults := []string{"memory.available<100Mi", "nodefs.available<10%", "imagefs.available<15%", "nodefs.inodesFree<5%", "imagefs.inodesFree<5%"}
	mi := func(where, arg, list string) int64 {
		for _, kv := range strings.Split(list, ",") {
			if v, ok := strings.CutPrefix(kv, "memory="); ok {
				n, err := strconv.ParseInt(strings.TrimSuffix(v, "Mi"), 10, 64)
				if err != nil {
					t.Errorf("%s: %s memory %q", where, arg, v)
				}
				return n
			}
		}
		t.Errorf("%s: %s reserves no memory", where, arg)
		return 0
	}
	for _, ex := range k3sTestPlans(t) {
		for _, d := range ex.res.Decisions {
			for _, file := range []string{"config.yaml", "agent-config.yaml"} {
				p := path.Join("bootstrap", d.Region, file)
				where := ex.name + "/" + p
				kubelet := k3sStrings(t, where, k3sReadConfig(t, ex.res, p)["kubelet-arg"])
				hard, _ := k3sArgValue(kubelet, "eviction-hard")
				for _, want := range defaults {
					if !strings.Contains(","+hard+",", ","+want+",") {
						t.Errorf("%s: eviction-hard=%q lacks %s (it replaces the defaults)", where, hard, want)
					}
				}
				soft, _ := k3sArgValue(kubelet, "eviction-soft")
				grace, _ := k3sArgValue(kubelet, "eviction-soft-grace-period")
				if soft != "" && !strings.HasPrefix(grace, strings.SplitN(soft, "<", 2)[0]+"=") {
					t.Errorf("%s: eviction-soft %q without its grace period (%q)", where, soft, grace)
				}
				sys, _ := k3sArgValue(kubelet, "system-reserved")
				kube, _ := k3sArgValue(kubelet, "kube-reserved")
				reserved := mi(where, "system-reserved", sys) + mi(where, "kube-reserved", kube) + 100
				if file != "config.yaml" {
					continue
				}
				var pods int64
				for _, l := range d.Budget.Lines {
					if !strings.HasPrefix(l.Component, "K3s ") && !strings.HasPrefix(l.Component, "Operating system") {
						pods += l.MemoryMi
					}
				}
				if alloc := d.Budget.NodeMemoryMi - reserved; alloc < pods {
					t.Errorf("%s: %dMi allocatable after reservations, but the plan puts %dMi of pods there", where, alloc, pods)
				}
			}
		}
	}
}

// Several upstream registries share one mirror: each is rewritten under
// its own prefix. Air-gapped regions never fall back to the upstream
// registries.
func TestK3sRegistriesMirrors(t *testing.T) {
	for _, ex := range k3sTestPlans(t) {
		for _, r := range ex.res.Spec.Spec.Regions {
			dir := path.Join("bootstrap", r.Name)
			where := ex.name + "/" + dir
			reg := k3sReadConfigAny(t, ex.res, path.Join(dir, "registries.yaml"))
			mirrors, _ := reg["mirrors"].(map[string]any)
			if len(r.RegistryMirrors) > 0 {
				for up, v := range mirrors {
					e, _ := v.(map[string]any)
					rw, _ := e["rewrite"].(map[string]any)
					if rw["^(.*)$"] != up+"/$1" {
						t.Errorf("%s: mirror of %s has rewrite %v, want ^(.*)$ -> %s/$1", where, up, e["rewrite"], up)
					}
				}
			}
			airGapped := r.Connectivity == "air-gapped"
			for _, file := range []string{"config.yaml", "agent-config.yaml"} {
				cfg := k3sReadConfig(t, ex.res, path.Join(dir, file))
				if (cfg["disable-default-registry-endpoint"] == true) != airGapped {
					t.Errorf("%s/%s: disable-default-registry-endpoint=%v, air-gapped %v", where, file, cfg["disable-default-registry-endpoint"], airGapped)
				}
			}
		}
	}
}

func k3sReadConfigAny(t *testing.T, res *Result, p string) map[string]any {
	t.Helper()
	f, ok := res.Tree.Get(p)
	if !ok {
		t.Fatalf("%s is not generated", p)
	}
	var m map[string]any
	if err := yaml.Unmarshal(f.Content, &m); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return m
}

// The bootstrap README of multi-node regions says which ports the nodes
// need between them; no README binds TPM2 PCR 11 literally.
func TestBootstrapReadmeNodeFacts(t *testing.T) {
	for _, ex := range k3sTestPlans(t) {
		for _, d := range ex.res.Decisions {
			if d.K0s() {
				continue
			}
			p := path.Join("bootstrap", d.Region, "README.md")
			f, ok := ex.res.Tree.Get(p)
			if !ok {
				t.Fatalf("%s: no %s", ex.name, p)
			}
			readme := string(f.Content)
			if strings.Contains(readme, "tpm2-pcrs=7+11") {
				t.Errorf("%s/%s: binds PCR 11 literally", ex.name, p)
			}
			r, _ := ex.res.Spec.Region(d.Region)
			needsSecrets := len(ex.res.Spec.Spec.RegionRecipients(r)) > 0 || ex.res.Spec.Spec.Git.SecretName != ""
			// sudo resets the environment: the documented command passes the files on sudo's command line.
			if needsSecrets && (!strings.Contains(readme, "sudo FLEETGEN_") || strings.Contains(readme, "sudo ./provision.sh <cluster-name>  ")) {
				t.Errorf("%s/%s: the first server's command does not pass FLEETGEN_* through sudo", ex.name, p)
			}
			if len(ex.res.Spec.Spec.RegionRecipients(r)) > 0 && (!strings.Contains(readme, "the **region's** age private key") || !strings.Contains(readme, r.AgeRecipients[0])) {
				t.Errorf("%s/%s: does not say the node holds the region's own key", ex.name, p)
			}
			for _, want := range []string{"**Handover.**", ".skip", "K3s applies `node-label` only when the node registers"} {
				if !strings.Contains(readme, want) {
					t.Errorf("%s/%s: does not say %q", ex.name, p, want)
				}
			}
			if strings.Contains(readme, "or set `data-dir:`") {
				t.Errorf("%s/%s: advises data-dir, which moves the auto-deploy folder", ex.name, p)
			}
			if d.Hardware.Nodes == 1 {
				continue
			}
			want := []string{"TCP 6443", "TCP 10250"}
			if d.WireGuard {
				want = append(want, "UDP 51820")
			}
			if d.Datastore == "etcd" {
				want = append(want, "TCP 2379-2380")
			}
			if d.EmbeddedReg {
				want = append(want, "TCP 5001")
			}
			for _, w := range want {
				if !strings.Contains(readme, "| "+w+" |") {
					t.Errorf("%s/%s: multi-node region does not list the inbound port %s", ex.name, p, w)
				}
			}
		}
	}
}
