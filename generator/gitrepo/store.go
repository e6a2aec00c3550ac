package gitrepo

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// objectStore is go-git's filesystem storage, changed in two ways for a
// process that writes its own packs and reads them back at once:
//
//   - Objects this process stored are served from memory. go-git's storage
//     finds packed objects through the .idx of every pack, which it decodes
//     again after each Reindex; a regen that wrote two packs had it decode
//     every .idx of the repository six times (12,000 read(2) calls, a fifth
//     of the run). Here the packs written in this process need no Reindex.
//   - Reindex happens only when the set of packs on disk changed under us
//     (git gc, fetch): see refresh.
//
// Objects go-git finds on its own (loose, or in packs it indexed) are served
// as before.
type objectStore struct {
	*filesystem.Storage
	mu      sync.RWMutex
	written map[plumbing.Hash]plumbing.EncodedObject
	// packs is the set of pack files go-git's index is known to match, plus
	// the ones written here (whose objects are in written).
	packs map[string]bool
}

func newObjectStore(dotGit string) *objectStore {
	// Keep pack files open: go-git otherwise opens the pack again for
	// every object it reads (a third of a one-region regen).
	fs := idxInMemoryFS{osfs.New(dotGit)}
	s := &objectStore{
		Storage: filesystem.NewStorageWithOptions(fs, cache.NewObjectLRUDefault(), filesystem.Options{KeepDescriptors: true}),
		written: map[plumbing.Hash]plumbing.EncodedObject{},
	}
	s.packs = s.listPacks()
	return s
}

// listPacks returns the names of the .pack files under objects/pack.
func (s *objectStore) listPacks() map[string]bool {
	names := map[string]bool{}
	infos, err := s.Filesystem().ReadDir("objects/pack")
	if err != nil {
		return names
	}
	for _, fi := range infos {
		if strings.HasSuffix(fi.Name(), ".pack") {
			names[fi.Name()] = true
		}
	}
	return names
}

// refresh makes go-git re-read its list of packs if git replaced packs since
// it last read it; packs this process wrote do not count.
func (s *objectStore) refresh() {
	now := s.listPacks()
	if samePacks(now, s.packs) {
		return
	}
	s.Reindex()
	s.packs = now
}

func samePacks(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// wrotePack records objs, just stored in pack file name, as readable from
// memory, in place of a Reindex.
func (s *objectStore) wrotePack(name string, objs []plumbing.EncodedObject) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range objs {
		s.written[o.Hash()] = o
	}
	s.packs[name] = true
}

func (s *objectStore) recent(h plumbing.Hash) (plumbing.EncodedObject, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o, ok := s.written[h]
	return o, ok
}

func (s *objectStore) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	if o, ok := s.recent(h); ok {
		if t != plumbing.AnyObject && o.Type() != t {
			return nil, plumbing.ErrObjectNotFound
		}
		return o, nil
	}
	return s.Storage.EncodedObject(t, h)
}

func (s *objectStore) HasEncodedObject(h plumbing.Hash) error {
	if _, ok := s.recent(h); ok {
		return nil
	}
	return s.Storage.HasEncodedObject(h)
}

func (s *objectStore) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	if o, ok := s.recent(h); ok {
		return o.Size(), nil
	}
	return s.Storage.EncodedObjectSize(h)
}

// idxInMemoryFS reads pack index files (.idx) whole, in one read: go-git's
// idx decoder reads a 25,000-object index in ~1,000 small reads straight from
// the file. Index files never change once written (their name is the pack's
// checksum), so a snapshot of the bytes is the file.
type idxInMemoryFS struct{ billy.Filesystem }

func (f idxInMemoryFS) Open(name string) (billy.File, error) {
	if !strings.HasSuffix(name, ".idx") {
		return f.Filesystem.Open(name)
	}
	file, err := os.Open(f.Filesystem.Join(f.Root(), name))
	if err != nil {
		return nil, err
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return nil, err
	}
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(file, data); err != nil {
		return nil, err
	}
	return &memFile{name: name, info: fi, Reader: bytes.NewReader(data)}, nil
}

// Capabilities and Chmod pass through what the wrapped osfs can do (go-git
// asks for both by type assertion).
func (f idxInMemoryFS) Capabilities() billy.Capability { return billy.Capabilities(f.Filesystem) }

func (f idxInMemoryFS) Chmod(name string, mode os.FileMode) error {
	if c, ok := f.Filesystem.(billy.Chmod); ok {
		return c.Chmod(name, mode)
	}
	return os.Chmod(filepath.Join(f.Root(), name), mode)
}

// memFile is a read-only billy.File over bytes.
type memFile struct {
	name string
	info os.FileInfo // go-git's idx decoder checks the size it gives
	*bytes.Reader
}

func (m *memFile) Name() string               { return m.name }
func (m *memFile) Write([]byte) (int, error)  { return 0, os.ErrPermission }
func (m *memFile) Close() error               { return nil }
func (m *memFile) Lock() error                { return nil }
func (m *memFile) Unlock() error              { return nil }
func (m *memFile) Truncate(int64) error       { return os.ErrPermission }
func (m *memFile) Stat() (os.FileInfo, error) { return m.info, nil }

// Config is go-git's, less extensions.worktreeConfig, which go-git refuses
// as unknown although it only adds a per-worktree config file (made by
// `git sparse-checkout`): CheckCompat reads that file itself, and refuses
// the extensions fleetgen cannot follow.
func (s *objectStore) Config() (*config.Config, error) {
	cfg, err := s.Storage.Config()
	if err != nil || cfg.Raw == nil || !cfg.Raw.HasSection("extensions") {
		return cfg, err
	}
	ext := cfg.Raw.Section("extensions")
	for _, o := range ext.Options {
		if strings.EqualFold(o.Key, "worktreeConfig") {
			ext.RemoveOption(o.Key)
			break
		}
	}
	if len(ext.Options) == 0 {
		cfg.Raw.RemoveSection("extensions")
	}
	return cfg, nil
}
