package fsutil

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/fleetgen/fleetgen/generator/tree"
)

// Writer writes many files below one root with the same guarantees as
// WriteFileAtomic, but resolves the root once and checks and creates each
// folder once: at 25,000 files the per-file symlink walk and MkdirAll were
// most of the system calls of a run.
type Writer struct {
	root     string
	realRoot string
	dirs     map[string]bool // folders (slash paths relative to root) checked or made
	made     map[string]bool // folders this Writer created: they held nothing before
	umask    os.FileMode
}

// NewWriter prepares writes below root (created if missing).
func NewWriter(root string) (*Writer, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, err
	}
	return &Writer{root: root, realRoot: real, dirs: map[string]bool{"": true}, made: map[string]bool{}, umask: processUmask()}, nil
}

var (
	umaskOnce sync.Once
	umaskVal  os.FileMode
)

// processUmask reads the umask once (reading it means setting it).
func processUmask() os.FileMode {
	umaskOnce.Do(func() {
		old := syscall.Umask(0)
		syscall.Umask(old)
		umaskVal = os.FileMode(old)
	})
	return umaskVal
}

// dir makes sure folder rel (slash path) exists inside the root and is not
// a symlink leading out, checking each folder once per Writer.
func (w *Writer) dir(rel string) error {
	if w.dirs[rel] {
		return nil
	}
	if err := w.dir(parentOf(rel)); err != nil {
		return err
	}
	full := filepath.Join(w.realRoot, filepath.FromSlash(rel))
	st, err := os.Lstat(full)
	switch {
	case os.IsNotExist(err):
		if err := os.Mkdir(full, 0o755); err != nil && !os.IsExist(err) {
			return err
		} else if err == nil {
			w.made[rel] = true
		}
	case err != nil:
		return err
	case st.Mode()&os.ModeSymlink != 0:
		target, err := filepath.EvalSymlinks(full)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if target != w.realRoot && !strings.HasPrefix(target, w.realRoot+string(filepath.Separator)) {
			return fmt.Errorf("%s: a symlink leads outside %s", rel, w.root)
		}
		if st, err := os.Stat(full); err != nil || !st.IsDir() {
			return fmt.Errorf("%s: not a folder", rel)
		}
	case !st.IsDir():
		return fmt.Errorf("%s: is a file, not a folder", rel)
	}
	w.dirs[rel] = true
	return nil
}

func parentOf(rel string) string {
	p := path.Dir(rel)
	if p == "." {
		return ""
	}
	return p
}

// MakeParent makes (and checks) the folder of rel. After it, writes of
// files in that folder only read the Writer's state, so they may run in
// parallel.
func (w *Writer) MakeParent(rel string) error {
	if err := tree.CheckPath(rel); err != nil {
		return err
	}
	return w.dir(parentOf(rel))
}

// Write replaces root/rel with data in one rename.
func (w *Writer) Write(rel string, data []byte, mode os.FileMode) error {
	return w.write(rel, data, mode, true)
}

// Create writes a file that does not exist yet straight under its name:
// no temporary file and rename, which on a busy ext4 halves the cost of
// creating tens of thousands of files. A killed run can leave it partly
// written; the caller's journal must say so (fleetgen's does: a rerun
// rewrites such a file).
func (w *Writer) Create(rel string, data []byte, mode os.FileMode) error {
	return w.write(rel, data, mode, false)
}

func (w *Writer) write(rel string, data []byte, mode os.FileMode, atomic bool) error {
	if err := tree.CheckPath(rel); err != nil {
		return err
	}
	if err := w.dir(parentOf(rel)); err != nil {
		return err
	}
	full := filepath.Join(w.realRoot, filepath.FromSlash(rel))
	if !w.made[parentOf(rel)] { // a folder made by this Writer holds only what it wrote
		if st, err := os.Lstat(full); err == nil && (st.IsDir() || st.Mode()&os.ModeSymlink != 0) {
			return fmt.Errorf("%s: is a folder or a symlink, not a file", rel)
		}
	}
	tmp := full
	if atomic {
		tmp = filepath.Join(filepath.Dir(full), ".fleetgen-"+path.Base(rel)+".tmp")
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, mode)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	if werr == nil && mode&w.umask != 0 {
		werr = f.Chmod(mode) // the umask took bits the file must have
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		if atomic {
			os.Remove(tmp)
		}
		return werr
	}
	if !atomic {
		return nil
	}
	return os.Rename(tmp, full)
}

// Remove deletes root/rel and every parent folder left empty (not root).
func (w *Writer) Remove(rel string) error {
	if err := tree.CheckPath(rel); err != nil {
		return err
	}
	if err := w.dir(parentOf(rel)); err != nil {
		return err
	}
	full := filepath.Join(w.realRoot, filepath.FromSlash(rel))
	if err := os.Remove(full); err != nil && !os.IsNotExist(err) {
		return err
	}
	for d := parentOf(rel); d != ""; d = parentOf(d) {
		if err := os.Remove(filepath.Join(w.realRoot, filepath.FromSlash(d))); err != nil {
			break
		}
		delete(w.dirs, d)
	}
	return nil
}
