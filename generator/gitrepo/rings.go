package gitrepo

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/fleetgen/fleetgen/generator/fsutil"
)

// Branch refs of rings (spec.rings): each ring's clusters sync their own
// branch, which only `fleetgen promote` moves.

// BranchHash is the commit branch points to; ok is false when it does not
// exist.
func (r *Repo) BranchHash(branch string) (h plumbing.Hash, ok bool, err error) {
	r.refresh()
	ref, err := r.st.Reference(plumbing.NewBranchReferenceName(branch))
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, false, nil
	}
	if err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("read branch %s: %w", branch, err)
	}
	return ref.Hash(), true, nil
}

// Resolve turns a revision (a full or abbreviated commit id, a branch, a
// tag, HEAD~2, ...) into a commit id, as git rev-parse REV^{commit} does.
func (r *Repo) Resolve(rev string) (plumbing.Hash, error) {
	r.refresh()
	h, err := r.repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("%q is not a revision of this repository: %w", rev, err)
	}
	c, err := object.GetCommit(r.st, *h)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("%q is not a commit: %w", rev, err)
	}
	return c.Hash, nil
}

// CommitSubject is the first line of a commit's message.
func (r *Repo) CommitSubject(h plumbing.Hash) (string, error) {
	c, err := object.GetCommit(r.st, h)
	if err != nil {
		return "", err
	}
	msg := c.Message
	for i := 0; i < len(msg); i++ {
		if msg[i] == '\n' {
			return msg[:i], nil
		}
	}
	return msg, nil
}

// IsAncestor reports whether anc is tip or one of its ancestors.
func (r *Repo) IsAncestor(anc, tip plumbing.Hash) (bool, error) {
	if anc == tip {
		return true, nil
	}
	a, err := object.GetCommit(r.st, anc)
	if err != nil {
		return false, err
	}
	t, err := object.GetCommit(r.st, tip)
	if err != nil {
		return false, err
	}
	return a.IsAncestor(t)
}

// CreateBranches creates every branch of names that does not exist yet at
// commit at, as `git branch NAME at` would (lock file, compare-and-swap
// from "no branch", reflog "branch: Created from ..."); existing branches
// are left alone. It returns the branches it created.
func (r *Repo) CreateBranches(names []string, at plumbing.Hash, from string, who Author, when time.Time) (created []string, err error) {
	if r.lock == nil {
		l, err := r.Lock()
		if err != nil {
			return nil, err
		}
		defer func() {
			if uerr := l.Release(); uerr != nil && err == nil {
				err = uerr
			}
		}()
	}
	for _, n := range names {
		_, ok, err := r.BranchHash(n)
		if err != nil {
			return created, err
		}
		if ok {
			continue
		}
		if err := r.updateRef(plumbing.NewBranchReferenceName(n), plumbing.ZeroHash, at, who, when, "branch: Created from "+from, false); err != nil {
			return created, err
		}
		created = append(created, n)
	}
	return created, nil
}

// PromoteOptions moves a ring's branch to a revision.
type PromoteOptions struct {
	// Branch is the ring's branch; Old the commit it held when the caller
	// read it (the update is a compare-and-swap from Old).
	Branch string
	Old    plumbing.Hash
	// To is the revision whose tree the ring gets.
	To plumbing.Hash
	// Message, Author, When, SignKey: the record commit's.
	Message string
	Author  Author
	When    time.Time
	SignKey *openpgp.Entity
}

// Promote records a promotion on the ring's branch: a commit whose tree is
// To's tree and whose parents are the branch's previous head and To, so
// the branch only ever moves forward (a plain push updates it) while it
// carries To's files; a rollback is the same with an older To. It returns
// the new head.
func (r *Repo) Promote(opts PromoteOptions) (h plumbing.Hash, err error) {
	if r.lock == nil {
		l, err := r.Lock()
		if err != nil {
			return plumbing.ZeroHash, err
		}
		defer func() {
			if uerr := l.Release(); uerr != nil && err == nil {
				err = uerr
			}
		}()
	}
	to, err := object.GetCommit(r.st, opts.To)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read %s: %w", opts.To, err)
	}
	parents := []plumbing.Hash{opts.Old}
	if opts.To != opts.Old {
		parents = append(parents, opts.To)
	}
	stage := newStagingStore(r.st)
	h, err = writeCommit(stage, opts.Author, opts.When, opts.SignKey, opts.Message, to.TreeHash, parents)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	staged := stage.order
	if err := stage.flush(); err != nil {
		return plumbing.ZeroHash, err
	}
	r.remember(staged)
	if err := fsutil.Sync(r.dir); err != nil {
		return plumbing.ZeroHash, err
	}
	kind := "commit (merge): "
	if len(parents) == 1 {
		kind = "commit: "
	}
	if err := r.updateRef(plumbing.NewBranchReferenceName(opts.Branch), opts.Old, h, opts.Author, opts.When, kind+firstLine(opts.Message), false); err != nil {
		return plumbing.ZeroHash, err
	}
	return h, nil
}

func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}

// RevisionTrailer, in a promotion's message, names the revision of the
// fleet's branch whose tree the ring received.
const RevisionTrailer = "Fleetgen-Revision"

// RingRevision is the revision of the fleet's branch a ring's branch
// carries: the one its last promotion names, or the head itself (a ring
// branch created on the first commit). ok is false without the branch.
func (r *Repo) RingRevision(branch string) (rev, head plumbing.Hash, ok bool, err error) {
	head, ok, err = r.BranchHash(branch)
	if err != nil || !ok {
		return plumbing.ZeroHash, plumbing.ZeroHash, ok, err
	}
	rev, err = r.RevisionAt(head)
	if err != nil {
		return plumbing.ZeroHash, head, true, fmt.Errorf("read %s: %w", branch, err)
	}
	return rev, head, true, nil
}

// RevisionAt is the revision of the fleet's branch a ring branch whose
// head is head carries: its promotion record's trailer, else head itself.
func (r *Repo) RevisionAt(head plumbing.Hash) (plumbing.Hash, error) {
	c, err := object.GetCommit(r.st, head)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	for _, line := range strings.Split(c.Message, "\n") {
		if v, found := strings.CutPrefix(line, RevisionTrailer+": "); found && len(c.ParentHashes) > 0 {
			h := plumbing.NewHash(strings.TrimSpace(v))
			if !h.IsZero() {
				return h, nil
			}
		}
	}
	return head, nil
}

// CountBetween is the number of commits reachable from tip and not from
// base (git rev-list --count base..tip), first parents only.
func (r *Repo) CountBetween(base, tip plumbing.Hash) (int, error) {
	n := 0
	for h := tip; h != base && !h.IsZero(); n++ {
		c, err := object.GetCommit(r.st, h)
		if err != nil {
			return n, err
		}
		if len(c.ParentHashes) == 0 {
			return n + 1, nil
		}
		h = c.ParentHashes[0]
		if n > 100000 {
			break
		}
	}
	return n, nil
}

// OnFirstParents reports whether rev is tip or on tip's first-parent
// chain: a revision of the branch itself, not of a branch merged into it
// nor a generated-tree commit.
func (r *Repo) OnFirstParents(rev, tip plumbing.Hash) (bool, error) {
	for h := tip; !h.IsZero(); {
		if h == rev {
			return true, nil
		}
		c, err := object.GetCommit(r.st, h)
		if err != nil {
			return false, err
		}
		if len(c.ParentHashes) == 0 {
			return false, nil
		}
		h = c.ParentHashes[0]
	}
	return false, nil
}

// RemoteTracking is the remote-tracking ref of branch on the remote that
// from (spec.git.branch) pulls from: branch.<from>.remote, else origin,
// mapped by that remote's fetch refspecs (refs/remotes/origin/<branch> by
// default). ok is false when there is none.
func (r *Repo) RemoteTracking(branch, from string) (ref plumbing.ReferenceName, h plumbing.Hash, ok bool, err error) {
	cfg, err := r.repo.Config()
	if err != nil {
		return "", plumbing.ZeroHash, false, fmt.Errorf("read git config: %w", err)
	}
	remote := "origin"
	if b, found := cfg.Branches[from]; found && b.Remote != "" && b.Remote != "." {
		remote = b.Remote
	}
	rc, found := cfg.Remotes[remote]
	if !found {
		return "", plumbing.ZeroHash, false, nil
	}
	src := plumbing.NewBranchReferenceName(branch)
	r.refresh()
	for _, rs := range rc.Fetch {
		if rs.IsDelete() || !rs.Match(src) {
			continue
		}
		dst := rs.Dst(src)
		rf, err := r.st.Reference(dst)
		if errors.Is(err, plumbing.ErrReferenceNotFound) {
			continue
		}
		if err != nil {
			return "", plumbing.ZeroHash, false, fmt.Errorf("read %s: %w", dst, err)
		}
		return dst, rf.Hash(), true, nil
	}
	return "", plumbing.ZeroHash, false, nil
}

// TrackRemoteBranches creates each branch of names that does not exist
// here but has a remote-tracking ref (RemoteTracking), at that ref's commit,
// as `git checkout <branch>` does in a clone (reflog "branch: Created from
// <remote>/<branch>"); git's configuration is not written. A plain `git
// clone` makes only the checked-out branch local: without this, the ring
// branches would be created afresh at the next commit of spec.git.branch,
// and a push would move every ring past its promotions. It returns the
// branches it created.
func (r *Repo) TrackRemoteBranches(names []string, from string, who Author, when time.Time) (created []string, err error) {
	if r.lock == nil {
		l, err := r.Lock()
		if err != nil {
			return nil, err
		}
		defer func() {
			if uerr := l.Release(); uerr != nil && err == nil {
				err = uerr
			}
		}()
	}
	for _, n := range names {
		_, ok, err := r.BranchHash(n)
		if err != nil {
			return created, err
		}
		if ok {
			continue
		}
		ref, h, ok, err := r.RemoteTracking(n, from)
		if err != nil {
			return created, err
		}
		if !ok {
			continue
		}
		if _, err := object.GetCommit(r.st, h); err != nil {
			return created, fmt.Errorf("%s: %w", ref, err)
		}
		if err := r.updateRef(plumbing.NewBranchReferenceName(n), plumbing.ZeroHash, h, who, when, "branch: Created from "+strings.TrimPrefix(ref.String(), "refs/remotes/"), false); err != nil {
			return created, err
		}
		created = append(created, n)
	}
	return created, nil
}
