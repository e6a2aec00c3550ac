package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// newRepo generates the default example into a fresh folder.
func newRepo(t *testing.T) string {
	t.Helper()
	needGit(t)
	dir := filepath.Join(t.TempDir(), "fleet")
	mustFleetgen(t, append([]string{"generate", "--out", dir, "-q"}, testAuthor...)...)
	return dir
}

func regen(t *testing.T, dir string, extra ...string) (string, string, int) {
	t.Helper()
	return fleetgen(t, append(append([]string{"regen", "--dir", dir}, extra...), testAuthor...)...)
}

const overlay = "infrastructure/regions/north-sea/kustomization.yaml"

// userPatch is what an engineer appends to a region overlay: open the MQTT
// port to the platform's sensor network.
const userPatch = `patches:
- target:
    kind: NetworkPolicy
    name: allow-sensor-gateway
  patch: |-
    - op: add
      path: /spec/ingress/0/from/-
      value: {ipBlock: {cidr: 10.20.0.0/16}}
`

func editSpec(t *testing.T, dir, old, new string) {
	t.Helper()
	p := filepath.Join(dir, "fleet.yaml")
	s := readFile(t, p)
	if !strings.Contains(s, old) {
		t.Fatalf("fleet.yaml has no %q", old)
	}
	writeFile(t, p, strings.Replace(s, old, new, 1))
}

func TestRegenKeepsHandEditsAndAppliesTheNewSpec(t *testing.T) {
	dir := newRepo(t)
	writeFile(t, filepath.Join(dir, overlay), readFile(t, filepath.Join(dir, overlay))+userPatch)
	// The user also owns .gitignore (seeded).
	writeFile(t, filepath.Join(dir, ".gitignore"), "# mine\n*.agekey\n")
	// Change the region in the spec: a label for all its objects, and a new link.
	editSpec(t, dir, "      clusterPrefix: ns-rig\n", "      clusterPrefix: ns-rig\n      connectivity: intermittent\n      labels:\n        acme-energy.example/tier: gold\n")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "hand edits")
	before := snapshotDir(t, dir)

	out, errs, code := regen(t, dir)
	if code != 0 {
		t.Fatalf("regen: exit %d\n%s\n%s", code, out, errs)
	}
	got := readFile(t, filepath.Join(dir, overlay))
	if !strings.Contains(got, "cidr: 10.20.0.0/16") {
		t.Errorf("the hand edit is gone:\n%s", got)
	}
	if !strings.Contains(got, "acme-energy.example/tier: gold") {
		t.Errorf("the new label is missing:\n%s", got)
	}
	if !strings.Contains(out, "1 merged") {
		t.Errorf("regen should report the merge: %q", out)
	}
	ks := readFile(t, filepath.Join(dir, "clusters/north-sea/ns-rig-0001/infrastructure.yaml"))
	if !strings.Contains(ks, "interval: 15m0s") {
		t.Errorf("north-sea did not get the intermittent profile:\n%s", ks)
	}
	if g := readFile(t, filepath.Join(dir, ".gitignore")); g != "# mine\n*.agekey\n" {
		t.Errorf("seeded .gitignore was rewritten:\n%s", g)
	}
	after := snapshotDir(t, dir)
	for p, b := range before {
		if strings.HasPrefix(p, "bootstrap/gulf-of-mexico/") || strings.HasPrefix(p, "clusters/campos-basin/") {
			if after[p] != b {
				t.Errorf("%s changed, but its region did not", p)
			}
		}
	}
	if s := git(t, dir, "status", "--porcelain"); s != "" {
		t.Errorf("not clean after regen:\n%s", s)
	}
	git(t, dir, "fsck", "--strict")

	// Twice in a row: the second run changes nothing and makes no commit.
	head := git(t, dir, "rev-parse", "HEAD")
	out, _, code = regen(t, dir)
	if code != 0 || !strings.Contains(out, "up to date") {
		t.Errorf("second regen: exit %d, %q", code, out)
	}
	if h := git(t, dir, "rev-parse", "HEAD"); h != head {
		t.Errorf("second regen committed")
	}
}

func TestRegenConflictWritesNothingAndListsTheFiles(t *testing.T) {
	dir := newRepo(t)
	// The user adds a label exactly where the spec will add one.
	p := filepath.Join(dir, overlay)
	writeFile(t, p, strings.Replace(readFile(t, p), "    fleetgen.dev/region: north-sea\n", "    acme-energy.example/tier: silver\n    fleetgen.dev/region: north-sea\n", 1))
	editSpec(t, dir, "      clusterPrefix: ns-rig\n", "      clusterPrefix: ns-rig\n      labels:\n        acme-energy.example/tier: gold\n")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "conflicting edit")
	head := git(t, dir, "rev-parse", "HEAD")
	before := snapshotDir(t, dir)

	_, errs, code := regen(t, dir)
	if code == 0 {
		t.Fatal("regen with a conflict succeeded")
	}
	for _, want := range []string{overlay, "1 file(s) conflict", "nothing was written"} {
		if !strings.Contains(errs, want) {
			t.Errorf("error does not mention %q:\n%s", want, errs)
		}
	}
	after := snapshotDir(t, dir)
	if len(after) != len(before) {
		t.Errorf("%d files before, %d after", len(before), len(after))
	}
	for f, b := range before {
		if after[f] != b {
			t.Errorf("%s changed although the run conflicted", f)
		}
	}
	if h := git(t, dir, "rev-parse", "HEAD"); h != head {
		t.Error("a conflicting regen committed")
	}
}

func TestRegenOneRegionLeavesOthersByteIdentical(t *testing.T) {
	dir := newRepo(t)
	// Change two regions, regenerate only one.
	editSpec(t, dir, "      clusterCount: 4\n", "      clusterCount: 6\n")
	editSpec(t, dir, "      clusterCount: 3\n", "      clusterCount: 5\n")
	git(t, dir, "commit", "-qam", "grow two regions")
	before := snapshotDir(t, dir)

	out, errs, code := regen(t, dir, "--region", "north-sea")
	if code != 0 {
		t.Fatalf("regen: %s %s", out, errs)
	}
	after := snapshotDir(t, dir)
	for p, b := range before {
		inRegion := false
		for _, pre := range []string{"infrastructure/regions/north-sea/", "apps/regions/north-sea/", "clusters/north-sea/", "bootstrap/north-sea/"} {
			inRegion = inRegion || strings.HasPrefix(p, pre)
		}
		if !inRegion && after[p] != b {
			t.Errorf("%s changed outside region north-sea", p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok && !strings.HasPrefix(p, "clusters/north-sea/") {
			t.Errorf("%s created outside region north-sea", p)
		}
	}
	if _, ok := after["clusters/north-sea/ns-rig-0006/kustomization.yaml"]; !ok {
		t.Error("the new north-sea cluster was not generated")
	}
	if _, ok := after["clusters/gulf-of-mexico/gom-rig-0005/kustomization.yaml"]; ok {
		t.Error("gulf-of-mexico was regenerated although not named")
	}
	// The generated-tree snapshot of the region is what a fresh generate of
	// the new spec produces for it (and HEAD holds the same).
	fresh := filepath.Join(t.TempDir(), "fresh")
	mustFleetgen(t, append([]string{"generate", "--spec", filepath.Join(dir, "fleet.yaml"), "--out", fresh, "-q"}, testAuthor...)...)
	base := generatedBase(t, dir)
	for _, p := range []string{"clusters/north-sea", "bootstrap/north-sea", "infrastructure/regions/north-sea", "apps/regions/north-sea"} {
		want := git(t, fresh, "rev-parse", "HEAD:"+p)
		if got := git(t, dir, "rev-parse", base+":"+p); got != want {
			t.Errorf("snapshot of %s is %s, a fresh generate gives %s", p, got, want)
		}
		if got := git(t, dir, "rev-parse", "HEAD:"+p); got != want {
			t.Errorf("HEAD's %s is %s, a fresh generate gives %s", p, got, want)
		}
	}
	git(t, dir, "fsck", "--strict")
}

func TestRegenRemovesClustersButKeepsEditedFiles(t *testing.T) {
	dir := newRepo(t)
	edited := "clusters/north-sea/ns-rig-0004/cluster-vars.yaml"
	writeFile(t, filepath.Join(dir, edited), readFile(t, filepath.Join(dir, edited))+"  SITE_PHONE: \"+47 000\"\n")
	editSpec(t, dir, "      clusterCount: 4\n", "      clusterCount: 2\n")
	git(t, dir, "commit", "-qam", "shrink north-sea, edit one of the removed clusters")

	out, errs, code := regen(t, dir)
	if code != 0 {
		t.Fatalf("regen: %s %s", out, errs)
	}
	files := snapshotDir(t, dir)
	if _, ok := files["clusters/north-sea/ns-rig-0003/kustomization.yaml"]; ok {
		t.Error("removed cluster ns-rig-0003 still has files")
	}
	if _, ok := files[edited]; !ok {
		t.Errorf("%s was edited by the user and must be kept", edited)
	}
	if !strings.Contains(out, "kept "+edited) {
		t.Errorf("regen should say it kept %s: %q", edited, out)
	}
	if s := git(t, dir, "status", "--porcelain"); s != "" {
		t.Errorf("not clean:\n%s", s)
	}
	// --prune-edited removes it.
	out, errs, code = regen(t, dir, "--prune-edited")
	if code != 0 {
		t.Fatalf("regen --prune-edited: %s %s", out, errs)
	}
	if _, ok := snapshotDir(t, dir)[edited]; ok {
		t.Errorf("--prune-edited kept %s", edited)
	}
}

// regen refuses when a file it would write holds uncommitted work, and
// leaves uncommitted work elsewhere as it is (committing only its own
// files, as `git commit -- <paths>` would).
func TestRegenRefusesUncommittedChanges(t *testing.T) {
	dir := newRepo(t)
	const rig = "clusters/gulf-of-mexico/gom-rig-0001/infrastructure.yaml"
	const other = "clusters/north-sea/ns-rig-0001/infrastructure.yaml" // not rewritten by this change
	editSpec(t, dir, "      clusterCount: 3\n", "      clusterCount: 3\n      connectivity: always-on\n")
	git(t, dir, "commit", "-qam", "gulf gets fibre")
	writeFile(t, filepath.Join(dir, other), "changed\n")
	writeFile(t, filepath.Join(dir, rig), "my edit\n")
	_, errs, code := regen(t, dir)
	if code == 0 || !strings.Contains(errs, "uncommitted changes") || !strings.Contains(errs, rig+" (modified)") || strings.Contains(errs, other) {
		t.Errorf("exit %d, %q", code, errs)
	}
	if readFile(t, filepath.Join(dir, rig)) != "my edit\n" {
		t.Error("regen touched the uncommitted file")
	}
	git(t, dir, "checkout", "--", rig)
	out, errs, code := regen(t, dir)
	if code != 0 {
		t.Fatalf("regen with an unrelated uncommitted edit: exit %d\n%s%s", code, out, errs)
	}
	if readFile(t, filepath.Join(dir, other)) != "changed\n" {
		t.Error("regen touched the unrelated uncommitted file")
	}
	if s := git(t, dir, "status", "--porcelain"); s != "M "+other {
		t.Errorf("git status after regen: %q, want only %s modified", s, other)
	}
}

func TestDiffShowsWhatRegenWouldChange(t *testing.T) {
	dir := newRepo(t)
	editSpec(t, dir, "      clusterCount: 3\n", "      clusterCount: 3\n      connectivity: always-on\n")
	git(t, dir, "commit", "-qam", "gulf gets fibre")
	got := mustFleetgen(t, "diff", "--dir", dir)
	for _, want := range []string{"--- a/clusters/gulf-of-mexico/gom-rig-0001/infrastructure.yaml", "-  interval: 1h0m0s", "+  interval: 10m0s"} {
		if !strings.Contains(got, want) {
			t.Errorf("diff lacks %q", want)
		}
	}
	if s := git(t, dir, "status", "--porcelain"); s != "" {
		t.Errorf("diff wrote something:\n%s", s)
	}
}

func TestInventoryAddAndRemove(t *testing.T) {
	needGit(t)
	dir := filepath.Join(t.TempDir(), "trucks")
	mustFleetgen(t, append([]string{"generate", "--spec", "../../examples/truck-fleet/fleet.yaml", "--out", dir, "-q"}, testAuthor...)...)
	before := snapshotDir(t, dir)
	mustFleetgen(t, append([]string{"inventory", "add", "--dir", dir, "--region", "eu-west", "truck-0004", "truck-0005", "--label", "fleet.example.com/depot=lyon", "--value", "DEPOT=Lyon"}, testAuthor...)...)
	after := snapshotDir(t, dir)
	vars := after["clusters/eu-west/truck-0005/cluster-vars.yaml"]
	if !strings.Contains(vars, "DEPOT: Lyon") {
		t.Errorf("new cluster's vars:\n%s", vars)
	}
	if !strings.Contains(after["trucks.csv"], "truck-0005,eu-west,lyon,Lyon,") {
		t.Errorf("inventory not updated:\n%s", after["trucks.csv"])
	}
	for p, b := range before {
		if strings.HasPrefix(p, "clusters/na-east/") && after[p] != b {
			t.Errorf("%s changed (na-east was not touched)", p)
		}
	}
	if s := git(t, dir, "status", "--porcelain"); s != "" {
		t.Errorf("not clean:\n%s", s)
	}
	mustFleetgen(t, append([]string{"inventory", "remove", "--dir", dir, "truck-0002"}, testAuthor...)...)
	if _, ok := snapshotDir(t, dir)["clusters/eu-west/truck-0002/kustomization.yaml"]; ok {
		t.Error("removed truck still has files")
	}
	_, errs, code := fleetgen(t, append([]string{"inventory", "add", "--dir", dir, "--region", "mars", "truck-9999"}, testAuthor...)...)
	if code == 0 || !strings.Contains(errs, "mars") {
		t.Errorf("unknown region: exit %d %q", code, errs)
	}
}
