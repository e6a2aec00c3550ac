package oci

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"
	"sync"
	"testing/fstest"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/fleetgen/fleetgen/generator/check"
	"github.com/fleetgen/fleetgen/generator/gitrepo"
	"github.com/fleetgen/fleetgen/generator/spec"
	"github.com/fleetgen/fleetgen/generator/tree"
)

// Source is a commit of a fleet repository, ready to publish. Its units'
// files carry their blob ids only; Load reads the contents of a unit that
// has to be built.
type Source struct {
	Commit string // full hash
	Branch string // HEAD's branch, "" when detached
	Spec   *spec.Loaded
	Units  []Unit
	// RingCommits: with spec.rings, each ring's branch head, whose tree
	// its clusters' artifacts are built from (instead of HEAD's).
	RingCommits map[string]string
	// NotInRing lists the clusters left out because their ring's
	// revision does not have their folder yet (promote the ring).
	NotInRing []string

	// RegionKeys: each region's RegionKey at this commit.
	RegionKeys map[string]string
	// Skipped is the number of regions whose files were not listed: the
	// record said every artifact of theirs was published with the same
	// region key (their units carry the recorded content keys and no
	// files until a build needs them).
	Skipped int

	repo   *gitrepo.Repo
	commit plumbing.Hash
	// gitMu serializes reads of repo once builds run: go-git's packfile
	// reader is not safe for concurrent use (concurrent reads of a
	// region's tree, listed lazily, and of blobs panicked or failed with
	// "zlib: invalid checksum"). Taken after mu, never before it.
	gitMu   sync.Mutex
	mu      sync.Mutex
	blobs   map[string][]byte
	checked map[string]func() error
	lazy    map[string]func() ([]Unit, error) // region -> its units with files
	// builder compresses the files a region's artifacts share once.
	builder *Builder
}

// regionPaths are the folders whose trees make a region's key.
func regionPaths(region string) []string {
	return []string{"apps/base", "apps/regions/" + region, "clusters/" + region, "infrastructure/base", "infrastructure/regions/" + region}
}

// regionKey says what the artifacts of a region are made of, cheaply:
// the tree ids of its folders (and the bases), the fleet, the source URL,
// the unit and the region's clusters. Equal keys, equal artifacts.
func regionKey(l *spec.Loaded, region string, ids map[string]plumbing.Hash) string {
	h := sha256.New()
	fmt.Fprintf(h, "fleet %s\nsource %s\nunit %s\n", l.Metadata.Name, l.Spec.Git.URL, l.Spec.Delivery.Unit)
	for _, p := range regionPaths(region) {
		fmt.Fprintf(h, "tree %s %s\n", p, ids[p])
	}
	for _, c := range l.RegionClusters(region) {
		fmt.Fprintf(h, "cluster %s\n", c.Name)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Settle records in rep.Record the key of every region all of whose
// artifacts are in rep as pushed or unchanged (and drops the others').
func (s *Source) Settle(rep *Report) {
	if rep == nil || rep.Record == nil {
		return
	}
	ok := map[string]bool{}
	for _, o := range rep.Outcomes {
		if o.Action == Pushed || o.Action == Unchanged {
			ok[o.Tag] = true
		}
	}
	if rep.Record.Regions == nil {
		rep.Record.Regions = map[string]string{}
	}
	all := map[string]bool{}
	for _, u := range s.Units {
		if _, seen := all[u.Region]; !seen {
			all[u.Region] = true
		}
		all[u.Region] = all[u.Region] && ok[u.Tag]
	}
	for r, done := range all {
		if done && s.RegionKeys[r] != "" {
			rep.Record.Regions[r] = s.RegionKeys[r]
		} else {
			delete(rep.Record.Regions, r)
		}
	}
}

// withFiles returns u with its file list, listing its region's files
// now if they were skipped.
func (s *Source) withFiles(u Unit) (Unit, error) {
	if u.Files != nil {
		return u, nil
	}
	s.mu.Lock()
	load := s.lazy[u.Region]
	s.mu.Unlock()
	if load == nil {
		return u, nil
	}
	units, err := load()
	if err != nil {
		return u, err
	}
	for _, x := range units {
		if x.Tag == u.Tag {
			return x, nil
		}
	}
	return u, fmt.Errorf("artifact %s: not in the committed tree", u.Tag)
}

// Load returns u with every file's content read from the commit (each
// blob once, shared between units).
func (s *Source) Load(u Unit) (Unit, error) {
	u, err := s.withFiles(u)
	if err != nil {
		return u, err
	}
	files := make([]File, len(u.Files))
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range u.Files {
		if f.Content == nil {
			b, ok := s.blobs[f.Hash]
			if !ok {
				var err error
				s.gitMu.Lock()
				b, err = s.repo.ReadBlob(plumbing.NewHash(f.Hash))
				s.gitMu.Unlock()
				if err != nil {
					return u, fmt.Errorf("%s: %w", f.Path, err)
				}
				s.blobs[f.Hash] = b
			}
			f.Content = b
		}
		files[i] = f
	}
	u.Files = files
	return u, nil
}

// Build checks u's region (CheckRegion), loads and builds u.
func (s *Source) Build(u Unit) (*Artifact, error) {
	if err := s.CheckRegion(u.Region); err != nil {
		return nil, err
	}
	return s.BuildUnchecked(u)
}

// BuildUnchecked loads and builds u without checking its region: publish
// builds while the check runs, and pushes after it passed
// (PublishOptions.Check: s.Check).
func (s *Source) BuildUnchecked(u Unit) (*Artifact, error) {
	u, err := s.Load(u)
	if err != nil {
		return nil, err
	}
	return s.builder.Build(u, s.Spec.Metadata.Name, s.Spec.Spec.Git.URL)
}

// Check is CheckRegion of u's region.
func (s *Source) Check(u Unit) error { return s.CheckRegion(u.Region) }

// ErrNotOCI: the committed fleet.yaml does not ask for OCI delivery.
var ErrNotOCI = errors.New("spec.delivery.mode is not oci in the committed fleet.yaml: the clusters sync git, there is nothing to publish (set spec.delivery.mode: oci and spec.delivery.repository, regenerate, commit)")

// FromCommit reads the repository at dir as committed at HEAD (never the
// worktree: what is published is what git holds): its fleet.yaml (and
// inventory), and the files every artifact is made of.
func FromCommit(dir string) (*Source, error) {
	return FromCommitKnown(dir, nil)
}

// FromCommitKnown is FromCommit with what an earlier publish recorded:
// known, given the committed spec, returns the record (nil: none). A
// region whose key (RegionKey: tree ids of its folders...) equals the
// recorded one, and all of whose tags the record holds, is not listed:
// its units carry the recorded content keys and list their files only if
// a build needs them.
func FromCommitKnown(dir string, known func(*spec.Loaded) *Record) (*Source, error) {
	repo, err := gitrepo.Open(dir)
	if err != nil {
		return nil, err
	}
	fsys := &headFS{repo: repo, files: map[string][]byte{}}
	if _, err := fsys.read("fleet.yaml"); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: HEAD has no fleet.yaml: not a fleet repository made by fleetgen generate (or nothing committed yet)", dir)
	} else if err != nil {
		return nil, err
	}
	// The inventory, if any, is read as committed too, when Load asks
	// for it (a wrong name is reported by Load).
	l, err := spec.Load(fsys, "fleet.yaml")
	if err != nil {
		return nil, fmt.Errorf("the committed fleet.yaml: %w", err)
	}
	if !l.Spec.OCI() {
		return nil, ErrNotOCI
	}
	commit, ok, err := repo.HeadCommit()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s: no commit yet", dir)
	}
	src := &Source{Commit: commit.String(), Spec: l, repo: repo, commit: commit, blobs: map[string][]byte{},
		checked: map[string]func() error{}, lazy: map[string]func() ([]Unit, error){}, RegionKeys: map[string]string{},
		builder: NewBuilder()}
	var rec *Record
	if known != nil {
		rec = known(l)
	}
	if l.Spec.HasRings() {
		// Ring clusters are built from their ring's branch head, not from
		// this commit: region keys (this commit's trees) do not describe
		// them, so every region is listed and none is recorded as settled.
		units, err := src.listUnits(RepoPrefixes(), func(string) bool { return true })
		if err != nil {
			return nil, err
		}
		src.Units = units
		if err := src.ringUnits(); err != nil {
			return nil, err
		}
	} else if err := src.listChanged(rec); err != nil {
		return nil, err
	}
	if ref, err := repo.Git().Head(); err == nil && ref.Name().IsBranch() {
		src.Branch = ref.Name().Short()
	}
	for _, u := range src.Units {
		if u.Files == nil {
			continue
		}
		if len(u.Files) == 0 || !hasClusterFolders(u) {
			return nil, fmt.Errorf("artifact %s: the committed tree has no clusters/%s folder for it: run fleetgen regen (or generate) and commit before publishing", u.Tag, u.Region)
		}
	}
	return src, nil
}

// headFS serves the files of HEAD's tree to spec.Load, each read when
// first asked for: fleet.yaml, then its inventory if it names one (the
// spec is parsed once).
type headFS struct {
	repo  *gitrepo.Repo
	files map[string][]byte
}

func (h *headFS) read(name string) ([]byte, error) {
	if b, ok := h.files[name]; ok {
		return b, nil
	}
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	b, ok, err := h.repo.ReadHead(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	h.files[name] = b
	return b, nil
}

func (h *headFS) Open(name string) (fs.File, error) {
	b, err := h.read(name)
	if err != nil {
		return nil, err
	}
	return fstest.MapFS{name: {Data: b}}.Open(name)
}

// ringUnits replaces each cluster's unit with the one built from its
// ring's branch head: what the ring was promoted to is what its clusters
// get, with the same tags. Ring membership is HEAD's fleet.yaml's. A
// cluster whose folder the ring's revision lacks (added after it) is left
// out until the ring is promoted.
func (s *Source) ringUnits() error {
	l := s.Spec
	s.RingCommits = map[string]string{}
	byRing := map[string]map[string]Unit{}
	for _, ring := range l.Spec.RingNames() {
		h, ok, err := s.repo.BranchHash(spec.RingBranch(ring))
		if err != nil {
			return err
		}
		if !ok {
			// A clone or a CI checkout: the ring is the remote's branch
			// (origin/fleet/ring/<ring>), as promoted and pushed.
			if _, h, ok, err = s.repo.RemoteTracking(spec.RingBranch(ring), l.Spec.Git.Branch); err != nil {
				return err
			}
		}
		if !ok {
			return fmt.Errorf("ring %s has no branch %s here, nor a remote-tracking copy of it (origin/%s): fetch the ring branches (git fetch origin '+refs/heads/fleet/ring/*:refs/remotes/origin/fleet/ring/*'), or create them with fleetgen regen where the fleet was generated, then promote", ring, spec.RingBranch(ring), spec.RingBranch(ring))
		}
		committed, err := s.repo.ListCommitTree(h, RepoPrefixes())
		if err != nil {
			return err
		}
		files := make([]File, len(committed))
		for i, f := range committed {
			files[i] = File{Path: f.Path, Executable: f.Executable, Hash: f.Hash.String()}
		}
		s.RingCommits[ring] = h.String()
		m := map[string]Unit{}
		for _, u := range Units(l, files) {
			m[u.Tag] = u
		}
		byRing[ring] = m
	}
	var units []Unit
	for _, u := range s.Units {
		r, _ := l.Region(u.Region)
		ring := l.Spec.ClusterRing(r, u.Clusters[0])
		ru, ok := byRing[ring][u.Tag]
		if !ok || len(ru.Files) == 0 || !hasClusterFolders(ru) {
			s.NotInRing = append(s.NotInRing, u.Tag)
			continue
		}
		units = append(units, ru)
	}
	s.Units = units
	return nil
}

// listUnits lists the commit's files under prefixes and makes the units
// of the regions for which want is true.
func (s *Source) listUnits(prefixes []string, want func(string) bool) ([]Unit, error) {
	s.gitMu.Lock()
	committed, err := s.repo.ListCommitTree(s.commit, prefixes)
	s.gitMu.Unlock()
	if err != nil {
		return nil, err
	}
	files := make([]File, len(committed))
	for i, f := range committed {
		files[i] = File{Path: f.Path, Executable: f.Executable, Hash: f.Hash.String()}
	}
	return unitsFor(s.Spec, files, want), nil
}

// recordHasRegion: the record holds every tag of the region.
func recordHasRegion(rec *Record, l *spec.Loaded, region string) bool {
	tags := []string{region}
	if l.Spec.Delivery.Unit != "region" {
		tags = tags[:0]
		for _, c := range l.RegionClusters(region) {
			tags = append(tags, c.Name)
		}
	}
	for _, t := range tags {
		if e, ok := rec.Tags[t]; !ok || e.Key == "" || e.Digest == "" {
			return false
		}
	}
	return len(tags) > 0
}

// listChanged lists the regions whose trees changed since rec, and leaves the others' units unlisted (lazy).
func (src *Source) listChanged(rec *Record) error {
	l := src.Spec
	var paths []string
	for _, r := range l.Spec.Regions {
		paths = append(paths, regionPaths(r.Name)...)
	}
	ids, err := src.repo.CommitTreeIDs(src.commit, paths)
	if err != nil {
		return err
	}
	skip := map[string]bool{}
	var listed []string
	for _, r := range l.Spec.Regions {
		key := regionKey(l, r.Name, ids)
		src.RegionKeys[r.Name] = key
		if rec != nil && rec.Regions[r.Name] == key && recordHasRegion(rec, l, r.Name) {
			skip[r.Name] = true
			continue
		}
		listed = append(listed, regionPaths(r.Name)[1:3]...)
		listed = append(listed, regionPaths(r.Name)[4])
	}
	if len(listed) > 0 {
		units, err := src.listUnits(append([]string{"apps/base", "infrastructure/base"}, listed...), func(r string) bool { return !skip[r] })
		if err != nil {
			return err
		}
		src.Units = units
	}
	for _, r := range l.Spec.Regions {
		if !skip[r.Name] {
			continue
		}
		src.Skipped++
		for _, u := range regionUnits(l, r.Name) {
			u.Key = rec.Tags[u.Tag].Key
			src.Units = append(src.Units, u)
		}
		region := r.Name
		src.lazy[region] = sync.OnceValues(func() ([]Unit, error) {
			return src.listUnits(regionPaths(region), func(x string) bool { return x == region })
		})
	}
	sortUnits(src.Units)
	return nil
}

func hasClusterFolders(u Unit) bool {
	for _, c := range u.Clusters {
		found := false
		for _, f := range u.Files {
			if strings.HasPrefix(f.Path, "clusters/"+u.Region+"/"+c+"/") {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// CheckRegion builds the artifact of the region's first cluster on its
// own (krusty, Flux references), as the cluster will: a kustomization that
// reaches outside what the artifact holds (a hand-made ../../components,
// say) fails here, not on the sites. The other clusters' folders come from
// the same generator with other names; `fleetgen validate` checks them all
// in the repository. Each region is checked once, when the first of its
// artifacts is built: a region none of whose artifacts changed costs
// nothing.
func (s *Source) CheckRegion(region string) error {
	s.mu.Lock()
	once, ok := s.checked[region]
	if !ok {
		once = sync.OnceValue(func() error { return s.checkRegion(region) })
		s.checked[region] = once
	}
	s.mu.Unlock()
	return once()
}

func (s *Source) checkRegion(region string) error {
	var u Unit
	units := s.Units
	s.mu.Lock()
	load := s.lazy[region]
	s.mu.Unlock()
	if load != nil {
		var err error
		if units, err = load(); err != nil {
			return err
		}
	}
	for _, x := range units {
		if x.Region == region {
			u = x
			break
		}
	}
	if len(u.Clusters) == 0 {
		return fmt.Errorf("region %s has no artifact", region)
	}
	u, err := s.Load(u)
	if err != nil {
		return err
	}
	first := "clusters/" + u.Region + "/" + u.Clusters[0] + "/"
	t := &tree.Tree{}
	for _, f := range u.Files {
		if strings.HasPrefix(f.Path, "clusters/") && !strings.HasPrefix(f.Path, first) {
			continue
		}
		mode := uint32(tree.ModeFile)
		if f.Executable {
			mode = tree.ModeScript
		}
		t.Files = append(t.Files, tree.File{Path: f.Path, Content: f.Content, Owner: tree.Generated, Mode: mode})
	}
	// The region's overlays and the cluster's folder are built on their
	// own; the bases only as what those (and the Flux Kustomizations'
	// paths) include: building them alone too would repeat, in every
	// region, what the overlays' builds already did (as a one-region
	// regeneration checks: generator.Result.Check).
	rep, err := check.Tree(t, check.Options{Workers: 1, Only: []string{"apps/regions/" + region, "infrastructure/regions/" + region, "clusters/" + region}})
	if err != nil {
		return fmt.Errorf("artifact %s: %w", u.Tag, err)
	}
	var msgs []string
	for _, f := range rep.Errors {
		msgs = append(msgs, "artifact "+u.Tag+": "+f.String())
	}
	if len(msgs) > 0 {
		return fmt.Errorf("the artifacts of region %s would not build on their clusters (none of them is pushed):\n  %s", region, strings.Join(msgs, "\n  "))
	}
	return nil
}

// BuildAll builds every unit's artifact, on every core.
func BuildAll(src *Source) ([]*Artifact, error) {
	arts := make([]*Artifact, len(src.Units))
	errs := make([]error, len(src.Units))
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				arts[i], errs[i] = src.Build(src.Units[i])
			}
		}()
	}
	for i := range src.Units {
		next <- i
	}
	close(next)
	wg.Wait()
	return arts, errors.Join(errs...)
}
