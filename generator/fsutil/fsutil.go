// Package fsutil writes files the way fleetgen must: inside the target
// directory only (no "..", no absolute path, no symlink leading out), and
// atomically (temporary file, fsync, rename), so a killed run never leaves
// a half-written file.
package fsutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fleetgen/fleetgen/generator/tree"
)

// Join returns root/rel after checking that rel stays inside root, also
// through symlinks already on disk.
func Join(root, rel string) (string, error) {
	if err := tree.CheckPath(rel); err != nil {
		return "", err
	}
	full := filepath.Join(root, filepath.FromSlash(rel))
	// Walk the existing parents: a symlink among them must not lead out.
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	realRoot, err := filepath.EvalSymlinks(absRoot)
	if err != nil {
		if os.IsNotExist(err) {
			return full, nil // nothing exists yet, so nothing can point out
		}
		return "", err
	}
	cur := realRoot
	for _, seg := range strings.Split(rel, "/") {
		next := filepath.Join(cur, seg)
		st, err := os.Lstat(next)
		if err != nil {
			break // the rest does not exist yet
		}
		if st.Mode()&os.ModeSymlink != 0 {
			target, err := filepath.EvalSymlinks(next)
			if err != nil {
				return "", fmt.Errorf("%s: %w", rel, err)
			}
			if target != realRoot && !strings.HasPrefix(target, realRoot+string(filepath.Separator)) {
				return "", fmt.Errorf("%s: a symlink leads outside %s", rel, root)
			}
			next = target
		}
		cur = next
	}
	return full, nil
}

// WriteFileAtomic writes data to root/rel with mode, creating parent
// folders (0755). The file is replaced in one rename, so a killed process
// leaves either the old or the new file. It does not fsync each file (tens
// of thousands of fsyncs would dominate a run): call Sync once after a
// batch, before committing.
func WriteFileAtomic(root, rel string, data []byte, mode os.FileMode) error {
	full, err := Join(root, rel)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return err
	}
	if st, err := os.Lstat(full); err == nil && st.IsDir() {
		return fmt.Errorf("%s: is a directory", rel)
	}
	tmp, err := os.CreateTemp(filepath.Dir(full), ".fleetgen-*.tmp")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer os.Remove(name) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(name, full)
}

// Remove deletes root/rel and then every parent folder left empty, up to
// (not including) root.
func Remove(root, rel string) error {
	full, err := Join(root, rel)
	if err != nil {
		return err
	}
	if err := os.Remove(full); err != nil && !os.IsNotExist(err) {
		return err
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(filepath.Dir(full))
	if err != nil {
		return err
	}
	for dir != absRoot && strings.HasPrefix(dir, absRoot+string(filepath.Separator)) {
		if err := os.Remove(dir); err != nil {
			break // not empty (or gone): stop
		}
		dir = filepath.Dir(dir)
	}
	return nil
}

// Sync flushes the filesystem holding root to stable storage (syncfs), so
// that a batch of writes survives a power cut before it is committed.
func Sync(root string) error {
	f, err := os.Open(root)
	if err != nil {
		return err
	}
	defer f.Close()
	return syncfs(f)
}
