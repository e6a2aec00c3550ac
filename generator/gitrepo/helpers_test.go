package gitrepo

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fleetgen/fleetgen/generator/tree"
)

// testWhen is a fixed commit date (with a non-UTC zone) for deterministic hashes.
var testWhen = time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("", 2*3600))

var testAuthor = Author{Name: "Test Author", Email: "test@example.com"}

// writeFiles writes files under dir with their modes, as the generator does.
func writeFiles(tb testing.TB, dir string, files []tree.File) {
	tb.Helper()
	made := map[string]bool{}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if d := filepath.Dir(p); !made[d] {
			if err := os.MkdirAll(d, 0o755); err != nil {
				tb.Fatal(err)
			}
			made[d] = true
		}
		mode := os.FileMode(f.Mode)
		if mode == 0 {
			mode = tree.ModeFile
		}
		if err := os.WriteFile(p, f.Content, mode); err != nil {
			tb.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // umask
			tb.Fatal(err)
		}
	}
}

// sampleFiles is a few hundred files in nested folders, with names chosen to
// exercise git's tree order ("a-b" < "a/" < "a0", "foo.yaml" < "foo/") and a
// few executable scripts.
func sampleFiles() []tree.File {
	var fs []tree.File
	add := func(p string, mode uint32, content string) {
		fs = append(fs, tree.File{Path: p, Mode: mode, Content: []byte(content)})
	}
	for c := 0; c < 60; c++ {
		base := fmt.Sprintf("clusters/prod-%02d", c)
		add(base+"/kustomization.yaml", tree.ModeFile, fmt.Sprintf("%sapiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- flux-system\n# cluster %d\n", tree.GeneratedHeader, c))
		add(base+"/flux-system/gotk-sync.yaml", tree.ModeFile, fmt.Sprintf("kind: GitRepository\nname: cluster-%d\n", c))
		add(base+"/flux-system/kustomization.yaml", tree.ModeFile, "resources:\n- gotk-sync.yaml\n") // same blob in every cluster
		add(base+"/apps/values.yaml", tree.ModeFile, fmt.Sprintf("replicas: %d\n", c%5))
		add(base+"/apps.yaml", tree.ModeFile, "kind: Kustomization\n")
	}
	add("a-b", tree.ModeFile, "dash\n")
	add("a/x", tree.ModeFile, "dir\n")
	add("a0", tree.ModeFile, "zero\n")
	add("a.b/c", tree.ModeFile, "dot dir\n")
	add("foo.yaml", tree.ModeFile, "foo\n")
	add("foo/bar.yaml", tree.ModeFile, "bar\n")
	add("foo-bar/baz.yaml", tree.ModeFile, "baz\n")
	add("empty.txt", tree.ModeFile, "")
	add("scripts/bootstrap.sh", tree.ModeScript, "#!/bin/sh\necho bootstrap\n")
	add("scripts/lib/check.sh", tree.ModeScript, "#!/bin/sh\nexit 0\n")
	add("README.md", tree.ModeFile, "# fleet\n")
	add("deep/1/2/3/4/5/6/leaf.yaml", tree.ModeFile, "leaf: true\n")
	t := tree.Tree{}
	for _, f := range fs {
		t.Add(f)
	}
	if err := t.Finish(); err != nil {
		panic(err)
	}
	return t.Files
}

func haveGit() bool {
	_, err := exec.LookPath("git")
	return err == nil
}

func needGit(tb testing.TB) {
	tb.Helper()
	if !haveGit() {
		tb.Skip("git not on PATH")
	}
}

// gitCmd runs the git CLI in dir, isolated from the user's and system config.
func gitCmd(tb testing.TB, dir string, args ...string) string {
	tb.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=cli", "GIT_AUTHOR_EMAIL=cli@example.com",
		"GIT_COMMITTER_NAME=cli", "GIT_COMMITTER_EMAIL=cli@example.com",
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("git %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String() + stderr.String()
}

// cliTreeHash is what `git add -A && git write-tree` gives for files.
func cliTreeHash(tb testing.TB, files []tree.File) string {
	tb.Helper()
	dir := tb.TempDir()
	gitCmd(tb, dir, "init", "-q")
	writeFiles(tb, dir, files)
	gitCmd(tb, dir, "add", "-A")
	return strings.TrimSpace(gitCmd(tb, dir, "write-tree"))
}

// assertClean checks `git status --porcelain` and `git fsck --strict`.
func assertGitClean(tb testing.TB, dir string) {
	tb.Helper()
	if out := gitCmd(tb, dir, "status", "--porcelain", "-uall"); out != "" {
		tb.Errorf("git status --porcelain not empty:\n%s", out)
	}
	// fsck prints nothing on a sound repository (the index and HEAD are checked too).
	if out := gitCmd(tb, dir, "fsck", "--strict", "--no-progress", "--no-dangling"); out != "" {
		tb.Errorf("git fsck --strict:\n%s", out)
	}
}

// commitFiles writes files to a new repository in a temp dir and commits them.
func commitFiles(tb testing.TB, files []tree.File) (*Repo, string) {
	tb.Helper()
	dir := tb.TempDir()
	r, created, err := OpenOrInit(dir)
	if err != nil || !created {
		tb.Fatalf("OpenOrInit: created=%v err=%v", created, err)
	}
	writeFiles(tb, dir, files)
	if _, ok, err := r.Commit(CommitOptions{Write: files, Message: "first", Author: testAuthor, When: testWhen}); err != nil || !ok {
		tb.Fatalf("Commit: committed=%v err=%v", ok, err)
	}
	return r, dir
}

// Changes is, for tests, every path of HEAD, the index and the worktree
// (.git left out, no ignore rules) that Dirty reports, sorted.
func (r *Repo) Changes() ([]string, error) {
	head, err := r.HeadFiles()
	if err != nil {
		return nil, err
	}
	idx, err := r.readIndex()
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for p := range head {
		set[p] = true
	}
	for _, n := range idx.names {
		set[n] = true
	}
	err = filepath.WalkDir(r.dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(r.dir, p)
			set[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	paths := make([]string, 0, len(set))
	for p := range set {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	d, err := r.Dirty(paths, head, nil)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, x := range d {
		out = append(out, x.Path)
	}
	return out, nil
}
