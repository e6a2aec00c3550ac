package gitrepo

import (
	"container/heap"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/fleetgen/fleetgen/generator/tree"
)

// The generated tree — what fleetgen produced last, before any hand edit —
// is the base of every three-way merge. It lives in the branch's own
// history, so that a plain `git push` and `git clone` carry it: fleetgen
// commits each new generated tree on a side line (a "vendor branch": each
// generated-tree commit's parent is the previous one) and merges it into
// the branch as the second parent of its own commit, whose message names
// it in a trailer. `git log --first-parent` shows the branch without it.

// BaseTrailer is the trailer of a fleetgen commit naming the parent that
// holds the generated tree.
const BaseTrailer = "Fleetgen-Generated"

// ErrShallow is returned when the history is cut before fleetgen's last
// commit could be found.
var ErrShallow = errors.New("this is a shallow clone and fleetgen's last commit is not in the fetched history: fetch it (git fetch --unshallow) and run again")

// FindBase returns the generated-tree commit of the newest fleetgen commit
// reachable from HEAD (commits are visited newest first, by committer
// date, as `git log` lists them), or zero when there is none. A fleetgen
// commit is one whose Fleetgen-Generated trailer names one of its own
// parents, so a rebased or cherry-picked copy of one (whose parents are
// different) is not taken for it.
func (r *Repo) FindBase() (plumbing.Hash, error) {
	head, ok, err := r.HeadCommit()
	if err != nil || !ok {
		return plumbing.ZeroHash, err
	}
	shallow := r.shallowCommits()
	seen := map[plumbing.Hash]bool{head: true}
	q := &commitQueue{}
	c, err := object.GetCommit(r.st, head)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read HEAD commit %s: %w", head, err)
	}
	heap.Push(q, c)
	for q.Len() > 0 {
		c := heap.Pop(q).(*object.Commit)
		if b := trailerValue(c.Message, BaseTrailer); b != "" {
			for _, p := range c.ParentHashes {
				if p.String() == b {
					return p, nil
				}
			}
		}
		if shallow[c.Hash] {
			return plumbing.ZeroHash, ErrShallow
		}
		for _, p := range c.ParentHashes {
			if seen[p] {
				continue
			}
			seen[p] = true
			pc, err := object.GetCommit(r.st, p)
			if err != nil {
				if len(shallow) > 0 {
					return plumbing.ZeroHash, ErrShallow
				}
				return plumbing.ZeroHash, fmt.Errorf("read commit %s: %w", p, err)
			}
			heap.Push(q, pc)
		}
	}
	if len(shallow) > 0 {
		return plumbing.ZeroHash, ErrShallow
	}
	return plumbing.ZeroHash, nil
}

// LegacyBase returns the commit of the generated-tree ref that fleetgen
// kept before the generated tree moved into the branch's history (zero
// when there is none).
func (r *Repo) LegacyBase(ref plumbing.ReferenceName) (plumbing.Hash, error) {
	r.refresh()
	rf, err := r.st.Reference(ref)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, nil
	}
	if err == nil {
		_, err = object.GetCommit(r.st, rf.Hash())
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("%s (where fleetgen before v0.3 kept the generated tree) is damaged: %v; "+
			"if a backup or another clone has it, copy it back; else delete it with `git update-ref -d %s` "+
			"(fleetgen then reports every generated file you changed as a conflict, to resolve by hand)", ref, err, ref)
	}
	return rf.Hash(), nil
}

func (r *Repo) shallowCommits() map[plumbing.Hash]bool {
	cd, err := r.commonDir()
	if err != nil {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(cd, "shallow"))
	if err != nil {
		return nil
	}
	m := map[plumbing.Hash]bool{}
	for _, l := range strings.Fields(string(b)) {
		m[plumbing.NewHash(l)] = true
	}
	return m
}

// trailerValue is the value of the last "key: value" line of msg's final
// paragraph.
func trailerValue(msg, key string) string {
	msg = strings.TrimRight(msg, "\n")
	last := msg
	if i := strings.LastIndex(msg, "\n\n"); i >= 0 {
		last = msg[i+2:]
	}
	val := ""
	for _, l := range strings.Split(last, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), key) {
			val = strings.TrimSpace(v)
		}
	}
	return val
}

// withTrailer appends "key: value" to msg's trailer block.
func withTrailer(msg, key, value string) string {
	msg = strings.TrimRight(msg, "\n")
	return msg + "\n\n" + key + ": " + value + "\n"
}

type commitQueue []*object.Commit

func (q commitQueue) Len() int { return len(q) }
func (q commitQueue) Less(i, j int) bool {
	if !q[i].Committer.When.Equal(q[j].Committer.When) {
		return q[i].Committer.When.After(q[j].Committer.When)
	}
	return q[i].Hash.String() < q[j].Hash.String()
}
func (q commitQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *commitQueue) Push(x any)   { *q = append(*q, x.(*object.Commit)) }
func (q *commitQueue) Pop() any {
	old := *q
	c := old[len(old)-1]
	*q = old[:len(old)-1]
	return c
}

// BaseFiles maps every file path of commit base's tree to its blob hash;
// empty when base is zero.
func (r *Repo) BaseFiles(base plumbing.Hash) (map[string]plumbing.Hash, error) {
	files := map[string]plumbing.Hash{}
	th, err := r.commitTree(base)
	if err != nil || th.IsZero() {
		return files, err
	}
	err = r.walkTree(th, func(path string, _ filemode.FileMode, h plumbing.Hash) {
		files[path] = h
	})
	return files, err
}

func (r *Repo) commitTree(h plumbing.Hash) (plumbing.Hash, error) {
	if h.IsZero() {
		return plumbing.ZeroHash, nil
	}
	c, err := object.GetCommit(r.st, h)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read generated-tree commit %s: %w", h, err)
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

// Snapshot is the change to the generated tree: Files are set (their
// blobs stored if missing), Remove paths are dropped.
type Snapshot struct {
	Files  []tree.File
	Remove []string
}

// snapshotCommit makes the new generated tree from opts.Base's (see
// CommitOptions) and, when it differs, stages a commit of it whose parent
// is Base. It returns that commit, or Base when nothing changed.
func (r *Repo) snapshotCommit(stage *stagingStore, opts CommitOptions, newTree plumbing.Hash) (plumbing.Hash, error) {
	baseTree, err := r.commitTree(opts.Base)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	ed, err := newTreeEditor(stage, baseTree)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	ed.known = r.trees
	if s := opts.Snapshot; s != nil {
		many := len(s.Files)+len(s.Remove) >= packThreshold
		ed.noLookup = r.fresh || many
		for _, p := range s.Remove {
			if _, err := ed.remove(p); err != nil {
				return plumbing.ZeroHash, err
			}
		}
		for _, f := range s.Files {
			if err := tree.CheckPath(f.Path); err != nil {
				return plumbing.ZeroHash, err
			}
			mode := filemode.Regular
			if f.Mode&0o100 != 0 {
				mode = filemode.Executable
			}
			h := plumbing.ComputeHash(plumbing.BlobObject, f.Content)
			changed, err := ed.set(f.Path, mode, h)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			if !changed || !r.needsStore(stage, h, many) {
				continue
			}
			obj := &plumbing.MemoryObject{}
			obj.SetType(plumbing.BlobObject)
			if _, err := obj.Write(f.Content); err != nil {
				return plumbing.ZeroHash, err
			}
			if _, err := stage.SetEncodedObject(obj); err != nil {
				return plumbing.ZeroHash, err
			}
		}
	}
	for _, p := range opts.SnapshotCopy {
		h, mode, ok, err := r.subtreeIn(stage, newTree, p)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if err := ed.setEntry(p, mode, h, ok); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	snapTree, err := ed.write(true)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if snapTree == baseTree && !opts.Base.IsZero() {
		return opts.Base, nil
	}
	var parents []plumbing.Hash
	if !opts.Base.IsZero() {
		parents = []plumbing.Hash{opts.Base}
	}
	msg := opts.SnapshotMessage
	if msg == "" {
		msg = "fleetgen: generated tree"
	}
	return writeCommit(stage, opts.Author, opts.When, nil, msg, snapTree, parents)
}
