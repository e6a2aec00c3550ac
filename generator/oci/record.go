package oci

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Record is what publish last left in a repository's tags: for each tag,
// the manifest digest and the content key. It lets an unchanged artifact
// cost no request at all. It lives in the repository's git directory
// (RecordPath), is never committed, and is only a hint: a tag missing from
// the registry's tag list is pushed again, a tag whose digest is not the
// recorded one is read and checked as without a record, and --verify
// checks every tag.
type Record struct {
	Repository string                 `json:"repository"`
	Tags       map[string]RecordEntry `json:"tags"`
	// Regions maps a region to its RegionKey when every artifact of the
	// region was published (pushed or found unchanged) from the commit
	// with that key: the next publish then does not even list the
	// region's files while its key stays (Source.Settle).
	Regions map[string]string `json:"regions,omitempty"`
}

// RecordEntry is one tag of a Record.
type RecordEntry struct {
	Digest string `json:"digest"`
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	// SignedBy is the sign.Signer KeyID that publish found or made a
	// valid signature of Digest with (empty: not known).
	SignedBy string `json:"signedBy,omitempty"`
}

// NewRecord is an empty record for repo.
func NewRecord(repo name.Repository) *Record {
	return &Record{Repository: repo.String(), Tags: map[string]RecordEntry{}}
}

func (r *Record) clone() *Record {
	return &Record{Repository: r.Repository, Tags: maps.Clone(r.Tags), Regions: maps.Clone(r.Regions)}
}

// RecordPath is where the record of publishes from the repository at dir
// to repo is kept: .git/fleetgen/publish/<repository, slashes and colons
// as _>.json. "" when dir has no .git directory.
func RecordPath(dir string, repo name.Repository) string {
	gitDir := filepath.Join(dir, ".git")
	if st, err := os.Stat(gitDir); err != nil || !st.IsDir() {
		return ""
	}
	file := strings.NewReplacer("/", "_", ":", "_").Replace(repo.String()) + ".json"
	return filepath.Join(gitDir, "fleetgen", "publish", file)
}

// LoadRecord reads the record at path for repo. A missing, unreadable or
// foreign file is no record (nil): publish then asks the registry.
func LoadRecord(path string, repo name.Repository) *Record {
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	r, err := unmarshalRecord(b)
	if err != nil || r.Repository != repo.String() || r.Tags == nil {
		return nil
	}
	return r
}

// Save writes r at path atomically (a temporary file renamed over it).
func (r *Record) Save(path string) error {
	if path == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := marshalRecord(r)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".publish-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("publish record: %w", err)
	}
	return nil
}
