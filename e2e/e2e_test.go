package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// TestEndToEnd plays each example's fleet for real: fleetgen generates the
// repository, the git CLI pushes it to a smart HTTP git server on loopback,
// provision.sh prepares one cluster of every region, what K3s would
// auto-deploy goes to a real kube-apiserver on kine/SQLite, and the Flux
// Operator, source-controller and kustomize-controller reconcile it. Then an
// operator edits by hand, changes the spec, runs `fleetgen regen` and pushes:
// the clusters apply the new revision with the hand edits.
//
// Stand-ins, because nothing here runs Pods: there is no kubelet (a stand-in
// marks Deployments available with a status patch once they exist), no
// kube-controller-manager, and no K3s helm-controller (the Flux Operator's
// HelmChart is stood in for by installing its CRDs and running the operator
// process). Reconciles are requested the way `flux reconcile` does (the
// requestedAt annotation) after a push and while a Kustomization waits out
// a retryInterval.
func TestEndToEnd(t *testing.T) {
	tl := needTools(t)
	started := time.Now()
	e := newEnv(t, tl)

	var examples []string
	for _, ex := range exampleNames(t) {
		if !isArgoExample(t, ex) { // TestArgoCD plays them
			examples = append(examples, ex)
		}
	}
	var table []row
	var mu sync.Mutex
	slot := 0
	for _, ex := range examples {
		first := slot
		slot += countRegions(t, ex)
		t.Run(ex, func(t *testing.T) {
			rows := e.runExample(t, ex, first)
			mu.Lock()
			table = append(table, rows...)
			mu.Unlock()
		})
	}
	t.Logf("end-to-end table (example, cluster -> Kustomization -> revision applied), %s:\n%s", time.Since(started).Round(time.Second), formatTable(table))
}

// env is what every example shares.
type env struct {
	tl       *tools
	work     string
	fleetgen string
	pki      *pki
	git      *gitServer
	registry *ociRegistry // started for the first example delivered as OCI
}

func newEnv(t *testing.T, tl *tools) *env {
	t.Helper()
	work, err := os.MkdirTemp("", "fleetgen-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("FLEETGEN_E2E_KEEP") != "" {
			t.Logf("e2e: work folder kept: %s (process logs under <example>/<region>/)", work)
			return
		}
		os.RemoveAll(work)
	})
	// The git CLI (and fleetgen, which reads git's user.name) must not read
	// the user's configuration (signing, hooks): they get a HOME of their own.
	gitHome = filepath.Join(work, "home")
	os.MkdirAll(gitHome, 0o700)

	e := &env{tl: tl, work: work, fleetgen: filepath.Join(work, "bin", "fleetgen")}
	build := exec.Command("go", "build", "-o", e.fleetgen, "./cmd/fleetgen")
	build.Dir = repoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/fleetgen: %v\n%s", err, out)
	}
	e.pki = newPKI(t, filepath.Join(work, "pki"))
	e.git = startGitServer(t, tl, filepath.Join(work, "git"), portBase())
	return e
}

// exampleNames lists examples/*/fleet.yaml, offshore-platforms first (the
// seed's example); FLEETGEN_E2E_EXAMPLES=a,b narrows the run.
func exampleNames(t *testing.T) []string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(repoRoot(), "examples", "*", "fleet.yaml"))
	if err != nil || len(matches) == 0 {
		t.Fatalf("no examples/*/fleet.yaml: %v", err)
	}
	var names []string
	for _, m := range matches {
		names = append(names, filepath.Base(filepath.Dir(m)))
	}
	names = append(names, e2eCases...)
	sort.Slice(names, func(i, j int) bool {
		if (names[i] == "offshore-platforms") != (names[j] == "offshore-platforms") {
			return names[i] == "offshore-platforms"
		}
		return names[i] < names[j]
	})
	if only := os.Getenv("FLEETGEN_E2E_EXAMPLES"); only != "" {
		want := map[string]bool{}
		for _, n := range strings.Split(only, ",") {
			want[strings.TrimSpace(n)] = true
		}
		var kept []string
		for _, n := range names {
			if want[n] {
				kept = append(kept, n)
			}
		}
		names = kept
	}
	return names
}

// e2eCases are golden cases of generator/testdata/cases the test plays as
// well: farm-lab-rings, the classic layout rolled out in rings, and
// wasm-shops, WebAssembly apps on K3s and k0s (the API server takes their
// runtimeClassName and the k0s region's RuntimeClasses; no pod runs here).
var e2eCases = []string{"farm-lab-rings", "wasm-shops"}

// exampleDir is examples/<name>, or generator/testdata/cases/<name> for
// one of e2eCases.
func exampleDir(name string) string {
	for _, c := range e2eCases {
		if c == name {
			return filepath.Join(repoRoot(), "generator", "testdata", "cases", name)
		}
	}
	return filepath.Join(repoRoot(), "examples", name)
}

func countRegions(t *testing.T, example string) int {
	_, spec := loadSpec(t, filepath.Join(exampleDir(example), "fleet.yaml"))
	return len(regionNames(spec))
}

// row is one line of the result table.
type row struct {
	example, cluster, kustomization string
	revisions                       []string // applied revision after each push
}

func formatTable(rows []row) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-20s %-36s %-15s %s\n", "example", "cluster", "kustomization", "revision applied (first push, after hand edit + regen)")
	for _, r := range rows {
		fmt.Fprintf(&b, "%-20s %-36s %-15s %s\n", r.example, r.cluster, r.kustomization, strings.Join(r.revisions, " -> "))
	}
	return b.String()
}

// kustomizations are the Flux Kustomizations every cluster runs, in dependsOn order.
var kustomizations = []string{"flux-system", "infrastructure", "apps"}

// site is one provisioned cluster of an example.
type site struct {
	region, cluster string
	ring            string // spec.rings: the cluster's ring ("" without rings)
	dir             string
	c               *cluster
	ageKey          string // the region's age key file the node holds ("" without SOPS)
	sopsSecrets     []sopsSecret
	k0s             bool // the region runs k0s (no system-upgrade-controller Plans)
}

// sopsSecret is a SOPS-encrypted Secret the test added to the repository.
type sopsSecret struct {
	file, namespace, name, key, plaintext string
}

func (e *env) runExample(t *testing.T, example string, firstSlot int) []row {
	dir := filepath.Join(e.work, example)
	specDir := filepath.Join(dir, "spec")
	repo := filepath.Join(dir, "repo")
	keys := filepath.Join(dir, "keys")
	for _, d := range []string{specDir, keys} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// The test copy of the example (fleet.yaml and its inventory files).
	src := exampleDir(example)
	ents, _ := os.ReadDir(src)
	for _, en := range ents {
		if en.Type().IsRegular() {
			b, _ := os.ReadFile(filepath.Join(src, en.Name()))
			os.WriteFile(filepath.Join(specDir, en.Name()), b, 0o644)
		}
	}
	specPath := filepath.Join(specDir, "fleet.yaml")
	_, spec := loadSpec(t, specPath)
	regions := regionNames(spec)
	secretName, verifySecretName := specGit(t, specPath)
	branch := "main"
	if b := yamlMap(yamlMap(spec, "git"), "branch"); b != nil && b.Value != "" {
		branch = b.Value
	}

	// Credentials: the repository is private when the spec names a pull Secret.
	// OCI delivery: clusters pull the artifacts fleetgen publishes to a
	// registry on loopback; the spec's pull Secret is the registry's.
	var reg *ociRegistry
	var ociRepository, ociUnit string
	if d := yamlMap(spec, "delivery"); d != nil && yamlMap(d, "mode") != nil && yamlMap(d, "mode").Value == "oci" {
		if e.registry == nil {
			e.registry = startRegistry(t, e.pki, e.work)
		}
		reg = e.registry
		ociRepository = reg.host + "/" + example
		ociUnit = "cluster"
		if u := yamlMap(d, "unit"); u != nil {
			ociUnit = u.Value
		}
		secretName = ""
		if n := yamlMap(d, "pullSecret"); n != nil {
			secretName = n.Value
		}
	}
	user, password := "", ""
	if secretName != "" && reg == nil {
		user, password = "fleet-reader", "e2e-"+example+"-token"
	}
	gitURL := e.git.newRepo(t, example+".git", user, password)
	pushURL := gitURL
	if user != "" {
		pushURL = strings.Replace(gitURL, "http://", "http://"+user+":"+password+"@", 1)
	}
	fleetKey := newAgeKey(t, filepath.Join(keys, "fleet.agekey"))
	regionKeys := map[string]ageKey{}
	recipients := map[string]string{}
	for _, r := range regions {
		regionKeys[r] = newAgeKey(t, filepath.Join(keys, r+".agekey"))
		recipients[r] = regionKeys[r].recipient
	}
	editSpec(t, specPath, specEdit{gitURL: gitURL, ociRepository: ociRepository, fleetRecipient: fleetKey.recipient, regionRecipient: recipients})
	var signing *signingKey
	var signArgs []string
	if verifySecretName != "" {
		signing = newSigningKey(t, keys)
		signArgs = []string{"--sign-key", signing.privateFile}
	}

	// fleetgen generate, as the README says.
	out := run(t, "", nil, e.fleetgen, append([]string{"generate", "--spec", specPath, "--out", repo, "--quiet"}, signArgs...)...)
	t.Logf("fleetgen generate: %s", strings.TrimSpace(out))
	hasSops := fileExists(filepath.Join(repo, ".sops.yaml"))
	app := firstApp(t, specPath)
	rings := ringNames(spec)
	if len(rings) > 0 && reg != nil {
		t.Fatalf("%s: the test plays rings in git mode only", example)
	}

	// What the operator adds before the first push: a SOPS-encrypted Secret
	// per region (and per cluster folder where .sops.yaml encrypts those),
	// and, for the classic bootstrap layout, gotk-components.yaml.
	var sites []*site
	for _, r := range regions {
		s := &site{region: r, cluster: firstCluster(t, repo, r)}
		if len(rings) > 0 {
			// With rings the regions' sites take the rings in turn, so
			// that the first ring and a later one are both played.
			s.cluster, s.ring = firstClusterOfRing(t, repo, r, rings[len(sites)%len(rings)])
		}
		s.dir = filepath.Join(dir, r)
		sites = append(sites, s)
		if hasSops {
			s.ageKey = regionKeys[r].file
		}
		rel := "infrastructure/regions/" + r + "/e2e-sops-secret.yaml"
		if sopsRuleFor(t, repo, rel) {
			sec := sopsSecret{file: rel, namespace: app, name: "e2e-sops", key: "token", plaintext: "region " + r + " plaintext, decrypted by Flux"}
			sopsEncrypt(t, e.tl, repo, rel, sec.namespace, sec.name, map[string]string{sec.key: sec.plaintext})
			addResource(t, filepath.Join(repo, "infrastructure", "regions", r, "kustomization.yaml"), "e2e-sops-secret.yaml")
			s.sopsSecrets = append(s.sopsSecrets, sec)
		} else {
			t.Logf("%s: .sops.yaml has no rule for %s: no SOPS Secret tested in region %s", example, rel, r)
		}
		// .sops.yaml rules that cover clusters/<region>/ promise that a
		// Secret there is decrypted too (it is applied by the flux-system
		// Kustomization).
		rel = "clusters/" + r + "/" + s.cluster + "/e2e-sops-secret.yaml"
		if sopsRuleFor(t, repo, rel) {
			sec := sopsSecret{file: rel, namespace: "flux-system", name: "e2e-cluster-sops", key: "token", plaintext: "cluster " + s.cluster + " plaintext, decrypted by Flux"}
			sopsEncrypt(t, e.tl, repo, rel, sec.namespace, sec.name, map[string]string{sec.key: sec.plaintext})
			addResource(t, filepath.Join(repo, "clusters", r, s.cluster, "kustomization.yaml"), "e2e-sops-secret.yaml")
			s.sopsSecrets = append(s.sopsSecrets, sec)
		}
		fluxSystem := filepath.Join(repo, "clusters", r, s.cluster, "flux-system")
		writeGotkComponents(t, e.tl, fluxSystem)
		// The classic bootstrap layout installs Flux at first boot from the
		// same file, which the operator puts in the region's bootstrap folder
		// (bootstrap/<region>/README.md).
		if fileExists(filepath.Join(repo, "bootstrap", r, "manifests", "flux-sync.yaml")) {
			b, err := os.ReadFile(filepath.Join(fluxSystem, "gotk-components.yaml"))
			if err != nil {
				t.Fatalf("bootstrap/%s/manifests/flux-sync.yaml needs Flux's components: %v", r, err)
			}
			if err := os.WriteFile(filepath.Join(repo, "bootstrap", r, "manifests", "flux-components.yaml"), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	gitCmd(t, repo, "add", "-A")
	if gitCmd(t, repo, "status", "--porcelain") != "" {
		if _, err := gitRun(repo, signing.gitEnv(), "commit", "-q", "-m", "e2e: SOPS-encrypted Secrets and Flux components"); err != nil {
			t.Fatalf("git commit: %v", err)
		}
	}
	rev1 := gitCmd(t, repo, "rev-parse", "HEAD")
	if len(rings) > 0 {
		// The operator's commit reaches the rings as any commit does:
		// promoted, ring after ring; fleetgen push sends main and the
		// ring branches.
		for _, ring := range rings {
			out := run(t, "", nil, e.fleetgen, append([]string{"promote", "--dir", repo, ring}, signArgs...)...)
			t.Logf("fleetgen promote %s: %s", ring, strings.TrimSpace(out))
		}
		out := run(t, "", nil, e.fleetgen, "push", "--dir", repo, "--remote", pushURL)
		t.Logf("fleetgen push: %s", strings.TrimSpace(out))
		checkSites(t, sites, rings)
	} else {
		// A plain push: the regeneration base travels with the branch.
		gitCmd(t, repo, "push", "-q", pushURL, "HEAD:"+branch)
	}
	t.Logf("%s: pushed %s to %s", example, rev1, gitURL)

	// Node-only files: the git pull Secret, the region's age key, the signing keys.
	gitSecretFile := filepath.Join(keys, "git-secret.yaml")
	if secretName != "" {
		secret := []byte(fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: flux-system\ntype: Opaque\nstringData:\n  username: %s\n  password: %s\n", secretName, user, password))
		if reg != nil {
			secret = reg.pullSecret(secretName)
		}
		os.WriteFile(gitSecretFile, secret, 0o600)
	}
	nodeEnv := func(s *site) []string {
		var env []string
		if secretName != "" {
			env = append(env, "FLEETGEN_GIT_SECRET_FILE="+gitSecretFile)
		}
		if s.ageKey != "" {
			env = append(env, "FLEETGEN_AGE_KEY_FILE="+s.ageKey)
		}
		if signing != nil {
			env = append(env, "FLEETGEN_SIGNING_KEYS_FILE="+signing.publicFile)
		}
		return env
	}

	defer stopAll(sites)

	// First push: every cluster syncs it.
	// What each cluster must apply: the commit (git), or its artifact's
	// digest as published from that commit (OCI).
	publish := func(dir string) {
		if reg == nil {
			return
		}
		out := run(t, "", reg.env(), e.fleetgen, "publish", "--dir", dir)
		t.Logf("fleetgen publish: %s", strings.TrimSpace(out))
	}
	wantFor := func(rev string) func(s *site) string {
		if len(rings) > 0 {
			// A ring's clusters apply the head of their ring's branch
			// (the promotion record, whose tree is the revision's).
			return func(s *site) string {
				return ringBranch(s.ring) + "@sha1:" + e.git.head(t, example+".git", ringBranch(s.ring))
			}
		}
		if reg == nil {
			return func(*site) string { return branch + "@sha1:" + rev }
		}
		wants := map[*site]string{}
		for _, s := range sites {
			tag := s.cluster
			if ociUnit == "region" {
				tag = s.region
			}
			wants[s] = reg.revision(t, ociRepository, tag)
		}
		return func(s *site) string { return wants[s] }
	}
	// commitOf is the commit whose files a cluster applied, given what it
	// must apply: a ring head, else the pushed commit.
	commitOf := func(want, rev string) string {
		if len(rings) > 0 {
			return want[strings.LastIndex(want, ":")+1:]
		}
		return rev
	}
	publish(repo)
	want1 := wantFor(rev1)
	sourceKind := "GitRepository"
	if reg != nil {
		sourceKind = "OCIRepository"
	}
	revs := map[string]map[string][]string{}
	var revMu sync.Mutex
	note := func(s *site, applied map[string]string) {
		revMu.Lock()
		defer revMu.Unlock()
		if revs[s.cluster] == nil {
			revs[s.cluster] = map[string][]string{}
		}
		for k, v := range applied {
			revs[s.cluster][k] = append(revs[s.cluster][k], v)
		}
	}
	t.Run("first-push", func(t *testing.T) {
		for i, s := range sites {
			t.Run(s.region+"/"+s.cluster, func(t *testing.T) {
				t.Parallel()
				n := provision(t, repo, s.region, s.cluster, s.dir, nodeEnv(s))
				t.Logf("provision.sh %s: %s", s.cluster, strings.TrimSpace(n.output))
				for _, c := range n.calls {
					t.Logf("stand-in asked: %s", c)
				}
				// The cluster runs until the example ends (the regen step needs it).
				startCluster(t, e.tl, e.pki, example+"/"+s.region+"/"+s.cluster, filepath.Join(s.dir, "cluster"), firstSlot+i, n.apiserverArgs, &s.c)
				s.c.sourceKind = sourceKind
				if reg != nil {
					s.c.fluxEnv = []string{"SSL_CERT_FILE=" + reg.caFile} // the node trusts its registry's CA
				}
				ctx, cancel := context.WithCancel(context.Background())
				s.c.mu.Lock()
				s.c.cancel = cancel
				s.c.mu.Unlock()
				go s.c.standInKubelet(ctx)
				if n.k0s {
					k0sDeploy(t, e.tl, s.c, n)
				} else {
					k3sAutoDeploy(t, e.tl, s.c, n)
				}
				waitFluxCRDs(t, s.c)
				s.c.startFlux(e.tl)
				applied := waitSynced(t, s.c, want1(s), 6*time.Minute)
				note(s, applied)
				checkOrder(t, s.c)
				checkClusterValues(t, s, app)
				checkRuntimeClasses(t, s, n.k0s, repo)
				checkSopsSecrets(t, s)
				s.k0s = n.k0s
				if n.k0s {
					checkK0sHandover(t, s.c, n)
				} else {
					checkHandover(t, s.c, n)
					checkUpgradePlans(t, s, repo, commitOf(want1(s), rev1))
				}
			})
		}
	})
	if t.Failed() {
		return tableRows(example, sites, revs)
	}

	// An operator's day: a hand edit in a clone, a spec change, a regen, a push.
	clone := filepath.Join(dir, "clone")
	// A plain clone: nothing but the branch is needed to regenerate.
	gitCmd(t, "", "clone", "-q", "-b", branch, pushURL, clone)
	for _, s := range sites {
		handEdit(t, clone, s.region, app)
	}
	handDeployment := filepath.Join(clone, "apps", "base", app, "deployment.yaml")
	annotateDeployment(t, handDeployment)
	gitCmd(t, clone, "add", "-A")
	if out, err := gitRun(clone, signing.gitEnv(), "commit", "-q", "-m", "Hand edit: a ConfigMap per region, an annotation on "+app); err != nil {
		t.Fatalf("git commit: %v\n%s", err, out)
	}
	appName, newMem := bumpFirstAppMemory(t, filepath.Join(clone, "fleet.yaml"))
	if out, err := gitRun(clone, signing.gitEnv(), "commit", "-q", "-am", appName+" gets "+newMem); err != nil {
		t.Fatalf("git commit: %v\n%s", err, out)
	}
	// A K3s upgrade: the Plans of every region move to the new release.
	newK3s := bumpK3sVersion(t, filepath.Join(clone, "fleet.yaml"))
	if out, err := gitRun(clone, signing.gitEnv(), "commit", "-q", "-am", "K3s "+newK3s); err != nil {
		t.Fatalf("git commit: %v\n%s", err, out)
	}
	out = run(t, "", nil, e.fleetgen, append([]string{"regen", "--dir", clone}, signArgs...)...)
	t.Logf("fleetgen regen: %s", strings.TrimSpace(out))
	if b, _ := os.ReadFile(handDeployment); !strings.Contains(string(b), "e2e.fleetgen.dev/hand-edit") || !strings.Contains(string(b), "memory: "+newMem) {
		t.Fatalf("after regen, %s lost the hand edit or misses the new memory %s:\n%s", handDeployment, newMem, b)
	}
	gitCmd(t, clone, "push", "-q", "origin", branch)
	rev2 := gitCmd(t, clone, "rev-parse", "HEAD")
	publish(clone)
	want2 := wantFor(rev2)
	t.Logf("%s: pushed %s (hand edit, spec change, K3s %s, regen)", example, rev2, newK3s)

	if len(rings) > 0 {
		e.playRings(t, example, clone, signArgs, sites, rings, want1, app, newMem, note)
		return tableRows(example, sites, revs)
	}

	t.Run("after-regen", func(t *testing.T) {
		for _, s := range sites {
			t.Run(s.region+"/"+s.cluster, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				// `flux reconcile source git flux-system`: the sync interval is long.
				if err := s.c.kube.requestReconcile(ctx, "source.toolkit.fluxcd.io/v1", s.c.source(), "flux-system", "flux-system"); err != nil {
					t.Fatal(err)
				}
				applied := waitSynced(t, s.c, want2(s), 4*time.Minute)
				note(s, applied)
				checkAfterRegen(t, s, app, newMem)
				checkSopsSecrets(t, s)
				checkRuntimeClasses(t, s, s.k0s, clone)
				if !s.k0s { // a fleet with K3s and k0s regions: k0s clusters get no Plans
					checkUpgradePlans(t, s, clone, rev2)
				}
			})
		}
	})
	return tableRows(example, sites, revs)
}

// stopAll stops the clusters of an example (each process the test started,
// by pid; Pdeathsig kills them too if the test binary dies).
func stopAll(sites []*site) {
	var wg sync.WaitGroup
	for _, s := range sites {
		if s.c == nil {
			continue
		}
		wg.Add(1)
		go func(c *cluster) {
			defer wg.Done()
			c.mu.Lock()
			cancel := c.cancel
			c.mu.Unlock()
			if cancel != nil {
				cancel()
			}
			c.stop()
		}(s.c)
	}
	wg.Wait()
}

func tableRows(example string, sites []*site, revs map[string]map[string][]string) []row {
	var rows []row
	for _, s := range sites {
		for _, k := range kustomizations {
			rows = append(rows, row{example: example, cluster: s.region + "/" + s.cluster, kustomization: k, revisions: revs[s.cluster][k]})
		}
	}
	return rows
}

func run(t *testing.T, dir string, env []string, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+gitHome, "XDG_CONFIG_HOME="+filepath.Join(gitHome, ".config"))
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return string(out)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// writeGotkComponents stands in for the operator's
// `flux install --export --components=... > gotk-components.yaml` that the
// classic bootstrap layout asks for (the command is in the folder's
// kustomization.yaml): the same kind of output, built with the kustomize API
// from the Flux distribution manifests bundled in the Flux Operator.
func writeGotkComponents(t *testing.T, tl *tools, fluxSystem string) {
	t.Helper()
	k, err := os.ReadFile(filepath.Join(fluxSystem, "kustomization.yaml"))
	if err != nil || !strings.Contains(string(k), "gotk-components.yaml") || fileExists(filepath.Join(fluxSystem, "gotk-components.yaml")) {
		return
	}
	components := []string{"source-controller", "kustomize-controller", "helm-controller", "notification-controller"}
	if m := regexp.MustCompile(`--components=([a-z,-]+)`).FindSubmatch(k); m != nil {
		components = strings.Split(string(m[1]), ",")
	}
	data := filepath.Join(tl.fluxOperatorSrc, "config", "data", "flux")
	versions, _ := filepath.Glob(filepath.Join(data, "v2.*"))
	sort.Slice(versions, func(i, j int) bool { return semverLess(filepath.Base(versions[i]), filepath.Base(versions[j])) })
	if len(versions) == 0 {
		t.Fatalf("no Flux distribution under %s", data)
	}
	dist := versions[len(versions)-1]
	fs := filesys.MakeFsInMemory()
	resources := []string{"namespace.yaml"}
	fs.WriteFile("/flux/namespace.yaml", []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: flux-system\n  labels:\n    pod-security.kubernetes.io/warn: restricted\n    pod-security.kubernetes.io/warn-version: latest\n"))
	for _, f := range append(components, "rbac", "policies") {
		b, err := os.ReadFile(filepath.Join(dist, f+".yaml"))
		if err != nil {
			t.Fatalf("Flux distribution %s: %v", filepath.Base(dist), err)
		}
		fs.WriteFile("/flux/"+f+".yaml", b)
		resources = append(resources, f+".yaml")
	}
	fs.WriteFile("/flux/kustomization.yaml", []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: flux-system\nlabels:\n- pairs:\n    app.kubernetes.io/instance: flux-system\n    app.kubernetes.io/part-of: flux\n    app.kubernetes.io/version: "+filepath.Base(dist)+"\nresources:\n- "+strings.Join(resources, "\n- ")+"\n"))
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, "/flux")
	if err != nil {
		t.Fatalf("building gotk-components.yaml: %v", err)
	}
	y, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	header := fmt.Sprintf("# Written by fleetgen's e2e test in place of `flux install --export --components=%s`\n# (Flux %s manifests bundled with the Flux Operator).\n---\n", strings.Join(components, ","), filepath.Base(dist))
	if err := os.WriteFile(filepath.Join(fluxSystem, "gotk-components.yaml"), append([]byte(header), y...), 0o644); err != nil {
		t.Fatal(err)
	}
}

func semverLess(a, b string) bool {
	pa, pb := strings.Split(strings.TrimPrefix(a, "v"), "."), strings.Split(strings.TrimPrefix(b, "v"), ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		var x, y int
		fmt.Sscan(pa[i], &x)
		fmt.Sscan(pb[i], &y)
		if x != y {
			return x < y
		}
	}
	return len(pa) < len(pb)
}

// handEdit adds, by hand, a ConfigMap to the region's apps overlay (a new
// file and an edit of the generated kustomization.yaml that regen merges).
func handEdit(t *testing.T, clone, region, namespace string) {
	t.Helper()
	dir := filepath.Join(clone, "apps", "regions", region)
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: e2e-hand-edit\n  namespace: " + namespace + "\ndata:\n  cluster: ${CLUSTER_NAME}\n  note: added by hand in git, kept by fleetgen regen\n"
	if err := os.WriteFile(filepath.Join(dir, "e2e-hand-edit.yaml"), []byte(cm), 0o644); err != nil {
		t.Fatal(err)
	}
	addResource(t, filepath.Join(dir, "kustomization.yaml"), "e2e-hand-edit.yaml")
}

// annotateDeployment adds an annotation by hand to a generated Deployment
// whose resources the spec change then rewrites (a three-way merge).
func annotateDeployment(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "\nmetadata:\n", "\nmetadata:\n  annotations:\n    e2e.fleetgen.dev/hand-edit: kept\n", 1)
	if s == string(b) {
		t.Fatalf("%s: no top-level metadata to annotate", path)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// k3sAutoDeploy applies what K3s's deploy controller would: every file of
// the auto-deploy folder, retried until it applies (K3s retries every 15s;
// a FluxInstance waits for its CRD). A HelmChart is K3s's helm-controller's
// job; the Flux Operator's chart is stood in for here.
func k3sAutoDeploy(t *testing.T, tl *tools, c *cluster, n *node) {
	t.Helper()
	ctx := context.Background()
	files := autoDeployFiles(t, n.manifestsDir)
	if len(files) == 0 {
		t.Fatalf("%s: nothing for K3s to auto-deploy in %s", c.name, n.manifestsDir)
	}
	var names []string
	for _, f := range files {
		rel, _ := filepath.Rel(n.root, f)
		names = append(names, "/"+rel)
	}
	t.Logf("K3s would auto-deploy: %s", strings.Join(names, ", "))
	operator := false
	pending := files
	deadline := time.Now().Add(2 * time.Minute)
	for len(pending) > 0 {
		var failed []string
		var errs []string
		for _, f := range pending {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := decodeManifests(b)
			if err != nil {
				t.Fatalf("K3s would not parse %s: %v", f, err)
			}
			ok := true
			for _, o := range objs {
				if strings.HasPrefix(str(o, "apiVersion"), "helm.cattle.io/") && str(o, "kind") == "HelmChart" {
					if !operator {
						standInHelmController(t, tl, c, o)
						operator = true
					}
					continue
				}
				if err := c.kube.apply(ctx, o, "k3s-deploy"); err != nil {
					ok = false
					errs = append(errs, fmt.Sprintf("%s: %v", filepath.Base(f), err))
				}
			}
			if !ok {
				failed = append(failed, f)
			}
		}
		pending = failed
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: K3s's auto-deploy would keep failing:\n%s", c.name, strings.Join(errs, "\n"))
		}
		time.Sleep(2 * time.Second)
	}
}

// standInHelmController does for the Flux Operator's HelmChart what K3s's
// helm-controller would: the target namespace, the chart's CRDs, the
// operator running (here a local process of the pinned version).
func standInHelmController(t *testing.T, tl *tools, c *cluster, hc obj) {
	t.Helper()
	ctx := context.Background()
	chart, version := str(hc, "spec", "chart"), str(hc, "spec", "version")
	// An OCI reference, or (k0s, air-gapped) the chart's .tgz on the node.
	if !strings.HasSuffix(chart, "/flux-operator") && !strings.HasSuffix(chart, "/flux-operator-"+version+".tgz") {
		t.Fatalf("%s: HelmChart %s (chart %s): the test has no stand-in for it", c.name, str(hc, "metadata", "name"), chart)
	}
	if want := strings.TrimPrefix(tl.versions["FLUX_OPERATOR"], "v"); version != want {
		t.Errorf("%s: HelmChart flux-operator pins chart version %q; the test runs flux-operator %s", c.name, version, want)
	}
	ns := str(hc, "spec", "targetNamespace")
	if ns == "" {
		ns = "kube-system"
	}
	if field(hc, "spec", "createNamespace") == true {
		if err := c.kube.apply(ctx, obj{"apiVersion": "v1", "kind": "Namespace", "metadata": obj{"name": ns}}, "helm-controller"); err != nil {
			t.Fatal(err)
		}
	}
	crds, _ := filepath.Glob(filepath.Join(tl.fluxOperatorSrc, "config", "crd", "bases", "*.yaml"))
	for _, f := range crds {
		b, _ := os.ReadFile(f)
		objs, err := decodeManifests(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if err := c.kube.apply(ctx, o, "helm-controller"); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitCRDs(t, c, func(group string) bool { return group == "fluxcd.controlplane.io" }, 1)
	c.startFluxOperator(tl)
	t.Logf("%s: HelmChart %s %s: stood in for K3s's helm-controller (CRDs installed, flux-operator %s running as a local process)", c.name, chart, version, tl.versions["FLUX_OPERATOR"])
}

// waitCRDs waits until at least min CRDs of the matching groups exist and all
// of them are Established.
func waitCRDs(t *testing.T, c *cluster, match func(group string) bool, min int) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		crds, err := c.kube.list(ctx, "apiextensions.k8s.io/v1", "CustomResourceDefinition", "")
		n, established := 0, 0
		for _, crd := range crds {
			if !match(str(crd, "spec", "group")) {
				continue
			}
			n++
			if cond := condition(crd, "Established"); cond != nil && cond["status"] == "True" {
				established++
			}
		}
		if err == nil && n >= min && established == n {
			return
		}
		if s := c.exited(); s != "" {
			t.Fatalf("%s: %s", c.name, s)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: CRDs not established (%d of %d, want at least %d): %v\n%s", c.name, established, n, min, err, c.logTails(30))
		}
		time.Sleep(time.Second)
	}
}

// waitFluxCRDs waits for the Flux CRDs (applied by the Flux Operator or by
// gotk-components.yaml) before the controllers start watching them.
func waitFluxCRDs(t *testing.T, c *cluster) {
	t.Helper()
	waitCRDs(t, c, func(g string) bool {
		return g == "source.toolkit.fluxcd.io" || g == "kustomize.toolkit.fluxcd.io"
	}, 2)
	ctx := context.Background()
	for _, gv := range [][2]string{{"source.toolkit.fluxcd.io/v1", "GitRepository"}, {"kustomize.toolkit.fluxcd.io/v1", "Kustomization"}} {
		deadline := time.Now().Add(time.Minute)
		for {
			if _, err := c.kube.resource(ctx, gv[0], gv[1]); err == nil {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("%s: %v", c.name, err)
			}
			time.Sleep(time.Second)
		}
	}
	// Every source kind the controllers watch comes with source-controller's CRDs.
	waitCRDs(t, c, func(g string) bool {
		return g == "source.toolkit.fluxcd.io" || g == "kustomize.toolkit.fluxcd.io"
	}, 2)
}

// waitSynced waits until flux-system, infrastructure and apps are Ready
// with want (branch@sha1:commit) applied, and returns what each applied.
// A Kustomization not Ready after 30s gets a reconcile request (its
// retryInterval is minutes long).
func waitSynced(t *testing.T, c *cluster, want string, timeout time.Duration) map[string]string {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	lastPoke := time.Now()
	for {
		applied := map[string]string{}
		var notReady []string
		for _, name := range kustomizations {
			k, err := c.kube.get(ctx, "kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", name)
			if err != nil {
				notReady = append(notReady, fmt.Sprintf("%s: %v", name, err))
				continue
			}
			rev := str(k, "status", "lastAppliedRevision")
			applied[name] = rev
			ready := condition(k, "Ready")
			if ready == nil || ready["status"] != "True" || !sameRevision(rev, want) {
				msg := ""
				if ready != nil {
					msg = fmt.Sprintf("%v: %v", ready["reason"], ready["message"])
				}
				notReady = append(notReady, fmt.Sprintf("%s (applied %q) %s", name, rev, msg))
			}
		}
		if len(notReady) == 0 {
			for _, name := range kustomizations {
				t.Logf("%s: Kustomization %s Ready, applied %s", c.name, name, applied[name])
			}
			return applied
		}
		if s := c.exited(); s != "" {
			t.Fatalf("%s: %s", c.name, s)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not synced to %s after %s:\n  %s\n%s\n%s", c.name, want, timeout, strings.Join(notReady, "\n  "), fluxState(c), c.logTails(25))
		}
		if time.Since(lastPoke) > 30*time.Second {
			lastPoke = time.Now()
			t.Logf("%s: still waiting (%s); requesting a reconcile as `flux reconcile` would", c.name, strings.Join(notReady, "; "))
			c.kube.requestReconcile(ctx, "source.toolkit.fluxcd.io/v1", c.source(), "flux-system", "flux-system")
			for _, name := range kustomizations {
				c.kube.requestReconcile(ctx, "kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", name)
			}
		}
		time.Sleep(2 * time.Second)
	}
}

// checkHandover runs the node's handover.sh once Flux has synced (what its
// timer does) and checks that a K3s restart would then re-apply nothing:
// every first-boot file is gone, with a <name>.skip beside it
// (k3s pkg/deploy/controller.go skips those names), so git alone says what
// runs (issue 11, finding 3).
func checkHandover(t *testing.T, c *cluster, n *node) {
	t.Helper()
	before := autoDeployFiles(t, n.manifestsDir)
	k, err := c.kube.get(context.Background(), "kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "flux-system")
	if err != nil {
		t.Fatal(err)
	}
	ready := ""
	if cond := condition(k, "Ready"); cond != nil {
		ready, _ = cond["status"].(string)
	}
	out := handover(t, n, ready, str(k, "status", "lastAppliedRevision"))
	t.Logf("%s: handover.sh: %s", c.name, strings.TrimSpace(out))
	// What Flux manages from git: the inventories of the Kustomizations.
	managed := map[string]bool{}
	for _, name := range kustomizations {
		kz, err := c.kube.get(context.Background(), "kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", name)
		if err != nil {
			t.Fatal(err)
		}
		entries, _ := field(kz, "status", "inventory", "entries").([]any)
		for _, e := range entries {
			if m, ok := e.(map[string]any); ok {
				id, _ := m["id"].(string)
				managed[id] = true
			}
		}
	}
	if len(managed) == 0 {
		t.Fatalf("%s: the Kustomizations have no inventory", c.name)
	}
	// A file K3s still applies at every start must not hold anything git
	// manages (the Flux Operator's HelmChart stays: git does not manage it).
	for _, f := range autoDeployFiles(t, n.manifestsDir) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := decodeManifests(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			group, _, _ := strings.Cut(str(o, "apiVersion"), "/")
			if !strings.Contains(str(o, "apiVersion"), "/") {
				group = ""
			}
			id := str(o, "metadata", "namespace") + "_" + str(o, "metadata", "name") + "_" + group + "_" + str(o, "kind")
			if managed[id] {
				t.Errorf("%s: after the handover K3s would still apply %s from %s at every start, over what git says", c.name, id, filepath.Base(f))
			} else {
				t.Logf("%s: K3s keeps applying %s from %s (not managed from git)", c.name, id, filepath.Base(f))
			}
		}
	}
	for _, f := range before {
		if fileExists(f) {
			continue // still applied: checked above
		}
		if _, err := os.Stat(f + ".skip"); err != nil {
			t.Errorf("%s: handover left no %s.skip: K3s would apply a file of that name again", c.name, filepath.Base(f))
		}
	}
	done, err := os.ReadFile(filepath.Join(n.root, "var", "lib", "rancher", "k3s", "server", "fleetgen-handover.done"))
	if err != nil || !sameRevision(strings.TrimSpace(string(done)), strings.TrimPrefix(str(k, "status", "lastAppliedRevision"), "refs/heads/")) {
		t.Errorf("%s: handover's record %q (%v) is not the revision Flux applied", c.name, done, err)
	}
}

// sameRevision: Flux names a revision <ref>@sha1:<hash>, the ref as the
// GitRepository asks for it (spec.ref.branch "main" gives main@sha1:...,
// spec.ref.name "refs/heads/main", as the Flux Operator writes it, gives
// refs/heads/main@sha1:...). want is <branch>@sha1:<hash>.
func sameRevision(got, want string) bool {
	return got == want || got == "refs/heads/"+want
}

// fluxState describes the GitRepository and the FluxInstance, for a failure.
func fluxState(c *cluster) string {
	ctx := context.Background()
	var b strings.Builder
	if g, err := c.kube.get(ctx, "source.toolkit.fluxcd.io/v1", c.source(), "flux-system", "flux-system"); err == nil {
		r := condition(g, "Ready")
		fmt.Fprintf(&b, "GitRepository flux-system: url %s, artifact %s, Ready %v\n", str(g, "spec", "url"), str(g, "status", "artifact", "revision"), r)
	} else {
		fmt.Fprintf(&b, "GitRepository flux-system: %v\n", err)
	}
	if fi, err := c.kube.get(ctx, "fluxcd.controlplane.io/v1", "FluxInstance", "flux-system", "flux"); err == nil {
		fmt.Fprintf(&b, "FluxInstance flux: Ready %v\n", condition(fi, "Ready"))
	}
	return b.String()
}

// checkOrder checks the dependsOn order: apps depends on infrastructure and
// became Ready no earlier than it.
func checkOrder(t *testing.T, c *cluster) {
	t.Helper()
	ctx := context.Background()
	readyAt := map[string]time.Time{}
	for _, name := range kustomizations {
		k, err := c.kube.get(ctx, "kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", name)
		if err != nil {
			t.Fatal(err)
		}
		ts, _ := condition(k, "Ready")["lastTransitionTime"].(string)
		readyAt[name], _ = time.Parse(time.RFC3339, ts)
		if name == "apps" {
			deps, _ := field(k, "spec", "dependsOn").([]any)
			found := false
			for _, d := range deps {
				if m, ok := d.(obj); ok && m["name"] == "infrastructure" {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: Kustomization apps does not depend on infrastructure: %v", c.name, deps)
			}
		}
	}
	if readyAt["apps"].Before(readyAt["infrastructure"]) {
		t.Errorf("%s: apps Ready at %s, before infrastructure (%s)", c.name, readyAt["apps"], readyAt["infrastructure"])
	}
	t.Logf("%s: Ready at flux-system %s, infrastructure %s, apps %s", c.name,
		readyAt["flux-system"].Format(time.TimeOnly), readyAt["infrastructure"].Format(time.TimeOnly), readyAt["apps"].Format(time.TimeOnly))
}

// checkClusterValues checks the per-cluster values: cluster-vars holds this
// cluster's name and region, and the apps got them substituted.
func checkClusterValues(t *testing.T, s *site, app string) {
	t.Helper()
	ctx := context.Background()
	c := s.c
	cv, err := c.kube.get(ctx, "v1", "ConfigMap", "flux-system", "cluster-vars")
	if err != nil {
		t.Fatalf("%s: cluster-vars: %v", c.name, err)
	}
	if got := str(cv, "data", "CLUSTER_NAME"); got != s.cluster {
		t.Errorf("%s: cluster-vars CLUSTER_NAME = %q, want %q", c.name, got, s.cluster)
	}
	if got := str(cv, "data", "REGION"); got != s.region {
		t.Errorf("%s: cluster-vars REGION = %q, want %q", c.name, got, s.region)
	}
	deps, err := c.kube.list(ctx, "apps/v1", "Deployment", "")
	if err != nil {
		t.Fatal(err)
	}
	seen := false
	for _, d := range deps {
		if str(d, "metadata", "labels", "kustomize.toolkit.fluxcd.io/name") != "apps" {
			continue
		}
		cs, _ := field(d, "spec", "template", "spec", "containers").([]any)
		for _, ci := range cs {
			envs, _ := ci.(obj)["env"].([]any)
			for _, ev := range envs {
				v, _ := ev.(obj)["value"].(string)
				if strings.Contains(v, "${") {
					t.Errorf("%s: Deployment %s/%s env %v = %q: not substituted", c.name, str(d, "metadata", "namespace"), str(d, "metadata", "name"), ev.(obj)["name"], v)
				}
				if v == s.cluster {
					seen = true
				}
			}
		}
	}
	if !seen {
		t.Errorf("%s: no Deployment of the apps Kustomization carries the cluster name %q (postBuild substitution of ${CLUSTER_NAME})", c.name, s.cluster)
	}
	if _, err := c.kube.get(ctx, "apps/v1", "Deployment", app, app); err != nil {
		t.Errorf("%s: Deployment %s/%s: %v", c.name, app, app, err)
	}
}

// checkRuntimeClasses: the API server took the WebAssembly apps'
// Deployments with their runtimeClassName; on k0s the RuntimeClass each
// names is there (applied by Flux from the region's infrastructure overlay)
// with its own name as handler; on K3s fleetgen applies none (K3s's
// packaged runtimes.yaml would, and nothing here stands in for it).
func checkRuntimeClasses(t *testing.T, s *site, k0s bool, repo string) {
	t.Helper()
	ctx := context.Background()
	// As many as the repository's image apps that name one.
	want := 0
	files, _ := filepath.Glob(filepath.Join(repo, "apps", "base", "*", "deployment.yaml"))
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), "\n      runtimeClassName: ") {
			want++
		}
	}
	got := 0
	deps, err := s.c.kube.list(ctx, "apps/v1", "Deployment", "")
	if err != nil {
		t.Fatalf("%s: %v", s.c.name, err)
	}
	classes, err := s.c.kube.list(ctx, "node.k8s.io/v1", "RuntimeClass", "")
	if err != nil {
		t.Fatalf("%s: %v", s.c.name, err)
	}
	handler := map[string]string{}
	for _, rc := range classes {
		handler[str(rc, "metadata", "name")] = str(rc, "handler")
	}
	for _, d := range deps {
		name := str(d, "spec", "template", "spec", "runtimeClassName")
		if name == "" {
			continue
		}
		got++
		where := fmt.Sprintf("%s: Deployment %s/%s (runtimeClassName %s)", s.c.name, str(d, "metadata", "namespace"), str(d, "metadata", "name"), name)
		h, ok := handler[name]
		switch {
		case k0s && (!ok || h != name):
			t.Errorf("%s: RuntimeClass %s: present %v, handler %q; want it applied by Flux with handler %s", where, name, ok, h, name)
		case !k0s && ok:
			t.Errorf("%s: a RuntimeClass %s was applied; on K3s it is K3s's (runtimes.yaml), not fleetgen's", where, name)
		default:
			t.Logf("%s: accepted by the API server; RuntimeClass %s", where, map[bool]string{true: "applied by Flux, handler " + h, false: "left to K3s"}[k0s])
		}
	}
	if got != want {
		t.Errorf("%s: %d Deployments with a runtimeClassName on the API server, %d in the repository's apps/base", s.c.name, got, want)
	}
}

// checkSopsSecrets checks that the SOPS-encrypted Secrets reached the
// cluster decrypted.
func checkSopsSecrets(t *testing.T, s *site) {
	t.Helper()
	ctx := context.Background()
	for _, sec := range s.sopsSecrets {
		got, err := s.c.kube.get(ctx, "v1", "Secret", sec.namespace, sec.name)
		if err != nil {
			t.Errorf("%s: Secret %s/%s from %s (SOPS-encrypted in git): %v", s.c.name, sec.namespace, sec.name, sec.file, err)
			continue
		}
		raw, _ := base64.StdEncoding.DecodeString(str(got, "data", sec.key))
		if string(raw) != sec.plaintext {
			t.Errorf("%s: Secret %s/%s from %s holds %q, want the decrypted %q", s.c.name, sec.namespace, sec.name, sec.file, truncate(string(raw), 80), sec.plaintext)
		} else {
			t.Logf("%s: Secret %s/%s from %s decrypted", s.c.name, sec.namespace, sec.name, sec.file)
		}
	}
}

// checkAfterRegen checks the new revision's content: the spec change and
// both hand edits.
func checkAfterRegen(t *testing.T, s *site, app, newMem string) {
	t.Helper()
	ctx := context.Background()
	c := s.c
	d, err := c.kube.get(ctx, "apps/v1", "Deployment", app, app)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	if got := str(d, "metadata", "annotations", "e2e.fleetgen.dev/hand-edit"); got != "kept" {
		t.Errorf("%s: Deployment %s lost the hand-edited annotation (got %q)", c.name, app, got)
	}
	cs, _ := field(d, "spec", "template", "spec", "containers").([]any)
	if len(cs) == 0 || str(cs[0].(obj), "resources", "limits", "memory") != newMem {
		t.Errorf("%s: Deployment %s memory limit is not the new %s: %v", c.name, app, newMem, field(cs[0].(obj), "resources"))
	}
	cm, err := c.kube.get(ctx, "v1", "ConfigMap", app, "e2e-hand-edit")
	if err != nil {
		t.Errorf("%s: the hand-added ConfigMap: %v", c.name, err)
	} else if got := str(cm, "data", "cluster"); got != s.cluster {
		t.Errorf("%s: hand-added ConfigMap data.cluster = %q, want %q (substituted)", c.name, got, s.cluster)
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
