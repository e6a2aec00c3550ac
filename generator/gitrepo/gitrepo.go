// Package gitrepo commits a generated fleet repository with go-git's
// plumbing, fast enough for tens of thousands of small files.
//
// go-git's worktree helpers (Worktree.Status, AddGlob, Commit{All: true}) scan
// and hash the whole worktree on every call: 1.7 s for a clean 20,000-file
// tree on the reference machine. The generator already knows every file it
// wrote, so this package never scans to commit: Commit hashes and stores only
// the given files, rebuilds only the trees on their paths, and updates only
// their index entries. Dirty, used to refuse writing over uncommitted work,
// looks only at the files a run writes, compares them with the index by size
// and mtime and hashes one only when those cannot vouch for it, as git does;
// CheckCompat refuses up front what git would do otherwise (compat.go).
//
// See shared/design/PERFORMANCE.md for the measurements behind this design.
package gitrepo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// DefaultBranch is the branch HEAD points to in a repository made by OpenOrInit.
const DefaultBranch = plumbing.ReferenceName("refs/heads/main")

// Repo is a non-bare git repository whose worktree root is Dir.
type Repo struct {
	dir  string
	repo *git.Repository
	st   storage.Storer
	// fresh: made by OpenOrInit in this process, so it had no objects
	// before; known: objects this Repo stored. Both spare a filesystem
	// lookup per blob (25,000 failed opens on a first commit).
	fresh bool
	known map[plumbing.Hash]struct{}
	// idx is the index as last read, while .git/index is still the file
	// idxStat describes (see readIndex).
	idx     *rawIndex
	idxStat os.FileInfo
	// headMemo is HeadFilesIn's last answer, for headMemoKey.
	headMemoKey string
	headMemo    map[string]plumbing.Hash
	// trees are tree objects known to be stored (their hash is that of
	// HEAD's subtrees), made from the index by headFromIndex.
	trees map[plumbing.Hash][]treeRecord
	// lock is the run's lock while held (see Lock).
	lock *Lock
}

// needsStore reports whether object h must be written: not when this Repo
// stored it, nor when the store already has it. In a batch that becomes a
// pack (many), the store is not asked: each question is a failed open of a
// loose-object file, and an object stored twice in packs is valid git
// (`git gc` drops the copy).
func (r *Repo) needsStore(s storer.EncodedObjectStorer, h plumbing.Hash, many bool) bool {
	if _, ok := r.known[h]; ok {
		return false
	}
	if r.fresh || many {
		return true
	}
	return s.HasEncodedObject(h) != nil
}

func (r *Repo) remember(hs []plumbing.Hash) {
	if r.known == nil {
		r.known = make(map[plumbing.Hash]struct{}, len(hs))
	}
	for _, h := range hs {
		r.known[h] = struct{}{}
	}
}

// Open opens the repository whose worktree root is dir (dir/.git must exist;
// parent directories are not searched). It fails when dir is not a git
// repository.
func Open(dir string) (*Repo, error) {
	var r *git.Repository
	var err error
	if st, serr := os.Stat(filepath.Join(dir, ".git")); serr == nil && st.IsDir() {
		r, err = git.Open(newObjectStore(filepath.Join(dir, ".git")), osfs.New(dir))
	} else {
		r, err = git.PlainOpen(dir)
	}
	if err != nil {
		if errors.Is(err, git.ErrRepositoryNotExists) {
			return nil, fmt.Errorf("%s is not a git repository (no .git in it)", dir)
		}
		return nil, fmt.Errorf("open git repository %s: %w", dir, err)
	}
	return &Repo{dir: dir, repo: r, st: r.Storer}, nil
}

// OpenOrInit opens the repository whose worktree root is dir, or creates it
// (and dir) with HEAD pointing to the unborn branch "main". created reports
// whether a new repository was made.
func OpenOrInit(dir string) (r *Repo, created bool, err error) {
	r, err = Open(dir)
	if err == nil {
		return r, false, nil
	}
	if _, statErr := os.Stat(dir); statErr == nil {
		if _, gitErr := os.Lstat(dir + string(os.PathSeparator) + git.GitDirName); gitErr == nil {
			return nil, false, err // .git exists but is unreadable: do not re-init over it
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, false, err
	}
	if _, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: DefaultBranch},
	}); err != nil {
		return nil, false, fmt.Errorf("init git repository %s: %w", dir, err)
	}
	if r, err = Open(dir); err != nil {
		return nil, false, err
	}
	r.fresh = true
	return r, true, nil
}

// refresh makes go-git re-read its list of packfiles when git (gc, fetch)
// replaced packs since the Repo read it.
func (r *Repo) refresh() {
	switch st := r.st.(type) {
	case *objectStore:
		st.refresh()
	case *filesystem.Storage:
		st.Reindex()
	}
}

// dotGit is the .git folder, when the repository's storage is one.
func (r *Repo) dotGit() (billy.Filesystem, bool) {
	switch st := r.st.(type) {
	case *objectStore:
		return st.Filesystem(), true
	case *filesystem.Storage:
		return st.Filesystem(), true
	}
	return nil, false
}

// Dir is the worktree root.
func (r *Repo) Dir() string { return r.dir }

// Git exposes the underlying go-git repository (for reading history).
func (r *Repo) Git() *git.Repository { return r.repo }

// HeadCommit returns the commit HEAD points to; ok is false when the current
// branch has no commit yet.
func (r *Repo) HeadCommit() (h plumbing.Hash, ok bool, err error) {
	ref, err := r.repo.Head()
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, false, nil
	}
	if err != nil {
		return plumbing.ZeroHash, false, err
	}
	return ref.Hash(), true, nil
}

// headTree returns HEAD's commit and root tree hash; zero hashes when the
// branch is unborn.
func (r *Repo) headTree() (commit, tree plumbing.Hash, err error) {
	r.refresh()
	h, ok, err := r.HeadCommit()
	if err != nil || !ok {
		return plumbing.ZeroHash, plumbing.ZeroHash, err
	}
	c, err := object.GetCommit(r.st, h)
	if err != nil {
		return plumbing.ZeroHash, plumbing.ZeroHash, fmt.Errorf("read HEAD commit %s: %w", h, err)
	}
	return h, c.TreeHash, nil
}

// ReadHead returns the content of the file at path (slash-separated, relative
// to the root) in HEAD's tree; ok is false when there is no commit yet or no
// such file.
func (r *Repo) ReadHead(path string) (content []byte, ok bool, err error) {
	_, th, err := r.headTree()
	if err != nil || th.IsZero() {
		return nil, false, err
	}
	t, err := object.GetTree(r.st, th)
	if err != nil {
		return nil, false, err
	}
	e, err := t.FindEntry(path)
	if errors.Is(err, object.ErrEntryNotFound) || errors.Is(err, object.ErrDirectoryNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if !e.Mode.IsFile() {
		return nil, false, nil
	}
	b, err := object.GetBlob(r.st, e.Hash)
	if err != nil {
		return nil, false, err
	}
	rd, err := b.Reader()
	if err != nil {
		return nil, false, err
	}
	defer rd.Close()
	content, err = io.ReadAll(rd)
	if err != nil {
		return nil, false, err
	}
	return content, true, nil
}

// HeadFiles maps every file path in HEAD's tree to its blob hash (empty when
// there is no commit yet). Submodule entries are left out.
func (r *Repo) HeadFiles() (map[string]plumbing.Hash, error) {
	files := map[string]plumbing.Hash{}
	err := r.walkHead(func(path string, mode filemode.FileMode, h plumbing.Hash) {
		files[path] = h
	})
	return files, err
}

// walkHead calls fn for every non-submodule file of HEAD's tree.
func (r *Repo) walkHead(fn func(path string, mode filemode.FileMode, h plumbing.Hash)) error {
	_, th, err := r.headTree()
	if err != nil || th.IsZero() {
		return err
	}
	return r.walkTree(th, fn)
}

// walkTree calls fn for every non-submodule file below tree th.
func (r *Repo) walkTree(th plumbing.Hash, fn func(path string, mode filemode.FileMode, h plumbing.Hash)) error {
	return r.walkTreeIn(th, nil, fn)
}

// readIndex reads .git/index (see rawIndex), or returns the copy read
// earlier in this process when the file has not changed since (same size
// and mtime): a regeneration checks for changes, then commits. Callers must
// not modify it.
func (r *Repo) readIndex() (*rawIndex, error) {
	path := filepath.Join(r.dir, ".git", "index")
	st, err := os.Stat(path)
	// git replaces the index by renaming a new file over it: a new inode.
	if err == nil && r.idx != nil && os.SameFile(st, r.idxStat) && st.Size() == r.idxStat.Size() && st.ModTime().Equal(r.idxStat.ModTime()) {
		return r.idx, nil
	}
	var x *rawIndex
	if err == nil {
		if b, rerr := os.ReadFile(path); rerr == nil {
			x, _ = parseIndex(b)
		}
	}
	if x == nil {
		// No index yet, version 4, extensions git requires us to
		// understand, or damage: go-git's decoder reads it (or says why
		// not), and the fast form is made from what it read.
		idx, err := r.st.Index()
		if err != nil {
			return nil, err
		}
		sortEntries(idx.Entries)
		var buf bytes.Buffer
		if err := encodeIndexFast(&buf, idx); err != nil {
			return nil, err
		}
		if x, err = parseIndex(buf.Bytes()); err != nil {
			return nil, fmt.Errorf("index: %w", err)
		}
	}
	if st != nil {
		x.ModTime = st.ModTime()
		r.idx, r.idxStat = x, st
	}
	return x, nil
}
