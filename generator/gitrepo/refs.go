package gitrepo

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// updateRef moves ref from old (zero: the ref must not exist) to new the way
// git does: it creates <ref>.lock exclusively (so git's own ref updates and
// this one exclude each other), checks that the ref still holds old
// (compare-and-swap: a commit made meanwhile is never overwritten), writes and
// syncs the lock file and renames it over the ref. The ref file is therefore
// always either the old or the new value, never empty or partial. The
// reflog gets a line, as git writes it, for the ref and for HEAD when HEAD
// points to it.
func (r *Repo) updateRef(ref plumbing.ReferenceName, old, new plumbing.Hash, who Author, when time.Time, msg string, headToo bool) error {
	gd, cd, err := gitDirs(r.dir)
	if err != nil {
		return err
	}
	base := cd
	if ref == plumbing.HEAD {
		base = gd
	}
	path := filepath.Join(base, filepath.FromSlash(ref.String()))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	lockPath := path + ".lock"
	f, err := r.lock.takeRefLock(lockPath)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return &ErrLocked{fmt.Sprintf("%s exists: another git process is updating %s; wait for it, or remove the file if no git process is running (nothing was committed)", lockPath, ref)}
		}
		return fmt.Errorf("lock %s: %w", ref, err)
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(lockPath)
		}
	}()
	// Compare under the lock.
	r.refresh()
	cur := plumbing.ZeroHash
	if rf, err := r.st.Reference(ref); err == nil {
		cur = rf.Hash()
	} else if !errors.Is(err, plumbing.ErrReferenceNotFound) {
		return fmt.Errorf("read %s: %w", ref, err)
	}
	if cur != old {
		return fmt.Errorf("%s moved from %s to %s while fleetgen ran (a commit was made meanwhile); nothing was committed: run fleetgen again", ref, short(old), short(cur))
	}
	if _, err := f.WriteString(new.String() + "\n"); err != nil {
		return fmt.Errorf("write %s: %w", lockPath, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", lockPath, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", lockPath, err)
	}
	CrashPoint("reflock", 0)
	// The reflog first, as git does (under the ref's lock).
	line := reflogLine(old, new, who, when, msg)
	if r.logsRef(ref) {
		if err := appendReflog(filepath.Join(cd, "logs", filepath.FromSlash(ref.String())), line); err != nil {
			return err
		}
	}
	if headToo && ref != plumbing.HEAD && r.logsRef(plumbing.HEAD) {
		if err := appendReflog(filepath.Join(gd, "logs", "HEAD"), line); err != nil {
			return err
		}
	}
	if err := os.Rename(lockPath, path); err != nil {
		return fmt.Errorf("move %s: %w", ref, err)
	}
	done = true
	return syncDir(filepath.Dir(path))
}

func short(h plumbing.Hash) string {
	if h.IsZero() {
		return "(none)"
	}
	return h.String()[:12]
}

// logsRef says whether git would write a reflog for ref:
// core.logAllRefUpdates (default true in a repository with a worktree)
// covers branches and HEAD; "always" covers every ref.
func (r *Repo) logsRef(ref plumbing.ReferenceName) bool {
	v := "true"
	if cfg, err := r.repo.Config(); err == nil && cfg.Raw != nil {
		if s := cfg.Raw.Section("core"); s.HasOption("logAllRefUpdates") {
			v = strings.ToLower(s.Option("logAllRefUpdates"))
		}
	}
	switch v {
	case "false", "no", "off", "0":
		return false
	case "always":
		return true
	}
	s := ref.String()
	return ref == plumbing.HEAD || strings.HasPrefix(s, "refs/heads/") || strings.HasPrefix(s, "refs/remotes/") || strings.HasPrefix(s, "refs/notes/")
}

func reflogLine(old, new plumbing.Hash, who Author, when time.Time, msg string) string {
	if when.IsZero() {
		when = time.Now()
	}
	_, off := when.Zone()
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	msg = strings.Join(strings.Fields(firstLineOf(msg)), " ")
	return fmt.Sprintf("%s %s %s <%s> %d %c%02d%02d\t%s\n", old, new, sanitizeIdent(who.Name), sanitizeIdent(who.Email), when.Unix(), sign, off/3600, off%3600/60, msg)
}

func firstLineOf(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func appendReflog(path, line string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("reflog: %w", err)
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return fmt.Errorf("reflog: %w", err)
	}
	return f.Close()
}
