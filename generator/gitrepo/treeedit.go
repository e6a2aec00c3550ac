package gitrepo

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// treeEditor edits a git tree in memory: it loads stored subtrees only when a
// path goes through them and re-encodes only the directories that changed.
type treeEditor struct {
	// noLookup stores new trees without asking the store first: for large
	// batches written as a pack, where each question is a failed open of a
	// loose-object file and a tree stored twice is harmless.
	noLookup bool
	s        storer.EncodedObjectStorer // nil: nothing can be loaded (fresh tree)
	root     *treeNode
	// known trees are used instead of reading them from s.
	known map[plumbing.Hash][]treeRecord
}

type treeNode struct {
	hash    plumbing.Hash // tree hash while !dirty
	entries map[string]*treeEntry
	dirty   bool
}

type treeEntry struct {
	mode filemode.FileMode
	hash plumbing.Hash
	sub  *treeNode // loaded subtree, directories only
}

// newTreeEditor starts from the stored tree root, or from an empty tree when
// root is the zero hash.
func newTreeEditor(s storer.EncodedObjectStorer, root plumbing.Hash) (*treeEditor, error) {
	ed := &treeEditor{s: s}
	if root.IsZero() {
		ed.root = &treeNode{entries: map[string]*treeEntry{}, dirty: true}
		return ed, nil
	}
	n, err := ed.load(root)
	if err != nil {
		return nil, err
	}
	ed.root = n
	return ed, nil
}

func (ed *treeEditor) load(h plumbing.Hash) (*treeNode, error) {
	if recs, ok := ed.known[h]; ok {
		n := &treeNode{hash: h, entries: make(map[string]*treeEntry, len(recs))}
		for _, e := range recs {
			n.entries[e.name] = &treeEntry{mode: e.mode, hash: e.hash}
		}
		return n, nil
	}
	t, err := object.GetTree(ed.s, h)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h, err)
	}
	n := &treeNode{hash: h, entries: make(map[string]*treeEntry, len(t.Entries))}
	for _, e := range t.Entries {
		n.entries[e.Name] = &treeEntry{mode: e.Mode, hash: e.Hash}
	}
	return n, nil
}

var errNotDir = errors.New("not a directory")

// child returns the subtree name of n, loading it if needed. With create, a
// missing directory is made; without, a missing one gives nil. A file where a
// directory is needed is an error with create, nil without.
func (ed *treeEditor) child(n *treeNode, name string, create bool) (*treeNode, error) {
	e := n.entries[name]
	switch {
	case e == nil:
		if !create {
			return nil, nil
		}
		sub := &treeNode{entries: map[string]*treeEntry{}, dirty: true}
		n.entries[name] = &treeEntry{mode: filemode.Dir, sub: sub}
		return sub, nil
	case e.mode != filemode.Dir:
		if !create {
			return nil, nil
		}
		return nil, errNotDir
	case e.sub == nil:
		sub, err := ed.load(e.hash)
		if err != nil {
			return nil, err
		}
		e.sub = sub
	}
	return e.sub, nil
}

// set records a file; changed is false when the tree already had it with the
// same mode and content.
func (ed *treeEditor) set(path string, mode filemode.FileMode, h plumbing.Hash) (changed bool, err error) {
	dirs, leaf := splitDirs(path)
	trail := make([]*treeNode, 0, len(dirs)+1)
	n := ed.root
	trail = append(trail, n)
	for i, d := range dirs {
		if n, err = ed.child(n, d, true); err != nil {
			if err == errNotDir {
				err = fmt.Errorf("cannot commit %q: %q is a file in the tree (delete it first)", path, strings.Join(dirs[:i+1], "/"))
			}
			return false, err
		}
		trail = append(trail, n)
	}
	e := n.entries[leaf]
	if e != nil {
		if e.mode == filemode.Dir && !emptyDir(e) {
			return false, fmt.Errorf("cannot commit file %q: it is a directory in the tree (delete its files first)", path)
		}
		if e.mode == mode && e.hash == h {
			return false, nil
		}
	}
	n.entries[leaf] = &treeEntry{mode: mode, hash: h}
	for _, t := range trail {
		t.dirty = true
	}
	return true, nil
}

// emptyDir reports whether a directory entry lost all its files in this edit.
func emptyDir(e *treeEntry) bool {
	if e.sub == nil {
		return false
	}
	for _, c := range e.sub.entries {
		if c.mode != filemode.Dir || !emptyDir(c) {
			return false
		}
	}
	return true
}

// remove deletes a file; it reports whether the tree had it. Directories left
// empty disappear when the tree is written.
func (ed *treeEditor) remove(path string) (bool, error) {
	dirs, leaf := splitDirs(path)
	trail := make([]*treeNode, 0, len(dirs)+1)
	n := ed.root
	trail = append(trail, n)
	for _, d := range dirs {
		var err error
		if n, err = ed.child(n, d, false); err != nil || n == nil {
			return false, err
		}
		trail = append(trail, n)
	}
	e := n.entries[leaf]
	if e == nil || e.mode == filemode.Dir {
		return false, nil
	}
	delete(n.entries, leaf)
	for _, t := range trail {
		t.dirty = true
	}
	return true, nil
}

// write encodes the changed trees bottom-up and returns the root tree hash.
// With store, each new tree object is stored unless the storer has it.
func (ed *treeEditor) write(store bool) (plumbing.Hash, error) {
	return ed.writeNode(ed.root, store)
}

func (ed *treeEditor) writeNode(n *treeNode, store bool) (plumbing.Hash, error) {
	if !n.dirty {
		return n.hash, nil
	}
	entries := make([]object.TreeEntry, 0, len(n.entries))
	for name, e := range n.entries {
		if e.sub != nil && e.sub.dirty {
			h, err := ed.writeNode(e.sub, store)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			if len(e.sub.entries) == 0 {
				delete(n.entries, name) // git has no empty directories
				continue
			}
			e.hash = h
		}
		entries = append(entries, object.TreeEntry{Name: name, Mode: e.mode, Hash: e.hash})
	}
	sortTreeEntries(entries)
	obj := &plumbing.MemoryObject{}
	if err := (&object.Tree{Entries: entries}).Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	h := obj.Hash()
	if store && (ed.noLookup || ed.s.HasEncodedObject(h) != nil) {
		if _, err := ed.s.SetEncodedObject(obj); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("store tree: %w", err)
		}
	}
	n.hash, n.dirty = h, false
	return h, nil
}

// sortTreeEntries sorts the way git does: byte order of the names, with a
// directory's name compared as if it ended in "/" (so "a-b" < "a/" < "a0").
func sortTreeEntries(es []object.TreeEntry) {
	sort.Slice(es, func(i, j int) bool { return treeLess(&es[i], &es[j]) })
}

// treeLess compares without building the "name/" strings.
func treeLess(a, b *object.TreeEntry) bool {
	n := min(len(a.Name), len(b.Name))
	if c := strings.Compare(a.Name[:n], b.Name[:n]); c != 0 {
		return c < 0
	}
	return sortByteAt(a, n) < sortByteAt(b, n)
}

// sortByteAt is the byte at i of the entry's sort name, -1 past its end.
func sortByteAt(e *object.TreeEntry, i int) int {
	switch {
	case i < len(e.Name):
		return int(e.Name[i])
	case i == len(e.Name) && e.Mode == filemode.Dir:
		return '/'
	}
	return -1
}

func splitDirs(path string) (dirs []string, leaf string) {
	parts := strings.Split(path, "/")
	return parts[:len(parts)-1], parts[len(parts)-1]
}

// setEntry puts an existing object (a subtree or a blob) at path, or
// removes whatever is there when present is false.
func (ed *treeEditor) setEntry(path string, mode filemode.FileMode, h plumbing.Hash, present bool) error {
	dirs, leaf := splitDirs(path)
	trail := []*treeNode{ed.root}
	n := ed.root
	for _, d := range dirs {
		next, err := ed.child(n, d, present)
		if err != nil {
			return err
		}
		if next == nil {
			return nil // nothing there to remove
		}
		n = next
		trail = append(trail, n)
	}
	if present {
		if e := n.entries[leaf]; e != nil && e.sub == nil && e.mode == mode && e.hash == h {
			return nil
		}
		n.entries[leaf] = &treeEntry{mode: mode, hash: h}
	} else {
		if _, ok := n.entries[leaf]; !ok {
			return nil
		}
		delete(n.entries, leaf)
	}
	for _, t := range trail {
		t.dirty = true
	}
	return nil
}
