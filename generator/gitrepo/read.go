package gitrepo

import (
	"fmt"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// CommittedFile is a file of a commit's tree.
type CommittedFile struct {
	Path       string
	Executable bool
	Hash       plumbing.Hash // the blob's id
	Content    []byte        // nil unless read (ReadHeadTree with content, or ReadBlob)
}

// ReadHeadTree returns HEAD's commit and the files of its tree under
// prefixes (folder or file paths; nil: every file), sorted by path, with
// their content as committed: what `fleetgen publish` builds from, never
// the worktree. Symbolic links and submodules are left out. ok is false
// when the branch has no commit yet.
func (r *Repo) ReadHeadTree(prefixes []string) (commit plumbing.Hash, files []CommittedFile, ok bool, err error) {
	return r.readHeadTree(prefixes, true)
}

// ListHeadTree is ReadHeadTree without the contents (Hash only): the
// cheap way to see what changed; ReadBlob reads a content when needed.
func (r *Repo) ListHeadTree(prefixes []string) (commit plumbing.Hash, files []CommittedFile, ok bool, err error) {
	return r.readHeadTree(prefixes, false)
}

// ListCommitTree is ListHeadTree of commit ch (a HEAD read earlier:
// HEAD may have moved since).
func (r *Repo) ListCommitTree(ch plumbing.Hash, prefixes []string) ([]CommittedFile, error) {
	th, err := r.commitTree(ch)
	if err != nil {
		return nil, err
	}
	_, files, _, err := r.readTree(ch, th, prefixes, false)
	return files, err
}

// CommitTreeIDs returns the object ids at paths (folders or files) in
// commit ch's tree, reading only the trees along each path; an absent
// path is left out. Equal ids: equal content below, without walking it.
func (r *Repo) CommitTreeIDs(ch plumbing.Hash, paths []string) (map[string]plumbing.Hash, error) {
	th, err := r.commitTree(ch)
	if err != nil {
		return nil, err
	}
	// The paths share their upper folders (apps/regions/<r> for every
	// region): each tree is read and decoded once.
	trees := map[plumbing.Hash]*object.Tree{}
	ids := make(map[string]plumbing.Hash, len(paths))
	for _, p := range paths {
		h, ok, err := r.cachedSubtree(trees, th, p)
		if err != nil {
			return nil, err
		}
		if ok {
			ids[p] = h
		}
	}
	return ids, nil
}

// cachedSubtree is subtree's id, with the trees read kept in trees.
func (r *Repo) cachedSubtree(trees map[plumbing.Hash]*object.Tree, th plumbing.Hash, path string) (plumbing.Hash, bool, error) {
	if th.IsZero() {
		return plumbing.ZeroHash, false, nil
	}
	h := th
	parts := strings.Split(path, "/")
	for i, name := range parts {
		t, ok := trees[h]
		if !ok {
			var err error
			if t, err = object.GetTree(r.st, h); err != nil {
				return plumbing.ZeroHash, false, err
			}
			trees[h] = t
		}
		found := false
		for _, e := range t.Entries {
			if e.Name != name {
				continue
			}
			if i == len(parts)-1 {
				return e.Hash, true, nil
			}
			if e.Mode != filemode.Dir {
				return plumbing.ZeroHash, false, nil
			}
			h, found = e.Hash, true
			break
		}
		if !found {
			return plumbing.ZeroHash, false, nil
		}
	}
	return plumbing.ZeroHash, false, nil
}

func (r *Repo) readHeadTree(prefixes []string, content bool) (commit plumbing.Hash, files []CommittedFile, ok bool, err error) {
	ch, th, err := r.headTree()
	if err != nil || th.IsZero() {
		return plumbing.ZeroHash, nil, false, err
	}
	return r.readTree(ch, th, prefixes, content)
}

func (r *Repo) readTree(ch, th plumbing.Hash, prefixes []string, content bool) (commit plumbing.Hash, files []CommittedFile, ok bool, err error) {
	var walkErr error
	err = r.walkTreeIn(th, prefixes, func(p string, mode filemode.FileMode, h plumbing.Hash) {
		if walkErr != nil || (mode != filemode.Regular && mode != filemode.Executable && mode != filemode.Deprecated) {
			return
		}
		f := CommittedFile{Path: p, Executable: mode == filemode.Executable, Hash: h}
		if content {
			b, err := r.ReadBlob(h)
			if err != nil {
				walkErr = fmt.Errorf("read %s of commit %s: %w", p, ch, err)
				return
			}
			f.Content = b
		}
		files = append(files, f)
	})
	if err == nil {
		err = walkErr
	}
	if err != nil {
		return plumbing.ZeroHash, nil, false, err
	}
	// git orders a tree's entries as if folders ended with "/": sort by
	// plain path, the order the artifacts list them in.
	sortCommitted(files)
	return ch, files, true, nil
}

func sortCommitted(fs []CommittedFile) {
	slices.SortFunc(fs, func(a, b CommittedFile) int { return strings.Compare(a.Path, b.Path) })
}
