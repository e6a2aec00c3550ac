package main

// Trust: what an operator does with the git CLI beside fleetgen (hand edits
// committed, regens of one region, a teammate's fresh clone, git running
// while fleetgen runs) never loses a hand edit and never reverts a commit.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/fleetgen/fleetgen/generator"
	"github.com/fleetgen/fleetgen/generator/gitrepo"
)

const handLine = "# hand edit: keep this\n"

// commitHandEdit appends a line to a generated file and commits it with
// the git CLI.
func commitHandEdit(t *testing.T, dir, rel string) {
	t.Helper()
	writeFile(t, filepath.Join(dir, rel), readFile(t, filepath.Join(dir, rel))+handLine)
	git(t, dir, "commit", "-qam", "hand edit "+rel)
}

func assertHandEdit(t *testing.T, dir, rel, when string) {
	t.Helper()
	if !strings.Contains(readFile(t, filepath.Join(dir, rel)), handLine) {
		t.Fatalf("%s: the hand edit of %s is gone from the worktree", when, rel)
	}
	if !strings.Contains(git(t, dir, "show", "HEAD:"+rel), strings.TrimSpace(handLine)) {
		t.Fatalf("%s: the hand edit of %s is gone from HEAD", when, rel)
	}
	if s := git(t, dir, "status", "--porcelain", "--untracked-files=all"); s != "" {
		t.Fatalf("%s: git status not clean:\n%s", when, s)
	}
}

// The bug: a region regen over a committed hand edit said "up to date" and
// recorded the hand-edited file as the generated version, so the next regen
// "updated" it and committed the edit away.
func TestRegionRegenTwiceKeepsACommittedHandEdit(t *testing.T) {
	dir := newRepo(t)
	rel := "clusters/north-sea/ns-rig-0001/cluster-vars.yaml"
	commitHandEdit(t, dir, rel)
	for i := 1; i <= 3; i++ {
		regen(t, dir, "--region", "north-sea")
		assertHandEdit(t, dir, rel, "after region regen #"+string(rune('0'+i)))
	}
	// A spec change in that region, then regens of the region and of all.
	editSpec(t, dir, "      clusterPrefix: ns-rig\n", "      clusterPrefix: ns-rig\n      connectivity: intermittent\n")
	git(t, dir, "commit", "-qam", "north-sea intermittent")
	for _, args := range [][]string{{"--region", "north-sea"}, {"--region", "north-sea"}, nil, nil} {
		if out, errs, code := regen(t, dir, args...); code != 0 {
			t.Fatalf("regen %v: exit %d\n%s\n%s", args, code, out, errs)
		}
		assertHandEdit(t, dir, rel, "after spec change and regen")
	}
	if !strings.Contains(readFile(t, filepath.Join(dir, "clusters/north-sea/ns-rig-0001/flux-instance.yaml")), "interval: 5m") {
		t.Error("the spec change (intermittent: 5m poll) did not reach the cluster")
	}
	git(t, dir, "fsck", "--strict", "--no-progress")
}

func TestInventoryAddThenRegenKeepsAHandEdit(t *testing.T) {
	dir := newRepo(t)
	rel := "clusters/north-sea/ns-rig-0002/cluster-vars.yaml"
	editSpec(t, dir, "  regions:\n", "  inventory: clusters.csv\n  regions:\n")
	writeFile(t, filepath.Join(dir, "clusters.csv"), "name,region\n")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "inventory")
	regen(t, dir)
	commitHandEdit(t, dir, rel)
	mustFleetgen(t, append([]string{"inventory", "add", "--dir", dir, "--region", "north-sea", "extra-rig-1"}, testAuthor...)...)
	assertHandEdit(t, dir, rel, "after inventory add")
	for _, args := range [][]string{{"--region", "north-sea"}, nil} {
		regen(t, dir, args...)
		assertHandEdit(t, dir, rel, "after inventory add and regen")
	}
}

// A teammate's clone of a plainly pushed branch regenerates: the generated
// tree travels in the branch's history.
func TestFreshCloneOfAPlainPushRegenerates(t *testing.T) {
	dir := newRepo(t)
	rel := "clusters/gulf-of-mexico/gom-rig-0001/cluster-vars.yaml"
	commitHandEdit(t, dir, rel)
	regen(t, dir, "--region", "gulf-of-mexico") // a fleetgen commit after the edit, too
	remote := filepath.Join(t.TempDir(), "remote.git")
	git(t, filepath.Dir(remote), "init", "-q", "--bare", "--initial-branch=main", remote)
	git(t, dir, "push", "-q", remote, "main")
	clone := filepath.Join(t.TempDir(), "clone")
	git(t, filepath.Dir(clone), "clone", "-q", remote, clone)
	git(t, clone, "config", "user.name", "Teammate")
	git(t, clone, "config", "user.email", "mate@example.com")
	if out, _ := exec.Command("git", "-C", clone, "for-each-ref", "refs/fleetgen").Output(); len(out) > 0 {
		t.Fatalf("the clone has fleetgen refs (%s): the test needs a plain clone", out)
	}
	// A spec change that rewrites the hand-edited file's neighbours.
	editSpec(t, clone, "      clusterPrefix: gom-rig\n", "      clusterPrefix: gom-rig\n      connectivity: always-on\n")
	git(t, clone, "commit", "-qam", "gulf always-on")
	out, errs, code := regen(t, clone, "--region", "gulf-of-mexico")
	if code != 0 {
		t.Fatalf("regen in a fresh clone: exit %d\n%s\n%s", code, out, errs)
	}
	if strings.Contains(errs, "not written by fleetgen") {
		t.Fatalf("regen in a fresh clone took generated files for foreign ones:\n%s", errs)
	}
	assertHandEdit(t, clone, rel, "regen in the clone")
	if !strings.Contains(readFile(t, filepath.Join(clone, "clusters/gulf-of-mexico/gom-rig-0001/flux-instance.yaml")), "interval: 1m") {
		t.Error("the spec change (always-on: 1m poll) did not reach the cluster in the clone")
	}
	// The clone's commits push back as plainly, and the original continues.
	git(t, clone, "push", "-q", "origin", "main")
	git(t, dir, "pull", "-q", "--ff-only", remote, "main")
	if out, errs, code := regen(t, dir, "--region", "gulf-of-mexico"); code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("regen in the original after pulling: exit %d, want up to date\n%s\n%s", code, out, errs)
	}
	if out, errs, code := regen(t, dir); code != 0 || strings.Contains(out, "merged") && !strings.Contains(out, " 0 merged") {
		t.Fatalf("full regen in the original after pulling: exit %d\n%s\n%s", code, out, errs)
	}
	assertHandEdit(t, dir, rel, "full regen in the original")
	git(t, dir, "fsck", "--strict", "--no-progress")
	git(t, clone, "fsck", "--strict", "--no-progress")
}

// A shallow clone (CI's default checkout) that lacks fleetgen's last commit
// is refused with what to do, before anything is written.
func TestShallowCloneWithoutTheBaseIsRefused(t *testing.T) {
	dir := newRepo(t)
	commitHandEdit(t, dir, "clusters/north-sea/ns-rig-0001/cluster-vars.yaml")
	clone := filepath.Join(t.TempDir(), "clone")
	git(t, filepath.Dir(clone), "clone", "-q", "--depth", "1", "file://"+dir, clone)
	editSpec(t, clone, "      clusterPrefix: ns-rig\n", "      clusterPrefix: ns-rig\n      connectivity: intermittent\n")
	git(t, clone, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-qam", "spec")
	head := git(t, clone, "rev-parse", "HEAD")
	_, errs, code := regen(t, clone)
	if code == 0 || !strings.Contains(errs, "git fetch --unshallow") {
		t.Fatalf("regen in a shallow clone: exit %d, want a refusal naming git fetch --unshallow\n%s", code, errs)
	}
	if h := git(t, clone, "rev-parse", "HEAD"); h != head {
		t.Error("a refused regen moved HEAD")
	}
	if s := git(t, clone, "status", "--porcelain"); s != "" {
		t.Errorf("a refused regen wrote files:\n%s", s)
	}
}

func gitTry(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-c", "user.name=Tester", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// While fleetgen holds its lock (from before it reads until after it has
// committed), git commands that write the index or commit are refused by git
// itself.
func TestGitWaitsForFleetgensLock(t *testing.T) {
	dir := newRepo(t)
	r, err := gitrepo.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lock(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "notes.txt"), "x\n")
	if out, err := gitTry(dir, "add", "notes.txt"); err == nil || !strings.Contains(out, "index.lock") {
		t.Errorf("git add while fleetgen holds the lock: %v\n%s", err, out)
	}
	if out, err := gitTry(dir, "commit", "--allow-empty", "-qm", "x"); err == nil || !strings.Contains(out, "index.lock") {
		t.Errorf("git commit while fleetgen holds the lock: %v\n%s", err, out)
	}
	// A second fleetgen is refused too, naming the first.
	_, errs, code := regen(t, dir)
	if code == 0 || !strings.Contains(errs, "another fleetgen") {
		t.Errorf("a second fleetgen: exit %d\n%s", code, errs)
	}
	if err := r.Unlock(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"index.lock", "fleetgen.lock"} {
		if _, err := os.Stat(filepath.Join(dir, ".git", f)); !os.IsNotExist(err) {
			t.Errorf(".git/%s left after unlock (%v)", f, err)
		}
	}
	git(t, dir, "add", "notes.txt")
}

// An index.lock that a live git (or anyone but a killed fleetgen) holds is
// respected: fleetgen refuses before writing.
func TestForeignIndexLockIsRespected(t *testing.T) {
	dir := newRepo(t)
	editSpec(t, dir, "      clusterPrefix: ns-rig\n", "      clusterPrefix: ns-rig\n      connectivity: intermittent\n")
	git(t, dir, "commit", "-qam", "spec")
	writeFile(t, filepath.Join(dir, ".git", "index.lock"), "")
	before := snapshotDir(t, dir)
	_, errs, code := regen(t, dir)
	if code == 0 || !strings.Contains(errs, "index.lock exists") {
		t.Fatalf("regen over a foreign index.lock: exit %d\n%s", code, errs)
	}
	after := snapshotDir(t, dir)
	for p, b := range before {
		if after[p] != b {
			t.Errorf("%s changed although fleetgen refused", p)
		}
	}
	if len(after) != len(before) {
		t.Errorf("%d files before, %d after", len(before), len(after))
	}
	if _, err := os.Stat(filepath.Join(dir, ".git", "index.lock")); err != nil {
		t.Error("fleetgen removed a lock it did not make")
	}
}

// A commit that moves the branch while fleetgen runs (here by update-ref,
// which takes no index lock) makes fleetgen refuse its commit instead of
// reverting it; the rerun then commits on top of it.
func TestBranchMovedDuringARunIsNotReverted(t *testing.T) {
	dir := newRepo(t)
	editSpec(t, dir, "      clusterPrefix: ns-rig\n", "      clusterPrefix: ns-rig\n      connectivity: intermittent\n")
	git(t, dir, "commit", "-qam", "spec")
	l, err := loadRepoSpec(dir)
	if err != nil {
		t.Fatal(err)
	}
	var moved string
	opts := generator.ApplyOptions{Dir: dir, Message: "fleetgen: regen", Author: gitrepo.Author{Name: "F", Email: "f@example.com"},
		Progress: func(done, total int) {
			if moved != "" {
				return
			}
			tree := git(t, dir, "rev-parse", "HEAD^{tree}")
			moved = git(t, dir, "commit-tree", "-p", "HEAD", "-m", "someone else's commit", tree)
			git(t, dir, "update-ref", "refs/heads/main", moved)
		}}
	_, err = generator.ApplyPlanned(opts, func() (*generator.Result, error) { return generator.Plan(l) })
	if err == nil || !strings.Contains(err.Error(), "while fleetgen ran") {
		t.Fatalf("apply with the branch moved meanwhile: %v", err)
	}
	if h := git(t, dir, "rev-parse", "HEAD"); h != moved {
		t.Fatalf("HEAD is %s, want the concurrent commit %s", h, moved)
	}
	if out, errs, code := regen(t, dir); code != 0 {
		t.Fatalf("rerun: exit %d\n%s\n%s", code, out, errs)
	}
	if p := git(t, dir, "rev-parse", "HEAD^1"); p != moved {
		t.Errorf("the rerun's commit has parent %s, want the concurrent commit %s", p, moved)
	}
	if s := git(t, dir, "status", "--porcelain"); s != "" {
		t.Errorf("git status after the rerun:\n%s", s)
	}
	if !strings.Contains(readFile(t, filepath.Join(dir, "clusters/north-sea/ns-rig-0001/flux-instance.yaml")), "interval: 5m") {
		t.Error("the rerun did not apply the spec")
	}
}

// fleetgen's commits are in the reflog, as git's are.
func TestCommitsAreInTheReflog(t *testing.T) {
	dir := newRepo(t)
	editSpec(t, dir, "      clusterPrefix: ns-rig\n", "      clusterPrefix: ns-rig\n      connectivity: intermittent\n")
	git(t, dir, "commit", "-qam", "spec")
	regen(t, dir)
	head := git(t, dir, "rev-parse", "HEAD")
	for _, ref := range []string{"HEAD", "main"} {
		log := git(t, dir, "reflog", "show", "--format=%H %gs", ref)
		first := strings.SplitN(log, "\n", 2)[0]
		if !strings.HasPrefix(first, head+" commit (merge): fleetgen: regenerate") {
			t.Errorf("reflog of %s starts with %q, want fleetgen's commit %s", ref, first, head)
		}
		if n := len(strings.Split(log, "\n")); n != 3 {
			t.Errorf("reflog of %s has %d entries, want 3 (generate, spec commit, regen):\n%s", ref, n, log)
		}
	}
}

// A repository made before the generated tree moved into the branch (it
// kept it on refs/fleetgen/generated only) is migrated by its next run:
// the ref's commit is merged into the branch, so clones get it.
func TestLegacyGeneratedRefIsMigrated(t *testing.T) {
	dir := newRepo(t)
	rel := "clusters/north-sea/ns-rig-0001/cluster-vars.yaml"
	// Rebuild the old layout with the git CLI: the generated tree on
	// refs/fleetgen/generated, a branch with no fleetgen trailer.
	base := generatedBase(t, dir)
	git(t, dir, "update-ref", string(generator.GeneratedRef), git(t, dir, "commit-tree", "-m", "fleetgen: generated tree", base+"^{tree}"))
	git(t, dir, "update-ref", "refs/heads/main", git(t, dir, "commit-tree", "-m", "fleetgen: generate", base+"^{tree}"))
	git(t, dir, "reset", "-q", "--hard")
	commitHandEdit(t, dir, rel)
	if out, errs, code := regen(t, dir, "--region", "north-sea"); code != 0 {
		t.Fatalf("regen of a legacy repository: exit %d\n%s\n%s", code, out, errs)
	}
	assertHandEdit(t, dir, rel, "migrating regen")
	if n := git(t, dir, "rev-list", "--count", "--merges", "HEAD"); n != "1" {
		t.Errorf("%s merge commits, want 1 recording the generated tree", n)
	}
	clone := filepath.Join(t.TempDir(), "clone")
	git(t, filepath.Dir(clone), "clone", "-q", dir, clone)
	editSpec(t, clone, "      clusterPrefix: ns-rig\n", "      clusterPrefix: ns-rig\n      connectivity: intermittent\n")
	git(t, clone, "commit", "-qam", "spec")
	if out, errs, code := regen(t, clone); code != 0 {
		t.Fatalf("regen in a clone of the migrated repository: exit %d\n%s\n%s", code, out, errs)
	}
	assertHandEdit(t, clone, rel, "regen in the clone")
}

var _ = plumbing.ZeroHash

// New inventory columns come in sorted order: the same command gives the
// same bytes (they came in map order).
func TestInventoryColumnsAreDeterministic(t *testing.T) {
	var first string
	for i := 0; i < 4; i++ {
		dir := newRepo(t)
		editSpec(t, dir, "  regions:\n", "  inventory: clusters.csv\n  regions:\n")
		writeFile(t, filepath.Join(dir, "clusters.csv"), "name,region\n")
		git(t, dir, "add", "-A")
		git(t, dir, "commit", "-qm", "inventory")
		mustFleetgen(t, append([]string{"inventory", "add", "--dir", dir, "--region", "north-sea", "rig-x",
			"--label", "b.example.com/z=1", "--label", "a.example.com/y=2", "--label", "c.example.com/x=3",
			"--value", "ZED=1", "--value", "ALPHA=2", "--value", "MID=3"}, testAuthor...)...)
		got := readFile(t, filepath.Join(dir, "clusters.csv"))
		if i == 0 {
			first = got
			if h := strings.SplitN(got, "\n", 2)[0]; h != "name,region,label:a.example.com/y,label:b.example.com/z,label:c.example.com/x,ALPHA,MID,ZED" {
				t.Fatalf("header = %q", h)
			}
		} else if got != first {
			t.Fatalf("run %d wrote\n%s\nrun 1 wrote\n%s", i+1, got, first)
		}
	}
}

// fleet.yaml is read before the run takes its lock: a spec commit landing
// in between makes the run stop, instead of writing the old spec back.
func TestSpecCommittedWhileStartingIsNotReverted(t *testing.T) {
	dir := newRepo(t)
	l, err := loadRepoSpec(dir)
	if err != nil {
		t.Fatal(err)
	}
	editSpec(t, dir, "      clusterPrefix: ns-rig\n", "      clusterPrefix: ns-rig\n      connectivity: intermittent\n")
	git(t, dir, "commit", "-qam", "spec, committed meanwhile")
	head := git(t, dir, "rev-parse", "HEAD")
	opts := generator.ApplyOptions{Dir: dir, Message: "fleetgen: regen", Author: gitrepo.Author{Name: "F", Email: "f@example.com"}, Inputs: specInputs(l)}
	_, err = generator.ApplyPlanned(opts, func() (*generator.Result, error) { return generator.Plan(l) })
	if err == nil || !strings.Contains(err.Error(), "fleet.yaml changed since fleetgen read it") {
		t.Fatalf("apply of a stale spec: %v", err)
	}
	if h := git(t, dir, "rev-parse", "HEAD"); h != head {
		t.Errorf("HEAD moved to %s", h)
	}
	if !strings.Contains(readFile(t, filepath.Join(dir, "fleet.yaml")), "connectivity: intermittent") {
		t.Error("the committed spec change was written over")
	}
}
