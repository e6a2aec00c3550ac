package gitrepo

import (
	"fmt"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// packThreshold is the number of new objects from which a commit stores them
// as one packfile rather than as loose objects (git's transfer.unpackLimit
// uses the same number). A first commit of 20,000 files makes ~25,000
// objects: one pack file instead of 25,000 files under .git/objects, which is
// most of the time a loose-object commit spends (file creation), and ~4 MB on
// disk instead of ~100 MB of 4 KiB blocks.
const packThreshold = 100

// stagingStore keeps a commit's new objects in memory, then stores them all at
// once: as a packfile when there are many, loose otherwise. Reads fall through
// to the repository's storer.
type stagingStore struct {
	storer.EncodedObjectStorer // the repository's objects
	objs                       map[plumbing.Hash]plumbing.EncodedObject
	order                      []plumbing.Hash
}

func newStagingStore(s storer.EncodedObjectStorer) *stagingStore {
	return &stagingStore{EncodedObjectStorer: s, objs: map[plumbing.Hash]plumbing.EncodedObject{}}
}

func (s *stagingStore) NewEncodedObject() plumbing.EncodedObject { return &plumbing.MemoryObject{} }

// SetEncodedObject stages o (a MemoryObject) for flush.
func (s *stagingStore) SetEncodedObject(o plumbing.EncodedObject) (plumbing.Hash, error) {
	h := o.Hash()
	if _, ok := s.objs[h]; !ok {
		s.objs[h] = o
		s.order = append(s.order, h)
	}
	return h, nil
}

func (s *stagingStore) HasEncodedObject(h plumbing.Hash) error {
	if _, ok := s.objs[h]; ok {
		return nil
	}
	return s.EncodedObjectStorer.HasEncodedObject(h)
}

func (s *stagingStore) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	if o, ok := s.objs[h]; ok {
		if t != plumbing.AnyObject && o.Type() != t {
			return nil, plumbing.ErrObjectNotFound
		}
		return o, nil
	}
	return s.EncodedObjectStorer.EncodedObject(t, h)
}

// flush writes the staged objects to the repository's storer.
func (s *stagingStore) flush() error {
	if len(s.order) == 0 {
		return nil
	}
	var dot billy.Filesystem
	switch st := s.EncodedObjectStorer.(type) {
	case *objectStore:
		dot = st.Filesystem()
	case *filesystem.Storage: // a .git file (worktree, submodule): opened by go-git
		dot = st.Filesystem()
	}
	if dot != nil && len(s.order) >= packThreshold {
		objs := make([]plumbing.EncodedObject, len(s.order))
		for i, h := range s.order {
			objs[i] = s.objs[h]
		}
		name, err := writePack(dot, objs)
		if err != nil {
			return fmt.Errorf("write packfile: %w", err)
		}
		switch st := s.EncodedObjectStorer.(type) {
		case *objectStore:
			st.wrotePack(name, objs)
		case *filesystem.Storage:
			st.Reindex()
		}
	} else {
		for _, h := range s.order {
			if _, err := s.EncodedObjectStorer.SetEncodedObject(s.objs[h]); err != nil {
				return fmt.Errorf("store object %s: %w", h, err)
			}
		}
	}
	s.objs, s.order = map[plumbing.Hash]plumbing.EncodedObject{}, nil
	return nil
}
