package gitrepo

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
	"github.com/go-git/go-git/v5/plumbing/format/index"
)

// Changes lists, sorted and slash-separated, every path that `git status`
// would show: staged changes (index differs from HEAD), unstaged ones
// (worktree differs from the index: modified, deleted, mode changed) and
// untracked files, less those ignored by .gitignore files (in every
// directory), .git/info/exclude and the global core.excludesFile. Unlike git,
// an untracked directory is listed file by file. An empty result means the
// worktree is clean.
//
// It is fast on a large clean tree: the index is compared with HEAD through
// one in-memory tree hash, and a worktree file is read and hashed only when
// its size or mtime differ from its index entry (or it is as new as the
// index, git's "racily clean" case). go-git's Worktree.Status hashes every
// file instead.
func (r *Repo) Changes() ([]string, error) {
	idx, err := r.readIndex()
	if err != nil {
		return nil, fmt.Errorf("read index: %w", err)
	}
	changed := map[string]struct{}{}
	tracked := make(map[string]*trackedEntry, idx.len())
	for i := range idx.names {
		e := idx.entry(i)
		if e.Stage != stageNormal || e.IntentToAdd {
			changed[e.Name] = struct{}{} // unresolved conflict, or `git add -N`
			continue
		}
		tracked[e.Name] = &trackedEntry{e: e}
	}

	if err := r.stagedChanges(tracked, changed); err != nil {
		return nil, err
	}

	w := &walker{r: r, tracked: tracked, changed: changed, idxMod: idx.ModTime}
	if err := w.loadExcludes(); err != nil {
		return nil, err
	}
	if err := w.walk("", nil); err != nil {
		return nil, err
	}
	return r.finishChanges(tracked, changed, idx.ModTime)
}

// finishChanges checks the tracked files the walk did not reach (deleted,
// or inside an ignored or replaced directory) and returns the sorted list.
func (r *Repo) finishChanges(tracked map[string]*trackedEntry, changed map[string]struct{}, idxMod time.Time) ([]string, error) {
	for name, t := range tracked {
		if t.seen || t.e.SkipWorktree {
			continue
		}
		fi, err := os.Lstat(r.abs(name))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				changed[name] = struct{}{}
				continue
			}
			return nil, err
		}
		ch, err := r.entryChanged(t.e, fi, name, idxMod)
		if err != nil {
			return nil, err
		}
		if ch {
			changed[name] = struct{}{}
		}
	}
	out := make([]string, 0, len(changed))
	for p := range changed {
		out = append(out, p)
	}
	slices.Sort(out)
	return out, nil
}

type trackedEntry struct {
	e    *index.Entry
	seen bool
}

// stagedChanges adds the paths where the index differs from HEAD's tree. The
// common case, no difference, costs one in-memory tree hash of the index.
func (r *Repo) stagedChanges(tracked map[string]*trackedEntry, changed map[string]struct{}) error {
	_, headTree, err := r.headTree()
	if err != nil {
		return err
	}
	ed, _ := newTreeEditor(nil, plumbing.ZeroHash)
	ok := true
	for name, t := range tracked {
		if _, err := ed.set(name, t.e.Mode, t.e.Hash); err != nil {
			ok = false // a file/directory clash in the index: compare path by path
			break
		}
	}
	if ok && len(tracked) > 0 {
		h, err := ed.write(false)
		if err != nil {
			return err
		}
		if h == headTree {
			return nil
		}
	}
	if ok && len(tracked) == 0 && headTree.IsZero() {
		return nil
	}
	head := map[string]bool{}
	err = r.walkHead(func(path string, mode filemode.FileMode, h plumbing.Hash) {
		head[path] = true
		if t := tracked[path]; t == nil || t.e.Hash != h || t.e.Mode != mode {
			changed[path] = struct{}{}
		}
	})
	if err != nil {
		return err
	}
	for name, t := range tracked {
		if !head[name] && t.e.Mode != filemode.Submodule {
			changed[name] = struct{}{}
		}
	}
	return nil
}

// entryChanged compares a worktree file with its index entry, reading the
// file only when its stat data cannot vouch for it.
func (r *Repo) entryChanged(e *index.Entry, fi fs.FileInfo, name string, idxMod time.Time) (bool, error) {
	m := fi.Mode()
	switch {
	case e.Mode == filemode.Submodule:
		return !m.IsDir(), nil
	case m&fs.ModeSymlink != 0:
		if e.Mode != filemode.Symlink {
			return true, nil
		}
		target, err := os.Readlink(r.abs(name))
		if err != nil {
			return false, err
		}
		return plumbing.ComputeHash(plumbing.BlobObject, []byte(target)) != e.Hash, nil
	case m.IsRegular():
		want := filemode.Regular
		if m&0o100 != 0 {
			want = filemode.Executable
		}
		if e.Mode != want || e.Size != uint32(fi.Size()) {
			return true, nil
		}
		mt := fi.ModTime()
		if e.ModifiedAt.Equal(mt) && (idxMod.IsZero() || mt.Before(idxMod)) {
			return false, nil
		}
		h, err := hashFile(r.abs(name), fi.Size())
		if err != nil {
			return false, err
		}
		return h != e.Hash, nil
	}
	return true, nil
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

// walker lists untracked files and checks the tracked ones it meets.
type walker struct {
	r        *Repo
	tracked  map[string]*trackedEntry
	changed  map[string]struct{}
	idxMod   time.Time
	patterns []gitignore.Pattern // lowest priority first
}

// loadExcludes reads the global core.excludesFile, then .git/info/exclude.
func (w *walker) loadExcludes() error {
	if ps, err := gitignore.LoadGlobalPatterns(osfs.New("/")); err == nil {
		w.patterns = append(w.patterns, ps...)
	}
	if dot, ok := w.r.dotGit(); ok {
		f, err := dot.Open(dot.Join("info", "exclude"))
		if err == nil {
			defer f.Close()
			ps, err := readPatterns(f, nil)
			if err != nil {
				return err
			}
			w.patterns = append(w.patterns, ps...)
		}
	}
	return nil
}

func readPatterns(rd io.Reader, domain []string) ([]gitignore.Pattern, error) {
	var ps []gitignore.Pattern
	sc := bufio.NewScanner(rd)
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(line, domain))
	}
	return ps, sc.Err()
}

func (w *walker) walk(rel string, parts []string) error {
	des, err := os.ReadDir(w.r.abs(rel))
	if err != nil {
		if rel != "" && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) {
			return nil // vanished meanwhile
		}
		return err
	}
	npat := len(w.patterns)
	defer func() { w.patterns = w.patterns[:npat] }()
	for _, de := range des {
		if de.Name() == ".gitignore" && !de.IsDir() {
			f, err := os.Open(filepath.Join(w.r.abs(rel), ".gitignore"))
			if err != nil {
				return err
			}
			ps, err := readPatterns(f, parts)
			f.Close()
			if err != nil {
				return err
			}
			w.patterns = append(w.patterns, ps...)
		}
	}
	m := gitignore.NewMatcher(w.patterns)
	for _, de := range des {
		name := de.Name()
		if name == ".git" {
			continue
		}
		p := name
		if rel != "" {
			p = rel + "/" + name
		}
		sub := append(parts[:len(parts):len(parts)], name)
		t := w.tracked[p]
		if de.IsDir() {
			if t != nil && t.e.Mode == filemode.Submodule {
				t.seen = true
				continue
			}
			// A tracked file replaced by a directory stays unseen: reported later.
			if m.Match(sub, true) {
				continue
			}
			if err := w.walk(p, sub); err != nil {
				return err
			}
			continue
		}
		if t != nil {
			t.seen = true
			fi, err := de.Info()
			if err != nil {
				w.changed[p] = struct{}{} // vanished meanwhile
				continue
			}
			ch, err := w.r.entryChanged(t.e, fi, p, w.idxMod)
			if err != nil {
				return err
			}
			if ch {
				w.changed[p] = struct{}{}
			}
			continue
		}
		if !de.Type().IsRegular() && de.Type()&fs.ModeSymlink == 0 {
			continue // sockets, fifos: git ignores them
		}
		if !m.Match(sub, false) {
			w.changed[p] = struct{}{}
		}
	}
	return nil
}
