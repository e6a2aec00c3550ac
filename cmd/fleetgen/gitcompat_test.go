package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// The git-compatibility suite: each case sets a repository up with the
// real git CLI (config, attributes, worktrees, clones, sparse checkouts,
// hooks), runs fleetgen (generate, then a regen that writes: a spec change
// and a hand edit to merge), and checks git's own view afterwards. Either
// fleetgen follows git (fsck --strict, status, diff-index --cached,
// update-index --really-refresh, write-tree, the worktree bytes as `git
// checkout` writes them and the blobs as `git add` stores them) or it
// refuses before writing, with one message naming the setting and the way
// out, and HEAD, the index and the worktree are as they were. Where a case
// has a way out, it is taken, and fleetgen must then follow git.

type compatCase struct {
	name string
	// setup runs after the spec change and hand edit are committed, in
	// dir; it returns the folder fleetgen runs in ("" for dir).
	setup func(t *testing.T, dir string) string
	args  []string // extra regen flags
	// refuse lists what the refusal must say; empty: fleetgen follows git.
	refuse []string
	// wayOut, for a refusal, does what the message says and returns the
	// extra flags to run again with.
	wayOut func(t *testing.T, dir string) []string
	// check adds case-specific checks after fleetgen followed git.
	check func(t *testing.T, dir string)
}

// The regen of every case writes these: north-sea gets a new connectivity
// (its clusters' infrastructure.yaml change) and a label, merged into the
// region overlay with the user's patch.
const (
	compatRig     = "clusters/north-sea/ns-rig-0001/infrastructure.yaml"
	compatOverlay = overlay
)

func TestGitCompat(t *testing.T) {
	if testing.Short() {
		t.Skip("git compatibility suite: not in -short")
	}
	needGit(t)
	for _, c := range compatCases() {
		t.Run(c.name, func(t *testing.T) { runCompatCase(t, c) })
	}
}

func compatCases() []compatCase {
	sparseOK := "apps bootstrap clusters docs infrastructure"
	sparseAdd := "bootstrap/north-sea clusters/north-sea docs/design infrastructure/regions"
	return []compatCase{
		// ---- followed -------------------------------------------------
		{name: "core.fileMode=false", setup: func(t *testing.T, dir string) string {
			gx(t, dir, "config", "core.fileMode", "false")
			// git ignores the x bit now: status is clean, and regen
			// rewrites this very file.
			if err := os.Chmod(filepath.Join(dir, compatRig), 0o755); err != nil {
				t.Fatal(err)
			}
			return ""
		}},
		{name: "core.symlinks=false", setup: func(t *testing.T, dir string) string {
			if err := os.Symlink("../../../README.md", filepath.Join(dir, "clusters/north-sea/ns-rig-0001/README-link")); err != nil {
				t.Fatal(err)
			}
			gx(t, dir, "add", "-A")
			gx(t, dir, "commit", "-qm", "a link")
			gx(t, dir, "config", "core.symlinks", "false")
			os.Remove(filepath.Join(dir, "clusters/north-sea/ns-rig-0001/README-link"))
			gx(t, dir, "checkout", "--", "clusters/north-sea/ns-rig-0001/README-link") // now a file holding the target
			return ""
		}},
		{name: "git read-tree HEAD (index without stat data)", setup: func(t *testing.T, dir string) string {
			gx(t, dir, "read-tree", "HEAD")
			return ""
		}},
		{name: "XDG excludes (~/.config/git/ignore)", setup: func(t *testing.T, dir string) string {
			writeFile(t, filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "git", "ignore"), "*.swp\n")
			writeFile(t, filepath.Join(dir, "clusters/north-sea/ns-rig-0001/.infrastructure.yaml.swp"), "vim\n")
			return ""
		}, check: func(t *testing.T, dir string) {
			if _, err := os.Stat(filepath.Join(dir, "clusters/north-sea/ns-rig-0001/.infrastructure.yaml.swp")); err != nil {
				t.Errorf("the ignored file is gone: %v", err)
			}
		}},
		{name: "text=auto with a CRLF hand edit", setup: func(t *testing.T, dir string) string {
			writeFile(t, filepath.Join(dir, ".gitattributes"), "* text=auto\n")
			gx(t, dir, "add", ".gitattributes")
			gx(t, dir, "commit", "-qm", "normalize line endings")
			// A Windows editor saved the overlay with CRLF: git stores it
			// with LF, and status is clean.
			p := filepath.Join(dir, compatOverlay)
			writeFile(t, p, strings.ReplaceAll(readFile(t, p), "\n", "\r\n"))
			gx(t, dir, "add", compatOverlay)
			return ""
		}},
		{name: "core.autocrlf=input", setup: func(t *testing.T, dir string) string {
			gx(t, dir, "config", "core.autocrlf", "input")
			p := filepath.Join(dir, compatOverlay)
			writeFile(t, p, strings.ReplaceAll(readFile(t, p), "\n", "\r\n"))
			gx(t, dir, "add", compatOverlay)
			return ""
		}},
		{name: "cone sparse checkout holding what fleetgen writes", setup: func(t *testing.T, dir string) string {
			gx(t, dir, append([]string{"sparse-checkout", "set", "--cone"}, strings.Fields(sparseOK)...)...)
			return ""
		}},
		{name: "index.version=4 (feature.manyFiles)", setup: func(t *testing.T, dir string) string {
			gx(t, dir, "config", "feature.manyFiles", "true")
			gx(t, dir, "config", "index.version", "4")
			gx(t, dir, "update-index", "--index-version", "4")
			return ""
		}, check: func(t *testing.T, dir string) {
			if v := indexVersion(t, dir); v != 4 {
				t.Errorf("fleetgen rewrote the index as version %d, want 4", v)
			}
		}},

		// ---- refused ----------------------------------------------------
		{name: "core.autocrlf=true", setup: func(t *testing.T, dir string) string {
			gx(t, dir, "config", "core.autocrlf", "true")
			return ""
		}, refuse: []string{"core.autocrlf=true", "CRLF", "git config core.autocrlf input"},
			wayOut: func(t *testing.T, dir string) []string {
				gx(t, dir, "config", "core.autocrlf", "input")
				return nil
			}},
		{name: ".gitattributes eol=crlf", setup: func(t *testing.T, dir string) string {
			writeFile(t, filepath.Join(dir, ".gitattributes"), "*.yaml eol=crlf\n")
			gx(t, dir, "add", ".gitattributes")
			gx(t, dir, "commit", "-qm", "CRLF for yaml")
			return ""
		}, refuse: []string{"eol=crlf (.gitattributes)", "CRLF", "eol=lf"},
			wayOut: func(t *testing.T, dir string) []string {
				f, err := os.OpenFile(filepath.Join(dir, ".gitattributes"), os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.WriteString("/clusters/** eol=lf\n/infrastructure/** eol=lf\n/apps/** eol=lf\n/bootstrap/** eol=lf\n/docs/** eol=lf\n/*.yaml eol=lf\n")
				f.Close()
				gx(t, dir, "commit", "-qam", "LF for fleetgen's files")
				return nil
			}},
		{name: "clean/smudge filter (git LFS) on fleetgen's files", setup: func(t *testing.T, dir string) string {
			gx(t, dir, "config", "filter.lfs.clean", "sed -e s/^/L:/")
			gx(t, dir, "config", "filter.lfs.smudge", "sed -e s/^L://")
			gx(t, dir, "config", "filter.lfs.required", "true")
			writeFile(t, filepath.Join(dir, ".gitattributes"), "clusters/** filter=lfs\n")
			gx(t, dir, "add", ".gitattributes")
			gx(t, dir, "commit", "-qm", "lfs")
			return ""
		}, refuse: []string{"filter=lfs (.gitattributes)", "clean/smudge", "!filter"}},
		{name: "cone sparse checkout without fleetgen's folders", setup: func(t *testing.T, dir string) string {
			gx(t, dir, "sparse-checkout", "set", "--cone", "apps")
			return ""
		}, refuse: []string{"sparse checkout", "/north-sea/", "are outside it", "git sparse-checkout add " + sparseAdd, "git sparse-checkout disable"},
			wayOut: func(t *testing.T, dir string) []string {
				// Exactly what the message says.
				gx(t, dir, append([]string{"sparse-checkout", "add"}, strings.Fields(sparseAdd)...)...)
				return nil
			}},
		{name: "hand-made sparse checkout", setup: func(t *testing.T, dir string) string {
			gx(t, dir, "config", "core.sparseCheckout", "true")
			writeFile(t, filepath.Join(dir, ".git", "info", "sparse-checkout"), "/*\n!/clusters/\n")
			gx(t, dir, "read-tree", "-mu", "HEAD")
			if _, err := os.Stat(filepath.Join(dir, compatRig)); err == nil {
				t.Fatal("git did not apply the sparse checkout")
			}
			return ""
		}, refuse: []string{"sparse checkout", "clusters/north-sea/", "is outside it", "git sparse-checkout disable"},
			wayOut: func(t *testing.T, dir string) []string {
				gx(t, dir, "sparse-checkout", "disable")
				return nil
			}},
		{name: "core.splitIndex=true", setup: func(t *testing.T, dir string) string {
			gx(t, dir, "config", "core.splitIndex", "true")
			gx(t, dir, "update-index", "--split-index")
			return ""
		}, refuse: []string{"split index (core.splitIndex=true)", "git config core.splitIndex false && git update-index --no-split-index"},
			wayOut: func(t *testing.T, dir string) []string {
				gx(t, dir, "config", "core.splitIndex", "false")
				gx(t, dir, "update-index", "--no-split-index")
				return nil
			}},
		{name: "linked worktree (git worktree add)", setup: func(t *testing.T, dir string) string {
			wt := filepath.Join(filepath.Dir(dir), "wt")
			gx(t, dir, "worktree", "add", "-q", wt)
			return wt
		}, refuse: []string{"linked worktree (git worktree add)", "run fleetgen in"}},
		{name: "--separate-git-dir", setup: func(t *testing.T, dir string) string {
			gx(t, dir, "init", "-q", "--separate-git-dir", filepath.Join(filepath.Dir(dir), "gitdir"))
			return ""
		}, refuse: []string{".git is a file", "--separate-git-dir", "git clone"}},
		{name: "alternates (git clone --shared)", setup: func(t *testing.T, dir string) string {
			clone := filepath.Join(filepath.Dir(dir), "shared")
			gx(t, filepath.Dir(dir), "clone", "-q", "--shared", dir, clone)
			return clone
		}, refuse: []string{"objects/info/alternates", "git clone --shared", "git repack -a -d && rm .git/objects/info/alternates"},
			wayOut: func(t *testing.T, dir string) []string {
				gx(t, dir, "repack", "-q", "-a", "-d")
				if err := os.Remove(filepath.Join(dir, ".git", "objects", "info", "alternates")); err != nil {
					t.Fatal(err)
				}
				return nil
			}},
		{name: "partial clone (--filter=blob:none)", setup: func(t *testing.T, dir string) string {
			gx(t, dir, "config", "uploadpack.allowFilter", "true")
			clone := filepath.Join(filepath.Dir(dir), "partial")
			gx(t, filepath.Dir(dir), "clone", "-q", "--filter=blob:none", "file://"+dir, clone)
			return clone
		}, refuse: []string{"partial clone", "git clone` without --filter"}},
		{name: "executable pre-commit hook", setup: func(t *testing.T, dir string) string {
			p := filepath.Join(dir, ".git", "hooks", "pre-commit")
			writeFile(t, p, "#!/bin/sh\necho no >&2\nexit 1\n")
			if err := os.Chmod(p, 0o755); err != nil {
				t.Fatal(err)
			}
			return ""
		}, refuse: []string{"executable git hook (.git/hooks/pre-commit)", "--no-verify"},
			wayOut: func(t *testing.T, dir string) []string { return []string{"--no-verify"} }},
		{name: "commit.gpgsign=true", setup: func(t *testing.T, dir string) string {
			gx(t, dir, "config", "commit.gpgsign", "true")
			return ""
		}, refuse: []string{"commit.gpgsign=true", "--sign-key FILE", "git config commit.gpgsign false"},
			wayOut: func(t *testing.T, dir string) []string {
				gx(t, dir, "config", "commit.gpgsign", "false")
				return nil
			}},
		{name: "checked-out branch is not spec.git.branch", setup: func(t *testing.T, dir string) string {
			gx(t, dir, "switch", "-q", "-c", "trunk")
			return ""
		}, refuse: []string{"branch is trunk, not main (spec.git.branch)", "git switch main", "--allow-other-branch"},
			wayOut: func(t *testing.T, dir string) []string { return []string{"--allow-other-branch"} },
			check: func(t *testing.T, dir string) {
				if gx(t, dir, "rev-parse", "trunk") == gx(t, dir, "rev-parse", "main") {
					t.Error("the commit did not land on trunk")
				}
			}},
		{name: "detached HEAD", setup: func(t *testing.T, dir string) string {
			gx(t, dir, "checkout", "-q", "--detach")
			return ""
		}, refuse: []string{"HEAD is detached", "git switch main"}},
		{name: "skip-worktree bit on a file fleetgen writes", setup: func(t *testing.T, dir string) string {
			gx(t, dir, "update-index", "--skip-worktree", compatRig)
			writeFile(t, filepath.Join(dir, compatRig), "# my local settings\n")
			return ""
		}, refuse: []string{"skip-worktree bit on " + compatRig, "git update-index --no-skip-worktree " + compatRig}},
		{name: "merge in progress", setup: func(t *testing.T, dir string) string {
			gx(t, dir, "switch", "-q", "-c", "side")
			writeFile(t, filepath.Join(dir, "notes.txt"), "side\n")
			gx(t, dir, "add", "notes.txt")
			gx(t, dir, "commit", "-qm", "side")
			gx(t, dir, "switch", "-q", "main")
			gx(t, dir, "merge", "-q", "--no-commit", "--no-ff", "side")
			return ""
		}, refuse: []string{"a merge is in progress", "git merge --abort"}},
	}
}

func runCompatCase(t *testing.T, c compatCase) {
	root := t.TempDir()
	home := filepath.Join(root, "home")
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("GIT_CONFIG_GLOBAL", filepath.Join(home, ".gitconfig"))
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	gx(t, root, "config", "--global", "user.name", "Tester")
	gx(t, root, "config", "--global", "user.email", "t@example.com")
	gx(t, root, "config", "--global", "init.defaultBranch", "main")

	dir := filepath.Join(root, "fleet")
	mustFleetgen(t, append([]string{"generate", "--out", dir, "-q"}, testAuthor...)...)
	// A spec change that rewrites north-sea, and a hand edit to merge.
	editSpec(t, dir, "      clusterPrefix: ns-rig\n", "      clusterPrefix: ns-rig\n      connectivity: intermittent\n      labels:\n        acme-energy.example/tier: gold\n")
	writeFile(t, filepath.Join(dir, compatOverlay), readFile(t, filepath.Join(dir, compatOverlay))+userPatch)
	gx(t, dir, "commit", "-qam", "north-sea goes intermittent; my patch")

	run := dir
	if c.setup != nil {
		if d := c.setup(t, dir); d != "" {
			run = d
		}
	}
	headBefore := gx(t, run, "rev-parse", "HEAD")
	filesBefore := snapshotDir(t, run)
	indexBefore := gitIndexBytes(t, run)

	out, errs, code := fleetgen(t, append(append([]string{"regen", "--dir", run}, c.args...), testAuthor...)...)
	if len(c.refuse) > 0 {
		if code == 0 {
			t.Fatalf("fleetgen followed instead of refusing:\n%s", out)
		}
		for _, want := range append(c.refuse, "nothing was written") {
			if !strings.Contains(errs, want) {
				t.Errorf("the refusal does not say %q:\n%s", want, errs)
			}
		}
		if strings.Count(strings.TrimSpace(errs), "\n") > 0 {
			t.Errorf("the refusal is not one message:\n%s", errs)
		}
		if h := gx(t, run, "rev-parse", "HEAD"); h != headBefore {
			t.Errorf("HEAD moved from %s to %s", headBefore, h)
		}
		if !sameFiles(filesBefore, snapshotDir(t, run)) {
			t.Error("the worktree changed")
		}
		if !bytes.Equal(indexBefore, gitIndexBytes(t, run)) {
			t.Error("the index changed")
		}
		t.Logf("refused: %s", strings.TrimSpace(errs))
		if c.wayOut == nil {
			return
		}
		args := c.wayOut(t, run)
		headBefore = gx(t, run, "rev-parse", "HEAD")
		out, errs, code = fleetgen(t, append(append([]string{"regen", "--dir", run}, args...), testAuthor...)...)
	}
	if code != 0 {
		t.Fatalf("regen: exit %d\n%s%s", code, out, errs)
	}
	if h := gx(t, run, "rev-parse", "HEAD"); h == headBefore {
		t.Fatalf("regen made no commit:\n%s", out)
	}
	assertGitAgrees(t, run)
	if got := readFile(t, filepath.Join(run, compatOverlay)); !strings.Contains(got, "cidr: 10.20.0.0/16") || !strings.Contains(got, "acme-energy.example/tier: gold") {
		t.Errorf("the hand edit and the new label were not merged:\n%s", got)
	}
	if c.check != nil {
		c.check(t, run)
	}
}

// assertGitAgrees checks git's own view of a repository fleetgen wrote.
func assertGitAgrees(t *testing.T, dir string) {
	t.Helper()
	gx(t, dir, "fsck", "--strict", "--no-progress")
	if s := gx(t, dir, "status", "--porcelain"); s != "" {
		t.Errorf("git status --porcelain:\n%s", s)
	}
	if s := gx(t, dir, "diff-index", "--cached", "HEAD"); s != "" {
		t.Errorf("git diff-index --cached HEAD:\n%s", s)
	}
	gx(t, dir, "update-index", "-q", "--really-refresh")
	// The cache tree fleetgen kept is right.
	if got, want := gx(t, dir, "write-tree"), gx(t, dir, "rev-parse", "HEAD^{tree}"); got != want {
		t.Errorf("git write-tree = %s, HEAD's tree is %s", got, want)
	}
	// The files fleetgen wrote hold what `git checkout` writes.
	co := t.TempDir()
	gx(t, dir, "checkout-index", "-a", "-f", "--prefix="+co+"/")
	checkedOut := snapshotDir(t, co)
	for _, p := range strings.Fields(gx(t, dir, "diff", "--name-only", "HEAD~1", "HEAD")) {
		want, ok := checkedOut[p]
		if !ok {
			continue // deleted, or outside a sparse checkout
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if string(b) != want {
			t.Errorf("%s differs from what git checkout writes (%q..., git: %q...)", p, head(b), head([]byte(want)))
		}
	}
	// The blobs are what `git add` stores.
	gx(t, dir, "add", "--renormalize", ".")
	if s := gx(t, dir, "status", "--porcelain"); s != "" {
		t.Errorf("git add --renormalize finds blobs git would store otherwise:\n%s", s)
	}
}

func head(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

func sameFiles(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// gitIndexBytes is the repository's index file (of a linked worktree or a
// separate git dir too).
func gitIndexBytes(t *testing.T, dir string) []byte {
	t.Helper()
	p := gx(t, dir, "rev-parse", "--git-path", "index")
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func indexVersion(t *testing.T, dir string) uint32 {
	b := gitIndexBytes(t, dir)
	return binary.BigEndian.Uint32(b[4:8])
}

// gx runs the git CLI in dir with the test's HOME (its global and XDG
// config are the case's).
func gx(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// git init makes master (without init.defaultBranch): fleetgen's first
// commit there would not be on the branch the clusters sync.
func TestGitCompatGenerateIntoAnotherUnbornBranch(t *testing.T) {
	needGit(t)
	root := t.TempDir()
	home := filepath.Join(root, "home")
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("GIT_CONFIG_GLOBAL", filepath.Join(home, ".gitconfig"))
	dir := filepath.Join(root, "fleet")
	gx(t, root, "init", "-q", "-b", "master", dir)
	_, errs, code := fleetgen(t, append([]string{"generate", "--out", dir, "-q"}, testAuthor...)...)
	if code == 0 || !strings.Contains(errs, "branch is master, not main") || !strings.Contains(errs, "git switch --orphan main") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("generate wrote %d entries, want only .git", len(entries))
	}
	gx(t, dir, "switch", "-q", "--orphan", "main")
	mustFleetgen(t, append([]string{"generate", "--out", dir, "-q"}, testAuthor...)...)
	if b := gx(t, dir, "symbolic-ref", "--short", "HEAD"); b != "main" {
		t.Errorf("HEAD is on %s", b)
	}
	assertGitAgreesClean(t, dir)
}

// assertGitAgreesClean is assertGitAgrees for a first commit.
func assertGitAgreesClean(t *testing.T, dir string) {
	t.Helper()
	gx(t, dir, "fsck", "--strict", "--no-progress")
	if s := gx(t, dir, "status", "--porcelain"); s != "" {
		t.Errorf("git status --porcelain:\n%s", s)
	}
	gx(t, dir, "update-index", "-q", "--really-refresh")
}

// A file a killed run journalled, then edited by the user before the
// rerun, is the user's work: the rerun, which commits the killed run's
// files, refuses instead of committing the edit as fleetgen's.
func TestGitCompatJournalledFileEditedAfterKill(t *testing.T) {
	dir := newRepo(t)
	head := git(t, dir, "rev-parse", "HEAD")
	// What a run killed after writing compatRig leaves: the journal says
	// fleetgen wrote these bytes there.
	writeFile(t, filepath.Join(dir, ".git", "fleetgen-pending.json"),
		`{"`+compatRig+`":"`+plumbingHash("fleetgen's bytes\n")+`"}`)
	writeFile(t, filepath.Join(dir, compatRig), "the user's edit\n")
	_, errs, code := regen(t, dir)
	if code == 0 || !strings.Contains(errs, "uncommitted changes") || !strings.Contains(errs, compatRig) {
		t.Errorf("exit %d: %s", code, errs)
	}
	if h := git(t, dir, "rev-parse", "HEAD"); h != head {
		t.Errorf("the user's edit was committed (HEAD %s, was %s)", h, head)
	}
	if got := readFile(t, filepath.Join(dir, compatRig)); got != "the user's edit\n" {
		t.Errorf("the edit became %q", got)
	}
}

func plumbingHash(s string) string {
	return plumbing.ComputeHash(plumbing.BlobObject, []byte(s)).String()
}
