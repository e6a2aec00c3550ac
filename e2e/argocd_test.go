package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestArgoCD plays the examples whose clusters run Argo CD (spec.engine:
// argocd) on the same pieces as TestEndToEnd: fleetgen generates the
// repository, the git CLI pushes it to the loopback git server (private:
// the repository Secret provision.sh installs carries the credentials),
// provision.sh prepares one cluster of every region, and what K3s would
// auto-deploy goes to a real kube-apiserver on kine/SQLite: Argo CD's CRDs,
// its core install, the region's settings and AppProject, and the cluster's
// root Application, all through the API server's validation (the CRDs'
// schemas included).
//
// Then Argo CD itself reconciles them: application-controller and
// repo-server v3.5.1, built from the module proxy by scripts/e2e-tools.sh,
// run as local processes against that API server with a redis-server
// (Debian's) beside them. The test waits for the root Application to sync
// the cluster's folder from git, for infrastructure (wave 0) to be Healthy
// before apps (wave 1) start, checks the per-cluster values on the API
// server, runs handover.sh against it, and after a spec change, `fleetgen
// regen` and a push, that Argo CD applies the new revision.
//
// Stand-ins, as in TestEndToEnd: no kubelet (Deployments and StatefulSets
// are marked available once they exist), no kube-controller-manager. Argo
// CD runs as processes, not as the pods of its install (which the API
// server holds, and Argo CD manages from git like any object).
func TestArgoCD(t *testing.T) {
	tl := needTools(t)
	argocd := filepath.Join(cacheDir(), "bin", "argocd-"+tl.versions["ARGOCD"])
	redis, _ := exec.LookPath("redis-server")
	kubectl, _ := exec.LookPath("kubectl")
	var missing []string
	if !fileExists(argocd) {
		missing = append(missing, argocd+" (scripts/e2e-tools.sh argocd)")
	}
	if redis == "" {
		missing = append(missing, "redis-server (apt-get install redis-server)")
	}
	if _, err := exec.LookPath("kustomize"); err != nil {
		missing = append(missing, "kustomize on PATH (repo-server runs it)")
	}
	if kubectl == "" {
		missing = append(missing, "kubectl on PATH (handover.sh's `k3s kubectl`)")
	}
	// Argo CD cannot be built from the module proxy alone (its nested
	// gitops-engine module is not served: scripts/e2e-tools.sh), so its
	// absence fails the test only where it is required.
	if len(missing) > 0 && os.Getenv("FLEETGEN_E2E_ARGOCD") == "required" {
		t.Fatalf("e2e: FLEETGEN_E2E_ARGOCD=required, missing %s", strings.Join(missing, ", "))
	}
	e := newEnv(t, tl)
	slot := 0
	for _, ex := range argoExamples(t) {
		first := slot
		slot += countRegions(t, ex)
		t.Run(ex, func(t *testing.T) { e.runArgoExample(t, ex, first, argocd, redis, kubectl, missing) })
	}
}

// isArgoExample: the example's fleet.yaml chooses engine argocd fleet-wide.
func isArgoExample(t *testing.T, name string) bool {
	_, spec := loadSpec(t, filepath.Join(exampleDir(name), "fleet.yaml"))
	en := yamlMap(spec, "engine")
	return en != nil && en.Value == "argocd"
}

func argoExamples(t *testing.T) []string {
	var out []string
	for _, n := range exampleNames(t) {
		if isArgoExample(t, n) {
			out = append(out, n)
		}
	}
	return out
}

// argoSite is one Argo CD cluster of the test.
type argoSite struct {
	region, cluster string
	c               *cluster
	n               *node
	order           *argoOrder
}

// argoOrder is what a watcher saw, polling every 100ms from Argo CD's
// start: when the infrastructure Application was first Synced and Healthy,
// and when the apps Application first existed (the root Application
// creates it in wave 1).
type argoOrder struct {
	mu                 sync.Mutex
	infraHealthy, apps time.Time
}

func watchArgoOrder(ctx context.Context, c *cluster) *argoOrder {
	o := &argoOrder{}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			now := time.Now()
			infra, err1 := c.kube.get(ctx, "argoproj.io/v1alpha1", "Application", "argocd", "infrastructure")
			_, err2 := c.kube.get(ctx, "argoproj.io/v1alpha1", "Application", "argocd", "apps")
			o.mu.Lock()
			if err1 == nil && o.infraHealthy.IsZero() && str(infra, "status", "health", "status") == "Healthy" && str(infra, "status", "sync", "status") == "Synced" {
				o.infraHealthy = now
			}
			if err2 == nil && o.apps.IsZero() {
				o.apps = now
			}
			done := !o.infraHealthy.IsZero() && !o.apps.IsZero()
			o.mu.Unlock()
			if done {
				return
			}
		}
	}()
	return o
}

// runArgoExample plays one example; without Argo CD's binaries (missing) it
// stops after the first boot's objects are on the API server.
func (e *env) runArgoExample(t *testing.T, example string, firstSlot int, argocd, redis, kubectl string, missing []string) {
	dir := filepath.Join(e.work, example)
	specDir, repo, keys := filepath.Join(dir, "spec"), filepath.Join(dir, "repo"), filepath.Join(dir, "keys")
	for _, d := range []string{specDir, keys} {
		os.MkdirAll(d, 0o700)
	}
	b, err := os.ReadFile(filepath.Join(exampleDir(example), "fleet.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	specPath := filepath.Join(specDir, "fleet.yaml")
	os.WriteFile(specPath, b, 0o644)
	_, spec := loadSpec(t, specPath)
	regions := regionNames(spec)
	secretName, _ := specGit(t, specPath)
	if secretName == "" {
		t.Fatalf("%s: the test expects a private repository (spec.git.secretName)", example)
	}
	user, password := "store-reader", "e2e-"+example+"-token"
	gitURL := e.git.newRepo(t, example+".git", user, password)
	pushURL := strings.Replace(gitURL, "http://", "http://"+user+":"+password+"@", 1)
	editSpec(t, specPath, specEdit{gitURL: gitURL})

	out := run(t, "", nil, e.fleetgen, "generate", "--spec", specPath, "--out", repo, "--quiet")
	t.Logf("fleetgen generate: %s", strings.TrimSpace(out))
	gitCmd(t, repo, "push", "-q", pushURL, "HEAD:main")
	rev1 := gitCmd(t, repo, "rev-parse", "HEAD")
	t.Logf("%s: pushed %s to %s", example, rev1, gitURL)

	// The repository Secret, made on the operator's machine as the bootstrap
	// README says (namespace argocd, Argo CD's repository label, depth 1).
	secretFile := filepath.Join(keys, "repo-secret.yaml")
	os.WriteFile(secretFile, []byte(fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: argocd\n  labels:\n    argocd.argoproj.io/secret-type: repository\ntype: Opaque\nstringData:\n  type: git\n  url: %s\n  username: %s\n  password: %s\n  depth: \"1\"\n",
		secretName, gitURL, user, password)), 0o600)

	var sites []*argoSite
	defer func() {
		for _, s := range sites {
			if s.c != nil {
				s.c.stop()
			}
		}
	}()
	for i, r := range regions {
		s := &argoSite{region: r, cluster: firstCluster(t, repo, r)}
		sites = append(sites, s)
		sdir := filepath.Join(dir, r)
		s.n = provision(t, repo, r, s.cluster, filepath.Join(sdir, "node"), []string{"FLEETGEN_GIT_SECRET_FILE=" + secretFile})
		for _, f := range []string{"argocd.yaml", "argocd-root.yaml", "argocd-repo-secret.yaml"} {
			if !fileExists(filepath.Join(s.n.manifestsDir, f)) {
				t.Fatalf("%s: provision.sh wrote no %s", s.cluster, f)
			}
		}
		s.c = startCluster(t, e.tl, e.pki, example+"/"+r+"/"+s.cluster, filepath.Join(sdir, "cluster"), firstSlot+i, s.n.apiserverArgs, &s.c)
		ctx, cancel := context.WithCancel(context.Background())
		s.c.cancel = cancel
		go s.c.standInKubelet(ctx)
		go standInStatefulSets(ctx, s.c)
		// K3s's deploy controller: every first-boot file, through the API
		// server (CRDs, then the objects that need them, on later passes).
		k3sAutoDeploy(t, e.tl, s.c, s.n)
		app, err := s.c.kube.get(context.Background(), "argoproj.io/v1alpha1", "Application", "argocd", "cluster")
		if err != nil {
			t.Fatalf("%s: the root Application is not on the API server: %v", s.cluster, err)
		}
		if got, want := str(app, "spec", "source", "path"), "clusters/"+r+"/"+s.cluster; got != want {
			t.Fatalf("%s: the root Application syncs %q, want %q", s.cluster, got, want)
		}
		if len(missing) == 0 {
			s.order = watchArgoOrder(ctx, s.c)
			startArgo(t, s.c, argocd, redis)
		}
	}
	if len(missing) > 0 {
		t.Skipf("e2e: the first boot's objects are on every API server; Argo CD's reconcile is not played: missing %s (FLEETGEN_E2E_ARGOCD=required makes this a failure)", strings.Join(missing, ", "))
	}
	for _, s := range sites {
		waitArgoSynced(t, s, rev1, 6*time.Minute)
		checkArgoOrder(t, s)
		checkArgoValues(t, s, "")
		checkArgoHandover(t, s, kubectl, rev1)
	}

	// The operator's day: a spec change (the first app's memory), regen,
	// a plain push; Argo CD applies the new revision (a refresh is
	// requested as `argocd app get --refresh` does, instead of waiting
	// for the region's poll).
	app, newMem := bumpFirstAppMemory(t, filepath.Join(repo, "fleet.yaml"))
	gitCmd(t, repo, "commit", "-q", "-am", "e2e: "+app+" memory "+newMem)
	out = run(t, "", nil, e.fleetgen, "regen", "--dir", repo, "--quiet")
	t.Logf("fleetgen regen: %s", strings.TrimSpace(out))
	gitCmd(t, repo, "push", "-q", pushURL, "HEAD:main")
	rev2 := gitCmd(t, repo, "rev-parse", "HEAD")
	for _, s := range sites {
		for _, a := range []string{"cluster", "infrastructure", "apps"} {
			s.c.kube.mergePatch(context.Background(), "argoproj.io/v1alpha1", "Application", "argocd", a, "",
				obj{"metadata": obj{"annotations": obj{"argocd.argoproj.io/refresh": "normal"}}})
		}
	}
	for _, s := range sites {
		waitArgoSynced(t, s, rev2, 6*time.Minute)
		checkArgoValues(t, s, newMem)
		t.Logf("%s: Argo CD applied %s (after regen), %s of %s is %s", s.cluster, rev2[:12], app, s.cluster, newMem)
	}
}

// startArgo runs redis, repo-server and application-controller for one
// cluster, as its core install would in pods.
func startArgo(t *testing.T, c *cluster, argocd, redis string) {
	t.Helper()
	addr := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", c.port+i) }
	port := func(i int) string { return fmt.Sprint(c.port + i) }
	c.start("redis", nil, redis, "--port", port(2), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", c.dir)
	waitTCP(t, c, addr(2), 30*time.Second)
	// The multi-call binary, under the names Argo CD runs it by (git runs
	// `argocd` as its askpass helper, with ARGOCD_BINARY_NAME set).
	bin := filepath.Join(c.dir, "argocd-bin")
	os.MkdirAll(bin, 0o755)
	for _, n := range []string{"argocd", "argocd-repo-server", "argocd-application-controller", "argocd-git-ask-pass"} {
		os.Symlink(argocd, filepath.Join(bin, n))
	}
	// The image puts upstream's hack/git-verify-wrapper.sh and
	// gpg-wrapper.sh on PATH (its Dockerfile); repo-server runs the first
	// for every revision and fails the manifest generation without it.
	// The module zip keeps no executable bit: copied with one.
	for _, n := range []string{"git-verify-wrapper.sh", "gpg-wrapper.sh"} {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(argocd)), "src", filepath.Base(argocd), "hack", n))
		if err != nil {
			t.Fatalf("Argo CD's %s (from its source, as its image has it): %v", n, err)
		}
		os.WriteFile(filepath.Join(bin, n), b, 0o755)
	}
	tmp := filepath.Join(c.dir, "argocd-tmp")
	os.MkdirAll(tmp, 0o700)
	env := []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "TMPDIR=" + tmp, "ARGOCD_GPG_ENABLED=false",
		"ARGOCD_ASK_PASS_SOCK=" + filepath.Join(c.dir, "askpass.sock"), "KUBECONFIG=" + c.kubeconfig,
		// The in-cluster destination (https://kubernetes.default.svc) is
		// the API server of the kubeconfig (Argo CD's own local-dev switch).
		"ARGOCD_FAKE_IN_CLUSTER=true"}
	c.start("argocd-repo-server", env, filepath.Join(bin, "argocd-repo-server"),
		"--port", port(3), "--metrics-port", port(4), "--disable-tls", "--client-ca-path=", "--redis", addr(2), "--loglevel", "info")
	waitTCP(t, c, addr(3), 60*time.Second)
	c.start("argocd-application-controller", env, filepath.Join(bin, "argocd-application-controller"),
		"--kubeconfig", c.kubeconfig, "--namespace", "argocd",
		"--repo-server", addr(3), "--repo-server-plaintext", "--redis", addr(2),
		"--metrics-port", port(5), "--loglevel", "info")
}

// standInStatefulSets marks StatefulSets ready (Argo CD's own
// application-controller is one): the kubelet stand-in covers Deployments.
func standInStatefulSets(ctx context.Context, c *cluster) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		sts, err := c.kube.list(ctx, "apps/v1", "StatefulSet", "")
		if err != nil {
			continue
		}
		for _, s := range sts {
			gen, _ := field(s, "metadata", "generation").(float64)
			obs, _ := field(s, "status", "observedGeneration").(float64)
			replicas := 1.0
			if r, ok := field(s, "spec", "replicas").(float64); ok {
				replicas = r
			}
			if ready, _ := field(s, "status", "readyReplicas").(float64); obs == gen && ready == replicas {
				continue
			}
			rev := fmt.Sprintf("%s-e2e-%d", str(s, "metadata", "name"), int(gen))
			c.kube.mergePatch(ctx, "apps/v1", "StatefulSet", str(s, "metadata", "namespace"), str(s, "metadata", "name"), "status", obj{"status": obj{
				"observedGeneration": gen, "replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
				"updatedReplicas": replicas, "currentReplicas": replicas, "currentRevision": rev, "updateRevision": rev}})
		}
	}
}

// argoApps are the Applications of a cluster, root first.
var argoApps = []string{"cluster", "infrastructure", "apps"}

// waitArgoSynced waits until every Application is Synced to rev and
// Healthy, and returns the state it saw on failure.
func waitArgoSynced(t *testing.T, s *argoSite, rev string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var state []string
		ok := true
		for _, name := range argoApps {
			a, err := s.c.kube.get(context.Background(), "argoproj.io/v1alpha1", "Application", "argocd", name)
			if err != nil {
				ok = false
				state = append(state, name+": "+err.Error())
				continue
			}
			sync, health, got := str(a, "status", "sync", "status"), str(a, "status", "health", "status"), str(a, "status", "sync", "revision")
			op := str(a, "status", "operationState", "phase") + " " + truncate(str(a, "status", "operationState", "message"), 200)
			state = append(state, fmt.Sprintf("%s: sync %s health %s revision %.12s operation %s", name, sync, health, got, op))
			if sync != "Synced" || health != "Healthy" || got != rev {
				ok = false
			}
		}
		if ok {
			t.Logf("%s: %s", s.cluster, strings.Join(state, "; "))
			return
		}
		if x := s.c.exited(); x != "" {
			t.Fatalf("%s: %s", s.cluster, x)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: Argo CD did not sync %.12s within %s:\n  %s\n%s", s.cluster, rev, timeout, strings.Join(state, "\n  "), s.c.logTails(40))
		}
		time.Sleep(3 * time.Second)
	}
}

// checkArgoOrder: the apps Application (wave 1 of the root Application)
// appeared only once the infrastructure Application (wave 0) was Synced and
// Healthy: sync waves, with argocd-cm's Application health check. The
// watcher polls every 100ms, so the two could only be seen in the wrong
// order if they happened within one poll.
func checkArgoOrder(t *testing.T, s *argoSite) {
	t.Helper()
	s.order.mu.Lock()
	defer s.order.mu.Unlock()
	if s.order.infraHealthy.IsZero() || s.order.apps.IsZero() {
		t.Fatalf("%s: the watcher saw infrastructure Healthy at %v, apps created at %v", s.cluster, s.order.infraHealthy, s.order.apps)
	}
	if s.order.apps.Before(s.order.infraHealthy) {
		t.Errorf("%s: the apps Application existed %s before infrastructure was Healthy", s.cluster, s.order.infraHealthy.Sub(s.order.apps))
	}
	t.Logf("%s: infrastructure Synced and Healthy, then the apps Application created %s later", s.cluster, s.order.apps.Sub(s.order.infraHealthy).Round(time.Millisecond))
}

// checkArgoValues: every image app's Deployment on the API server has the
// cluster's own FLEET_CLUSTER and FLEET_REGION (kustomize replacements),
// and (after the regen) the first app the new memory.
func checkArgoValues(t *testing.T, s *argoSite, firstAppMemory string) {
	t.Helper()
	deps, err := s.c.kube.list(context.Background(), "apps/v1", "Deployment", "")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range deps {
		if str(d, "metadata", "namespace") == "argocd" || str(d, "metadata", "namespace") == "system-upgrade" {
			continue
		}
		cs, _ := field(d, "spec", "template", "spec", "containers").([]any)
		c0, _ := cs[0].(obj)
		env, _ := c0["env"].([]any)
		got := map[string]string{}
		for _, e := range env {
			m, _ := e.(obj)
			got[m["name"].(string)], _ = m["value"].(string)
		}
		if got["FLEET_CLUSTER"] != s.cluster || got["FLEET_REGION"] != s.region {
			t.Errorf("%s: Deployment %s/%s has FLEET_CLUSTER=%q FLEET_REGION=%q", s.cluster, str(d, "metadata", "namespace"), str(d, "metadata", "name"), got["FLEET_CLUSTER"], got["FLEET_REGION"])
		}
		n++
	}
	if n == 0 {
		t.Errorf("%s: no app Deployment on the API server", s.cluster)
	}
	if firstAppMemory != "" {
		found := false
		for _, d := range deps {
			cs, _ := field(d, "spec", "template", "spec", "containers").([]any)
			c0, _ := cs[0].(obj)
			if m := str(c0, "resources", "limits", "memory"); m == firstAppMemory {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no Deployment has the new memory %s after the regen", s.cluster, firstAppMemory)
		}
	}
}

// checkArgoHandover runs handover.sh with `k3s kubectl` being the real
// kubectl against the cluster's API server: it must remove every first-boot
// file (Argo CD manages all of them from git now) and record the revision.
func checkArgoHandover(t *testing.T, s *argoSite, kubectl, rev string) {
	t.Helper()
	script := filepath.Join(s.n.root, "usr", "local", "lib", "fleetgen", "handover.sh")
	k3s := "#!/bin/sh\n[ \"$1\" = kubectl ] || exit 1\nshift\nexec " + kubectl + " --kubeconfig " + s.c.kubeconfig + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(s.n.standIns, "k3s"), []byte(k3s), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", script)
	cmd.Env = append(os.Environ(), "PATH="+s.n.standIns+":"+os.Getenv("PATH"), "PROVISION_ROOT="+s.n.root,
		"E2E_STANDIN_LOG="+filepath.Join(filepath.Dir(s.n.standIns), "stand-ins.log"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: handover.sh: %v\n%s", s.cluster, err, out)
	}
	t.Logf("%s: handover.sh: %s", s.cluster, strings.TrimSpace(string(out)))
	if left := autoDeployFiles(t, s.n.manifestsDir); len(left) > 0 {
		t.Errorf("%s: after the handover K3s would still apply %v at every start", s.cluster, left)
	}
	done, err := os.ReadFile(filepath.Join(s.n.root, "var", "lib", "rancher", "k3s", "server", "fleetgen-handover.done"))
	if err != nil || strings.TrimSpace(string(done)) != rev {
		t.Errorf("%s: the handover recorded %q (%v), Argo CD synced %s", s.cluster, done, err, rev)
	}
}
