package gitrepo

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/format/index"
)

// The fast codec reads what git writes exactly as go-git's decoder does,
// and what it writes is read back by git (status clean) and by go-git.
func TestFastIndexCodecAgreesWithGitAndGoGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not on PATH")
	}
	dir := t.TempDir()
	files := map[string]string{
		"a.yaml": "a\n", "b/c.yaml": "c\n", "b/d/e.sh": "#!/bin/sh\n",
		strings.Repeat("long-", 40) + "name.yaml": "x\n", "z/ñ.md": "unicode\n",
	}
	for p, c := range files {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		os.WriteFile(full, []byte(c), 0o644)
	}
	os.Chmod(filepath.Join(dir, "b/d/e.sh"), 0o755)
	run := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("init", "-q")
	run("add", "-A")
	run("update-index", "--skip-worktree", "a.yaml")
	statusBefore := run("status", "--porcelain", "-uall")
	raw, err := os.ReadFile(filepath.Join(dir, ".git", "index"))
	if err != nil {
		t.Fatal(err)
	}
	fast, err := decodeIndexFast(raw)
	if err != nil {
		t.Fatalf("fast decode of git's index: %v", err)
	}
	slow := &index.Index{}
	if err := index.NewDecoder(bytes.NewReader(raw)).Decode(slow); err != nil {
		t.Fatal(err)
	}
	if len(fast.Entries) != len(slow.Entries) || len(fast.Entries) != len(files) {
		t.Fatalf("%d entries fast, %d go-git, %d files", len(fast.Entries), len(slow.Entries), len(files))
	}
	for i, e := range slow.Entries {
		f := fast.Entries[i]
		if f.Name != e.Name || f.Hash != e.Hash || f.Mode != e.Mode || f.Size != e.Size || !f.ModifiedAt.Equal(e.ModifiedAt) ||
			f.Inode != e.Inode || f.SkipWorktree != e.SkipWorktree || f.Stage != e.Stage {
			t.Errorf("entry %d: fast %+v, go-git %+v", i, f, e)
		}
	}
	// Write it back with the fast encoder: git and go-git read it.
	var buf bytes.Buffer
	if err := encodeIndexFast(&buf, fast); err != nil {
		t.Fatal(err)
	}
	out := buf.Bytes()
	if err := os.WriteFile(filepath.Join(dir, ".git", "index"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	if s := run("status", "--porcelain", "-uall"); s != statusBefore {
		t.Errorf("git status after the fast encoder:\n%s\nbefore:\n%s", s, statusBefore)
	}
	if s := run("ls-files", "-v", "a.yaml"); !strings.HasPrefix(s, "S ") {
		t.Errorf("skip-worktree lost: %q", s)
	}
	back := &index.Index{}
	if err := index.NewDecoder(bytes.NewReader(out)).Decode(back); err != nil {
		t.Fatalf("go-git cannot read the fast encoder's index: %v", err)
	}
	if len(back.Entries) != len(files) {
		t.Errorf("go-git read %d entries", len(back.Entries))
	}
}
