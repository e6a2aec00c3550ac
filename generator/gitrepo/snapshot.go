package gitrepo

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/fleetgen/fleetgen/generator/tree"
)

// A snapshot ref (fleetgen keeps refs/fleetgen/generated) records a tree
// that is not checked out: what the generator produced last time, the base
// of three-way merges. It has its own history, so any earlier generated
// tree can be recovered, and it never touches the index or the worktree.

// RefFiles maps every file path of ref's tree to its blob hash; empty when
// the ref does not exist.
func (r *Repo) RefFiles(ref plumbing.ReferenceName) (map[string]plumbing.Hash, error) {
	files := map[string]plumbing.Hash{}
	th, err := r.refTree(ref)
	if err != nil || th.IsZero() {
		return files, err
	}
	err = r.walkTree(th, func(path string, _ filemode.FileMode, h plumbing.Hash) {
		files[path] = h
	})
	return files, err
}

func (r *Repo) refTree(ref plumbing.ReferenceName) (plumbing.Hash, error) {
	r.refresh()
	rf, err := r.st.Reference(ref)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read %s: %w", ref, err)
	}
	c, err := object.GetCommit(r.st, rf.Hash())
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read %s commit %s: %w", ref, rf.Hash(), err)
	}
	return c.TreeHash, nil
}

// ReadBlob returns a blob's content.
func (r *Repo) ReadBlob(h plumbing.Hash) ([]byte, error) {
	b, err := object.GetBlob(r.st, h)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	rd, err := b.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

// Snapshot is the change to a snapshot ref's tree: Files are set (their
// blobs stored if missing), Remove paths are dropped.
type Snapshot struct {
	Files  []tree.File
	Remove []string
}

// CommitSnapshot records ref's previous tree + s as a new commit on ref
// (parent: the ref's previous commit). Nothing is written when the tree is
// unchanged. The index and worktree are not touched.
func (r *Repo) CommitSnapshot(ref plumbing.ReferenceName, s Snapshot, message string, author Author, when time.Time) (changed bool, err error) {
	return r.editSnapshot(ref, message, author, when, func(ed *treeEditor, stage *stagingStore) error {
		ed.noLookup = r.fresh || len(s.Files)+len(s.Remove) >= packThreshold
		for _, p := range s.Remove {
			if _, err := ed.remove(p); err != nil {
				return err
			}
		}
		for _, f := range s.Files {
			if err := tree.CheckPath(f.Path); err != nil {
				return err
			}
			mode := filemode.Regular
			if f.Mode&0o100 != 0 {
				mode = filemode.Executable
			}
			h := plumbing.ComputeHash(plumbing.BlobObject, f.Content)
			changed, err := ed.set(f.Path, mode, h)
			if err != nil {
				return err
			}
			if !changed || !r.needsStore(stage, h, len(s.Files) >= packThreshold) {
				continue
			}
			obj := &plumbing.MemoryObject{}
			obj.SetType(plumbing.BlobObject)
			if _, err := obj.Write(f.Content); err != nil {
				return err
			}
			if _, err := stage.SetEncodedObject(obj); err != nil {
				return err
			}
		}
		return nil
	})
}

// editSnapshot loads ref's tree, lets edit change it, and records the
// result as a new commit on ref (parent: the ref's previous commit) unless
// the tree is unchanged. The index and worktree are not touched.
func (r *Repo) editSnapshot(ref plumbing.ReferenceName, message string, author Author, when time.Time, edit func(*treeEditor, *stagingStore) error) (bool, error) {
	r.refresh()
	var old *plumbing.Reference
	var parent, parentTree plumbing.Hash
	if rf, err := r.st.Reference(ref); err == nil {
		old, parent = rf, rf.Hash()
		c, err := object.GetCommit(r.st, parent)
		if err != nil {
			return false, fmt.Errorf("read %s commit %s: %w", ref, parent, err)
		}
		parentTree = c.TreeHash
	} else if !errors.Is(err, plumbing.ErrReferenceNotFound) {
		return false, fmt.Errorf("read %s: %w", ref, err)
	}
	stage := newStagingStore(r.st)
	ed, err := newTreeEditor(stage, parentTree)
	if err != nil {
		return false, err
	}
	if err := edit(ed, stage); err != nil {
		return false, err
	}
	newTree, err := ed.write(true)
	if err != nil {
		return false, err
	}
	if newTree == parentTree {
		return false, nil
	}
	h, err := writeCommit(stage, CommitOptions{Message: message, Author: author, When: when}, newTree, parent)
	if err != nil {
		return false, err
	}
	staged := stage.order
	if err := stage.flush(); err != nil {
		return false, err
	}
	r.remember(staged)
	if err := r.st.CheckAndSetReference(plumbing.NewHashReference(ref, h), old); err != nil {
		return false, fmt.Errorf("move %s to %s: %w", ref, h, err)
	}
	return true, nil
}
