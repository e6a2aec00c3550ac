package gitrepo

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/fleetgen/fleetgen/generator/tree"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir); err == nil {
		t.Fatal("Open of a plain directory: want an error")
	}
	sub := filepath.Join(dir, "new", "repo")
	r, created, err := OpenOrInit(sub)
	if err != nil || !created {
		t.Fatalf("OpenOrInit: created=%v err=%v", created, err)
	}
	if _, ok, err := r.HeadCommit(); ok || err != nil {
		t.Fatalf("HeadCommit on a new repo: ok=%v err=%v", ok, err)
	}
	if _, ok, err := r.ReadHead("x"); ok || err != nil {
		t.Fatalf("ReadHead on a new repo: ok=%v err=%v", ok, err)
	}
	if ch, err := r.Changes(); err != nil || len(ch) != 0 {
		t.Fatalf("Changes on a new repo: %v %v", ch, err)
	}
	head, err := r.Git().Storer.Reference(plumbing.HEAD)
	if err != nil || head.Target() != DefaultBranch {
		t.Fatalf("HEAD = %v (%v), want symbolic to %s", head, err, DefaultBranch)
	}
	if _, created, err := OpenOrInit(sub); err != nil || created {
		t.Fatalf("second OpenOrInit: created=%v err=%v", created, err)
	}
	if _, err := Open(sub); err != nil {
		t.Fatal(err)
	}
	// Nothing to commit on an unborn branch: no commit.
	if h, ok, err := r.Commit(CommitOptions{Message: "x", Author: testAuthor}); ok || err != nil || !h.IsZero() {
		t.Fatalf("empty first commit: %v %v %v", h, ok, err)
	}
	if haveGit() {
		if out := gitCmd(t, sub, "symbolic-ref", "HEAD"); strings.TrimSpace(out) != "refs/heads/main" {
			t.Errorf("git symbolic-ref HEAD = %q", out)
		}
	}
}

func TestCommitFirst(t *testing.T) {
	files := sampleFiles()
	r, dir := commitFiles(t, files)

	head, ok, err := r.HeadCommit()
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	c, err := r.Git().CommitObject(head)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ParentHashes) != 0 || c.Message != "first\n" || c.Author.Name != testAuthor.Name ||
		c.Committer.Email != testAuthor.Email || !c.Author.When.Equal(testWhen) {
		t.Errorf("commit = %+v", c)
	}
	for _, f := range files {
		gf, err := c.File(f.Path)
		if err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		got, err := gf.Contents()
		if err != nil || got != string(f.Content) {
			t.Errorf("%s: content %q, want %q (%v)", f.Path, got, f.Content, err)
		}
		want := filemode.Regular
		if f.Mode == tree.ModeScript {
			want = filemode.Executable
		}
		if gf.Mode != want {
			t.Errorf("%s: mode %v, want %v", f.Path, gf.Mode, want)
		}
		if b, ok, err := r.ReadHead(f.Path); !ok || err != nil || !bytes.Equal(b, f.Content) {
			t.Errorf("ReadHead(%s) = %q %v %v", f.Path, b, ok, err)
		}
	}
	// Hundreds of new objects: one packfile, nothing loose.
	if packs, loose := countObjects(t, dir); packs != 1 || loose != 0 {
		t.Errorf("first commit stored %d packs and %d loose objects, want 1 and 0", packs, loose)
	}
	hf, err := r.HeadFiles()
	if err != nil || len(hf) != len(files) {
		t.Errorf("HeadFiles: %d entries (%v), want %d", len(hf), err, len(files))
	}
	if _, ok, _ := r.ReadHead("clusters"); ok {
		t.Error("ReadHead of a directory: want ok=false")
	}
	if _, ok, _ := r.ReadHead("nope/x.yaml"); ok {
		t.Error("ReadHead of a missing file: want ok=false")
	}
	if ch, err := r.Changes(); err != nil || len(ch) != 0 {
		t.Errorf("Changes after commit = %v, %v", ch, err)
	}

	// Same files again, rewritten on disk (new mtimes): nothing to commit.
	time.Sleep(10 * time.Millisecond)
	writeFiles(t, dir, files)
	h2, ok, err := r.Commit(CommitOptions{Write: files, Message: "again", Author: testAuthor, When: testWhen.Add(time.Hour)})
	if err != nil || ok || h2 != head {
		t.Errorf("second Commit = %v, committed=%v, %v; want HEAD %v, false", h2, ok, err, head)
	}
	if now, _, _ := r.HeadCommit(); now != head {
		t.Errorf("HEAD moved to %v", now)
	}
	if ch, err := r.Changes(); err != nil || len(ch) != 0 {
		t.Errorf("Changes after no-op commit = %v, %v", ch, err)
	}

	// Deterministic: same files, author and time in another repo give the same commit.
	r3, _ := commitFiles(t, files)
	if h3, _, _ := r3.HeadCommit(); h3 != head {
		t.Errorf("same input gave commit %v, then %v", head, h3)
	}

	if !haveGit() {
		t.Skip("git not on PATH: CLI comparisons skipped")
	}
	if want := cliTreeHash(t, files); c.TreeHash.String() != want {
		t.Errorf("tree %v, git write-tree gives %s", c.TreeHash, want)
	}
	assertGitClean(t, dir)
	ls := gitCmd(t, dir, "ls-files", "-s", "scripts/bootstrap.sh")
	if !strings.HasPrefix(ls, "100755 ") {
		t.Errorf("git ls-files -s scripts/bootstrap.sh = %q", ls)
	}
	if out := gitCmd(t, dir, "log", "--format=%an <%ae>|%s"); strings.TrimSpace(out) != "Test Author <test@example.com>|first" {
		t.Errorf("git log = %q", out)
	}
}

func TestCommitModifyDelete(t *testing.T) {
	files := sampleFiles()
	r, dir := commitFiles(t, files)
	first, _, _ := r.HeadCommit()
	if haveGit() {
		// Objects and refs as git leaves them after gc: packed, packed-refs.
		gitCmd(t, dir, "gc", "-q")
	}
	packs, _ := countObjects(t, dir)

	byPath := map[string]int{}
	for i, f := range files {
		byPath[f.Path] = i
	}
	modify := map[string]string{
		"README.md":                         "# fleet, edited\n",
		"clusters/prod-03/apps.yaml":        "kind: Kustomization\nname: apps\n",
		"clusters/prod-07/apps/values.yaml": "replicas: 9\n",
	}
	var write []tree.File
	for p, c := range modify {
		f := files[byPath[p]]
		f.Content = []byte(c)
		files[byPath[p]] = f
		write = append(write, f)
	}
	// Delete the only file of deep/1/2/3/4/5/6 (so the whole deep/ chain
	// empties) and one file of a folder that stays.
	del := []string{"deep/1/2/3/4/5/6/leaf.yaml", "clusters/prod-01/apps.yaml"}
	writeFiles(t, dir, write)
	for _, p := range del {
		if err := os.Remove(filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(filepath.Join(dir, "deep")); err != nil {
		t.Fatal(err)
	}
	ch, err := r.Changes()
	wantCh := append(slices.Collect(mapKeys(modify)), del...)
	sort.Strings(wantCh)
	if err != nil || !slices.Equal(ch, wantCh) {
		t.Errorf("Changes before commit = %v (%v), want %v", ch, err, wantCh)
	}

	h, ok, err := r.Commit(CommitOptions{Write: write, Delete: del, Message: "edit", Author: testAuthor, When: testWhen.Add(time.Minute)})
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	c, err := r.Git().CommitObject(h)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ParentHashes) != 1 || c.ParentHashes[0] != first {
		t.Errorf("parents = %v, want [%v]", c.ParentHashes, first)
	}
	tr, err := c.Tree()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.FindEntry("deep"); err == nil {
		t.Error("deep/ still in the tree")
	}
	if _, err := tr.File("clusters/prod-01/apps.yaml"); err == nil {
		t.Error("deleted clusters/prod-01/apps.yaml still in the tree")
	}
	if _, err := tr.File("clusters/prod-01/kustomization.yaml"); err != nil {
		t.Error("clusters/prod-01/kustomization.yaml lost:", err)
	}
	for p, want := range modify {
		got, ok, err := r.ReadHead(p)
		if !ok || err != nil || string(got) != want {
			t.Errorf("ReadHead(%s) = %q %v %v", p, got, ok, err)
		}
	}
	if ch, err := r.Changes(); err != nil || len(ch) != 0 {
		t.Errorf("Changes after commit = %v, %v", ch, err)
	}
	// A few new objects: stored loose, no new pack.
	if p, loose := countObjects(t, dir); p != packs || loose == 0 || loose >= packThreshold {
		t.Errorf("after a small commit: %d packs (was %d), %d loose objects", p, packs, loose)
	}

	if !haveGit() {
		t.Skip("git not on PATH: CLI comparisons skipped")
	}
	var remaining []tree.File
	for _, f := range files {
		if !slices.Contains(del, f.Path) {
			remaining = append(remaining, f)
		}
	}
	if want := cliTreeHash(t, remaining); c.TreeHash.String() != want {
		t.Errorf("tree %v, git write-tree gives %s", c.TreeHash, want)
	}
	assertGitClean(t, dir)
	diff := strings.Fields(gitCmd(t, dir, "diff", "--name-only", "HEAD~1", "HEAD"))
	if !slices.Equal(diff, wantCh) {
		t.Errorf("git diff --name-only HEAD~1 HEAD = %v, want %v", diff, wantCh)
	}
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestCommitModeChangeAndReplace(t *testing.T) {
	files := []tree.File{
		{Path: "run.sh", Mode: tree.ModeFile, Content: []byte("echo\n")},
		{Path: "x/y.yaml", Mode: tree.ModeFile, Content: []byte("y\n")},
	}
	r, dir := commitFiles(t, files)
	// Mode only: a new commit, same blob.
	files[0].Mode = tree.ModeScript
	writeFiles(t, dir, files[:1])
	h, ok, err := r.Commit(CommitOptions{Write: files[:1], Message: "chmod", Author: testAuthor, When: testWhen})
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	c, _ := r.Git().CommitObject(h)
	if f, err := c.File("run.sh"); err != nil || f.Mode != filemode.Executable {
		t.Errorf("run.sh after chmod: %v %v", f, err)
	}
	// A directory replaced by a file of the same name: delete then write.
	if err := os.RemoveAll(filepath.Join(dir, "x")); err != nil {
		t.Fatal(err)
	}
	nf := tree.File{Path: "x", Mode: tree.ModeFile, Content: []byte("now a file\n")}
	writeFiles(t, dir, []tree.File{nf})
	if _, _, err := r.Commit(CommitOptions{Write: []tree.File{nf}, Message: "x", Author: testAuthor, When: testWhen}); err == nil {
		t.Error("file over a directory without deleting its files: want an error")
	}
	if _, ok, err := r.Commit(CommitOptions{Write: []tree.File{nf}, Delete: []string{"x/y.yaml"}, Message: "x", Author: testAuthor, When: testWhen}); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if b, ok, _ := r.ReadHead("x"); !ok || string(b) != "now a file\n" {
		t.Errorf("ReadHead(x) = %q %v", b, ok)
	}
	// And back: the file x replaced by a folder x/.
	if err := os.Remove(filepath.Join(dir, "x")); err != nil {
		t.Fatal(err)
	}
	back := tree.File{Path: "x/z.yaml", Mode: tree.ModeFile, Content: []byte("z\n")}
	writeFiles(t, dir, []tree.File{back})
	if _, ok, err := r.Commit(CommitOptions{Write: []tree.File{back}, Delete: []string{"x"}, Message: "x/", Author: testAuthor, When: testWhen}); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if b, ok, _ := r.ReadHead("x/z.yaml"); !ok || string(b) != "z\n" {
		t.Errorf("ReadHead(x/z.yaml) = %q %v", b, ok)
	}
	if ch, err := r.Changes(); err != nil || len(ch) != 0 {
		t.Errorf("Changes = %v %v", ch, err)
	}
	if haveGit() {
		assertGitClean(t, dir)
	}
}

func TestCommitRefusesMismatch(t *testing.T) {
	dir := t.TempDir()
	r, _, err := OpenOrInit(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := tree.File{Path: "a.yaml", Mode: tree.ModeFile, Content: []byte("on disk\n")}
	writeFiles(t, dir, []tree.File{f})
	cases := map[string]CommitOptions{
		"content not on disk": {Write: []tree.File{{Path: "a.yaml", Mode: tree.ModeFile, Content: []byte("other length\n")}}},
		"mode not on disk":    {Write: []tree.File{{Path: "a.yaml", Mode: tree.ModeScript, Content: f.Content}}},
		"missing file":        {Write: []tree.File{{Path: "b.yaml", Content: []byte("x")}}},
		"unsafe path":         {Write: []tree.File{{Path: "../a.yaml", Content: []byte("x")}}},
		"deleted still there": {Delete: []string{"a.yaml"}},
		"listed twice":        {Write: []tree.File{f, f}},
	}
	for name, o := range cases {
		o.Author, o.Message = testAuthor, "x"
		if _, _, err := r.Commit(o); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
	if _, ok, _ := r.HeadCommit(); ok {
		t.Error("a refused commit moved HEAD")
	}
	if _, err := os.Stat(filepath.Join(dir, ".git", "index.lock")); !errors.Is(err, os.ErrNotExist) {
		t.Error("index.lock left behind")
	}
}

// Dirty looks only at the paths it is given, and judges them as git
// does: modified, deleted, staged, untracked (ignored or not: fleetgen
// would overwrite it) in the way; other paths' changes are not its
// business.
func TestDirty(t *testing.T) {
	files := sampleFiles()
	files = append(files, tree.File{Path: ".gitignore", Mode: tree.ModeFile, Content: []byte("*.log\n")})
	r, dir := commitFiles(t, files)
	head, err := r.HeadFiles()
	if err != nil {
		t.Fatal(err)
	}
	mod := "clusters/prod-04/apps/values.yaml"
	del := "clusters/prod-05/apps.yaml"
	chmod := "clusters/prod-06/apps.yaml"
	untracked := "clusters/prod-02/new.yaml"
	ignored := "clusters/prod-02/trace.log"
	clean := "clusters/prod-07/apps.yaml"
	elsewhere := "clusters/prod-08/apps.yaml"
	if err := os.WriteFile(filepath.Join(dir, mod), []byte("replicas: 7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, del)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, chmod), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, elsewhere), []byte("not asked about\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, []tree.File{{Path: untracked, Content: []byte("x")}, {Path: ignored, Content: []byte("x")}})
	got, err := r.Dirty([]string{mod, del, chmod, untracked, ignored, clean}, head, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []DirtyPath{{mod, "modified"}, {del, "deleted"}, {chmod, "modified"}, {untracked, "untracked"}, {ignored, "untracked"}}
	if !slices.Equal(got, want) {
		t.Errorf("Dirty = %v\nwant    %v", got, want)
	}
	if !haveGit() {
		t.Skip("git not on PATH: CLI comparisons skipped")
	}
	// Staged only (worktree equals the index, index differs from HEAD).
	gitCmd(t, dir, "add", "-A")
	got, err = r.Dirty([]string{mod, del, chmod, untracked, clean}, head, nil)
	if err != nil {
		t.Fatal(err)
	}
	want = []DirtyPath{{mod, "staged"}, {del, "deletion staged"}, {chmod, "staged"}, {untracked, "staged"}}
	if !slices.Equal(got, want) {
		t.Errorf("after git add -A: Dirty = %v\nwant    %v", got, want)
	}
	gitCmd(t, dir, "commit", "-q", "-m", "by git")
	if head, err = r.HeadFiles(); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Dirty([]string{mod, del, chmod, untracked, clean}, head, nil); err != nil || len(got) != 0 {
		t.Errorf("after git commit: Dirty = %v, %v", got, err)
	}
}

// porcelainPaths is the sorted path list of `git status --porcelain -uall`.
func porcelainPaths(t *testing.T, dir string) []string {
	var out []string
	for _, line := range strings.Split(strings.TrimRight(gitCmd(t, dir, "status", "--porcelain", "-uall"), "\n"), "\n") {
		if len(line) > 3 {
			out = append(out, line[3:])
		}
	}
	sort.Strings(out)
	return out
}

func TestResolveAuthor(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "xdg"))
	dir := t.TempDir()
	if _, _, err := OpenOrInit(dir); err != nil {
		t.Fatal(err)
	}
	check := func(name string, explicit, want Author) {
		t.Helper()
		if got := ResolveAuthor(dir, explicit); got != want {
			t.Errorf("%s: ResolveAuthor = %v, want %v", name, got, want)
		}
	}
	check("no config", Author{}, DefaultAuthor)

	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(home, ".gitconfig"), "[user]\n\tname = Global Name\n\temail = global@example.com\n")
	check("global", Author{}, Author{"Global Name", "global@example.com"})
	if got := ResolveAuthor(t.TempDir(), Author{}); got != (Author{"Global Name", "global@example.com"}) {
		t.Errorf("global, dir not a repo: %v", got)
	}
	write(filepath.Join(home, "xdg", "git", "config"), "[user]\n\tname = Xdg Name\n\temail = xdg@example.com\n")
	check("XDG global config first", Author{}, Author{"Xdg Name", "xdg@example.com"})

	write(filepath.Join(dir, ".git", "config"), "[core]\n\tbare = false\n[user]\n\tname = Repo Name\n\temail = repo@example.com\n")
	check("repo over global", Author{}, Author{"Repo Name", "repo@example.com"})
	check("explicit over all", Author{"Flag Name", "flag@example.com"}, Author{"Flag Name", "flag@example.com"})
	check("explicit name only", Author{Name: "Flag Name"}, Author{"Flag Name", "repo@example.com"})

	write(filepath.Join(dir, ".git", "config"), "[core]\n\tbare = false\n[user]\n\temail = repo@example.com\n")
	check("per field: repo email, global name", Author{}, Author{"Xdg Name", "repo@example.com"})
}

func TestSignedCommit(t *testing.T) {
	key, err := openpgp.NewEntity("Fleet Signer", "", "signer@example.com", &packet.Config{
		Algorithm: packet.PubKeyAlgoEdDSA, // fast to generate, and gpg 2.2 knows it
	})
	if err != nil {
		t.Fatal(err)
	}
	var pub bytes.Buffer
	aw, err := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := key.Serialize(aw); err != nil {
		t.Fatal(err)
	}
	aw.Close()

	files := sampleFiles()[:20]
	dir := t.TempDir()
	r, _, err := OpenOrInit(dir)
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, files)
	h, ok, err := r.Commit(CommitOptions{Write: files, Message: "signed", Author: testAuthor, When: testWhen, SignKey: key})
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	c, err := r.Git().CommitObject(h)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.PGPSignature, "BEGIN PGP SIGNATURE") {
		t.Fatalf("no signature: %q", c.PGPSignature)
	}
	signer, err := c.Verify(pub.String())
	if err != nil {
		t.Fatal("Verify:", err)
	}
	if signer.PrimaryKey.KeyId != key.PrimaryKey.KeyId {
		t.Error("signed by another key")
	}
	// A tampered commit no longer verifies.
	c.Message = "tampered\n"
	if _, err := c.Verify(pub.String()); err == nil {
		t.Error("tampered commit verifies")
	}
	if !haveGit() {
		t.Skip("git not on PATH")
	}
	assertGitClean(t, dir)
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Skip("gpg not on PATH: git verify-commit not tried")
	}
	gnupg, err := os.MkdirTemp("", "gpg") // short path: gpg-agent's socket name has a length limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", gnupg, "--kill", "all").Run()
		os.RemoveAll(gnupg)
	})
	os.Chmod(gnupg, 0o700)
	t.Setenv("GNUPGHOME", gnupg)
	imp := exec.Command("gpg", "--batch", "--import")
	imp.Stdin = &pub
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("gpg --import: %v\n%s", err, out)
	}
	out := gitCmd(t, dir, "verify-commit", "-v", "HEAD")
	if !strings.Contains(out, "Good signature") {
		t.Errorf("git verify-commit: %s", out)
	}
}

// Guard against treeLess drifting from the "dir name + /" rule.
func TestTreeOrder(t *testing.T) {
	es := []object.TreeEntry{
		{Name: "a0", Mode: filemode.Regular},
		{Name: "a", Mode: filemode.Dir},
		{Name: "a.b", Mode: filemode.Dir},
		{Name: "a-b", Mode: filemode.Regular},
		{Name: "ab", Mode: filemode.Regular},
		{Name: "a.", Mode: filemode.Regular},
		{Name: "b", Mode: filemode.Regular},
	}
	sortTreeEntries(es)
	var got []string
	for _, e := range es {
		got = append(got, e.Name)
	}
	want := []string{"a-b", "a.", "a.b", "a", "a0", "ab", "b"}
	if !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	if !sort.IsSorted(object.TreeEntrySorter(es)) {
		t.Error("go-git disagrees with the order")
	}
}

// countObjects counts the packfiles and loose objects of the repository at dir.
func countObjects(t *testing.T, dir string) (packs, loose int) {
	t.Helper()
	obj := filepath.Join(dir, ".git", "objects")
	ps, _ := filepath.Glob(filepath.Join(obj, "pack", "*.pack"))
	ls, _ := filepath.Glob(filepath.Join(obj, "[0-9a-f][0-9a-f]", "*"))
	return len(ps), len(ls)
}

// TestCommitResolvesConflicts: an index left by a conflicted `git merge`
// holds stages 1-3 for the conflicting paths. Committing a resolution (one
// path written, one deleted) leaves one stage-0 entry for the written path,
// none for the deleted one, every other entry as it was, and git agrees.
func TestCommitResolvesConflicts(t *testing.T) {
	needGit(t)
	files := sampleFiles()
	_, dir := commitFiles(t, files)
	gitCmd(t, dir, "checkout", "-q", "-b", "theirs")
	for _, p := range []string{"README.md", "foo.yaml"} {
		writeFiles(t, dir, []tree.File{{Path: p, Content: []byte("theirs\n"), Mode: tree.ModeFile}})
	}
	gitCmd(t, dir, "commit", "-qam", "theirs")
	gitCmd(t, dir, "checkout", "-q", "main")
	for _, p := range []string{"README.md", "foo.yaml"} {
		writeFiles(t, dir, []tree.File{{Path: p, Content: []byte("ours\n"), Mode: tree.ModeFile}})
	}
	gitCmd(t, dir, "commit", "-qam", "ours")
	cmd := exec.Command("git", "merge", "-q", "theirs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=cli", "GIT_AUTHOR_EMAIL=cli@example.com", "GIT_COMMITTER_NAME=cli", "GIT_COMMITTER_EMAIL=cli@example.com")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "CONFLICT") {
		t.Fatalf("the merge was meant to conflict: %v\n%s", err, out)
	}
	if out := gitCmd(t, dir, "ls-files", "-u"); strings.Count(out, "\n") != 6 {
		t.Fatalf("want 3 stages for 2 paths, got:\n%s", out)
	}
	// The resolution, as a regeneration would write it.
	resolved := tree.File{Path: "README.md", Content: []byte("# fleet, resolved\n"), Mode: tree.ModeFile}
	writeFiles(t, dir, []tree.File{resolved})
	if err := os.Remove(filepath.Join(dir, "foo.yaml")); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := r.Commit(CommitOptions{Write: []tree.File{resolved}, Delete: []string{"foo.yaml"}, Message: "resolve", Author: testAuthor, When: testWhen}); err != nil || !ok {
		t.Fatalf("Commit: committed=%v err=%v", ok, err)
	}
	if out := gitCmd(t, dir, "ls-files", "-u"); out != "" {
		t.Errorf("unmerged entries left:\n%s", out)
	}
	if out := gitCmd(t, dir, "ls-files", "-s", "README.md", "foo.yaml"); strings.Count(out, "\n") != 1 || !strings.Contains(out, " 0\tREADME.md") {
		t.Errorf("ls-files -s README.md foo.yaml:\n%s", out)
	}
	if got, want := strings.Count(gitCmd(t, dir, "ls-files"), "\n"), len(files)-1; got != want {
		t.Errorf("%d index entries, want %d", got, want)
	}
	assertGitClean(t, dir)
}

// headFromIndex answers "what does HEAD hold under these prefixes, and is
// anything staged there" from the index and a few tree reads; it must
// agree with walking HEAD's trees, and step aside when the index differs.
func TestHeadFromIndexAgreesWithHEAD(t *testing.T) {
	needGit(t)
	_, dir := commitFiles(t, sampleFiles())
	gitCmd(t, dir, "add", "-A") // the index as git writes it (sorted, cache-tree)
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	walk := func(prefixes []string) map[string]plumbing.Hash {
		_, th, err := r.headTree()
		if err != nil {
			t.Fatal(err)
		}
		files := map[string]plumbing.Hash{}
		if err := r.walkTreeIn(th, prefixes, func(p string, _ filemode.FileMode, h plumbing.Hash) { files[p] = h }); err != nil {
			t.Fatal(err)
		}
		return files
	}
	for _, prefixes := range [][]string{
		{"clusters"}, {"clusters/prod-03", "clusters/prod-07/apps"}, {"a"}, {"a", "a-b", "a0", "a.b"},
		{"foo.yaml", "foo"}, {"scripts"}, {"deep"}, {"README.md"}, {"nothing/here"}, {"clusters/prod-03/apps.yaml"},
	} {
		idx, err := r.readIndex()
		if err != nil {
			t.Fatal(err)
		}
		got, same, err := r.headFromIndex(idx, prefixes)
		if err != nil || !same {
			t.Errorf("%v: same=%v err=%v on a clean index", prefixes, same, err)
			continue
		}
		if want := walk(prefixes); !maps.Equal(got, want) {
			t.Errorf("%v: from the index %d files, HEAD's trees %d", prefixes, len(got), len(want))
		}
	}
	// The trees made from the index on the way are HEAD's: same entries.
	_, th, _ := r.headTree()
	for _, dir := range []string{"clusters", "clusters/prod-03", "deep/1/2"} {
		h, _, _, err := r.subtree(th, dir)
		if err != nil {
			t.Fatal(err)
		}
		recs, ok := r.trees[h]
		stored, err := object.GetTree(r.st, h)
		if !ok || err != nil || len(recs) != len(stored.Entries) {
			t.Errorf("%s: %d entries known from the index, %d stored (%v)", dir, len(recs), len(stored.Entries), err)
			continue
		}
		for i, e := range stored.Entries {
			if recs[i] != (treeRecord{e.Name, e.Mode, e.Hash}) {
				t.Errorf("%s: entry %d known as %v, stored as %v", dir, i, recs[i], e)
			}
		}
	}
	// Staged changes and intent-to-add entries: not the same.
	writeFiles(t, dir, []tree.File{{Path: "clusters/prod-03/apps.yaml", Content: []byte("staged\n"), Mode: tree.ModeFile}})
	gitCmd(t, dir, "add", "clusters/prod-03/apps.yaml")
	writeFiles(t, dir, []tree.File{{Path: "scripts/new.sh", Content: []byte("#!/bin/sh\n"), Mode: tree.ModeScript}})
	gitCmd(t, dir, "add", "-N", "scripts/new.sh")
	gitCmd(t, dir, "rm", "-q", "--cached", "a/x")
	for _, prefixes := range [][]string{{"clusters/prod-03"}, {"clusters"}, {"scripts"}, {"a"}} {
		idx, err := r.readIndex()
		if err != nil {
			t.Fatal(err)
		}
		if _, same, err := r.headFromIndex(idx, prefixes); err != nil || same {
			t.Errorf("%v: same=%v err=%v with a staged change there", prefixes, same, err)
		}
	}
	idx, _ := r.readIndex()
	if _, same, _ := r.headFromIndex(idx, []string{"clusters/prod-04", "deep"}); !same {
		t.Error("a staged change elsewhere made clusters/prod-04 and deep differ")
	}
}
