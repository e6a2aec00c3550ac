package main

// TestCrashSafety kills the real fleetgen binary at every stage of an apply
// (FLEETGEN_TEST_CRASH, see generator/apply.go), reruns the same command and
// checks that the repository ends exactly where an uninterrupted run leaves
// it: same worktree bytes and modes, same branch and snapshot trees, a clean
// `git status`, a repository `git fsck --strict` accepts, no journal left,
// hand edits kept, and a further run that changes nothing.

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var crashAuthor = []string{"--author-name", "Crash Tester", "--author-email", "crash@example.com"}

// crashEnv isolates the binary and the git CLI from the user's config and
// from a FLEETGEN_TEST_CRASH set outside the test.
func crashEnv(home string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "FLEETGEN_TEST_CRASH", "HOME", "XDG_CONFIG_HOME", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE",
			"GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Crash Tester", "GIT_AUTHOR_EMAIL=crash@example.com",
		"GIT_COMMITTER_NAME=Crash Tester", "GIT_COMMITTER_EMAIL=crash@example.com")
	return append(env, extra...)
}

type crashHarness struct {
	bin  string // the built fleetgen
	home string
}

// buildCrashBinary builds ./ (this package) once for the whole test.
func buildCrashBinary(t *testing.T) *crashHarness {
	t.Helper()
	tmp := t.TempDir()
	h := &crashHarness{bin: filepath.Join(tmp, "fleetgen"), home: filepath.Join(tmp, "home")}
	if err := os.MkdirAll(h.home, 0o755); err != nil {
		t.Fatal(err)
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not on PATH: cannot build the binary")
	}
	cmd := exec.Command(gobin, "build", "-o", h.bin, "./")
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "GOFLAGS" && k != "GOTOOLCHAIN" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "GOTOOLCHAIN=local", "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return h
}

// fg runs the binary; crash, when set, is FLEETGEN_TEST_CRASH.
func (h *crashHarness) fg(t *testing.T, crash string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(h.bin, append(args, crashAuthor...)...)
	var extra []string
	if crash != "" {
		extra = append(extra, "FLEETGEN_TEST_CRASH="+crash)
	}
	cmd.Env = crashEnv(h.home, extra...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("run fleetgen: %v", err)
	}
	return o.String(), e.String(), code
}

func (h *crashHarness) mustFG(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, code := h.fg(t, "", args...)
	if code != 0 {
		t.Fatalf("fleetgen %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// gitCLI runs the git CLI in dir; it fails the test on a non-zero exit.
func (h *crashHarness) gitCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := h.gitTry(dir, args...)
	if err != nil {
		t.Fatalf("git %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return strings.TrimSpace(out)
}

func (h *crashHarness) gitTry(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	cmd.Env = crashEnv(h.home)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// crashEntry is one worktree path: its mode (type and permissions) and,
// for a file, its bytes.
type crashEntry struct {
	mode fs.FileMode
	data []byte
}

// crashState is what a finished run must reproduce.
type crashState struct {
	files               map[string]crashEntry // every path but .git
	headTree, genTree   string
	headCount, genCount string // commits on the branch and on the snapshot ref
}

func readWorktreeEntries(t *testing.T, dir string) map[string]crashEntry {
	t.Helper()
	files := map[string]crashEntry{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == ".git" {
			return filepath.SkipDir
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		e := crashEntry{mode: fi.Mode().Type() | fi.Mode().Perm()}
		if fi.Mode().IsRegular() {
			if e.data, err = os.ReadFile(p); err != nil {
				return err
			}
		}
		files[rel] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func (h *crashHarness) state(t *testing.T, dir string) crashState {
	t.Helper()
	return crashState{
		files:     readWorktreeEntries(t, dir),
		headTree:  h.gitCLI(t, dir, "rev-parse", "HEAD^{tree}"),
		genTree:   h.gitCLI(t, dir, "rev-parse", generatedBase(t, dir)+"^{tree}"),
		headCount: h.gitCLI(t, dir, "rev-list", "--count", "HEAD"),
		genCount:  h.gitCLI(t, dir, "rev-list", "--count", generatedBase(t, dir)),
	}
}

// compareWorktrees reports every path that differs, at most 15.
func compareWorktrees(t *testing.T, got, want map[string]crashEntry) {
	t.Helper()
	var paths []string
	for p := range want {
		paths = append(paths, p)
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	var diffs []string
	for _, p := range paths {
		g, gok := got[p]
		w, wok := want[p]
		switch {
		case !gok:
			diffs = append(diffs, "missing: "+p)
		case !wok:
			diffs = append(diffs, fmt.Sprintf("unexpected: %s (%v)", p, g.mode))
		case g.mode != w.mode:
			diffs = append(diffs, fmt.Sprintf("mode of %s: %v, want %v", p, g.mode, w.mode))
		case !bytes.Equal(g.data, w.data):
			diffs = append(diffs, fmt.Sprintf("content of %s differs (%d bytes, want %d)", p, len(g.data), len(w.data)))
		}
	}
	if len(diffs) > 0 {
		more := ""
		if len(diffs) > 15 {
			more = fmt.Sprintf("\n  ... and %d more", len(diffs)-15)
			diffs = diffs[:15]
		}
		t.Errorf("worktree differs from the uninterrupted run:\n  %s%s", strings.Join(diffs, "\n  "), more)
	}
}

// copyCrashTree copies src (worktree and .git) to dst, keeping file modes.
func copyCrashTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			return os.MkdirAll(target, fi.Mode().Perm())
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.WriteFile(target, b, fi.Mode().Perm()); err != nil {
				return err
			}
			return os.Chmod(target, fi.Mode().Perm())
		default:
			return fmt.Errorf("%s: unexpected file type %v", p, fi.Mode())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// crashEditFile replaces old by new in dir/rel, which must contain old.
func crashEditFile(t *testing.T, dir, rel, old, new string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s has no %q", rel, old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writtenPaths is the list of paths a run writes or removes, in the order
// Apply does (its dry run prints them sorted, as Apply writes them).
func (h *crashHarness) writtenPaths(t *testing.T, args []string) ([]string, map[string]string) {
	t.Helper()
	out := h.mustFG(t, append(slices.Clone(args), "--dry-run")...)
	var paths []string
	actions := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		switch f[0] {
		case "create", "update", "merge", "delete":
			paths = append(paths, f[1])
			actions[f[1]] = f[0]
		}
	}
	if len(paths) == 0 {
		t.Fatalf("dry run of %v lists nothing to write:\n%s", args, out)
	}
	return paths, actions
}

// A crashScenario prepares a repository, then runs one command that is
// killed at each of points and rerun.
type crashScenario struct {
	name string
	// prepare builds the repository the command runs on in dir (nil: the
	// command creates dir).
	prepare func(t *testing.T, h *crashHarness, dir string)
	args    func(dir string) []string
	// points are FLEETGEN_TEST_CRASH values; "write:last" is the last
	// write, "write:@merge" the first merged file, "write:@delete2" the
	// second deletion. "a+b" crashes with a, then crashes the rerun with b.
	points []string
	// kept are substrings the user wrote that must survive, by path.
	kept map[string][]string
}

const (
	crashNorthSea = "      clusterCount: 4\n      clusterPrefix: ns-rig\n"
	// A new link for one region and one more cluster in it.
	crashNorthSeaChanged = "      clusterCount: 5\n      clusterPrefix: ns-rig\n      connectivity: intermittent\n"
	// The same, with a region label: every overlay of the region changes.
	crashNorthSeaLabelled = crashNorthSeaChanged + "      labels:\n        acme-energy.example/tier: gold\n"

	crashOverlay    = "apps/regions/north-sea/kustomization.yaml"
	crashOverlayAdd = "patches:\n- target:\n    kind: Deployment\n    name: sensor-gateway\n  patch: |-\n    - op: replace\n      path: /spec/replicas\n      value: 2\n"
	crashClusterApp = "clusters/north-sea/ns-rig-0001/apps.yaml"
	crashClusterAdd = "  annotations:\n    acme-energy.example/owner: platform-team\n"
)

func crashScenarios() []crashScenario {
	generateInto := func(h *crashHarness, t *testing.T, dir string) {
		h.mustFG(t, "generate", "--out", dir, "-q")
	}
	return []crashScenario{
		{
			name:   "generate-new",
			args:   func(dir string) []string { return []string{"generate", "--out", dir} },
			points: []string{"journal", "write:1", "write:40", "write:last", "objects", "reflock", "ref", "commit"},
		},
		{
			name: "regen-spec-change",
			prepare: func(t *testing.T, h *crashHarness, dir string) {
				generateInto(h, t, dir)
				crashEditFile(t, dir, "fleet.yaml", crashNorthSea, crashNorthSeaChanged)
				h.gitCLI(t, dir, "commit", "-q", "-a", "-m", "north-sea: intermittent link, one more rig")
			},
			args:   func(dir string) []string { return []string{"regen", "--dir", dir} },
			points: []string{"journal", "write:5", "write:last", "objects", "reflock", "ref", "commit", "write:5+journal"},
			kept:   map[string][]string{"fleet.yaml": {crashNorthSeaChanged}},
		},
		{
			name: "regen-merges-hand-edits",
			prepare: func(t *testing.T, h *crashHarness, dir string) {
				generateInto(h, t, dir)
				crashEditFile(t, dir, crashOverlay, "- ../../base\n", "- ../../base\n"+crashOverlayAdd)
				crashEditFile(t, dir, crashClusterApp, "  namespace: flux-system\n", "  namespace: flux-system\n"+crashClusterAdd)
				h.gitCLI(t, dir, "commit", "-q", "-a", "-m", "hand edits")
				crashEditFile(t, dir, "fleet.yaml", crashNorthSea, crashNorthSeaLabelled)
				crashEditFile(t, dir, "fleet.yaml", "      clusterCount: 3\n", "      clusterCount: 2\n")
				h.gitCLI(t, dir, "commit", "-q", "-a", "-m", "north-sea: label, link, rig; gulf: one rig less")
			},
			args:   func(dir string) []string { return []string{"regen", "--dir", dir} },
			points: []string{"journal", "write:1", "write:@delete2", "write:@merge", "write:last", "objects", "reflock", "ref", "commit"},
			kept: map[string][]string{
				crashOverlay:    {crashOverlayAdd, "acme-energy.example/tier: gold"},
				crashClusterApp: {crashClusterAdd, "interval: 15m0s"},
				"fleet.yaml":    {crashNorthSeaLabelled},
			},
		},
	}
}

// resolveCrashPoint turns the symbolic points into FLEETGEN_TEST_CRASH values.
func resolveCrashPoint(t *testing.T, p string, written []string, actions map[string]string) string {
	t.Helper()
	nth := func(action string, n int) string {
		for i, w := range written {
			if actions[w] == action {
				if n--; n == 0 {
					return "write:" + strconv.Itoa(i+1)
				}
			}
		}
		t.Fatalf("crash point %s: the run has no such %s (writes: %v)", p, action, actions)
		return ""
	}
	switch p {
	case "write:last":
		return "write:" + strconv.Itoa(len(written))
	case "write:@merge":
		return nth("merge", 1)
	case "write:@delete2":
		return nth("delete", 2)
	}
	return p
}

func TestCrashSafety(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git CLI not on PATH")
	}
	h := buildCrashBinary(t)

	for _, sc := range crashScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			template := filepath.Join(root, "template")
			if sc.prepare != nil {
				sc.prepare(t, h, template)
			}
			written, actions := h.writtenPaths(t, sc.args(template))
			if sc.name == "regen-merges-hand-edits" {
				for _, p := range []string{crashOverlay, crashClusterApp} {
					if actions[p] != "merge" {
						t.Fatalf("the scenario must merge %s; dry run says %q", p, actions[p])
					}
				}
			}

			// The reference: the same sequence, never interrupted.
			ref := filepath.Join(root, "reference")
			if sc.prepare != nil {
				copyCrashTree(t, template, ref)
			}
			h.mustFG(t, sc.args(ref)...)
			want := h.state(t, ref)

			for _, point := range sc.points {
				t.Run(strings.ReplaceAll(point, ":", "="), func(t *testing.T) {
					t.Parallel()
					dir := filepath.Join(t.TempDir(), "fleet")
					if sc.prepare != nil {
						copyCrashTree(t, template, dir)
					}
					args := sc.args(dir)
					for _, p := range strings.Split(point, "+") {
						crash := resolveCrashPoint(t, p, written, actions)
						t.Logf("FLEETGEN_TEST_CRASH=%s (%d writes)", crash, len(written))
						out, errs, code := h.fg(t, crash, args...)
						if code != 137 {
							t.Fatalf("FLEETGEN_TEST_CRASH=%s: exit %d, want 137 (killed)\nstdout: %s\nstderr: %s", crash, code, out, errs)
						}
						if _, err := os.Stat(filepath.Join(dir, ".git", "fleetgen-pending.json")); err != nil {
							t.Fatalf("FLEETGEN_TEST_CRASH=%s: no journal after the crash: %v", crash, err)
						}
					}

					// Rerun without a crash: it must finish the job.
					out, errs, code := h.fg(t, "", args...)
					if code != 0 {
						t.Fatalf("rerun after crash at %s: exit %d, want 0\nstdout: %s\nstderr: %s", point, code, out, errs)
					}
					if _, err := os.Stat(filepath.Join(dir, ".git", "fleetgen-pending.json")); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("journal .git/fleetgen-pending.json still there after the rerun (stat: %v)", err)
					}
					got := h.state(t, dir)
					compareWorktrees(t, got.files, want.files)
					if got.headTree != want.headTree {
						t.Errorf("HEAD^{tree} = %s, want %s (uninterrupted run)", got.headTree, want.headTree)
					}
					if got.genTree != want.genTree {
						t.Errorf("generated tree = %s, want %s (uninterrupted run)", got.genTree, want.genTree)
					}
					if got.headCount != want.headCount || got.genCount != want.genCount {
						t.Errorf("commits: branch %s, snapshot %s; want %s and %s as without a crash",
							got.headCount, got.genCount, want.headCount, want.genCount)
					}
					if st := h.gitCLI(t, dir, "status", "--porcelain", "--untracked-files=all"); st != "" {
						t.Errorf("git status after the rerun is not clean:\n%s", st)
					}
					if out, err := h.gitTry(dir, "fsck", "--strict", "--no-progress"); err != nil {
						t.Errorf("git fsck --strict: %v\n%s", err, out)
					}
					for rel, subs := range sc.kept {
						b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
						if err != nil {
							t.Errorf("hand-edited %s: %v", rel, err)
							continue
						}
						committed := h.gitCLI(t, dir, "show", "HEAD:"+rel)
						for _, s := range subs {
							if !strings.Contains(string(b), s) {
								t.Errorf("%s lost %q after the crash and rerun:\n%s", rel, s, b)
							}
							if !strings.Contains(committed+"\n", s) {
								t.Errorf("HEAD:%s lacks %q", rel, s)
							}
						}
					}

					// A further run has nothing left to do.
					head := h.gitCLI(t, dir, "rev-parse", "HEAD")
					gen := generatedBase(t, dir)
					out, errs, code = h.fg(t, "", args...)
					if code != 0 || !strings.Contains(out, "up to date") {
						t.Errorf("third run: exit %d, want 0 and \"up to date\"\nstdout: %s\nstderr: %s", code, out, errs)
					}
					if h2 := h.gitCLI(t, dir, "rev-parse", "HEAD"); h2 != head {
						t.Errorf("third run moved HEAD from %s to %s", head, h2)
					}
					if g2 := generatedBase(t, dir); g2 != gen {
						t.Errorf("third run moved the generated tree from %s to %s", gen, g2)
					}
				})
			}
		})
	}
}
