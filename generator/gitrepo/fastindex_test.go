package gitrepo

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/format/index"

	"github.com/fleetgen/fleetgen/generator/tree"
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

// A truncated or malformed index never panics the fast decoder: it is
// refused (go-git's decoder, which verifies the checksum, then reports it).
func TestFastIndexMalformed(t *testing.T) {
	var buf bytes.Buffer
	idx := &index.Index{Version: 2}
	for _, name := range []string{"a.yaml", "b/c.yaml", strings.Repeat("x", 300)} {
		e := idx.Add(name)
		e.Mode = 0o100644
	}
	if err := encodeIndexFast(&buf, idx); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	for n := 0; n < len(good)-20; n++ {
		cut := append(append([]byte(nil), good[:n]...), make([]byte, 20)...)
		if got, err := decodeIndexFast(cut); err == nil {
			t.Errorf("cut at %d of %d: read %d entries without an error", n, len(good), len(got.Entries))
		}
	}
	bad := append([]byte(nil), good...)
	copy(bad[8:12], []byte{0xff, 0xff, 0xff, 0xff}) // entry count beyond the file
	if _, err := decodeIndexFast(bad); err == nil {
		t.Error("an index claiming 4 billion entries was read")
	}
}

// A version 4 index (`git update-index --index-version 4`, or
// index.version=4 / feature.manyFiles) is read by the fast reader, and a
// commit over it leaves a version 4 index git reads, with the worktree
// clean and the cache tree kept valid where nothing changed.
func TestIndexVersion4(t *testing.T) {
	needGit(t)
	files := sampleFiles()
	_, dir := commitFiles(t, files)
	gitCmd(t, dir, "update-index", "--index-version", "4")
	raw, err := os.ReadFile(filepath.Join(dir, ".git", "index"))
	if err != nil {
		t.Fatal(err)
	}
	if x, err := parseIndex(raw); err != nil || x.version != 4 || x.len() != len(files) {
		t.Fatalf("the fast reader did not read a version 4 index: %v", err)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ch, err := r.Changes(); err != nil || len(ch) != 0 {
		t.Fatalf("Changes over a version 4 index: %v, %v", ch, err)
	}
	edit := tree.File{Path: "README.md", Content: []byte("# fleet, v4\n"), Mode: tree.ModeFile}
	writeFiles(t, dir, []tree.File{edit})
	if _, ok, err := r.Commit(CommitOptions{Write: []tree.File{edit}, Message: "edit", Author: testAuthor, When: testWhen}); err != nil || !ok {
		t.Fatalf("Commit: %v %v", ok, err)
	}
	if got := strings.Count(gitCmd(t, dir, "ls-files"), "\n"); got != len(files) {
		t.Errorf("git ls-files lists %d files, want %d", got, len(files))
	}
	assertGitClean(t, dir)
	raw, err = os.ReadFile(filepath.Join(dir, ".git", "index"))
	if err != nil {
		t.Fatal(err)
	}
	if v := binary.BigEndian.Uint32(raw[4:8]); v != 4 {
		t.Errorf("the index was rewritten as version %d, want 4", v)
	}
	gitCmd(t, dir, "fsck", "--strict")
	// The cache tree: git's own view of it after fleetgen's edit.
	gitCmd(t, dir, "write-tree") // fills it as git does
	edit.Content = []byte("# fleet, v4 again\n")
	writeFiles(t, dir, []tree.File{edit})
	if _, ok, err := r.Commit(CommitOptions{Write: []tree.File{edit}, Message: "edit 2", Author: testAuthor, When: testWhen}); err != nil || !ok {
		t.Fatalf("Commit: %v %v", ok, err)
	}
	if got, want := gitCmd(t, dir, "write-tree"), gitCmd(t, dir, "rev-parse", "HEAD^{tree}"); got != want {
		t.Errorf("git write-tree = %s, HEAD's tree %s", got, want)
	}
	assertGitClean(t, dir)
}

// A split index (`git update-index --split-index`) keeps most entries in a
// shared file named by its required "link" extension: the fast reader must
// not take it (writing it back would drop those entries). go-git refuses
// it, so a commit fails and the index is left as it was.
func TestSplitIndexIsNotRewritten(t *testing.T) {
	needGit(t)
	files := sampleFiles()
	_, dir := commitFiles(t, files)
	gitCmd(t, dir, "update-index", "--split-index")
	writeFiles(t, dir, []tree.File{{Path: "zz.yaml", Content: []byte("new\n"), Mode: tree.ModeFile}})
	gitCmd(t, dir, "add", "zz.yaml")
	raw, err := os.ReadFile(filepath.Join(dir, ".git", "index"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte("link")) {
		t.Fatal("git did not write a split index")
	}
	if _, err := parseIndex(raw); err == nil {
		t.Fatal("a split index was taken by the fast reader")
	}
	// The rule itself, on an index otherwise readable: an optional
	// extension (upper-case name) is skipped, a required one is not.
	var small bytes.Buffer
	smallIdx := &index.Index{Version: 2}
	smallIdx.Add("a.yaml").Mode = 0o100644
	if err := encodeIndexFast(&small, smallIdx); err != nil {
		t.Fatal(err)
	}
	withExt := func(name string) []byte {
		b := append([]byte(nil), small.Bytes()[:small.Len()-20]...)
		b = append(b, name...)
		b = append(b, 0, 0, 0, 3, 'x', 'y', 'z')
		return append(b, make([]byte, 20)...)
	}
	if _, err := parseIndex(withExt("TREE")); err != nil {
		t.Errorf("an index with an optional extension was refused: %v", err)
	}
	if _, err := parseIndex(withExt("link")); err == nil {
		t.Error("an index with a required extension was taken")
	}
	before := gitCmd(t, dir, "ls-files", "-s")
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	edit := tree.File{Path: "README.md", Content: []byte("# fleet, split\n"), Mode: tree.ModeFile}
	writeFiles(t, dir, []tree.File{edit})
	_, _, err = r.Commit(CommitOptions{Write: []tree.File{edit}, Message: "edit", Author: testAuthor, When: testWhen})
	after := gitCmd(t, dir, "ls-files", "-s")
	if err == nil {
		// Had it been read, the index must still list every file.
		if strings.Count(after, "\n") != len(files)+1 {
			t.Errorf("after a commit over a split index git lists %d entries, want %d", strings.Count(after, "\n"), len(files)+1)
		}
		return
	}
	if after != before {
		t.Errorf("a refused commit changed the index:\n%s\nwas\n%s", after, before)
	}
}

// decodeIndexFast reads every entry of index file b through rawIndex.
func decodeIndexFast(b []byte) (*index.Index, error) {
	x, err := parseIndex(b)
	if err != nil {
		return nil, err
	}
	idx := &index.Index{Version: x.version, Entries: make([]*index.Entry, x.len())}
	for i := range idx.Entries {
		idx.Entries[i] = x.entry(i)
	}
	return idx, nil
}
