package gitrepo

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// DirtyPath is a file fleetgen would write or delete that holds work git
// has not committed.
type DirtyPath struct {
	Path   string
	Reason string // "modified", "staged", "untracked", ...
}

// Dirty returns, in the order given, those of paths (files fleetgen will
// write or delete, slash-separated) that git would report as changed:
// staged (their index entry differs from head, HEAD's blob hashes, or is
// conflicted or intent-to-add), modified or deleted in the worktree, or,
// where neither HEAD nor the index has them, present in the worktree
// (untracked, ignored or not: fleetgen would overwrite them). Paths
// elsewhere are not looked at: fleetgen commits only its own paths, the
// way `git commit -- <paths>` does, and leaves other work as it is.
//
// The worktree is judged as git judges it: stat data (size, mtime) first,
// content only when they cannot vouch for it (an entry without stat data,
// as `git read-tree` leaves it, is compared by content), the executable
// bit only under core.fileMode, a symbolic link checked out as a file
// under core.symlinks=false compared by content, and content as `git add`
// would store it (CRLF to LF where text attributes or core.autocrlf say
// so). c may be nil (git's defaults).
//
// A path outside the sparse checkout (its entry has the skip-worktree bit,
// or a new path the sparse patterns leave out) is a CompatError: fleetgen
// does not write outside the checkout.
func (r *Repo) Dirty(paths []string, head map[string]plumbing.Hash, c *Compat) ([]DirtyPath, error) {
	if c == nil {
		c = &Compat{trustExec: true, symlinks: true, autocrlf: "false"}
	}
	idx, err := r.readIndex()
	if err != nil {
		return nil, fmt.Errorf("read index: %w", err)
	}
	// Nothing staged near the paths (the common case) is proved by tree
	// hash, the way git's cache tree does, over their folders two levels
	// down: then no path needs comparing with HEAD one by one.
	_, noneStaged, err := r.headFromIndex(idx, twoLevels(paths))
	if err != nil {
		return nil, err
	}
	modes := &headModes{r: r, dirs: map[string]map[string]filemode.FileMode{}}
	var out []DirtyPath
	var outside []string // folders to add to the sparse checkout
	firstOutside := ""
	for _, p := range paths {
		var e *index.Entry
		unmerged := false
		for i := idx.search(p); i < idx.len() && idx.names[i] == p; i++ {
			if idx.stage(i) != stageNormal {
				unmerged = true
			} else {
				e = idx.entry(i)
			}
		}
		hh, inHead := head[p]
		reason := ""
		switch {
		case noneStaged && e != nil:
			// index == HEAD here: only the worktree can differ
		case unmerged:
			reason = "unmerged"
		case e != nil && e.IntentToAdd:
			reason = "intent to add"
		case e == nil && inHead:
			reason = "deletion staged"
		case e != nil && !inHead:
			reason = "staged"
		case e != nil && e.Hash != hh:
			reason = "staged"
		case e != nil:
			mode, err := modes.of(p)
			if err != nil {
				return nil, err
			}
			if mode != e.Mode {
				reason = "staged" // a mode change (git update-index --chmod)
			}
		}
		if reason == "" && e != nil && e.SkipWorktree && !c.sparseOn {
			return nil, &CompatError{Dir: r.dir, Setting: "the skip-worktree bit on " + p + " (git update-index --skip-worktree)",
				Problem: "git is told to ignore that file in the worktree, and fleetgen would write it",
				WayOut:  "clear it with `git update-index --no-skip-worktree " + p + "` (commit or drop your local change first)"}
		}
		if reason == "" && ((e != nil && e.SkipWorktree) || (e == nil && !c.inSparse(p))) {
			if len(outside) == 0 {
				firstOutside = p
			}
			if d := sparseDir(p); !slices.Contains(outside, d) {
				outside = append(outside, d)
			}
			continue
		}
		if reason == "" {
			fi, err := os.Lstat(r.abs(p))
			gone := errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
			switch {
			case err != nil && !gone:
				return nil, err
			case e == nil && !gone:
				reason = "untracked"
			case e != nil && gone:
				reason = "deleted"
			case e != nil:
				ch, err := r.worktreeChanged(e, fi, p, idx.ModTime, c)
				if err != nil {
					return nil, err
				}
				if ch {
					reason = "modified"
				}
			}
		}
		if reason != "" {
			out = append(out, DirtyPath{Path: p, Reason: reason})
		}
	}
	if len(outside) > 0 {
		what := firstOutside + " is outside it"
		if n := len(outside); n > 1 {
			what = fmt.Sprintf("%s and files in %d other folders are outside it", firstOutside, n-1)
		}
		return nil, &CompatError{Dir: r.dir, Setting: "a sparse checkout (core.sparseCheckout=true)",
			Problem: what + ", and fleetgen does not write outside the checkout",
			WayOut:  "add the folders with `git sparse-checkout add " + strings.Join(outside, " ") + "`, or turn it off with `git sparse-checkout disable`"}
	}
	return out, nil
}

// headModes reads the modes of HEAD's files, one folder's tree at a time.
type headModes struct {
	r    *Repo
	tree plumbing.Hash
	read bool
	dirs map[string]map[string]filemode.FileMode
}

func (h *headModes) of(p string) (filemode.FileMode, error) {
	if !h.read {
		_, th, err := h.r.headTree()
		if err != nil {
			return 0, err
		}
		h.tree, h.read = th, true
	}
	dir, name := "", p
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		dir, name = p[:i], p[i+1:]
	}
	m, ok := h.dirs[dir]
	if !ok {
		m = map[string]filemode.FileMode{}
		th := h.tree
		isTree := !th.IsZero()
		if dir != "" && isTree {
			sub, mode, found, err := h.r.subtree(th, dir)
			if err != nil {
				return 0, err
			}
			th, isTree = sub, found && mode == filemode.Dir
		}
		if isTree {
			t, err := object.GetTree(h.r.st, th)
			if err != nil {
				return 0, err
			}
			for _, e := range t.Entries {
				m[e.Name] = e.Mode
			}
		}
		h.dirs[dir] = m
	}
	return m[name], nil
}

// twoLevels returns the distinct folders (or files) the paths are in, cut
// two levels below the root: clusters/north-sea for
// clusters/north-sea/rig-1/apps.yaml, README.md for README.md.
func twoLevels(paths []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range paths {
		cut := p
		if i := strings.IndexByte(p, '/'); i >= 0 {
			if j := strings.IndexByte(p[i+1:], '/'); j >= 0 {
				cut = p[:i+1+j]
			}
		}
		if !seen[cut] {
			seen[cut] = true
			out = append(out, cut)
		}
	}
	return out
}

// sparseDir is the folder to add to a sparse checkout for p: its folder,
// cut two levels below the root (clusters/north-sea for every cluster of
// the region).
func sparseDir(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "/"
	}
	d := p[:i]
	if j := strings.IndexByte(d, '/'); j >= 0 {
		if k := strings.IndexByte(d[j+1:], '/'); k >= 0 {
			d = d[:j+1+k]
		}
	}
	return d
}

// worktreeChanged compares a worktree file with its index entry as git's
// ie_match_stat and ce_modified_check_fs do.
func (r *Repo) worktreeChanged(e *index.Entry, fi fs.FileInfo, name string, idxMod time.Time, c *Compat) (bool, error) {
	m := fi.Mode()
	statClean := e.Size == uint32(fi.Size()) && e.ModifiedAt.Equal(fi.ModTime()) &&
		(idxMod.IsZero() || fi.ModTime().Before(idxMod)) // else "racily clean": look
	switch {
	case e.Mode == filemode.Submodule:
		return !m.IsDir(), nil
	case m&fs.ModeSymlink != 0:
		if e.Mode != filemode.Symlink {
			return true, nil
		}
		if statClean {
			return false, nil
		}
		target, err := os.Readlink(r.abs(name))
		if err != nil {
			return false, err
		}
		return plumbing.ComputeHash(plumbing.BlobObject, []byte(target)) != e.Hash, nil
	case m.IsRegular():
		if e.Mode == filemode.Symlink {
			if c.symlinks {
				return true, nil
			}
			// core.symlinks=false: checked out as a file holding the target.
			if statClean {
				return false, nil
			}
			h, err := hashFile(r.abs(name), fi.Size())
			return h != e.Hash, err
		}
		if e.Mode != filemode.Regular && e.Mode != filemode.Executable {
			return true, nil
		}
		if c.trustExec && (m&0o100 != 0) != (e.Mode == filemode.Executable) {
			return true, nil
		}
		if statClean {
			return false, nil
		}
		if e.Size != 0 && e.Size != uint32(fi.Size()) {
			// A known size that differs (git: DATA_CHANGED); a zero
			// size is an entry without stat data, compared by content.
			return true, nil
		}
		b, err := os.ReadFile(r.abs(name))
		if err != nil {
			return false, err
		}
		return plumbing.ComputeHash(plumbing.BlobObject, c.toGit(name, b)) != e.Hash, nil
	}
	return true, nil // a folder, or something else, where a file was
}

func hashFile(abs string, size int64) (plumbing.Hash, error) {
	f, err := os.Open(abs)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	defer f.Close()
	h := plumbing.NewHasher(plumbing.BlobObject, size)
	n, err := io.Copy(h, f)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if n != size {
		return plumbing.ZeroHash, nil // changed while read: cannot match
	}
	return h.Sum(), nil
}
