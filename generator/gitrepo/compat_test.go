package gitrepo

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetgen/fleetgen/generator/tree"
)

// gitEnv isolates a test's git CLI and CheckCompat from the machine's
// configuration: HOME, XDG_CONFIG_HOME and the global file are the test's.
func gitEnv(t *testing.T) (home string) {
	t.Helper()
	home = t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("GIT_CONFIG_GLOBAL", filepath.Join(home, ".gitconfig"))
	t.Setenv("GIT_CONFIG_COUNT", "")
	return home
}

func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=T", "-c", "user.email=t@example.com"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// The attributes CheckPaths and the dirty check act on are git's own, as
// `git check-attr` reports them, over the global attributes file, nested
// .gitattributes, .git/info/attributes, macros and unsetting.
func TestAttributesAgreeWithGitCheckAttr(t *testing.T) {
	needGit(t)
	home := gitEnv(t)
	dir := t.TempDir()
	gitIn(t, dir, "init", "-q")
	writeFiles(t, home, []tree.File{{Path: ".config/git/attributes", Content: []byte("*.md text eol=crlf\n")}})
	writeFiles(t, dir, []tree.File{
		{Path: ".gitattributes", Content: []byte("[attr]lfs filter=lfs -text\n* text=auto\n*.bin binary\nclusters/** eol=lf\n*.png lfs\n")},
		{Path: "clusters/.gitattributes", Content: []byte("secret-* ident working-tree-encoding=UTF-16\nlegacy/* !eol -text\n")},
		{Path: ".git/info/attributes", Content: []byte("clusters/a/override.yaml eol=crlf\n")},
	})
	paths := []string{"README.md", "x.bin", "clusters/a/k.yaml", "clusters/a/override.yaml", "clusters/secret-x.yaml", "clusters/legacy/old.yaml", "logo.png", "docs/a.md"}
	c, err := CheckCompat(dir, CompatOptions{})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"text", "eol", "filter", "ident", "working-tree-encoding"}
	out := gitIn(t, dir, append(append([]string{"check-attr"}, names...), append([]string{"--"}, paths...)...)...)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		// path: attr: value
		parts := strings.SplitN(line, ": ", 3)
		p, name, want := parts[0], parts[1], parts[2]
		v := c.attributes(p)[name]
		got := "unspecified"
		switch {
		case v.known && v.set && v.value == "":
			got = "set"
		case v.known && v.set:
			got = v.value
		case v.known:
			got = "unset"
		}
		if got != want {
			t.Errorf("%s: %s is %q here, git check-attr says %q", p, name, got, want)
		}
	}
}

// Whether git checks a file out with CRLF (refused) is decided as git
// decides it: a file is committed with LF and checked out by git under
// each setting, and CheckPaths must refuse exactly where git wrote CRLF.
func TestCRLFDecisionAgreesWithGitCheckout(t *testing.T) {
	needGit(t)
	gitEnv(t)
	type setting struct {
		config []string // key value pairs
		attrs  string
	}
	settings := []setting{
		{},
		{config: []string{"core.autocrlf", "true"}},
		{config: []string{"core.autocrlf", "input"}},
		{config: []string{"core.eol", "crlf"}},
		{config: []string{"core.eol", "crlf"}, attrs: "* text=auto\n"},
		{config: []string{"core.autocrlf", "true"}, attrs: "*.yaml -text\n"},
		{config: []string{"core.autocrlf", "true"}, attrs: "*.yaml eol=lf\n"},
		{config: []string{"core.autocrlf", "true"}, attrs: "*.yaml text=auto eol=lf\n"},
		{attrs: "*.yaml eol=crlf\n"},
		{attrs: "*.yaml text eol=crlf\n"},
		{attrs: "*.yaml text=auto eol=crlf\n"},
		{attrs: "*.yaml crlf\n"},
		{config: []string{"core.autocrlf", "true"}, attrs: "*.yaml crlf=input\n"},
		{config: []string{"core.autocrlf", "true"}, attrs: "*.yaml binary\n"},
	}
	for _, s := range settings {
		dir := t.TempDir()
		gitIn(t, dir, "init", "-q")
		for i := 0; i+1 < len(s.config); i += 2 {
			gitIn(t, dir, "config", s.config[i], s.config[i+1])
		}
		files := []tree.File{{Path: "a/k.yaml", Content: []byte("a: 1\nb: 2\n")}}
		if s.attrs != "" {
			files = append(files, tree.File{Path: ".gitattributes", Content: []byte(s.attrs)})
		}
		writeFiles(t, dir, files)
		gitIn(t, dir, "add", "-A")
		gitIn(t, dir, "commit", "-qm", "x")
		os.Remove(filepath.Join(dir, "a/k.yaml"))
		gitIn(t, dir, "checkout", "--", "a/k.yaml")
		b, err := os.ReadFile(filepath.Join(dir, "a/k.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		gitCRLF := strings.Contains(string(b), "\r\n")
		c, err := CheckCompat(dir, CompatOptions{})
		if err != nil {
			t.Fatal(err)
		}
		err = c.CheckPaths([]string{"a/k.yaml"})
		if refused := err != nil; refused != gitCRLF {
			t.Errorf("config %v, attributes %q: git checks out CRLF: %v; fleetgen refuses: %v (%v)", s.config, s.attrs, gitCRLF, refused, err)
		}
	}
}

// Config is read where git reads it, later files winning: global
// (GIT_CONFIG_GLOBAL), XDG, local, config.worktree, include.path, and
// GIT_CONFIG_COUNT/KEY/VALUE.
func TestConfigAsGitReadsIt(t *testing.T) {
	needGit(t)
	home := gitEnv(t)
	dir := t.TempDir()
	gitIn(t, dir, "init", "-q")
	t.Setenv("GIT_CONFIG_GLOBAL", "") // ~/.gitconfig and XDG, as without the variable
	os.Unsetenv("GIT_CONFIG_GLOBAL")
	writeFiles(t, home, []tree.File{
		{Path: ".config/git/config", Content: []byte("[core]\n\tfileMode = false\n\tsymlinks = false\n[commit]\n\tgpgSign = true\n")},
		{Path: ".gitconfig", Content: []byte("[core]\n\tsymlinks = true\n[include]\n\tpath = extra.inc\n")},
		{Path: "extra.inc", Content: []byte("[core]\n\tautocrlf = input\n")},
	})
	gitIn(t, dir, "config", "commit.gpgsign", "false")
	gitIn(t, dir, "config", "extensions.worktreeConfig", "true")
	gitIn(t, dir, "config", "--worktree", "core.sparseCheckout", "true")
	c, err := CheckCompat(dir, CompatOptions{})
	if err != nil {
		t.Fatalf("CheckCompat: %v (commit.gpgsign is false locally)", err)
	}
	for _, q := range []struct {
		key  string
		got  string
		want string
	}{
		{"core.filemode", boolString(c.trustExec), gitIn(t, dir, "config", "--bool", "--default", "true", "core.filemode")},
		{"core.symlinks", boolString(c.symlinks), gitIn(t, dir, "config", "--bool", "--default", "true", "core.symlinks")},
		{"core.autocrlf", c.autocrlf, gitIn(t, dir, "config", "core.autocrlf")},
		{"core.sparsecheckout", boolString(c.sparseOn), gitIn(t, dir, "config", "--bool", "core.sparsecheckout")},
	} {
		if q.got != strings.TrimSpace(q.want) {
			t.Errorf("%s: %s here, git config says %s", q.key, q.got, strings.TrimSpace(q.want))
		}
	}
	t.Setenv("GIT_CONFIG_COUNT", "1")
	t.Setenv("GIT_CONFIG_KEY_0", "commit.gpgSign")
	t.Setenv("GIT_CONFIG_VALUE_0", "yes")
	if _, err := CheckCompat(dir, CompatOptions{}); err == nil || !strings.Contains(err.Error(), "commit.gpgsign=true") {
		t.Errorf("commit.gpgsign from GIT_CONFIG_KEY_0 not seen: %v", err)
	}
	if _, err := CheckCompat(dir, CompatOptions{Signing: true}); err != nil {
		t.Errorf("with a signing key: %v", err)
	}
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// Hooks: core.hooksPath is followed, and only an executable hook of a
// commit refuses.
func TestHooksRefusedUnlessNoVerify(t *testing.T) {
	needGit(t)
	gitEnv(t)
	dir := t.TempDir()
	gitIn(t, dir, "init", "-q")
	// git's samples are not executable hooks.
	if _, err := CheckCompat(dir, CompatOptions{}); err != nil {
		t.Fatalf("a new repository (sample hooks only): %v", err)
	}
	gitIn(t, dir, "config", "core.hooksPath", "githooks")
	writeFiles(t, dir, []tree.File{{Path: "githooks/commit-msg", Content: []byte("#!/bin/sh\nexit 1\n"), Mode: 0o755}})
	_, err := CheckCompat(dir, CompatOptions{})
	if err == nil || !strings.Contains(err.Error(), "githooks/commit-msg") || !strings.Contains(err.Error(), "--no-verify") {
		t.Errorf("an executable commit-msg hook under core.hooksPath: %v", err)
	}
	if _, err := CheckCompat(dir, CompatOptions{NoVerify: true}); err != nil {
		t.Errorf("with --no-verify: %v", err)
	}
	if err := os.Chmod(filepath.Join(dir, "githooks/commit-msg"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckCompat(dir, CompatOptions{}); err != nil {
		t.Errorf("a hook that is not executable (git ignores it): %v", err)
	}
}

// A new repository's first commit lands on spec.git.branch.
func TestOpenOrInitOnBranch(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "r")
	r, created, err := OpenOrInitOn(dir, "production")
	if err != nil || !created {
		t.Fatalf("OpenOrInitOn: %v %v", created, err)
	}
	writeFiles(t, dir, []tree.File{{Path: "a.yaml", Content: []byte("a\n")}})
	if _, _, err := r.Commit(CommitOptions{Write: []tree.File{{Path: "a.yaml", Content: []byte("a\n"), Mode: tree.ModeFile}}, Message: "m", Author: testAuthor, When: testWhen}); err != nil {
		t.Fatal(err)
	}
	head, err := os.ReadFile(filepath.Join(dir, ".git", "HEAD"))
	if err != nil || strings.TrimSpace(string(head)) != "ref: refs/heads/production" {
		t.Errorf("HEAD = %q, %v", head, err)
	}
	if _, err := CheckCompat(dir, CompatOptions{Branch: "production"}); err != nil {
		t.Errorf("CheckCompat on the spec's branch: %v", err)
	}
}

// A repository made by fleetgen has git init's config: git reads its
// extensions (a sparse checkout's config.worktree), and CheckCompat reads
// them only where git does.
func TestNewRepositoryHasGitsFormat(t *testing.T) {
	needGit(t)
	gitEnv(t)
	dir := filepath.Join(t.TempDir(), "r")
	if _, _, err := OpenOrInitOn(dir, "main"); err != nil {
		t.Fatal(err)
	}
	if v := strings.TrimSpace(gitIn(t, dir, "config", "core.repositoryformatversion")); v != "0" {
		t.Errorf("core.repositoryformatversion = %q, want 0 (as git init writes)", v)
	}
	// Without the format version (go-git's own init), git ignores
	// extensions.worktreeConfig, and so must CheckCompat.
	gitIn(t, dir, "config", "extensions.worktreeConfig", "true")
	gitIn(t, dir, "config", "--worktree", "core.sparseCheckout", "true")
	gitIn(t, dir, "config", "--unset", "core.repositoryformatversion")
	c, err := CheckCompat(dir, CompatOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gitSays := strings.TrimSpace(gitIn(t, dir, "config", "--bool", "--default", "false", "core.sparsecheckout"))
	if boolString(c.sparseOn) != gitSays {
		t.Errorf("core.sparseCheckout: %v here, git says %s", c.sparseOn, gitSays)
	}
}
