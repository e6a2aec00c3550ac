package gitrepo

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// fleetgenLock is fleetgen's own lock file in the git folder. It is held
// (flock) for the whole run and records the index.lock the run created, so
// that a rerun after a SIGKILL recognises that index.lock as its own stale
// one and takes it over, while an index.lock of a running git (or one that
// fleetgen did not create) is respected.
const fleetgenLock = "fleetgen.lock"

// lockRecord is what fleetgen.lock holds.
type lockRecord struct {
	PID int `json:"pid"`
	// Index identifies the index.lock this run created (device and inode),
	// so a rerun never removes a lock file git made after the run died.
	IndexDev uint64 `json:"indexDev,omitempty"`
	IndexIno uint64 `json:"indexIno,omitempty"`
	// RefLock is the <ref>.lock the run is updating a ref through, with
	// its device and inode, for the same reason.
	RefLock    string `json:"refLock,omitempty"`
	RefLockDev uint64 `json:"refLockDev,omitempty"`
	RefLockIno uint64 `json:"refLockIno,omitempty"`
}

// Lock is held by a run from before it reads the repository until after it
// has committed: git's index.lock, so that no git command that writes the
// index or commits (commit, add, merge, checkout, stash, rebase) runs in
// between and is then silently reverted, and fleetgen.lock.
type Lock struct {
	repo      *Repo
	rec       lockRecord
	prev      lockRecord // the record a killed run left, if any
	fl        *os.File   // fleetgen.lock, flock-ed
	flPath    string
	index     *os.File // index.lock, still to be renamed over the index
	indexPath string
}

// ErrLocked reports a lock held by another live process.
type ErrLocked struct{ Msg string }

func (e *ErrLocked) Error() string { return e.Msg }

// Lock takes fleetgen.lock and git's index.lock. It fails, without
// changing anything, when another fleetgen or a git command holds them.
// A lock left by a killed fleetgen run is taken over.
func (r *Repo) Lock() (*Lock, error) {
	if r.lock != nil {
		return r.lock, nil
	}
	gd, err := r.gitDir()
	if err != nil {
		return nil, err
	}
	l := &Lock{repo: r, flPath: filepath.Join(gd, fleetgenLock), indexPath: filepath.Join(gd, "index.lock")}
	// 1. fleetgen.lock: flock tells a live holder from a dead one (the
	// kernel drops the lock with the process).
	for {
		f, err := os.OpenFile(l.flPath, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", l.flPath, err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			rec := readLockRecord(f)
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				who := "another fleetgen"
				if rec.PID > 0 {
					who = fmt.Sprintf("another fleetgen (pid %d)", rec.PID)
				}
				return nil, &ErrLocked{fmt.Sprintf("%s is running in %s (it holds %s); wait for it to finish (nothing was written)", who, r.dir, l.flPath)}
			}
			return nil, fmt.Errorf("lock %s: %w", l.flPath, err)
		}
		// The file may have been removed by its holder between our open
		// and our flock: then the lock we hold is on a dead inode.
		a, aerr := f.Stat()
		b, berr := os.Stat(l.flPath)
		if aerr == nil && berr == nil && os.SameFile(a, b) {
			l.fl = f
			break
		}
		f.Close()
	}
	prev := readLockRecord(l.fl)
	l.prev = prev
	// 2. index.lock, exclusive as git takes it.
	for attempt := 0; ; attempt++ {
		f, err := os.OpenFile(l.indexPath, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			l.index = f
			break
		}
		if !errors.Is(err, fs.ErrExist) || attempt > 0 {
			l.releaseFleetgen()
			return nil, fmt.Errorf("lock index: %w", err)
		}
		// A stale index.lock of a killed fleetgen run: fleetgen.lock was
		// free (its holder is dead) and names this very file.
		if st, err := os.Stat(l.indexPath); err == nil && prev.IndexIno != 0 && sameDevIno(st, prev.IndexDev, prev.IndexIno) {
			if err := os.Remove(l.indexPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
				l.releaseFleetgen()
				return nil, fmt.Errorf("remove stale %s: %w", l.indexPath, err)
			}
			continue
		}
		l.releaseFleetgen()
		return nil, &ErrLocked{fmt.Sprintf("%s exists: another git process seems to be running in %s; "+
			"wait for it, or, if no git process is running (it crashed), remove that file and run again (nothing was written)", l.indexPath, r.dir)}
	}
	rec := lockRecord{PID: os.Getpid()}
	if st, err := l.index.Stat(); err == nil {
		rec.IndexDev, rec.IndexIno = devIno(st)
	}
	l.rec = rec
	if err := writeLockRecord(l.fl, rec); err != nil {
		l.Release()
		return nil, err
	}
	r.lock = l
	return l, nil
}

// Release removes index.lock (unless the index was written through it)
// and frees fleetgen.lock. It is safe to call more than once.
func (l *Lock) Release() error {
	if l == nil {
		return nil
	}
	var err error
	if l.index != nil {
		l.index.Close()
		if rerr := os.Remove(l.indexPath); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = rerr
		}
		l.index = nil
	}
	l.releaseFleetgen()
	if l.repo != nil && l.repo.lock == l {
		l.repo.lock = nil
	}
	return err
}

func (l *Lock) releaseFleetgen() {
	if l.fl == nil {
		return
	}
	// Empty it first: a record left behind would name an index.lock that
	// is no longer ours. Removing the file while holding the flock is
	// safe: whoever opened it meanwhile sees it is gone (SameFile above).
	l.fl.Truncate(0)
	os.Remove(l.flPath)
	l.fl.Close()
	l.fl = nil
}

// writeIndex writes the new index into index.lock, syncs it and renames it
// over the index: the index is always either the old or the new one.
func (l *Lock) writeIndex(encode func(f *os.File) error) error {
	if l.index == nil {
		return errors.New("write index: index.lock is not held")
	}
	f := l.index
	if err := encode(f); err != nil {
		return fmt.Errorf("write index: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write index: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write index: %w", err)
	}
	l.index = nil
	if err := os.Rename(l.indexPath, strings.TrimSuffix(l.indexPath, ".lock")); err != nil {
		return fmt.Errorf("write index: %w", err)
	}
	return syncDir(filepath.Dir(l.indexPath))
}

func readLockRecord(f *os.File) lockRecord {
	var rec lockRecord
	b := make([]byte, 512)
	n, _ := f.ReadAt(b, 0)
	json.Unmarshal(b[:n], &rec)
	return rec
}

func writeLockRecord(f *os.File, rec lockRecord) error {
	b, _ := json.Marshal(rec)
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		return err
	}
	return f.Sync()
}

func devIno(fi os.FileInfo) (uint64, uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino)
	}
	return 0, 0
}

func sameDevIno(fi os.FileInfo, dev, ino uint64) bool {
	d, i := devIno(fi)
	return i != 0 && d == dev && i == ino
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// gitDir is the repository's git folder for this worktree (where HEAD,
// the index and their locks are); commonDir holds objects and refs. They
// differ in a linked worktree (`git worktree add`).
func (r *Repo) gitDir() (string, error) {
	gd, _, err := gitDirs(r.dir)
	return gd, err
}

func (r *Repo) commonDir() (string, error) {
	_, cd, err := gitDirs(r.dir)
	return cd, err
}

func gitDirs(worktree string) (gitDir, commonDir string, err error) {
	dot := filepath.Join(worktree, ".git")
	st, err := os.Stat(dot)
	if err != nil {
		return "", "", err
	}
	gitDir = dot
	if !st.IsDir() {
		b, err := os.ReadFile(dot)
		if err != nil {
			return "", "", err
		}
		line := strings.TrimSpace(string(b))
		if !strings.HasPrefix(line, "gitdir:") {
			return "", "", fmt.Errorf("%s: not a gitdir file", dot)
		}
		gitDir = strings.TrimSpace(strings.TrimPrefix(line, "gitdir:"))
		if !filepath.IsAbs(gitDir) {
			gitDir = filepath.Join(worktree, gitDir)
		}
	}
	commonDir = gitDir
	if b, err := os.ReadFile(filepath.Join(gitDir, "commondir")); err == nil {
		commonDir = strings.TrimSpace(string(b))
		if !filepath.IsAbs(commonDir) {
			commonDir = filepath.Join(gitDir, commonDir)
		}
	}
	return gitDir, commonDir, nil
}

// Unlock releases the run's lock, if held.
func (r *Repo) Unlock() error { return r.lock.Release() }

// CrashPoint lets the crash-safety test kill the process at a chosen point
// (FLEETGEN_TEST_CRASH=stage[:n], e.g. write:40): exit at once, without
// cleanup, as a SIGKILL or power cut would leave things.
func CrashPoint(stage string, n int) {
	want := os.Getenv("FLEETGEN_TEST_CRASH")
	if want == "" {
		return
	}
	if want == stage || want == fmt.Sprintf("%s:%d", stage, n) {
		os.Exit(137)
	}
}

// takeRefLock creates path (a <ref>.lock) exclusively. A lock file that a
// killed fleetgen run left there (named, with its inode, in that run's
// record) is taken over; any other is respected.
func (l *Lock) takeRefLock(path string) (*os.File, error) {
	for attempt := 0; ; attempt++ {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			if l != nil && l.fl != nil {
				l.rec.RefLock = path
				if st, err := f.Stat(); err == nil {
					l.rec.RefLockDev, l.rec.RefLockIno = devIno(st)
				}
				if err := writeLockRecord(l.fl, l.rec); err != nil {
					f.Close()
					os.Remove(path)
					return nil, err
				}
			}
			return f, nil
		}
		if !errors.Is(err, fs.ErrExist) || attempt > 0 || l == nil {
			return nil, err
		}
		st, serr := os.Stat(path)
		if serr != nil || l.prev.RefLock != path || !sameDevIno(st, l.prev.RefLockDev, l.prev.RefLockIno) {
			return nil, err
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
}
