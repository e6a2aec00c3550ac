package generator

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/fleetgen/fleetgen/blueprints"
)

const retail = "retail-argocd"

// yamlDocs splits a YAML stream into objects (kind, metadata), skipping
// comments and empty documents.
func yamlDocs(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, d := range bytes.Split(b, []byte("\n---\n")) {
		var m map[string]any
		if err := yaml.Unmarshal(d, &m); err != nil {
			t.Fatalf("%v in\n%.300s", err, d)
		}
		if m != nil {
			out = append(out, m)
		}
	}
	return out
}

func objKey(m map[string]any) string {
	md, _ := m["metadata"].(map[string]any)
	ns, _ := md["namespace"].(string)
	name, _ := md["name"].(string)
	return m["kind"].(string) + "/" + ns + "/" + name
}

// TestArgoVendoredInstall reads blueprints/argocd/core-install.yaml as
// K3s would apply it: Argo CD core only (no API server, Dex or
// ApplicationSet controller), everything namespaced in argocd, pinned
// images, and the limits the budget counts set on the containers.
func TestArgoVendoredInstall(t *testing.T) {
	b, err := fs.ReadFile(blueprints.FS, "argocd/core-install.yaml")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	limits := map[string]int64{}
	for _, m := range yamlDocs(t, b) {
		k := objKey(m)
		seen[k] = true
		kind := m["kind"].(string)
		md := m["metadata"].(map[string]any)
		clusterScoped := kind == "CustomResourceDefinition" || kind == "ClusterRole" || kind == "ClusterRoleBinding"
		if ns, _ := md["namespace"].(string); clusterScoped != (ns == "") || (!clusterScoped && ns != ArgoNamespace) {
			t.Errorf("%s: namespace %q (K3s applies the file without -n %s)", k, ns, ArgoNamespace)
		}
		if strings.Contains(k, "applicationset") || strings.Contains(k, "argocd-server") || strings.Contains(k, "dex") {
			t.Errorf("%s: not part of the core install fleetgen vendors", k)
		}
		if kind != "Deployment" && kind != "StatefulSet" {
			continue
		}
		raw, _ := yaml.Marshal(m)
		var d appsv1.Deployment // the pod template is the same for a StatefulSet
		if err := yaml.Unmarshal(raw, &d); err != nil {
			t.Fatal(err)
		}
		for _, c := range append(d.Spec.Template.Spec.Containers, d.Spec.Template.Spec.InitContainers...) {
			if strings.Contains(c.Image, "argoproj/argocd") && !strings.HasSuffix(c.Image, ":"+ArgoVersion) {
				t.Errorf("%s container %s: image %s, want Argo CD %s", k, c.Name, c.Image, ArgoVersion)
			}
		}
		// The argocd namespace enforces Pod Security restricted: a pod
		// that breaks it would never start on a real cluster. Upstream's
		// init containers (copyutil, secret-init) set no resources and
		// fleetgen keeps them so (they run once, before the containers the
		// budget counts); everything else rsPodProblems asks is required.
		inits := map[string]bool{}
		for _, c := range d.Spec.Template.Spec.InitContainers {
			inits[c.Name] = true
		}
		for _, e := range rsPodProblems(&d.Spec.Template.Spec) {
			var name string
			if _, err := fmt.Sscanf(e, "container %s", &name); err == nil && inits[strings.TrimSuffix(name, ":")] &&
				(strings.HasSuffix(e, " request") || strings.HasSuffix(e, " limit")) {
				continue
			}
			t.Errorf("%s: %s", k, e)
		}
		c := d.Spec.Template.Spec.Containers[0]
		lim := c.Resources.Limits[corev1.ResourceMemory]
		req := c.Resources.Requests[corev1.ResourceMemory]
		if lim.IsZero() || req.IsZero() || req.Cmp(lim) > 0 {
			t.Errorf("%s: memory request %s, limit %s", k, req.String(), lim.String())
		}
		limits[d.Name] = lim.Value() >> 20
	}
	for _, want := range []string{"CustomResourceDefinition//applications.argoproj.io", "CustomResourceDefinition//appprojects.argoproj.io",
		"StatefulSet/argocd/argocd-application-controller", "Deployment/argocd/argocd-repo-server", "Deployment/argocd/argocd-redis",
		"Secret/argocd/argocd-secret", "ConfigMap/argocd/argocd-ssh-known-hosts-cm"} {
		if !seen[want] {
			t.Errorf("core install lacks %s", want)
		}
	}
	for _, k := range []string{"ConfigMap/argocd/argocd-cm", "ConfigMap/argocd/argocd-cmd-params-cm"} {
		if seen[k] {
			t.Errorf("%s is in the vendored install: fleetgen writes it per region", k)
		}
	}
	// The budget's figures are the limits the manifests set.
	for _, c := range ArgoComponents {
		if got, want := limits[c], Footprints[c].MemoryMi; got != want {
			t.Errorf("%s: limit %dMi in core-install.yaml, the budget counts %dMi", c, got, want)
		}
	}
}

// TestArgoBudget: Argo CD core fits the retail hardware (4 GB) and not the
// seed's offshore nodes (2 GB), where the refusal names the engine field and
// its line, with the numbers; the same hardware with Flux is accepted.
func TestArgoBudget(t *testing.T) {
	res := planExample(t, retail)
	for _, d := range res.Decisions {
		if !d.ArgoCD() || len(d.FluxComponents) > 0 {
			t.Errorf("%s: engine %q, Flux components %v", d.Region, d.Engine, d.FluxComponents)
		}
		var argo int64
		for _, l := range d.Budget.Lines {
			if strings.HasPrefix(l.Component, "Flux") {
				t.Errorf("%s: a Flux line in an Argo CD budget: %s", d.Region, l.Component)
			}
			if strings.HasPrefix(l.Component, "Argo CD") {
				argo += l.MemoryMi
			}
		}
		if argo != 768 {
			t.Errorf("%s: Argo CD counted %dMi, want 768Mi (512 + 128 + 128, the limits)", d.Region, argo)
		}
		if d.Budget.MarginPercent < minMarginPercent {
			t.Errorf("%s: margin %d%%", d.Region, d.Budget.MarginPercent)
		}
	}
	// The same fleet on the seed's 2 GB nodes: Flux fits, Argo CD does not. OS 256 +
	// K3s 768 + CoreDNS 70 + SUC 64 + apps 160 = 1318Mi, plus Argo CD 768 = 2086Mi
	// or the Flux Operator, source- and kustomize-controller 192 = 1510Mi.
	twoGB := [2]string{"    memory: 4Gi\n", "    memory: 2Gi\n"}
	planOf(t, loadExample(t, retail, twoGB, [2]string{"  engine: argocd\n", ""}))
	_, err := Plan(loadExample(t, retail, twoGB))
	if err == nil {
		t.Fatal("Argo CD on 2 GB nodes was accepted")
	}
	for _, want := range []string{"fleet.yaml:16: spec.engine: Argo CD does not fit in region \"es-north\" (2Gi per node)", "768Mi at the limits", "reserve 2086Mi of 2048Mi (-1% free, 10% needed)", "the minimal Flux would leave 26% (1510Mi reserved)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q lacks %q", err, want)
		}
	}
	// Per region: the region's own field is named.
	_, err = Plan(loadExample(t, retail, twoGB, [2]string{"  engine: argocd\n", ""}, [2]string{"      clusterPrefix: store-es\n", "      clusterPrefix: store-es\n      engine: argocd\n"}))
	if err == nil || !strings.Contains(err.Error(), "spec.regions[0].engine: Argo CD does not fit") {
		t.Errorf("per-region refusal: %v", err)
	}
}

// TestArgoClusterFolder builds an Argo CD cluster's folder with krusty and
// follows what its Argo CD would: the root Application syncs this very
// folder, which holds Argo CD itself and the Applications; each
// Application's path builds; infrastructure is wave 0 and apps wave 1; the
// apps carry the cluster's own values.
func TestArgoClusterFolder(t *testing.T) {
	res := planExample(t, retail)
	fsys := rsMemFS(t, res)
	for _, d := range res.Decisions {
		for _, c := range res.Spec.RegionClusters(d.Region) {
			dir := ClusterPath(d.Region, c.Name)
			objs := map[string]*resource.Resource{}
			for _, r := range rsBuild(t, fsys, dir) {
				objs[r.GetKind()+"/"+r.GetNamespace()+"/"+r.GetName()] = r
			}
			for _, want := range []string{"StatefulSet/argocd/argocd-application-controller", "ConfigMap/argocd/argocd-cm", "AppProject/argocd/fleet", "Namespace//argocd",
				"CustomResourceDefinition//applications.argoproj.io"} {
				if objs[want] == nil {
					t.Errorf("%s: the root Application's build lacks %s (Argo CD would not manage itself from git)", dir, want)
				}
			}
			waves := map[string]string{}
			for _, name := range []string{ArgoRootApp, InfrastructureName, AppsName} {
				r := objs["Application/argocd/"+name]
				if r == nil {
					t.Fatalf("%s: no Application %s", dir, name)
				}
				var a ArgoApplication
				if err := rsDecode(r, &a); err != nil {
					t.Fatalf("%s: Application %s: %v", dir, name, err)
				}
				if a.Spec.Source.RepoURL != res.Spec.Spec.Git.URL || a.Spec.Source.TargetRevision != res.Spec.Spec.Git.Branch || a.Spec.Project != ArgoProject {
					t.Errorf("%s: Application %s source %+v project %s", dir, name, a.Spec.Source, a.Spec.Project)
				}
				if a.Spec.Destination.Server != inCluster {
					t.Errorf("%s: Application %s deploys to %s: pull mode deploys into its own cluster only", dir, name, a.Spec.Destination.Server)
				}
				if p := a.Spec.SyncPolicy; p == nil || p.Automated == nil || !p.Automated.Prune || !p.Automated.SelfHeal {
					t.Errorf("%s: Application %s is not automated with prune and selfHeal", dir, name)
				}
				waves[name] = a.Metadata.Annotations[argoWave]
				// The path builds, as repo-server would build it.
				if len(rsBuild(t, fsys, a.Spec.Source.Path)) == 0 {
					t.Errorf("%s: Application %s syncs %s, which builds to nothing", dir, name, a.Spec.Source.Path)
				}
				if name == ArgoRootApp && a.Spec.Source.Path != dir {
					t.Errorf("%s: the root Application syncs %s", dir, a.Spec.Source.Path)
				}
			}
			if waves[InfrastructureName] != "0" || waves[AppsName] != "1" {
				t.Errorf("%s: waves %v, want infrastructure 0 before apps 1", dir, waves)
			}
			// Sync waves wait on Applications only with their health check.
			var cm corev1.ConfigMap
			if err := rsDecode(objs["ConfigMap/argocd/argocd-cm"], &cm); err != nil {
				t.Fatal(err)
			}
			// ... and one that waits for Synced (seen in the e2e test: health
			// turns Healthy before the sync status), except for the root
			// Application, which has no wave and would wait for itself.
			if hc := cm.Data["resource.customizations.health.argoproj.io_Application"]; !strings.Contains(hc, "obj.status.health.status") ||
				!strings.Contains(hc, `obj.status.sync.status ~= "Synced"`) || !strings.Contains(hc, `["argocd.argoproj.io/sync-wave"] ~= nil`) {
				t.Errorf("%s: argocd-cm's Application health check does not make wave 1 wait for wave 0 to be Synced and Healthy:\n%s", dir, hc)
			}
			if root := objs["Application/argocd/"+ArgoRootApp]; root != nil && root.GetAnnotations()[argoWave] != "" {
				t.Errorf("%s: the root Application has a sync wave: its own sync would wait for it to be Synced", dir)
			}
			if cm.Data["timeout.reconciliation"] != d.Connectivity.GitInterval {
				t.Errorf("%s: polls every %s, the plan says %s", dir, cm.Data["timeout.reconciliation"], d.Connectivity.GitInterval)
			}
			// The apps get this cluster's name and region, and no ${VAR} is left.
			envs := 0
			for _, r := range rsBuild(t, fsys, path.Join(dir, "apps")) {
				y, _ := r.AsYAML()
				if bytes.Contains(y, []byte("${")) {
					t.Errorf("%s/apps: %s %s keeps a ${VAR} that nothing substitutes under Argo CD", dir, r.GetKind(), r.GetName())
				}
				if r.GetKind() == "ConfigMap" && r.GetName() == ClusterVarsName {
					t.Errorf("%s/apps: cluster-vars is applied (it is local-config)", dir)
				}
				if r.GetKind() != "Deployment" {
					continue
				}
				var dep appsv1.Deployment
				if err := rsDecode(r, &dep); err != nil {
					t.Fatal(err)
				}
				for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
					switch e.Name {
					case "FLEET_CLUSTER":
						envs++
						if e.Value != c.Name {
							t.Errorf("%s: %s gets FLEET_CLUSTER=%q", dir, dep.Name, e.Value)
						}
					case "FLEET_REGION":
						envs++
						if e.Value != d.Region {
							t.Errorf("%s: %s gets FLEET_REGION=%q", dir, dep.Name, e.Value)
						}
					}
				}
			}
			if envs != 4 {
				t.Errorf("%s: %d per-cluster values set, want 4 (two apps, two values)", dir, envs)
			}
		}
	}
}

// TestArgoFirstBootMatchesGit: what K3s applies at first boot is what git
// then manages, object for object (else the first sync would change Argo
// CD under itself), and the first-boot root Application is the cluster's
// cluster.yaml with the name left to provision.sh.
func TestArgoFirstBootMatchesGit(t *testing.T) {
	res := planExample(t, retail)
	fsys := rsMemFS(t, res)
	for _, d := range res.Decisions {
		want := map[string]string{}
		for _, r := range rsBuild(t, fsys, path.Join("argocd/regions", d.Region)) {
			y, _ := r.AsYAML()
			var m map[string]any
			if err := yaml.Unmarshal(y, &m); err != nil {
				t.Fatal(err)
			}
			c, _ := yaml.Marshal(m)
			want[objKey(m)] = string(c)
		}
		got := map[string]string{}
		for _, m := range yamlDocs(t, fileOf(t, res, path.Join("bootstrap", d.Region, "manifests/argocd.yaml"))) {
			c, _ := yaml.Marshal(m)
			got[objKey(m)] = string(c)
		}
		var keys []string
		for k := range want {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if got[k] != want[k] {
				t.Errorf("%s: %s differs between manifests/argocd.yaml and argocd/regions/%s", d.Region, k, d.Region)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: first boot has %d objects, git %d", d.Region, len(got), len(want))
		}
		c := res.Spec.RegionClusters(d.Region)[0].Name
		root := strings.ReplaceAll(string(fileOf(t, res, path.Join("bootstrap", d.Region, "manifests/argocd-root.yaml"))), ClusterPlaceholder, c)
		inGit := string(fileOf(t, res, path.Join(ClusterPath(d.Region, c), "cluster.yaml")))
		if body(root) != body(inGit) {
			t.Errorf("%s: argocd-root.yaml for %s differs from its cluster.yaml:\n%s\n---\n%s", d.Region, c, body(root), body(inGit))
		}
	}
}

// body drops the comment lines of a generated file.
func body(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestArgoMixedFleet: a Flux region beside an Argo CD one keeps exactly the
// bytes it has in an all-Flux fleet, and the Argo CD region has no Flux.
func TestArgoMixedFleet(t *testing.T) {
	flux := planOf(t, loadExample(t, retail, [2]string{"  engine: argocd\n", ""}))
	mixed := planOf(t, loadExample(t, retail, [2]string{"      connectivity: always-on\n", "      connectivity: always-on\n      engine: flux\n"}))
	for _, f := range flux.Tree.Files {
		if strings.HasPrefix(f.Path, "clusters/pt-lisbon/") || strings.HasPrefix(f.Path, "bootstrap/pt-lisbon/") || strings.HasPrefix(f.Path, "infrastructure/") || strings.HasPrefix(f.Path, "apps/") {
			if g, ok := mixed.Tree.Get(f.Path); !ok || !bytes.Equal(g.Content, f.Content) {
				t.Errorf("%s: differs in the mixed fleet", f.Path)
			}
		}
	}
	for _, f := range mixed.Tree.Files {
		if strings.HasPrefix(f.Path, "clusters/es-north/") && strings.Contains(string(f.Content), "fluxcd") {
			t.Errorf("%s: Flux in an Argo CD region", f.Path)
		}
		if strings.HasPrefix(f.Path, "argocd/regions/pt-lisbon") {
			t.Errorf("%s: Argo CD settings for a Flux region", f.Path)
		}
	}
	if _, ok := mixed.Tree.Get("bootstrap/es-north/manifests/argocd.yaml"); !ok {
		t.Error("the Argo CD region lost its first-boot install")
	}
	if _, ok := mixed.Tree.Get("bootstrap/pt-lisbon/manifests/flux-instance.yaml"); !ok {
		t.Error("the Flux region lost its FluxInstance")
	}
}

// TestArgoBootstrapScripts runs the region's provision.sh into a scratch
// root (PROVISION_ROOT) and its handover.sh against a stand-in `k3s
// kubectl`: provision refuses a git Secret without Argo CD's repository
// label, writes the first-boot files with the cluster's name, and the
// handover leaves them until the root Application is Synced and Healthy.
func TestArgoBootstrapScripts(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	res := planExample(t, retail)
	dir := t.TempDir()
	for _, f := range res.Tree.Files {
		if strings.HasPrefix(f.Path, "bootstrap/es-north/") {
			p := filepath.Join(dir, strings.TrimPrefix(f.Path, "bootstrap/es-north/"))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, f.Content, os.FileMode(f.Mode)); err != nil {
				t.Fatal(err)
			}
		}
	}
	root := t.TempDir()
	secret := filepath.Join(t.TempDir(), "repo.yaml")
	run := func(env []string, name string, args ...string) (string, error) {
		cmd := exec.Command("sh", append([]string{filepath.Join(dir, name)}, args...)...)
		cmd.Env = append(append(os.Environ(), "PROVISION_ROOT="+root), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	noLabel := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: store-repo\n  namespace: argocd\nstringData:\n  url: https://git.retail.example/platform/stores.git\n"
	os.WriteFile(secret, []byte(noLabel), 0o600)
	if out, err := run([]string{"FLEETGEN_GIT_SECRET_FILE=" + secret}, "provision.sh", "store-es-0001"); err == nil || !strings.Contains(out, "argocd.argoproj.io/secret-type: repository") {
		t.Fatalf("provision.sh accepted a Secret Argo CD would not read: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/rancher/k3s")); err == nil {
		t.Error("provision.sh wrote the node's configuration before refusing")
	}
	labelled := strings.Replace(noLabel, "  namespace: argocd\n", "  namespace: argocd\n  labels:\n    argocd.argoproj.io/secret-type: repository\n", 1)
	os.WriteFile(secret, []byte(labelled), 0o600)
	if out, err := run([]string{"FLEETGEN_GIT_SECRET_FILE=" + secret}, "provision.sh", "store-es-0001"); err != nil {
		t.Fatalf("provision.sh: %v\n%s", err, out)
	}
	manifests := filepath.Join(root, "var/lib/rancher/k3s/server/manifests")
	rootApp, err := os.ReadFile(filepath.Join(manifests, "argocd-root.yaml"))
	if err != nil || !strings.Contains(string(rootApp), "path: clusters/es-north/store-es-0001\n") {
		t.Errorf("argocd-root.yaml on the node: %v\n%s", err, rootApp)
	}
	for _, f := range []string{"argocd.yaml", "argocd-repo-secret.yaml"} {
		if _, err := os.Stat(filepath.Join(manifests, f)); err != nil {
			t.Errorf("first-boot file %s: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(manifests, "flux-operator.yaml")); err == nil {
		t.Error("an Argo CD node got the Flux Operator")
	}
	// The handover, with `k3s kubectl` answering as the API server would.
	bin := t.TempDir()
	stand := func(sync, health string) {
		script := "#!/bin/sh\ncase \"$*\" in\n*sync.status*) echo -n " + sync + " ;;\n*health.status*) echo -n " + health + " ;;\n*sync.revision*) echo -n main@sha1:0123abcd ;;\nesac\n"
		os.WriteFile(filepath.Join(bin, "k3s"), []byte(script), 0o755)
		os.WriteFile(filepath.Join(bin, "systemctl"), []byte("#!/bin/sh\nexit 0\n"), 0o755)
	}
	path := "PATH=" + bin + ":" + os.Getenv("PATH")
	stand("OutOfSync", "Progressing")
	if out, err := run([]string{path}, "handover.sh"); err != nil || !strings.Contains(out, "first-boot files stay") {
		t.Fatalf("handover before the sync: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(manifests, "argocd-root.yaml")); err != nil {
		t.Error("the handover removed the first-boot files before Argo CD synced")
	}
	stand("Synced", "Healthy")
	if out, err := run([]string{path}, "handover.sh"); err != nil || !strings.Contains(out, "main@sha1:0123abcd") {
		t.Fatalf("handover after the sync: %v\n%s", err, out)
	}
	for _, f := range []string{"argocd.yaml", "argocd-root.yaml", "argocd-repo-secret.yaml"} {
		if _, err := os.Stat(filepath.Join(manifests, f)); err == nil {
			t.Errorf("%s is still in the auto-deploy folder after the handover", f)
		}
		if _, err := os.Stat(filepath.Join(manifests, f+".skip")); err != nil {
			t.Errorf("%s.skip missing: K3s would apply a restored copy", f)
		}
	}
}

// TestArgoGitSecretDocs: the bootstrap README asks for the repository
// Secret exactly when fleet.yaml names one, with the label and namespace
// Argo CD reads.
func TestArgoGitSecretDocs(t *testing.T) {
	for _, edits := range [][][2]string{nil, {{"    secretName: store-repo\n", ""}}} {
		res := planOf(t, loadExample(t, retail, edits...))
		for _, d := range res.Decisions {
			readme := string(fileOf(t, res, path.Join("bootstrap", d.Region, "README.md")))
			asks := strings.Contains(readme, "`FLEETGEN_GIT_SECRET_FILE` (required here)")
			if named := res.Spec.Spec.Git.SecretName != ""; asks != named {
				t.Errorf("%s (secretName %q): README asks for the Secret %v", d.Region, res.Spec.Spec.Git.SecretName, asks)
			}
			if asks && (!strings.Contains(readme, "argocd.argoproj.io/secret-type: repository") || !strings.Contains(readme, "--from-literal=depth=1")) {
				t.Errorf("%s: the README's repository Secret lacks the label or depth", d.Region)
			}
			if strings.Contains(readme, "flux-system") || strings.Contains(readme, "Flux Operator") {
				t.Errorf("%s: the Argo CD region's README talks about Flux", d.Region)
			}
		}
	}
}

// TestArgoDesignFacts: design check compares the decisions block with the
// plan's facts; the fleet's engine, and a region's own, are in them.
func TestArgoDesignFacts(t *testing.T) {
	f := DesignFacts(planExample(t, retail))
	if f.GitOps != "argocd" {
		t.Errorf("retail-argocd: design facts GitOps %q, want argocd", f.GitOps)
	}
	mixed := planOf(t, loadExample(t, retail, [2]string{"      connectivity: always-on\n", "      connectivity: always-on\n      engine: flux\n"}))
	f = DesignFacts(mixed)
	if f.GitOps != "argocd" || f.Regions[0].GitOps != "" || f.Regions[1].GitOps != "flux" {
		t.Errorf("mixed fleet: GitOps %q, regions %+v", f.GitOps, f.Regions)
	}
	if f := DesignFacts(planExample(t, "offshore-platforms")); f.GitOps != "flux" {
		t.Errorf("offshore-platforms: design facts GitOps %q", f.GitOps)
	}
}
