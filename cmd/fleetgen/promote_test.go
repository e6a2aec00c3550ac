package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fleetgen/fleetgen/examples"
	"github.com/fleetgen/fleetgen/generator/gitrepo/gitservertest"
)

const ringsYAML = "  rings:\n    - {name: canary, share: 5}\n    - {name: early, share: 20}\n    - {name: stable, share: 75}\n  regions:\n"

// ringFleet generates the default example with three rings; ns-rig-0001
// is a canary, ns-rig-0002 early, the rest by hash.
func ringFleet(t *testing.T) string {
	t.Helper()
	needGit(t)
	src, err := examples.FS.ReadFile("offshore-platforms/fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(src), "  regions:\n", ringsYAML, 1)
	text = strings.Replace(text, "      clusterPrefix: ns-rig\n", "      clusterPrefix: ns-rig\n      rings: {canary: [ns-rig-0001], early: [ns-rig-0002]}\n", 1)
	specFile := filepath.Join(t.TempDir(), "fleet.yaml")
	if err := os.WriteFile(specFile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "fleet")
	out := mustFleetgen(t, append([]string{"generate", "--spec", specFile, "--out", dir}, testAuthor...)...)
	if !strings.Contains(out, "ring branches created at") {
		t.Errorf("generate does not say it made the ring branches:\n%s", out)
	}
	return dir
}

func refs(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, line := range strings.Split(git(t, dir, "for-each-ref", "--format=%(refname) %(objectname)"), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok {
			m[k] = v
		}
	}
	return m
}

const canaryFI = "clusters/north-sea/ns-rig-0001/flux-instance.yaml"

func TestPromoteMovesOnlyItsRingAndRecordsIt(t *testing.T) {
	dir := ringFleet(t)
	first := git(t, dir, "rev-parse", "main")
	for _, ring := range []string{"canary", "early", "stable"} {
		if got := git(t, dir, "rev-parse", "fleet/ring/"+ring); got != first {
			t.Fatalf("a new fleet: fleet/ring/%s at %s, want the first revision %s", ring, got, first)
		}
	}
	if fi := git(t, dir, "show", "main:"+canaryFI); !strings.Contains(fi, "ref: refs/heads/fleet/ring/canary") {
		t.Fatalf("the canary's FluxInstance does not sync its ring:\n%s", fi)
	}

	// Part 5 of issue 13: a Flux upgrade committed on main.
	editSpec(t, dir, "  connectivity: satellite\n", "  connectivity: satellite\n  flux: {version: 2.10.x}\n")
	git(t, dir, "commit", "-qam", "Flux 2.10")
	if out, errs, code := regen(t, dir); code != 0 {
		t.Fatalf("regen: exit %d\n%s\n%s", code, out, errs)
	}
	second := git(t, dir, "rev-parse", "main")

	// Skipping canary is refused, and changes nothing.
	before := refs(t, dir)
	if out, errs, code := fleetgen(t, append([]string{"promote", "--dir", dir, "early", "--to", "main"}, testAuthor...)...); code == 0 || !strings.Contains(errs, "promote canary first, or pass --skip") {
		t.Fatalf("promote early past canary: exit %d\n%s\n%s", code, out, errs)
	}
	// An unknown ring, a revision off main: refused, nothing moves.
	if _, errs, code := fleetgen(t, "promote", "--dir", dir, "beta"); code == 0 || !strings.Contains(errs, `unknown ring "beta": spec.rings has canary, early, stable`) {
		t.Fatalf("unknown ring: exit %d\n%s", code, errs)
	}
	git(t, dir, "branch", "side", first)
	git(t, dir, "checkout", "-q", "side")
	git(t, dir, "commit", "-q", "--allow-empty", "-m", "not on main")
	side := git(t, dir, "rev-parse", "side")
	git(t, dir, "checkout", "-q", "main")
	if _, errs, code := fleetgen(t, "promote", "--dir", dir, "canary", "--to", side); code == 0 || !strings.Contains(errs, "is not a commit of main") {
		t.Fatalf("promote to a side branch: exit %d\n%s", code, errs)
	}
	if after := refs(t, dir); !sameMap(before, after, "refs/heads/side") {
		t.Fatalf("refused promotions moved refs:\n%v\n%v", before, after)
	}

	// promote canary: only its ref moves, to a commit carrying main's tree.
	out := mustFleetgen(t, append([]string{"promote", "--dir", dir, "canary"}, testAuthor...)...)
	if !strings.Contains(out, "promote: canary") {
		t.Errorf("promote says:\n%s", out)
	}
	after := refs(t, dir)
	for ref, h := range before {
		if ref != "refs/heads/fleet/ring/canary" && after[ref] != h {
			t.Errorf("%s moved from %s to %s", ref, h, after[ref])
		}
	}
	if a, b := git(t, dir, "rev-parse", "fleet/ring/canary^{tree}"), git(t, dir, "rev-parse", "main^{tree}"); a != b {
		t.Errorf("canary's tree %s, main's %s", a, b)
	}
	if got := git(t, dir, "log", "-1", "--format=%s%n%an <%ae>%n%P", "fleet/ring/canary"); !strings.HasPrefix(got, "promote canary to "+second[:7]+": fleetgen: regenerate") || !strings.Contains(got, first+" "+second) {
		t.Errorf("git log of the canary ring:\n%s", got)
	}
	git(t, dir, "merge-base", "--is-ancestor", first, "fleet/ring/canary") // a fast-forward
	// The Flux upgrade reached the canary ring only.
	if fi := git(t, dir, "show", "fleet/ring/canary:"+canaryFI); !strings.Contains(fi, "version: 2.10.x") {
		t.Errorf("canary ring's FluxInstance after promote:\n%s", fi)
	}
	if fi := git(t, dir, "show", "fleet/ring/early:clusters/north-sea/ns-rig-0002/flux-instance.yaml"); !strings.Contains(fi, "version: 2.9.x") {
		t.Errorf("early ring's FluxInstance moved without a promote:\n%s", fi)
	}
	if out := mustFleetgen(t, "status", "--dir", dir); !strings.Contains(out, "canary  5%") || !strings.Contains(out, second[:12]) || !strings.Contains(out, first[:12]) {
		t.Errorf("status:\n%s", out)
	}

	// plan --dir: per region, the rings, their sizes and revisions.
	plan := mustFleetgen(t, "plan", "--dir", dir)
	if !strings.Contains(plan, "1. canary") || !strings.Contains(plan, "runs "+second[:12]+" (0 behind main)") || !strings.Contains(plan, "runs "+first[:12]+" (2 behind main)") {
		t.Errorf("plan --dir shows no ring revisions:\n%s", plan)
	}
	if !strings.Contains(plan, "  rings: canary ") || !strings.Contains(plan, "@"+second[:12]) {
		t.Errorf("plan --dir shows no rings per region:\n%s", plan)
	}
	var pj struct {
		Rings []struct {
			Ring, Revision string
			Clusters       int
		}
		Regions []struct {
			Name  string
			Rings []struct {
				Name     string
				Clusters int
				Revision string
			}
		}
	}
	if err := json.Unmarshal([]byte(mustFleetgen(t, "plan", "--dir", dir, "-o", "json")), &pj); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, r := range pj.Rings {
		total += r.Clusters
	}
	if len(pj.Rings) != 3 || pj.Rings[0].Revision != second || pj.Rings[1].Revision != first || total != 9 {
		t.Errorf("plan -o json rings: %+v", pj.Rings)
	}
	if ns := pj.Regions[0]; ns.Name != "north-sea" || len(ns.Rings) != 3 || ns.Rings[0].Clusters < 1 || ns.Rings[1].Clusters < 1 || ns.Rings[0].Revision != second {
		t.Errorf("plan -o json north-sea rings: %+v", ns)
	}

	// early follows canary by default; stable then follows early.
	mustFleetgen(t, append([]string{"promote", "--dir", dir, "early"}, testAuthor...)...)
	if a, b := git(t, dir, "rev-parse", "fleet/ring/early^{tree}"), git(t, dir, "rev-parse", "main^{tree}"); a != b {
		t.Errorf("early after promote: tree %s, want main's %s", a, b)
	}

	// A rollback: canary back to the first revision, a new commit again.
	canaryHead := git(t, dir, "rev-parse", "fleet/ring/canary")
	out = mustFleetgen(t, append([]string{"promote", "--dir", dir, "canary", "--to", first}, testAuthor...)...)
	if !strings.Contains(out, "roll back: canary") {
		t.Errorf("rollback says:\n%s", out)
	}
	git(t, dir, "merge-base", "--is-ancestor", canaryHead, "fleet/ring/canary")
	if a, b := git(t, dir, "rev-parse", "fleet/ring/canary^{tree}"), git(t, dir, "rev-parse", first+"^{tree}"); a != b {
		t.Errorf("canary after rollback: tree %s, want the first revision's %s", a, b)
	}
	if got := git(t, dir, "log", "-1", "--format=%s", "fleet/ring/canary"); !strings.HasPrefix(got, "roll back canary to "+first[:7]) {
		t.Errorf("rollback record: %s", got)
	}
	if got := git(t, dir, "reflog", "-1", "--format=%gs", "fleet/ring/canary"); !strings.Contains(got, "roll back canary") {
		t.Errorf("reflog of the ring: %q", got)
	}
	git(t, dir, "fsck", "--strict", "--no-progress")
	if st := git(t, dir, "status", "--porcelain"); st != "" {
		t.Errorf("promote touched the worktree:\n%s", st)
	}

	// push sends main and the ring branches; a fresh clone sees them.
	home := t.TempDir()
	for k, v := range map[string]string{"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "HOME": home, "FLEETGEN_GIT_TOKEN": "tok-123456", "FLEETGEN_GIT_USERNAME": "robot", "SSH_AUTH_SOCK": ""} {
		t.Setenv(k, v)
	}
	root := t.TempDir()
	bare := gitservertest.Bare(t, root, "fleet.git")
	srv := gitservertest.NewHTTP(t, root, "robot", "tok-123456")
	git(t, dir, "remote", "add", "origin", srv.URL+"/fleet.git")
	git(t, dir, "config", "remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*")
	out = mustFleetgen(t, "push", "--dir", dir)
	for _, ring := range []string{"canary", "early", "stable"} {
		if got, want := serverHas(t, bare, "fleet/ring/"+ring), git(t, dir, "rev-parse", "fleet/ring/"+ring); got != want {
			t.Errorf("server fleet/ring/%s = %q, want %s\npush said:\n%s", ring, got, want, out)
		}
	}
	// Promote again, then a plain fast-forward push of the ring.
	mustFleetgen(t, append([]string{"promote", "--dir", dir, "canary"}, testAuthor...)...)
	out = mustFleetgen(t, "push", "--dir", dir)
	if !strings.Contains(out, "fleet/ring/canary: ") || !strings.Contains(out, "fleet/ring/stable: up to date") {
		t.Errorf("second push says:\n%s", out)
	}
	if got, want := serverHas(t, bare, "fleet/ring/canary"), git(t, dir, "rev-parse", "fleet/ring/canary"); got != want {
		t.Errorf("server canary %q, want %s", got, want)
	}
	clone := filepath.Join(t.TempDir(), "clone")
	git(t, root, "clone", "-q", strings.Replace(srv.URL, "http://", "http://robot:tok-123456@", 1)+"/fleet.git", clone)
	if got := git(t, clone, "log", "--format=%s", "origin/fleet/ring/canary"); !strings.Contains(got, "promote canary to") || !strings.Contains(got, "roll back canary to") {
		t.Errorf("the clone's canary history:\n%s", got)
	}
	git(t, clone, "fsck", "--strict", "--no-progress")
}

func sameMap(a, b map[string]string, ignore string) bool {
	for k, v := range a {
		if k != ignore && b[k] != v {
			return false
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok && k != ignore {
			return false
		}
	}
	return true
}

// Bad rings in fleet.yaml: one error naming the field and its line, and
// nothing written.
func TestGenerateRefusesBadRingsWritingNothing(t *testing.T) {
	src, err := examples.FS.ReadFile("offshore-platforms/fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(src), "  regions:\n", "  rings:\n    - {name: canary, share: 5}\n    - {name: stable, share: 90}\n  regions:\n", 1)
	specFile := filepath.Join(t.TempDir(), "fleet.yaml")
	writeFile(t, specFile, text)
	out := filepath.Join(t.TempDir(), "fleet")
	_, errs, code := fleetgen(t, "generate", "--spec", specFile, "--out", out)
	line := strings.Count(text[:strings.Index(text, "  rings:")], "\n") + 1
	if code == 0 || !strings.Contains(errs, specFile+":"+strconv.Itoa(line)+": spec.rings: the shares add up to 95, not 100") {
		t.Errorf("exit %d, stderr:\n%s", code, errs)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("%s was created", out)
	}
}

// A teammate's plain `git clone` has only main as a local branch; the rings
// are origin/fleet/ring/*. regen there must not make new ring branches at
// its own commit (a push would then move every never-promoted ring to it,
// unpromoted), and promote must continue the ring's history from the
// remote's head (else the push is refused as non-fast-forward).
func TestRingsInAPlainClone(t *testing.T) {
	dir := ringFleet(t)
	home := t.TempDir()
	for k, v := range map[string]string{"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "HOME": home, "FLEETGEN_GIT_TOKEN": "tok-123456", "FLEETGEN_GIT_USERNAME": "robot", "SSH_AUTH_SOCK": ""} {
		t.Setenv(k, v)
	}
	root := t.TempDir()
	bare := gitservertest.Bare(t, root, "fleet.git")
	srv := gitservertest.NewHTTP(t, root, "robot", "tok-123456")
	git(t, dir, "remote", "add", "origin", srv.URL+"/fleet.git")
	git(t, dir, "config", "remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*")
	mustFleetgen(t, "push", "--dir", dir)
	first := serverHas(t, bare, "main")
	// canary promoted once (to a commit of main), early and stable never.
	writeFile(t, filepath.Join(dir, "fleet.yaml"), strings.Replace(readFile(t, filepath.Join(dir, "fleet.yaml")), "clusterCount: 4", "clusterCount: 5", 1))
	git(t, dir, "commit", "-qam", "a fifth rig")
	mustFleetgen(t, append([]string{"regen", "--dir", dir}, testAuthor...)...)
	mustFleetgen(t, append([]string{"promote", "--dir", dir, "canary"}, testAuthor...)...)
	mustFleetgen(t, "push", "--dir", dir)
	before := map[string]string{}
	for _, ring := range []string{"canary", "early", "stable"} {
		before[ring] = serverHas(t, bare, "fleet/ring/"+ring)
	}
	if before["early"] != first || before["stable"] != first || before["canary"] == first {
		t.Fatalf("server rings before the clone: %v (first revision %s)", before, first)
	}

	clone := filepath.Join(t.TempDir(), "clone")
	git(t, root, "clone", "-q", "-b", "main", strings.Replace(srv.URL, "http://", "http://robot:tok-123456@", 1)+"/fleet.git", clone)
	// status reads the remote's rings: canary runs main's head (its promotion), the others the first revision.
	if st := mustFleetgen(t, "status", "--dir", clone); strings.Contains(st, "(no branch)") || !strings.Contains(st, git(t, clone, "rev-parse", "main")[:12]) || !strings.Contains(st, first[:12]) {
		t.Errorf("status in a clone does not show the remote's rings:\n%s", st)
	}
	writeFile(t, filepath.Join(clone, "fleet.yaml"), strings.Replace(readFile(t, filepath.Join(clone, "fleet.yaml")), "clusterCount: 5", "clusterCount: 6", 1))
	git(t, clone, "commit", "-qam", "a sixth rig")
	out := mustFleetgen(t, append([]string{"regen", "--dir", clone}, testAuthor...)...)
	if strings.Contains(out, "ring branches created") || !strings.Contains(out, "ring branches taken from the remote") {
		t.Errorf("regen in a clone says:\n%s", out)
	}
	for _, ring := range []string{"canary", "early", "stable"} {
		if got := git(t, clone, "rev-parse", "fleet/ring/"+ring); got != before[ring] {
			t.Errorf("after regen in a clone, fleet/ring/%s = %s, want the remote's %s", ring, got, before[ring])
		}
	}
	out = mustFleetgen(t, "push", "--dir", clone)
	for _, ring := range []string{"canary", "early", "stable"} {
		if got := serverHas(t, bare, "fleet/ring/"+ring); got != before[ring] {
			t.Errorf("push from the clone moved fleet/ring/%s to %s (was %s), unpromoted:\n%s", ring, got, before[ring], out)
		}
	}
	// promote canary in the clone: a fast-forward of the remote's canary.
	mustFleetgen(t, append([]string{"promote", "--dir", clone, "canary"}, testAuthor...)...)
	git(t, clone, "merge-base", "--is-ancestor", before["canary"], "fleet/ring/canary")
	if a, b := git(t, clone, "rev-parse", "fleet/ring/canary^{tree}"), git(t, clone, "rev-parse", "main^{tree}"); a != b {
		t.Errorf("canary after promote in the clone: tree %s, want main's %s", a, b)
	}
	out = mustFleetgen(t, "push", "--dir", clone)
	if got, want := serverHas(t, bare, "fleet/ring/canary"), git(t, clone, "rev-parse", "fleet/ring/canary"); got != want {
		t.Errorf("server canary %s, want the clone's promotion %s:\n%s", got, want, out)
	}
	if got := serverHas(t, bare, "fleet/ring/stable"); got != first {
		t.Errorf("server stable moved to %s", got)
	}
}
