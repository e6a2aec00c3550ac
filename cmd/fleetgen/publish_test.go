package main

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/fleetgen/fleetgen/generator/gitrepo"
	"github.com/fleetgen/fleetgen/generator/oci"
)

// These tests publish to a real OCI registry (go-containerregistry's
// in-process distribution server) on 127.0.0.1 and pull what one cluster
// pulls the way source-controller does (oci.Pull: HEAD the tag, fetch the
// manifest, extract the first layer), asserting the bytes.

// ociRegistry serves an empty registry on loopback; it returns
// host:port/cargo-fleet, the repository to publish to.
func ociRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://") + "/cargo-fleet"
}

// cargoRepo generates the cargo-ships example (OCI delivery, one artifact
// per ship) into a fresh repository, with no docker config around.
func cargoRepo(t *testing.T) string {
	t.Helper()
	needGit(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	dir := filepath.Join(t.TempDir(), "cargo")
	mustFleetgen(t, append([]string{"generate", "--spec", "../../examples/cargo-ships/fleet.yaml", "--out", dir}, testAuthor...)...)
	return dir
}

// pullAs fetches the artifact of tag as a cluster that holds known.
func pullAs(t *testing.T, repo, tag string, known v1.Hash) *oci.Pulled {
	t.Helper()
	ref, err := name.NewTag(repo+":"+tag, name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	p, err := oci.Pull(context.Background(), ref, known)
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	return p
}

// committedUnder returns HEAD's files of dir under the prefixes.
func committedUnder(t *testing.T, dir string, prefixes []string) map[string]string {
	t.Helper()
	r, err := gitrepo.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, files, _, err := r.ReadHeadTree(prefixes)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		out[f.Path] = string(f.Content)
	}
	return out
}

func commitEdit(t *testing.T, dir, file, from, to string) {
	t.Helper()
	p := filepath.Join(dir, file)
	before := readFile(t, p)
	if !strings.Contains(before, from) {
		t.Fatalf("%s has no %q", file, from)
	}
	writeFile(t, p, strings.Replace(before, from, to, 1))
	git(t, dir, "commit", "-q", "-am", "hand edit of "+file)
}

func TestPublishPushesWhatEachClusterAppliesAndOnlyWhatChanged(t *testing.T) {
	dir := cargoRepo(t)
	repo := ociRegistry(t)
	ships := []string{"tp-ship-0001", "tp-ship-0002", "tp-ship-0003"}
	feeders := []string{"ne-feeder-1", "ne-feeder-2"}

	out := mustFleetgen(t, "publish", "--dir", dir, "--registry", repo)
	if !strings.Contains(out, "5 pushed") || !strings.Contains(out, "0 unchanged") {
		t.Fatalf("first publish:\n%s", out)
	}
	for _, tag := range append(append([]string{}, ships...), feeders...) {
		if !strings.Contains(out, "pushed      "+repo+":"+tag+"  sha256:") {
			t.Errorf("first publish does not list %s:\n%s", tag, out)
		}
	}

	// What tp-ship-0001 pulls: exactly the committed bases, its region's
	// overlays and its own folder, byte for byte, at the repository's
	// paths (so its Kustomizations' paths resolve in the artifact).
	ship := pullAs(t, repo, "tp-ship-0001", v1.Hash{})
	want := committedUnder(t, dir, oci.Prefixes("transpacific", "tp-ship-0001"))
	if len(ship.Files) != len(want) {
		t.Errorf("tp-ship-0001 pulled %d files, the commit has %d under its folders", len(ship.Files), len(want))
	}
	for p, w := range want {
		if string(ship.Files[p]) != w {
			t.Errorf("tp-ship-0001: %s differs from the commit", p)
		}
	}
	for _, p := range []string{"clusters/transpacific/tp-ship-0001/kustomization.yaml", "infrastructure/regions/transpacific/kustomization.yaml", "apps/base/engine-telemetry/kustomization.yaml"} {
		if _, ok := ship.Files[p]; !ok {
			t.Errorf("tp-ship-0001's artifact lacks %s", p)
		}
	}
	for p := range ship.Files {
		if strings.HasPrefix(p, "clusters/transpacific/tp-ship-0002/") || strings.Contains(p, "north-europe") || strings.HasPrefix(p, "bootstrap/") || p == "fleet.yaml" {
			t.Errorf("tp-ship-0001's artifact holds %s, which that cluster does not apply", p)
		}
		if ship.Modes[p] != 0o644 {
			t.Errorf("%s: mode %o in the tarball, want 0644", p, ship.Modes[p])
		}
	}
	if ship.Annotations[oci.FleetAnnotation] != "cargo-ships" || ship.Annotations[oci.ArtifactAnnotation] != "cluster/transpacific/tp-ship-0001" {
		t.Errorf("annotations %v", ship.Annotations)
	}
	digests := map[string]v1.Hash{}
	for _, tag := range append(append([]string{}, ships...), feeders...) {
		digests[tag] = pullAs(t, repo, tag, v1.Hash{}).Digest
	}

	// Nothing committed: nothing pushed. An uncommitted edit is not
	// published either (publish reads HEAD, not the worktree).
	writeFile(t, filepath.Join(dir, "apps/regions/transpacific/kustomization.yaml"),
		readFile(t, filepath.Join(dir, "apps/regions/transpacific/kustomization.yaml"))+"# not committed\n")
	out = mustFleetgen(t, "publish", "--dir", dir, "--registry", repo)
	if !strings.Contains(out, "0 pushed") || !strings.Contains(out, "5 unchanged") {
		t.Fatalf("publish of the same commit (worktree edited, not committed):\n%s", out)
	}
	git(t, dir, "checkout", "--", ".")

	// A commit touching the other region: tp-ship-0001's digest stays,
	// publish skips it, and a site holding it stops after the HEAD.
	commitEdit(t, dir, "apps/regions/north-europe/kustomization.yaml", "resources:", "# feeders: pinned by the harbour team\nresources:")
	out = mustFleetgen(t, "publish", "--dir", dir, "--registry", repo)
	if !strings.Contains(out, "2 pushed") || !strings.Contains(out, "3 unchanged") {
		t.Fatalf("publish after a north-europe commit:\n%s", out)
	}
	for _, tag := range ships {
		if !strings.Contains(out, "unchanged   "+repo+":"+tag) {
			t.Errorf("%s not reported unchanged:\n%s", tag, out)
		}
		if p := pullAs(t, repo, tag, digests[tag]); p.Digest != digests[tag] || p.Files != nil {
			t.Errorf("%s: digest %s after a commit to another region, was %s", tag, p.Digest, digests[tag])
		}
	}
	for _, tag := range feeders {
		p := pullAs(t, repo, tag, digests[tag])
		if p.Digest == digests[tag] || !strings.Contains(string(p.Files["apps/regions/north-europe/kustomization.yaml"]), "pinned by the harbour team") {
			t.Errorf("%s: the north-europe commit did not reach its artifact", tag)
		}
	}

	// A commit touching its region: new content.
	commitEdit(t, dir, "infrastructure/regions/transpacific/kustomization.yaml", "resources:", "# transpacific: VSAT window 02:00-04:00 UTC\nresources:")
	out = mustFleetgen(t, "publish", "--dir", dir, "--registry", repo)
	if !strings.Contains(out, "3 pushed") || !strings.Contains(out, "2 unchanged") {
		t.Fatalf("publish after a transpacific commit:\n%s", out)
	}
	p := pullAs(t, repo, "tp-ship-0001", digests["tp-ship-0001"])
	if p.Digest == digests["tp-ship-0001"] || !strings.Contains(string(p.Files["infrastructure/regions/transpacific/kustomization.yaml"]), "VSAT window") {
		t.Errorf("tp-ship-0001 did not get its region's commit (digest %s)", p.Digest)
	}
	if got := string(p.Files["clusters/transpacific/tp-ship-0001/cluster-vars.yaml"]); !strings.Contains(got, "CLUSTER_NAME: tp-ship-0001") {
		t.Errorf("cluster-vars of tp-ship-0001 in its artifact:\n%s", got)
	}

	// --dry-run pushes nothing and says so.
	commitEdit(t, dir, "apps/regions/north-europe/kustomization.yaml", "pinned by the harbour team", "pinned again")
	out = mustFleetgen(t, "publish", "--dir", dir, "--registry", repo, "--dry-run")
	if !strings.Contains(out, "dry run: 2 would be pushed") {
		t.Fatalf("dry run:\n%s", out)
	}
	if p := pullAs(t, repo, "ne-feeder-1", v1.Hash{}); strings.Contains(string(p.Files["apps/regions/north-europe/kustomization.yaml"]), "pinned again") {
		t.Error("--dry-run pushed")
	}
}

// Same content, same digest: two repositories generated apart (other
// commits, other times) give the same artifacts.
func TestPublishedDigestsAreReproducible(t *testing.T) {
	a, b := cargoRepo(t), cargoRepo(t)
	git(t, b, "commit", "-q", "--allow-empty", "-m", "an unrelated commit")
	ra, rb := ociRegistry(t), ociRegistry(t)
	mustFleetgen(t, "publish", "--dir", a, "--registry", ra)
	time.Sleep(1100 * time.Millisecond) // another second on the clock
	mustFleetgen(t, "publish", "--dir", b, "--registry", rb)
	for _, tag := range []string{"tp-ship-0001", "ne-feeder-2"} {
		da, db := pullAs(t, ra, tag, v1.Hash{}).Digest, pullAs(t, rb, tag, v1.Hash{}).Digest
		if da != db {
			t.Errorf("%s: %s and %s for the same content", tag, da, db)
		}
	}
}

func TestPublishRefusesATagItDidNotMake(t *testing.T) {
	dir := cargoRepo(t)
	repo := ociRegistry(t)
	foreign, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.NewTag(repo+":tp-ship-0002", name.StrictValidation)
	if err := remote.Write(ref, foreign); err != nil {
		t.Fatal(err)
	}
	fd, _ := foreign.Digest()
	for range 2 { // a rerun meets the same tag and refuses again
		out, errs, code := fleetgen(t, "publish", "--dir", dir, "--registry", repo, "--jobs", "1")
		if code == 0 || !strings.Contains(errs, repo+":tp-ship-0002 already exists and was not made by fleetgen publish") ||
			!strings.Contains(errs, "pushed before the failure") {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
		}
		// With one job, in tag order: the two artifacts before it were pushed.
		if !strings.Contains(out, repo+":ne-feeder-1") || !strings.Contains(out, repo+":tp-ship-0001") {
			t.Errorf("the artifacts handled before the failure are not listed:\n%s", out)
		}
	}
	if p := pullAs(t, repo, "tp-ship-0002", v1.Hash{}); p.Digest != fd {
		t.Errorf("the foreign tag was overwritten: %s, was %s", p.Digest, fd)
	}
}

func TestPublishBadRegistries(t *testing.T) {
	dir := cargoRepo(t)

	// Refuses: every request unauthorized.
	refuser := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
	}))
	defer refuser.Close()

	// Never answers: accepts the connection and says nothing.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()

	// Nothing listens there.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	for _, c := range []struct {
		name, registry string
		want           []string
	}{
		{"not a reference", "Not A Registry!", []string{"--registry", "is not an OCI repository"}},
		{"with a scheme", "http://127.0.0.1:5000/fleet", []string{"--registry", "without a scheme"}},
		{"refuses", strings.TrimPrefix(refuser.URL, "http://") + "/fleet", []string{"the registry refused (HTTP 401)", "docker login", "0 artifacts pushed before the failure"}},
		{"silent", ln.Addr().String() + "/fleet", []string{"no answer within 2s", "0 artifacts pushed before the failure"}},
		{"unreachable", closedAddr + "/fleet", []string{"cannot reach the registry", "connection refused", "0 artifacts pushed before the failure"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			out, errs, code := fleetgen(t, "publish", "--dir", dir, "--registry", c.registry, "--timeout", "2s")
			if code == 0 {
				t.Fatalf("exit 0\n%s", out)
			}
			if !strings.HasPrefix(errs, "fleetgen: ") {
				t.Errorf("stderr does not start with fleetgen: %q", errs)
			}
			for _, w := range c.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %s with --timeout 2s", d)
			}
		})
	}
}

func TestPublishOfAGitFleetSaysWhy(t *testing.T) {
	needGit(t)
	dir := filepath.Join(t.TempDir(), "offshore")
	mustFleetgen(t, append([]string{"generate", "--out", dir}, testAuthor...)...)
	_, errs, code := fleetgen(t, "publish", "--dir", dir, "--registry", "127.0.0.1:1/x")
	if code == 0 || !strings.Contains(errs, "spec.delivery.mode is not oci") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		t.Fatal(err)
	}
}

// An overlay that reaches outside what an artifact holds builds in git
// (fleetgen validate passes) but would fail on every site: publish refuses
// that region's artifacts and says why.
func TestPublishRefusesAnArtifactThatWouldNotBuild(t *testing.T) {
	dir := cargoRepo(t)
	repo := ociRegistry(t)
	mustFleetgen(t, "publish", "--dir", dir, "--registry", repo)
	writeFile(t, filepath.Join(dir, "shared/kustomization.yaml"), "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [cm.yaml]\n")
	writeFile(t, filepath.Join(dir, "shared/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared, namespace: default}\n")
	git(t, dir, "add", "shared")
	git(t, dir, "commit", "-q", "-m", "shared folder")
	commitEdit(t, dir, "apps/regions/north-europe/kustomization.yaml", "resources:\n", "resources:\n- ../../../shared\n")
	mustFleetgen(t, "validate", dir)
	out, errs, code := fleetgen(t, "publish", "--dir", dir, "--registry", repo, "--jobs", "1")
	if code == 0 || !strings.Contains(errs, "the artifacts of region north-europe would not build on their clusters") || !strings.Contains(errs, "apps/regions/north-europe") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if strings.Contains(out, "pushed      "+repo+":ne-feeder") {
		t.Errorf("a north-europe artifact was pushed:\n%s", out)
	}
}

// The region check builds the bases only as part of the overlays that
// include them (not on their own in every region): a broken base still
// stops every region's artifacts.
func TestPublishRefusesABrokenBase(t *testing.T) {
	dir := cargoRepo(t)
	repo := ociRegistry(t)
	commitEdit(t, dir, "apps/base/engine-telemetry/kustomization.yaml", "- service.yaml\n", "- service.yaml\n- missing.yaml\n")
	out, errs, code := fleetgen(t, "publish", "--dir", dir, "--registry", repo, "--jobs", "1")
	if code == 0 || !strings.Contains(errs, "would not build on their clusters") || !strings.Contains(errs, "missing.yaml") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if strings.Contains(out, "pushed      ") {
		t.Errorf("an artifact was pushed:\n%s", out)
	}
}

// With spec.rings, publish builds each cluster's artifact from its ring's
// branch: a commit on main reaches no ship until its ring is promoted, and
// then only that ring's ships.
func TestPublishBuildsEachClusterFromItsRing(t *testing.T) {
	needGit(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	src := readFile(t, "../../examples/cargo-ships/fleet.yaml")
	src = strings.Replace(src, "  regions:\n", "  rings:\n    - {name: canary, share: 0}\n    - {name: stable, share: 100}\n  regions:\n", 1)
	src = strings.Replace(src, "      clusterCount: 3\n", "      clusterCount: 3\n      rings: {canary: [tp-ship-0001]}\n", 1)
	specFile := filepath.Join(t.TempDir(), "fleet.yaml")
	writeFile(t, specFile, src)
	dir := filepath.Join(t.TempDir(), "cargo")
	mustFleetgen(t, append([]string{"generate", "--spec", specFile, "--out", dir}, testAuthor...)...)
	repo := ociRegistry(t)
	out := mustFleetgen(t, "publish", "--dir", dir, "--registry", repo)
	if !strings.Contains(out, "5 pushed") || !strings.Contains(out, "ring canary: its clusters' artifacts from fleet/ring/canary") {
		t.Fatalf("first publish:\n%s", out)
	}
	base := "apps/base/engine-telemetry/kustomization.yaml"
	writeFile(t, filepath.Join(dir, base), readFile(t, filepath.Join(dir, base))+"# tuned for the canary\n")
	git(t, dir, "commit", "-qam", "tune engine-telemetry")
	if out := mustFleetgen(t, "publish", "--dir", dir, "--registry", repo); !strings.Contains(out, "0 pushed") || !strings.Contains(out, "5 unchanged") {
		t.Fatalf("publish before any promote pushed something:\n%s", out)
	}
	mustFleetgen(t, append([]string{"promote", "--dir", dir, "canary"}, testAuthor...)...)
	out = mustFleetgen(t, "publish", "--dir", dir, "--registry", repo)
	if !strings.Contains(out, "1 pushed") || !strings.Contains(out, "pushed      "+repo+":tp-ship-0001  sha256:") {
		t.Fatalf("publish after promoting canary:\n%s", out)
	}
	if got := string(pullAs(t, repo, "tp-ship-0001", v1.Hash{}).Files[base]); !strings.Contains(got, "# tuned for the canary") {
		t.Errorf("the canary ship's artifact lacks the promoted edit:\n%s", got)
	}
	if got := string(pullAs(t, repo, "tp-ship-0002", v1.Hash{}).Files[base]); strings.Contains(got, "# tuned") {
		t.Errorf("a stable ship got the edit before stable was promoted")
	}

	// A clone (a teammate, a CI checkout that fetched the ring branches)
	// has the rings as origin/fleet/ring/*: publish builds from them the
	// very artifacts already published.
	clone := filepath.Join(t.TempDir(), "clone")
	git(t, "", "clone", "-q", dir, clone)
	if out := mustFleetgen(t, "publish", "--dir", clone, "--registry", repo); !strings.Contains(out, "0 pushed") || !strings.Contains(out, "5 unchanged") {
		t.Errorf("publish from a clone:\n%s", out)
	}
	// Without the ring branches, publish says how to get them.
	single := filepath.Join(t.TempDir(), "single")
	git(t, "", "clone", "-q", "--single-branch", "-b", "main", dir, single)
	if _, errs, code := fleetgen(t, "publish", "--dir", single, "--registry", repo); code == 0 || !strings.Contains(errs, "git fetch origin '+refs/heads/fleet/ring/*:refs/remotes/origin/fleet/ring/*'") {
		t.Errorf("publish without the ring branches: exit %d, %s", code, errs)
	}
}

// publish reads the inventory as committed beside fleet.yaml (when the
// committed spec names one): its clusters get their artifacts; with the
// inventory gone from HEAD, publish stops and names it.
func TestPublishReadsTheCommittedInventory(t *testing.T) {
	needGit(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	dir := t.TempDir()
	mustFleetgen(t, "init", filepath.Join(dir, "spec"), "--example", "truck-fleet")
	specPath := filepath.Join(dir, "spec", "fleet.yaml")
	writeFile(t, specPath, strings.Replace(readFile(t, specPath), "  hardware:\n", "  delivery:\n    mode: oci\n    repository: ghcr.io/example/trucks\n  hardware:\n", 1))
	repoDir := filepath.Join(dir, "repo")
	mustFleetgen(t, append([]string{"generate", "--spec", specPath, "--out", repoDir, "-q"}, testAuthor...)...)
	repo := ociRegistry(t)
	out := mustFleetgen(t, "publish", "--dir", repoDir, "--registry", repo, "--dry-run")
	for _, tag := range []string{"truck-0001", "truck-0003", "truck-0101"} {
		if !strings.Contains(out, "would push  "+repo+":"+tag+"  sha256:") {
			t.Errorf("no artifact for the inventory's %s:\n%s", tag, out)
		}
	}
	git(t, repoDir, "rm", "-q", "trucks.csv")
	git(t, repoDir, "commit", "-q", "-m", "drop the inventory")
	if _, errs, code := fleetgen(t, "publish", "--dir", repoDir, "--registry", repo, "--dry-run"); code == 0 || !strings.Contains(errs, "trucks.csv") {
		t.Errorf("publish without the committed inventory: exit %d, %s", code, errs)
	}
}
