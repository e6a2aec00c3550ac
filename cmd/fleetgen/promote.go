package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/spf13/cobra"

	"github.com/fleetgen/fleetgen/generator/gitrepo"
	"github.com/fleetgen/fleetgen/generator/spec"
)

type promoteOptions struct {
	dir         string
	to          string
	skip        bool
	authorName  string
	authorEmail string
	signKeyPath string
}

func newPromoteCmd() *cobra.Command {
	o := &promoteOptions{}
	cmd := &cobra.Command{
		Use:   "promote RING",
		Short: "Move a ring (spec.rings) to a revision of the fleet's branch, recorded in git",
		Long: `Each ring of spec.rings syncs its own branch, fleet/ring/<ring>. fleetgen commits to
spec.git.branch (main); a ring receives those commits only when promoted.

promote records a commit on the ring's branch whose tree is REV's tree and whose parents are the
ring's previous head and REV (message "promote <ring> to <rev>: <subject>", author as for
fleetgen's other commits): the branch only moves forward, so a plain push updates it, and
"git log fleet/ring/<ring>" shows who promoted what and when. A rollback is a promote to an
older revision.

REV defaults to the revision the previous ring runs (for the first ring: the head of
spec.git.branch). REV must be on spec.git.branch's history. A ring cannot get a revision the
previous ring does not run yet (skipping a ring) unless --skip.`,
		Example: `  fleetgen promote --dir ./edge-fleet canary            # canary gets main's head
  fleetgen promote --dir ./edge-fleet early             # early gets what canary runs
  fleetgen promote --dir ./edge-fleet canary --to HEAD~1   # roll canary back one commit
  fleetgen push --dir ./edge-fleet                      # pushes main and the ring branches`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.OutOrStdout(), args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", ".", "the fleet repository")
	f.StringVar(&o.to, "to", "", "revision to promote to (default: what the previous ring runs; for the first ring, the head of spec.git.branch)")
	f.BoolVar(&o.skip, "skip", false, "allow a revision the previous ring does not run yet")
	f.StringVar(&o.authorName, "author-name", "", "commit author name (default: git config user.name, else fleetgen)")
	f.StringVar(&o.authorEmail, "author-email", "", "commit author email (default: git config user.email, else fleetgen@localhost)")
	f.StringVar(&o.signKeyPath, "sign-key", "", "armored OpenPGP private key file to sign the promotion commit (unencrypted key)")
	return cmd
}

func (o *promoteOptions) run(w io.Writer, ring string) error {
	l, err := loadRepoSpec(o.dir)
	if err != nil {
		return err
	}
	s := &l.Spec
	if !s.HasRings() {
		return fmt.Errorf("fleet.yaml: spec.rings: not set; this fleet has no rings to promote (every cluster syncs %s)", s.Git.Branch)
	}
	idx := s.RingIndex(ring)
	if idx < 0 {
		return fmt.Errorf("unknown ring %q: spec.rings has %s", ring, strings.Join(s.RingNames(), ", "))
	}
	repo, err := gitrepo.Open(o.dir)
	if err != nil {
		return err
	}
	if _, err := repo.Lock(); err != nil {
		return err
	}
	defer repo.Unlock()
	// In a clone the rings exist as the remote's branches only: take them
	// (as git checkout would) so a promotion continues their history.
	if _, err := repo.TrackRemoteBranches(ringBranches(s), s.Git.Branch, gitrepo.ResolveAuthor(o.dir, gitrepo.Author{Name: o.authorName, Email: o.authorEmail}), time.Now()); err != nil {
		return err
	}
	branch := spec.RingBranch(ring)
	if head, err := repo.Git().Head(); err == nil && head.Name() == plumbing.NewBranchReferenceName(branch) {
		return fmt.Errorf("%s is checked out in %s: check out %s (promote never moves the checked-out branch)", branch, o.dir, s.Git.Branch)
	}
	mainHead, ok, err := repo.BranchHash(s.Git.Branch)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("branch %s (spec.git.branch) does not exist in %s: generate the fleet first", s.Git.Branch, o.dir)
	}
	short := func(h plumbing.Hash) string { return h.String()[:12] }

	var rev plumbing.Hash
	var prevRev plumbing.Hash
	if idx > 0 {
		prev := s.Rings[idx-1].Name
		r, _, ok, err := repo.RingRevision(spec.RingBranch(prev))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("ring %s has no branch %s yet: run fleetgen regen --dir %s to create the ring branches", prev, spec.RingBranch(prev), o.dir)
		}
		prevRev = r
	}
	switch {
	case o.to != "":
		if rev, err = repo.Resolve(o.to); err != nil {
			return fmt.Errorf("--to: %w", err)
		}
	case idx == 0:
		rev = mainHead
	default:
		rev = prevRev
	}
	if onMain, err := repo.OnFirstParents(rev, mainHead); err != nil || !onMain {
		return fmt.Errorf("--to %s: %s is not a commit of %s (spec.git.branch, first parents); a ring only gets revisions of the fleet's branch", o.to, short(rev), s.Git.Branch)
	}
	if idx > 0 && !o.skip {
		if ok, err := repo.OnFirstParents(rev, prevRev); err != nil || !ok {
			return fmt.Errorf("ring %s runs %s, older than %s: promote %s first, or pass --skip to promote %s past it", s.Rings[idx-1].Name, short(prevRev), short(rev), s.Rings[idx-1].Name, ring)
		}
	}
	subject, err := repo.CommitSubject(rev)
	if err != nil {
		return err
	}
	cur, old, exists, err := repo.RingRevision(branch)
	if err != nil {
		return err
	}
	author := gitrepo.ResolveAuthor(o.dir, gitrepo.Author{Name: o.authorName, Email: o.authorEmail})
	now := time.Now()
	if !exists {
		if _, err := repo.CreateBranches([]string{branch}, rev, s.Git.Branch, author, now); err != nil {
			return err
		}
		fmt.Fprintf(w, "%s created at %s: %s\n", branch, short(rev), subject)
		return nil
	}
	if cur == rev {
		fmt.Fprintf(w, "%s already runs %s: %s (nothing to promote)\n", ring, short(rev), subject)
		return nil
	}
	verb := "promote"
	if back, _ := repo.OnFirstParents(rev, cur); back {
		verb = "roll back"
	}
	msg := fmt.Sprintf("%s %s to %s: %s\n\n%s ring %s: from %s to %s.\n\n%s: %s\nFleetgen-Ring: %s\n",
		verb, ring, rev.String()[:7], subject, strings.ToUpper(verb[:1])+verb[1:], ring, short(cur), short(rev), gitrepo.RevisionTrailer, rev, ring)
	po := gitrepo.PromoteOptions{Branch: branch, Old: old, To: rev, Message: msg, Author: author, When: now}
	if o.signKeyPath != "" {
		if po.SignKey, err = readSignKey(o.signKeyPath); err != nil {
			return err
		}
	}
	h, err := repo.Promote(po)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: %s %s -> %s (%s); recorded as %s on %s\n", verb, ring, short(cur), short(rev), subject, short(h), branch)
	return nil
}

// ringBranches are the branches of spec.rings, in ring order.
func ringBranches(s *spec.FleetSpec) []string {
	out := make([]string, 0, len(s.Rings))
	for _, r := range s.RingNames() {
		out = append(out, spec.RingBranch(r))
	}
	return out
}
