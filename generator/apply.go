package generator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/fleetgen/fleetgen/generator/fsutil"
	"github.com/fleetgen/fleetgen/generator/gitrepo"
	"github.com/fleetgen/fleetgen/generator/merge"
	"github.com/fleetgen/fleetgen/generator/spec"
	"github.com/fleetgen/fleetgen/generator/tree"
)

// GeneratedRef is where fleetgen before v0.3 kept the generated tree (the
// base of three-way merges). A push does not carry it, so the base now
// lives in the branch's history (see gitrepo.FindBase); a repository that
// has only this ref is migrated by its next apply, which merges the ref's
// commit into the branch.
const GeneratedRef = plumbing.ReferenceName("refs/fleetgen/generated")

// pendingFile journals an apply between writing the worktree and
// committing: if the process dies there, the next run recognises its own
// half-done writes instead of taking them for user edits.
const pendingFile = "fleetgen-pending.json"

// ApplyOptions control the only stage that writes.
type ApplyOptions struct {
	Dir string
	// DirFlag names the flag that gave Dir (--out, --dir), for messages.
	DirFlag string
	// Regions limits the run to these regions' folders (regen --region);
	// empty means the whole repository.
	Regions []string
	// Paths adds single files to a run limited by Regions (the inventory).
	Paths  []string
	DryRun bool
	// PruneEdited also deletes files the user edited whose region or
	// cluster left the spec.
	PruneEdited bool
	Message     string
	Author      gitrepo.Author
	When        time.Time
	SignKey     *openpgp.Entity
	// Inputs are the files the plan was made from (fleet.yaml, the
	// inventory), path -> bytes as read. They were read before the run
	// took its lock: if one changed since (a commit or an edit meanwhile),
	// the run stops instead of writing the old content back.
	Inputs map[string][]byte
	// UserFiles, when set, makes the run write and commit only these
	// files, as given: the user's own (an attached design document), not
	// part of the generated tree, which stays as it is. The run's plan is
	// not applied.
	UserFiles []tree.File
	// Progress, when set, is called as files are written.
	Progress func(done, total int)
	// Check, when set, validates the plan (Result.Check): it runs while
	// Apply reads the repository and decides, and nothing is written, and
	// no other error reported, unless it returns nil.
	Check func(*Result) error
	// Compat answers the git policies fleetgen does not apply itself
	// (branch, hooks, signing); see gitrepo.CheckCompat.
	Compat gitrepo.CompatOptions
}

// Action is what Apply does (or would do) to one path.
type Action string

const (
	Create      Action = "create"
	Update      Action = "update"
	Merge       Action = "merge"        // user edits kept, new generated content merged in
	Delete      Action = "delete"       // generated file whose cluster/region left the spec
	KeepEdited  Action = "keep-edited"  // would be deleted, but the user edited it
	KeepDeleted Action = "keep-deleted" // the user deleted a generated file; left deleted
	KeepSeeded  Action = "keep-seeded"  // seeded file already there: the user's
	Kept        Action = "kept"         // your edit, with nothing new from the spec to merge in
)

// Change is one path's outcome. Old/New hold the contents for diffs.
type Change struct {
	Path     string
	Action   Action
	Old, New []byte
	Mode     uint32
}

// Writes reports whether the change touches the worktree.
func (c Change) Writes() bool {
	return c.Action == Create || c.Action == Update || c.Action == Merge || c.Action == Delete
}

// Conflict is a file whose hand edits overlap a generated change.
type Conflict struct {
	Path   string
	Hunks  int
	Reason string
}

// ConflictError stops an apply before anything is written.
type ConflictError struct{ Conflicts []Conflict }

func (e *ConflictError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d file(s) conflict with your edits; nothing was written:", len(e.Conflicts))
	for _, c := range e.Conflicts {
		fmt.Fprintf(&b, "\n  %s: %s", c.Path, c.Reason)
	}
	b.WriteString("\nresolve by editing those files to match the new spec (see `fleetgen diff`), commit, and run again")
	return b.String()
}

// ApplyReport says what happened.
type ApplyReport struct {
	Changes   []Change
	Created   bool // a new git repository was initialised
	Committed bool
	Commit    string
	// RingsCreated lists the ring branches made at Commit (spec.rings).
	RingsCreated []string
	// RingsTracked lists the ring branches made from their remote-tracking
	// refs (a clone: origin/fleet/ring/<ring>), at the revisions they run.
	RingsTracked []string
}

// Counts summarises the changes by action.
func (r *ApplyReport) Counts() map[Action]int {
	m := map[Action]int{}
	for _, c := range r.Changes {
		m[c.Action]++
	}
	return m
}

// Written lists the changes that touch the worktree.
func (r *ApplyReport) Written() []Change {
	var out []Change
	for _, c := range r.Changes {
		if c.Writes() {
			out = append(out, c)
		}
	}
	return out
}

// Apply brings opts.Dir to the planned tree: it refuses uncommitted
// changes, merges hand edits three-way, writes nothing if any merge
// conflicts, writes files atomically, then commits with go-git.
func Apply(res *Result, opts ApplyOptions) (*ApplyReport, error) {
	return ApplyPlanned(opts, func() (*Result, error) { return res, nil })
}

// ApplyPlanned is Apply with the plan made by plan, while the repository
// is read: what Apply reads before it decides (uncommitted changes, HEAD
// and the last generated tree in scope) needs no plan, and planning uses
// one core. opts.Check then runs while the reading finishes. Errors come in
// the order they would one step after another: the plan's, the check's,
// then the repository's.
func ApplyPlanned(opts ApplyOptions, plan func() (*Result, error)) (*ApplyReport, error) {
	type read struct {
		st  *repoState
		err error
	}
	reads := make(chan read, 1)
	go func() {
		st, err := readRepo(opts)
		reads <- read{st, err}
	}()
	res, err := plan()
	if err != nil {
		if rd := <-reads; rd.st != nil && rd.st.repo != nil {
			rd.st.repo.Unlock() // nothing is written either way
		}
		return nil, err
	}
	checked := make(chan error, 1)
	if opts.Check != nil {
		go func() { checked <- opts.Check(res) }()
	} else {
		checked <- nil
	}
	checkErr := sync.OnceValue(func() error { return <-checked })
	rd := <-reads
	if rd.st != nil && rd.st.repo != nil {
		defer rd.st.repo.Unlock()
	}
	var rep *ApplyReport
	if rd.err == nil {
		rep, err = apply(res, opts, rd.st, checkErr)
	}
	if cerr := checkErr(); cerr != nil {
		return nil, cerr // the plan is wrong: whatever else went wrong follows from it
	}
	if rd.err != nil {
		return nil, rd.err
	}
	return rep, err
}

// repoState is what Apply reads from the repository before deciding.
type repoState struct {
	repo       *gitrepo.Repo // nil: no repository yet
	compat     *gitrepo.Compat
	pending    map[string]string
	head, base map[string]plumbing.Hash
	scopePaths []string // folders and files of a run limited to regions
	// headCommit is HEAD when the repository was read (zero: unborn): the
	// commit is refused if HEAD moved since.
	headCommit plumbing.Hash
	// baseCommit holds the generated tree of the last run; legacy: it
	// came from GeneratedRef, not from the branch's history.
	baseCommit plumbing.Hash
	legacy     bool
}

func readRepo(opts ApplyOptions) (_ *repoState, err error) {
	if err := checkTarget(opts.Dir, opts.DirFlag); err != nil {
		return nil, err
	}
	st := &repoState{head: map[string]plumbing.Hash{}, base: map[string]plumbing.Hash{}}
	if _, serr := os.Stat(filepath.Join(opts.Dir, ".git")); serr == nil {
		co := opts.Compat
		if opts.DryRun { // writes nothing: only what it cannot read is refused
			co.AllowOtherBranch, co.NoVerify, co.Signing = true, true, true
		}
		c, cerr := gitrepo.CheckCompat(opts.Dir, co)
		if cerr != nil {
			return nil, cerr
		}
		st.compat = c
		r, oerr := gitrepo.Open(opts.Dir)
		if oerr != nil {
			return nil, oerr
		}
		st.repo = r
		defer func() {
			if err != nil {
				r.Unlock()
			}
		}()
		// Locked before anything is read, until the commit: a git
		// command that commits meanwhile waits or fails, and is never
		// silently reverted. A dry run writes nothing and takes no lock.
		if !opts.DryRun {
			if _, lerr := r.Lock(); lerr != nil {
				return nil, lerr
			}
		}
	}
	switch {
	case len(opts.UserFiles) > 0:
		for _, f := range opts.UserFiles {
			st.scopePaths = append(st.scopePaths, f.Path)
		}
	case len(opts.Regions) > 0:
		for _, r := range opts.Regions {
			st.scopePaths = append(st.scopePaths, RegionPaths(r)...)
		}
		st.scopePaths = append(st.scopePaths, opts.Paths...)
	}
	repo := st.repo
	if repo == nil {
		return st, nil
	}
	st.pending, err = readPending(opts.Dir)
	if err != nil {
		return nil, err
	}
	// A run limited to regions reads and checks only their folders
	// (and what a killed run left): in a 25,000-file repository the
	// whole-tree walks would cost more than the regeneration itself.
	var prefixes []string
	if st.scopePaths != nil {
		prefixes = append(prefixes, st.scopePaths...)
		for p := range st.pending {
			prefixes = append(prefixes, p)
		}
	}
	if h, ok, err := repo.HeadCommit(); err != nil {
		return nil, fmt.Errorf("read HEAD: %w", err)
	} else if ok {
		st.headCommit = h
	}
	if st.baseCommit, err = repo.FindBase(); err != nil {
		return nil, err
	}
	if st.baseCommit.IsZero() {
		if st.baseCommit, err = repo.LegacyBase(GeneratedRef); err != nil {
			return nil, err
		}
		st.legacy = !st.baseCommit.IsZero()
	}
	if prefixes == nil {
		st.head, err = repo.HeadFiles()
	} else {
		st.head, err = repo.HeadFilesIn(prefixes)
	}
	if err != nil {
		return nil, err
	}
	switch {
	case prefixes == nil:
		st.base, err = repo.BaseFiles(st.baseCommit)
	case len(st.pending) == 0 && sameIn(repo, st.baseCommit, st.scopePaths):
		// Nothing edited in scope since the last generation: the
		// generated tree there is HEAD's, already listed.
		st.base = st.head
	default:
		st.base, err = repo.BaseFilesIn(st.baseCommit, prefixes)
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

// apply decides every path from the plan and what was read, waits for the
// check, and writes.
func apply(res *Result, opts ApplyOptions, st *repoState, waitCheck func() error) (*ApplyReport, error) {
	rep := &ApplyReport{}
	repo, pending, head, base, scopePaths := st.repo, st.pending, st.head, st.base, st.scopePaths
	for _, p := range slices.Sorted(maps.Keys(opts.Inputs)) {
		if now, err := readWorktree(opts.Dir, p); err != nil || !bytes.Equal(now, opts.Inputs[p]) {
			return nil, fmt.Errorf("%s changed since fleetgen read it (an edit or a commit meanwhile); nothing was written: run fleetgen again", p)
		}
	}
	inScope := scopeFunc(opts.Regions, opts.Paths)
	if opts.UserFiles == nil {
		if err := refuseK3sDowngrade(res, opts.Dir, inScope); err != nil {
			return nil, err
		}
	}
	files := res.Tree.Files
	if opts.UserFiles != nil {
		inScope = func(string) bool { return false }
		files = nil
		for _, f := range opts.UserFiles {
			if cur, ok := currentHash(opts.Dir, f.Path, head, pending); ok && cur == plumbing.ComputeHash(plumbing.BlobObject, f.Content) {
				continue
			} else if ok {
				rep.Changes = append(rep.Changes, Change{Path: f.Path, Action: Update, New: f.Content, Mode: f.Mode})
			} else {
				rep.Changes = append(rep.Changes, Change{Path: f.Path, Action: Create, New: f.Content, Mode: f.Mode})
			}
		}
	}

	// Decide every path before touching anything.
	var conflicts []Conflict
	planned := map[string]bool{}
	for _, f := range files {
		planned[f.Path] = true
		if !inScope(f.Path) {
			continue
		}
		ch, conflict, err := decideFile(repo, opts.Dir, f, head, base, pending, opts.DryRun)
		if err != nil {
			return nil, err
		}
		if conflict != nil {
			conflicts = append(conflicts, *conflict)
			continue
		}
		if ch != nil {
			rep.Changes = append(rep.Changes, *ch)
		}
	}
	var gone []string
	for p := range base {
		if !planned[p] && inScope(p) {
			gone = append(gone, p)
		}
	}
	sort.Strings(gone)
	for _, p := range gone {
		ours, ok := currentHash(opts.Dir, p, head, pending)
		switch {
		case !ok:
			// already gone
		case ours == base[p] || opts.PruneEdited:
			old, _ := readWorktree(opts.Dir, p)
			rep.Changes = append(rep.Changes, Change{Path: p, Action: Delete, Old: old})
		default:
			rep.Changes = append(rep.Changes, Change{Path: p, Action: KeepEdited})
		}
	}
	// Judging what is dirty (an lstat and, where stat data cannot tell, a
	// hash of every path to write) overlaps the check; the check's error
	// still comes first (ApplyPlanned).
	if repo != nil {
		if err := refuseDirty(repo, opts.Dir, st, rep.Changes, conflicts); err != nil {
			return nil, err
		}
	}
	if err := waitCheck(); err != nil {
		return nil, err
	}
	if len(conflicts) > 0 {
		return nil, &ConflictError{Conflicts: conflicts}
	}
	sort.Slice(rep.Changes, func(i, j int) bool { return rep.Changes[i].Path < rep.Changes[j].Path })
	if opts.DryRun {
		return rep, nil
	}

	// Write: journal, files, sync, commit, then the generated snapshot.
	if repo == nil {
		r, created, err := gitrepo.OpenOrInitOn(opts.Dir, opts.Compat.Branch)
		if err != nil {
			return nil, err
		}
		repo, rep.Created = r, created
		if _, err := r.Lock(); err != nil {
			return nil, err
		}
		defer r.Unlock()
	}
	written := rep.Written()
	if err := writePending(opts.Dir, written, pending); err != nil {
		return nil, err
	}
	crashPoint("journal", 0)
	var commitWrite []tree.File
	var commitDelete []string
	w, err := fsutil.NewWriter(opts.Dir)
	if err != nil {
		return nil, err
	}
	// Deletions first (they may empty folders a write then makes again),
	// then the writes, on all cores when there are many.
	done := 0
	step := func() {
		done++
		crashPoint("write", done)
		if opts.Progress != nil && (done%500 == 1 || done == len(written)) {
			opts.Progress(done, len(written))
		}
	}
	var writes []Change
	for _, c := range written {
		if c.Action != Delete {
			writes = append(writes, c)
			commitWrite = append(commitWrite, tree.File{Path: c.Path, Content: c.New, Mode: c.Mode})
			continue
		}
		if err := w.Remove(c.Path); err != nil {
			return nil, err
		}
		commitDelete = append(commitDelete, c.Path)
		step()
	}
	if err := writeAll(w, writes, step); err != nil {
		return nil, err
	}
	// Paths a killed earlier run wrote but did not commit are committed now.
	// (a set: after a killed 25,000-file run, a linear search per path
	// would be quadratic)
	writtenPaths := make(map[string]bool, len(written))
	for _, c := range written {
		writtenPaths[c.Path] = true
	}
	for p := range pending {
		if !writtenPaths[p] {
			if b, err := readWorktree(opts.Dir, p); err == nil {
				fi, err := os.Stat(filepath.Join(opts.Dir, filepath.FromSlash(p)))
				if err != nil {
					return nil, err
				}
				commitWrite = append(commitWrite, tree.File{Path: p, Content: b, Mode: uint32(fi.Mode().Perm())})
			} else if errors.Is(err, fs.ErrNotExist) {
				commitDelete = append(commitDelete, p)
			}
		}
	}
	if len(commitWrite)+len(commitDelete) > 0 {
		if err := fsutil.Sync(opts.Dir); err != nil {
			return nil, err
		}
	}
	co := gitrepo.CommitOptions{
		Write: commitWrite, Delete: commitDelete, Message: opts.Message, Author: opts.Author, When: opts.When, SignKey: opts.SignKey,
		ExpectHead: &st.headCommit, Base: st.baseCommit, RecordBase: st.legacy,
		SnapshotMessage: "fleetgen: generated tree\n\n" + firstLine(opts.Message),
	}
	switch {
	case opts.UserFiles != nil:
		// The generated tree does not change.
	case scopePaths != nil && len(pending) == 0 && generatedAsIs(res, rep.Changes, head):
		// The region's folders now hold exactly what was generated:
		// the generated tree takes the new commit's subtrees instead of
		// rebuilding them.
		co.SnapshotCopy = scopePaths
	default:
		s := snapshotOf(res, inScope, base, rep.Changes)
		co.Snapshot = &s
	}
	h, committed, err := repo.Commit(co)
	if err != nil {
		return nil, err
	}
	rep.Committed, rep.Commit = committed, h.String()
	crashPoint("commit", 0)
	if s := &res.Spec.Spec; s.HasRings() && !h.IsZero() {
		// A new fleet starts with every ring on its first revision; a
		// ring added to spec.rings later starts on this one. Existing
		// ring branches move only with `fleetgen promote`.
		names := make([]string, 0, len(s.Rings))
		for _, ring := range s.RingNames() {
			names = append(names, spec.RingBranch(ring))
		}
		// In a clone the rings are the remote's (origin/fleet/ring/...):
		// they keep the revisions they were promoted to.
		tracked, err := repo.TrackRemoteBranches(names, s.Git.Branch, opts.Author, opts.When)
		rep.RingsTracked = tracked
		if err != nil {
			return rep, err
		}
		created, err := repo.CreateBranches(names, h, s.Git.Branch, opts.Author, opts.When)
		rep.RingsCreated = created
		if err != nil {
			return rep, err
		}
	}
	return rep, removePending(opts.Dir)
}

// crashPoint lets the crash-safety test kill the process at a chosen point
// (see gitrepo.CrashPoint).
func crashPoint(stage string, n int) { gitrepo.CrashPoint(stage, n) }

// writeAll writes the changes' files: in one goroutine per core when there
// are many (on tmpfs or a fast disk the system calls are CPU-bound).
// Folders are made first, so the workers only read the Writer's maps.
func writeAll(w *fsutil.Writer, cs []Change, step func()) error {
	write := func(c Change) error {
		if c.Action == Create {
			return w.Create(c.Path, c.New, fs.FileMode(c.Mode)) // the journal covers a partial new file
		}
		return w.Write(c.Path, c.New, fs.FileMode(c.Mode))
	}
	workers := runtime.GOMAXPROCS(0)
	if len(cs) < 64 || workers < 2 {
		for _, c := range cs {
			if err := write(c); err != nil {
				return err
			}
			step()
		}
		return nil
	}
	for _, c := range cs {
		if err := w.MakeParent(c.Path); err != nil {
			return err
		}
	}
	var mu sync.Mutex
	var firstErr error
	next := make(chan Change)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range next {
				err := write(c)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if err == nil {
					step()
				}
				mu.Unlock()
			}
		}()
	}
	for _, c := range cs {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
		next <- c
	}
	close(next)
	wg.Wait()
	return firstErr
}

// sameIn reports whether HEAD and the generated tree agree under paths.
func sameIn(repo *gitrepo.Repo, base plumbing.Hash, paths []string) bool {
	if base.IsZero() {
		return false
	}
	same, err := repo.SameIn(base, paths)
	return err == nil && same
}

// generatedAsIs reports whether, after the changes, the files in scope are
// exactly the planned ones: nothing merged or kept, and no file of the
// user's (in HEAD, not planned, not deleted) under the scope.
func generatedAsIs(res *Result, changes []Change, headBefore map[string]plumbing.Hash) bool {
	deleted := map[string]bool{}
	for _, c := range changes {
		switch c.Action {
		case Merge, Kept, KeepEdited, KeepDeleted, KeepSeeded:
			return false
		case Delete:
			deleted[c.Path] = true
		}
	}
	for p := range headBefore {
		if _, planned := res.Tree.Get(p); !planned && !deleted[p] {
			return false
		}
	}
	return true
}

// snapshotOf turns the previous generated tree into the new one: the plan
// for paths in scope, the previous snapshot elsewhere. An edited file kept
// although its cluster left the spec stays in the snapshot, so later runs
// still know fleetgen wrote it (and --prune-edited can remove it).
func snapshotOf(res *Result, inScope func(string) bool, base map[string]plumbing.Hash, changes []Change) gitrepo.Snapshot {
	var s gitrepo.Snapshot
	for _, f := range res.Tree.Files {
		if inScope(f.Path) {
			s.Files = append(s.Files, f)
		}
	}
	kept := map[string]bool{}
	for _, c := range changes {
		if c.Action == KeepEdited {
			kept[c.Path] = true
		}
	}
	for p := range base {
		if _, ok := res.Tree.Get(p); !ok && inScope(p) && !kept[p] {
			s.Remove = append(s.Remove, p)
		}
	}
	sort.Strings(s.Remove)
	return s
}

func decideFile(repo *gitrepo.Repo, dir string, f tree.File, head, base map[string]plumbing.Hash, pending map[string]string, wantOld bool) (*Change, *Conflict, error) {
	newHash := plumbing.ComputeHash(plumbing.BlobObject, f.Content)
	ours, exists := currentHash(dir, f.Path, head, pending)
	baseHash, hadBase := base[f.Path]
	switch {
	case exists && ours == newHash:
		return nil, nil, nil
	case f.Owner == tree.Seeded && exists:
		return &Change{Path: f.Path, Action: KeepSeeded}, nil, nil
	case !exists && hadBase && f.Owner == tree.Seeded:
		return &Change{Path: f.Path, Action: KeepDeleted}, nil, nil
	case !exists && hadBase && baseHash == newHash:
		// The user deleted a generated file that fleetgen would write
		// unchanged: respect the deletion.
		return &Change{Path: f.Path, Action: KeepDeleted}, nil, nil
	case !exists:
		return &Change{Path: f.Path, Action: Create, New: f.Content, Mode: f.Mode}, nil, nil
	case f.Owner == tree.Input:
		return &Change{Path: f.Path, Action: Update, New: f.Content, Mode: f.Mode}, nil, nil
	}
	if hadBase && ours == baseHash {
		// Untouched by the user: replaced. The old bytes are read only
		// for a diff (dry run), not on every regeneration.
		var old []byte
		if wantOld {
			b, err := readWorktree(dir, f.Path)
			if err != nil {
				return nil, nil, err
			}
			old = b
		}
		return &Change{Path: f.Path, Action: Update, Old: old, New: f.Content, Mode: f.Mode}, nil, nil
	}
	// Yours is the committed content (the worktree holds it, as git
	// checks it out; refuseDirty makes sure), or what a killed run wrote.
	var old []byte
	var err error
	if _, ok := pending[f.Path]; ok || repo == nil {
		old, err = readWorktree(dir, f.Path)
	} else {
		old, err = repo.ReadBlob(ours)
	}
	if err != nil {
		return nil, nil, err
	}
	if !hadBase {
		return nil, &Conflict{Path: f.Path, Reason: "exists and was not written by fleetgen; move it away or make it match"}, nil
	}
	baseContent, err := repo.ReadBlob(baseHash)
	if err != nil {
		return nil, nil, err
	}
	m := merge.Merge3(baseContent, old, f.Content, merge.Labels{Ours: "yours", Base: "generated before", Theirs: "generated now"})
	if m.Conflicts > 0 {
		return nil, &Conflict{Path: f.Path, Hunks: m.Conflicts, Reason: fmt.Sprintf("%d hunk(s) where your edit and the new spec change the same lines", m.Conflicts)}, nil
	}
	if bytes.Equal(m.Merged, old) {
		// Nothing to write, but the file is not what was generated:
		// the generated tree must not take it from the commit.
		return &Change{Path: f.Path, Action: Kept}, nil, nil
	}
	return &Change{Path: f.Path, Action: Merge, Old: old, New: m.Merged, Mode: f.Mode}, nil, nil
}

// currentHash is the blob hash of path as it is in the worktree. The
// worktree equals HEAD (uncommitted changes are refused), except for paths
// a killed run left in the journal, which are read from disk.
func currentHash(dir, p string, head map[string]plumbing.Hash, pending map[string]string) (plumbing.Hash, bool) {
	if want, ok := pending[p]; ok {
		b, err := readWorktree(dir, p)
		if err != nil {
			return plumbing.ZeroHash, false
		}
		h := plumbing.ComputeHash(plumbing.BlobObject, b)
		if strings.HasPrefix(want, newPrefix) && newPrefix+h.String() != want {
			if _, inHead := head[p]; !inHead {
				return plumbing.ZeroHash, false // partly written by a killed run: create it again
			}
		}
		return h, true
	}
	h, ok := head[p]
	return h, ok
}

func readWorktree(dir, p string) ([]byte, error) {
	full, err := fsutil.Join(dir, p)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(full)
}

// scopeFunc limits a run to regions' folders; nil regions = everything.
func scopeFunc(regions, paths []string) func(string) bool {
	if len(regions) == 0 {
		return func(string) bool { return true }
	}
	var prefixes []string
	for _, r := range regions {
		for _, p := range RegionPaths(r) {
			prefixes = append(prefixes, p+"/")
		}
	}
	return func(p string) bool {
		for _, x := range paths {
			if p == x {
				return true
			}
		}
		for _, pre := range prefixes {
			if strings.HasPrefix(p, pre) {
				return true
			}
		}
		return false
	}
}

// checkTarget accepts a missing folder, an empty one, or a git repository.
func checkTarget(dir, flag string) error {
	name := dir
	if flag != "" {
		name = flag + " " + dir
	}
	if dir == "" {
		return errors.New("no output folder given (--out / --dir)")
	}
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is a file, not a folder", name)
	}
	if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s is not empty and is not a git repository; use an empty folder or a git repository", name)
	}
	return nil
}

// refuseDirty refuses, before anything is written, when git would not
// write the changes' files as fleetgen does (attributes, filters, sparse
// checkout), or when one of the files fleetgen would write, delete or
// commit (or that conflict) holds uncommitted work, as git judges it.
// Other paths are not looked at: fleetgen commits only its own. A killed
// run's own writes (the journal) are not the user's work.
func refuseDirty(repo *gitrepo.Repo, dir string, st *repoState, changes []Change, conflicts []Conflict) error {
	var writes, paths []string
	for _, c := range changes {
		if c.Writes() {
			paths = append(paths, c.Path)
			if c.Action != Delete {
				writes = append(writes, c.Path)
			}
		}
	}
	for _, c := range conflicts {
		paths = append(paths, c.Path)
	}
	// A killed run's files are committed with this run: edited since, they
	// are the user's work.
	listed := make(map[string]bool, len(paths))
	for _, p := range paths {
		listed[p] = true
	}
	for p := range st.pending {
		if !listed[p] {
			paths = append(paths, p)
		}
	}
	if st.compat != nil {
		if err := st.compat.CheckPaths(writes); err != nil {
			return err
		}
	}
	changed, err := repo.Dirty(paths, st.head, st.compat)
	if err != nil {
		return err
	}
	var dirty []string
	for _, d := range changed {
		if want, ok := st.pending[d.Path]; ok {
			if strings.HasPrefix(want, newPrefix) {
				continue // a file a killed run was creating: whatever is there is ours
			}
			b, err := readWorktree(dir, d.Path)
			if (err != nil && want == "") || (err == nil && plumbing.ComputeHash(plumbing.BlobObject, b).String() == want) {
				continue // our own write from a run that was killed
			}
		}
		dirty = append(dirty, d.Path+" ("+d.Reason+")")
	}
	if len(dirty) == 0 {
		return nil
	}
	more := ""
	if len(dirty) > 10 {
		more = fmt.Sprintf(" (and %d more)", len(dirty)-10)
		dirty = dirty[:10]
	}
	return fmt.Errorf("%s has uncommitted changes in files fleetgen would write: %s%s; commit or stash them first (nothing was written)", dir, strings.Join(dirty, ", "), more)
}

// newPrefix marks a journal entry for a file that did not exist: it is
// written in place, so a killed run may leave any part of it, and whatever
// is there is fleetgen's.
const newPrefix = "new:"

func pendingPath(dir string) string { return filepath.Join(dir, ".git", pendingFile) }

func readPending(dir string) (map[string]string, error) {
	b, err := os.ReadFile(pendingPath(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s is damaged (%v); if no fleetgen is running, delete it and run again", pendingPath(dir), err)
	}
	return m, nil
}

// writePending records path -> blob hash ("" for a deletion) of every
// write. Entries of an earlier killed run that this run does not rewrite
// are kept: they are committed only with this run, so if it dies too, the
// next one must still recognise them.
func writePending(dir string, cs []Change, earlier map[string]string) error {
	m := map[string]string{}
	for p, h := range earlier {
		m[p] = h
	}
	for _, c := range cs {
		switch c.Action {
		case Delete:
			m[c.Path] = ""
		case Create:
			m[c.Path] = newPrefix + plumbing.ComputeHash(plumbing.BlobObject, c.New).String()
		default:
			m[c.Path] = plumbing.ComputeHash(plumbing.BlobObject, c.New).String()
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, ".git"), 0o755); err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(filepath.Join(dir, ".git"), pendingFile, b, 0o644)
}

func removePending(dir string) error {
	err := os.Remove(pendingPath(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
