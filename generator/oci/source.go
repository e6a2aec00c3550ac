package oci

import (
	"errors"
	"fmt"
	"path"
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

	repo    *gitrepo.Repo
	mu      sync.Mutex
	blobs   map[string][]byte
	checked map[string]func() error
}

// Load returns u with every file's content read from the commit (each
// blob once, shared between units).
func (s *Source) Load(u Unit) (Unit, error) {
	files := make([]File, len(u.Files))
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range u.Files {
		if f.Content == nil {
			b, ok := s.blobs[f.Hash]
			if !ok {
				var err error
				if b, err = s.repo.ReadBlob(plumbing.NewHash(f.Hash)); err != nil {
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
	u, err := s.Load(u)
	if err != nil {
		return nil, err
	}
	return Build(u, s.Spec.Metadata.Name, s.Spec.Spec.Git.URL)
}

// ErrNotOCI: the committed fleet.yaml does not ask for OCI delivery.
var ErrNotOCI = errors.New("spec.delivery.mode is not oci in the committed fleet.yaml: the clusters sync git, there is nothing to publish (set spec.delivery.mode: oci and spec.delivery.repository, regenerate, commit)")

// FromCommit reads the repository at dir as committed at HEAD (never the
// worktree: what is published is what git holds): its fleet.yaml (and
// inventory), and the files every artifact is made of.
func FromCommit(dir string) (*Source, error) {
	repo, err := gitrepo.Open(dir)
	if err != nil {
		return nil, err
	}
	spec0, ok, err := repo.ReadHead("fleet.yaml")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s: HEAD has no fleet.yaml: not a fleet repository made by fleetgen generate (or nothing committed yet)", dir)
	}
	fsys := fstest.MapFS{"fleet.yaml": {Data: spec0}}
	// The inventory, if any, as committed too (Load reads it beside
	// fleet.yaml; a wrong name is reported by Load).
	if pre, err := spec.Parse(spec0, "fleet.yaml (HEAD)"); err == nil && pre.Spec.Inventory != "" {
		if b, ok, err := repo.ReadHead(path.Clean(pre.Spec.Inventory)); err == nil && ok {
			fsys[path.Clean(pre.Spec.Inventory)] = &fstest.MapFile{Data: b}
		}
	}
	l, err := spec.Load(fsys, "fleet.yaml")
	if err != nil {
		return nil, fmt.Errorf("the committed fleet.yaml: %w", err)
	}
	if !l.Spec.OCI() {
		return nil, ErrNotOCI
	}
	commit, committed, ok, err := repo.ListHeadTree(RepoPrefixes())
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s: no commit yet", dir)
	}
	files := make([]File, len(committed))
	for i, f := range committed {
		files[i] = File{Path: f.Path, Executable: f.Executable, Hash: f.Hash.String()}
	}
	src := &Source{Commit: commit.String(), Spec: l, Units: Units(l, files), repo: repo, blobs: map[string][]byte{}, checked: map[string]func() error{}}
	if l.Spec.HasRings() {
		if err := src.ringUnits(); err != nil {
			return nil, err
		}
	}
	if ref, err := repo.Git().Head(); err == nil && ref.Name().IsBranch() {
		src.Branch = ref.Name().Short()
	}
	for _, u := range src.Units {
		if len(u.Files) == 0 || !hasClusterFolders(u) {
			return nil, fmt.Errorf("artifact %s: the committed tree has no clusters/%s folder for it: run fleetgen regen (or generate) and commit before publishing", u.Tag, u.Region)
		}
	}
	return src, nil
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
			return fmt.Errorf("ring %s has no branch %s: run fleetgen regen to create it, then promote", ring, spec.RingBranch(ring))
		}
		committed, err := s.repo.ListTreeAt(h, RepoPrefixes())
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
	for _, x := range s.Units {
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
	rep, err := check.Tree(t, check.Options{Workers: 1})
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
