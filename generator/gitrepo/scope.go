package gitrepo

import (
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Scoped reads, for a regeneration of a few regions in a repository of
// tens of thousands of files: only the subtrees under the given prefixes
// (folder paths, or single file paths) are read or walked.

func inScope(p string, prefixes []string) bool {
	for _, pre := range prefixes {
		if p == pre || under(p, pre) {
			return true
		}
	}
	return false
}

// under reports whether p is inside folder dir (without building dir+"/":
// this runs once per index entry).
func under(p, dir string) bool {
	return len(p) > len(dir) && p[len(dir)] == '/' && p[:len(dir)] == dir
}

// mayHold reports whether folder dir can contain something in scope.
func mayHold(dir string, prefixes []string) bool {
	for _, pre := range prefixes {
		if dir == pre || under(pre, dir) || under(dir, pre) {
			return true
		}
	}
	return false
}

// walkTreeIn is walkTree limited to prefixes (nil: the whole tree).
func (r *Repo) walkTreeIn(th plumbing.Hash, prefixes []string, fn func(path string, mode filemode.FileMode, h plumbing.Hash)) error {
	var walk func(prefix string, h plumbing.Hash) error
	walk = func(prefix string, h plumbing.Hash) error {
		t, err := object.GetTree(r.st, h)
		if err != nil {
			return fmt.Errorf("read tree %s (%q): %w", h, prefix, err)
		}
		for _, e := range t.Entries {
			p := e.Name
			if prefix != "" {
				p = prefix + "/" + e.Name
			}
			switch e.Mode {
			case filemode.Dir:
				if prefixes == nil || mayHold(p, prefixes) {
					if err := walk(p, e.Hash); err != nil {
						return err
					}
				}
			case filemode.Submodule:
			default:
				if prefixes == nil || inScope(p, prefixes) {
					fn(p, e.Mode, e.Hash)
				}
			}
		}
		return nil
	}
	return walk("", th)
}

// HeadFilesIn is HeadFiles limited to prefixes. The result is kept for
// the same HEAD tree and prefixes (a run asks twice: checking for changes,
// then deciding); callers must not modify it.
func (r *Repo) HeadFilesIn(prefixes []string) (map[string]plumbing.Hash, error) {
	files := map[string]plumbing.Hash{}
	_, th, err := r.headTree()
	if err != nil || th.IsZero() {
		return files, err
	}
	key := th.String() + "\x00" + strings.Join(prefixes, "\x00")
	if r.headMemoKey == key {
		return r.headMemo, nil
	}
	// Where the index agrees with HEAD (nothing staged), its entries are
	// HEAD's files: no tree below the prefixes is read.
	if idx, err := r.readIndex(); err == nil {
		if files, same, err := r.headFromIndex(idx, prefixes); err != nil {
			return nil, err
		} else if same {
			return files, nil
		}
	}
	err = r.walkTreeIn(th, prefixes, func(p string, _ filemode.FileMode, h plumbing.Hash) { files[p] = h })
	if err == nil {
		r.headMemoKey, r.headMemo = key, files
	}
	return files, err
}

// BaseFilesIn is BaseFiles limited to prefixes.
func (r *Repo) BaseFilesIn(base plumbing.Hash, prefixes []string) (map[string]plumbing.Hash, error) {
	files := map[string]plumbing.Hash{}
	th, err := r.commitTree(base)
	if err != nil || th.IsZero() {
		return files, err
	}
	err = r.walkTreeIn(th, prefixes, func(p string, _ filemode.FileMode, h plumbing.Hash) { files[p] = h })
	return files, err
}

// headFromIndex compares the index with HEAD under prefixes by tree hash,
// the way git's cache-tree does: the trees the index entries there would
// make are hashed (no object is read or written) and compared with HEAD's
// subtrees, which costs a few tree reads along each prefix instead of
// every tree below it. When all agree (same true), nothing is staged there
// and HEAD's files are the index entries: they are returned, and kept for
// HeadFilesIn. Conflicted or intent-to-add entries make same false.
func (r *Repo) headFromIndex(idx *rawIndex, prefixes []string) (files map[string]plumbing.Hash, same bool, err error) {
	_, th, err := r.headTree()
	if err != nil || th.IsZero() {
		return nil, false, err
	}
	files = map[string]plumbing.Hash{}
	for _, pre := range prefixes {
		// The file pre, or the run of entries under pre/ (other names,
		// such as pre-old/x, may sort between the two).
		lo, hi := idx.search(pre), 0
		if lo < idx.len() && idx.names[lo] == pre {
			hi = lo + 1
		} else {
			lo = idx.search(pre + "/")
			for hi = lo; hi < idx.len() && under(idx.names[hi], pre); hi++ {
			}
		}
		in := make([]*index.Entry, 0, hi-lo)
		for i := lo; i < hi; i++ {
			e := idx.entry(i)
			if e.Stage != stageNormal || e.IntentToAdd {
				return nil, false, nil
			}
			in = append(in, e)
		}
		h, mode, ok, err := r.subtree(th, pre)
		if err != nil {
			return nil, false, err
		}
		switch {
		case len(in) == 0:
			if ok {
				return nil, false, nil
			}
		case len(in) == 1 && in[0].Name == pre:
			if !ok || h != in[0].Hash || mode != in[0].Mode {
				return nil, false, nil
			}
		default:
			known := map[plumbing.Hash][]treeRecord{}
			if !ok || mode != filemode.Dir || treeHashOf(in, len(pre)+1, known) != h {
				return nil, false, nil
			}
			// HEAD's trees under pre are these: a commit that edits
			// them starts from here instead of reading them back.
			if r.trees == nil {
				r.trees = known
			} else {
				maps.Copy(r.trees, known)
			}
		}
		for _, e := range in {
			if e.Mode != filemode.Submodule { // as walkTreeIn lists them
				files[e.Name] = e.Hash
			}
		}
	}
	r.headMemoKey, r.headMemo = th.String()+"\x00"+strings.Join(prefixes, "\x00"), files
	return files, true, nil
}

// treeHashOf is the hash of the tree that entries (sorted, stage 0, all
// under one folder whose path ends at byte base-1 of their names) make.
// Index order is git's tree order, so each folder's entries are a run.
// Every tree made on the way is recorded in known (when not nil), under
// its hash: a later edit of those folders needs not read them back.
func treeHashOf(entries []*index.Entry, base int, known map[plumbing.Hash][]treeRecord) plumbing.Hash {
	var buf []byte
	var recs []treeRecord
	add := func(name string, mode filemode.FileMode, h plumbing.Hash) {
		buf = strconv.AppendUint(buf, uint64(mode), 8)
		buf = append(buf, ' ')
		buf = append(buf, name...)
		buf = append(buf, 0)
		buf = append(buf, h[:]...)
		if known != nil {
			recs = append(recs, treeRecord{name, mode, h})
		}
	}
	for i := 0; i < len(entries); {
		rel := entries[i].Name[base:]
		slash := strings.IndexByte(rel, '/')
		if slash < 0 {
			add(rel, entries[i].Mode, entries[i].Hash)
			i++
			continue
		}
		dir := rel[:slash+1]
		j := i + 1
		for j < len(entries) && strings.HasPrefix(entries[j].Name[base:], dir) {
			j++
		}
		add(dir[:slash], filemode.Dir, treeHashOf(entries[i:j], base+slash+1, known))
		i = j
	}
	h := plumbing.ComputeHash(plumbing.TreeObject, buf)
	if known != nil {
		known[h] = recs
	}
	return h
}

// treeRecord is one entry of a tree known without reading it.
type treeRecord struct {
	name string
	mode filemode.FileMode
	hash plumbing.Hash
}

// subtree returns the hash and mode of path inside tree th (ok false when
// absent), reading only the trees along the path.
func (r *Repo) subtree(th plumbing.Hash, path string) (plumbing.Hash, filemode.FileMode, bool, error) {
	return r.subtreeIn(r.st, th, path)
}

// subtreeIn is subtree reading trees from s (which may hold staged ones).
func (r *Repo) subtreeIn(s storer.EncodedObjectStorer, th plumbing.Hash, path string) (plumbing.Hash, filemode.FileMode, bool, error) {
	if th.IsZero() {
		return plumbing.ZeroHash, 0, false, nil
	}
	h := th
	parts := strings.Split(path, "/")
	for i, name := range parts {
		t, err := object.GetTree(s, h)
		if err != nil {
			return plumbing.ZeroHash, 0, false, err
		}
		found := false
		for _, e := range t.Entries {
			if e.Name != name {
				continue
			}
			if i < len(parts)-1 && e.Mode != filemode.Dir {
				return plumbing.ZeroHash, 0, false, nil
			}
			if i == len(parts)-1 {
				return e.Hash, e.Mode, true, nil
			}
			h, found = e.Hash, true
			break
		}
		if !found {
			return plumbing.ZeroHash, 0, false, nil
		}
	}
	return plumbing.ZeroHash, 0, false, nil
}

// SameIn reports whether HEAD and commit base's tree hold exactly the
// same content under every prefix (compared by tree hash, so without
// walking them).
func (r *Repo) SameIn(base plumbing.Hash, prefixes []string) (bool, error) {
	_, headTree, err := r.headTree()
	if err != nil {
		return false, err
	}
	baseTree, err := r.commitTree(base)
	if err != nil {
		return false, err
	}
	for _, p := range prefixes {
		a, am, aok, err := r.subtree(headTree, p)
		if err != nil {
			return false, err
		}
		b, bm, bok, err := r.subtree(baseTree, p)
		if err != nil {
			return false, err
		}
		if aok != bok || a != b || am != bm {
			return false, nil
		}
	}
	return true, nil
}
