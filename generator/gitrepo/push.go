package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/revlist"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
)

// Push sends the checked-out branch to its remote with go-git, the way a
// plain `git push` would, or refuses up front.
//
// The regeneration base travels with the branch (it is the second parent
// of fleetgen's commits, see snapshot.go), so pushing the branch is all a
// clone needs to regenerate. The remote, the destination branch and the
// URL are resolved from git's configuration as git resolves them
// (ResolvePush); settings fleetgen cannot follow are refused before
// anything is sent. A push is never forced: a remote branch with commits
// the local one lacks is refused. While it runs, the repository's lock is
// held, so no fleetgen run (and no git command that takes index.lock)
// moves the branch mid-push; after the server accepted the update, the
// remote-tracking ref (refs/remotes/<remote>/<branch>) is moved as git
// moves it (lock file, rename, reflog "update by push").

// PushOptions says what to push where.
type PushOptions struct {
	// Remote is a configured remote's name or a URL; empty: git's choice
	// (branch.<name>.pushRemote, remote.pushDefault, branch.<name>.remote,
	// origin).
	Remote string
	// Progress receives the server's progress and messages ("remote: ..."),
	// when set.
	Progress io.Writer
	// Who is written in the remote-tracking ref's reflog.
	Who Author
	// Timeout bounds connecting and the whole exchange (0: 2 minutes).
	Timeout time.Duration
	// Also lists more local branches (the ring branches of spec.rings)
	// pushed in the same request to the branches of the same names on the
	// same remote, never forced; a missing local branch is skipped.
	Also []string
}

// PushedBranch is one of PushOptions.Also after the push.
type PushedBranch struct {
	Branch   string
	Old, New plumbing.Hash
	UpToDate bool
}

// PushResult says what happened.
type PushResult struct {
	Target *PushTarget
	// Old is the remote branch's commit before the push (zero: the branch
	// did not exist there); New the commit pushed.
	Old, New plumbing.Hash
	// UpToDate: the remote branch already was New; nothing was sent.
	UpToDate bool
	// Objects is the number of objects sent.
	Objects int
	// TrackingUpdated: Target.Tracking was moved to New.
	TrackingUpdated bool
	// LegacyRef is set when refs/fleetgen/generated exists and the pushed
	// branch does not carry a generated-tree commit yet (see
	// LegacyBase): clones then regenerate without a base until the next
	// fleetgen run merges the ref into the branch.
	LegacyRef bool
	// Also: what happened to PushOptions.Also.
	Also []PushedBranch
	// Auth describes the credentials used ("FLEETGEN_GIT_TOKEN as
	// user x-access-token", "ssh-agent", ...), never their value.
	Auth string
}

// PushError is a push fleetgen refused or that failed; nothing was changed
// locally, and the remote branch was not moved.
type PushError struct {
	Setting string // what is in the way (a git setting, the remote's state...)
	Problem string
	WayOut  string
}

func (e *PushError) Error() string {
	s := e.Setting
	if e.Problem != "" {
		s += ": " + e.Problem
	}
	if e.WayOut != "" {
		s += "; " + e.WayOut
	}
	return s + " (nothing was pushed)"
}

// LegacyGeneratedRef is where fleetgen before v0.3 kept the generated tree.
const LegacyGeneratedRef = plumbing.ReferenceName("refs/fleetgen/generated")

// Push pushes the checked-out branch (see PushOptions and ResolvePush).
func (r *Repo) Push(ctx context.Context, o PushOptions) (*PushResult, error) {
	target, err := ResolvePush(r.dir, o.Remote)
	if err != nil {
		return nil, err
	}
	auth, authDesc, err := pushAuth(target)
	if err != nil {
		return nil, err
	}
	if _, err := r.Lock(); err != nil {
		return nil, err
	}
	defer r.Unlock()

	r.refresh()
	ref, err := r.st.Reference(target.Local)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return nil, &PushError{Setting: "branch " + target.Branch + " has no commit yet", WayOut: "commit first (fleetgen generate)"}
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", target.Local, err)
	}
	res := &PushResult{Target: target, New: ref.Hash(), Auth: authDesc}
	if base, err := r.FindBase(); err == nil && base.IsZero() {
		if legacy, err := r.LegacyBase(LegacyGeneratedRef); err == nil && !legacy.IsZero() {
			res.LegacyRef = true
		}
	}

	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	ep, err := transport.NewEndpoint(target.URL)
	if err != nil {
		return nil, &PushError{Setting: "remote URL " + target.Display, Problem: err.Error()}
	}
	ep.CaBundle = target.caBundle
	cl, err := client.NewClient(ep)
	if err != nil {
		return nil, &PushError{Setting: "remote URL " + target.Display, Problem: err.Error(), WayOut: "fleetgen pushes over https, http, ssh and to local paths; push with `git push`"}
	}
	sess, err := cl.NewReceivePackSession(ep, auth)
	if err != nil {
		return nil, r.pushFailed(target, authDesc, err)
	}
	defer sess.Close()
	ar, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		return nil, r.pushFailed(target, authDesc, err)
	}
	remoteRefs, err := ar.AllReferences()
	if err != nil {
		return nil, r.pushFailed(target, authDesc, err)
	}
	if rf, err := remoteRefs.Reference(target.Dest); err == nil {
		res.Old = rf.Hash()
	}
	res.UpToDate = res.Old == res.New
	var cmds []*packp.Command
	news := []plumbing.Hash{}
	if !res.UpToDate {
		if err := r.checkFastForward(target, target.Branch, target.Dest, res.Old, res.New); err != nil {
			return nil, err
		}
		cmds = append(cmds, &packp.Command{Name: target.Dest, Old: res.Old, New: res.New})
		news = append(news, res.New)
	}
	for _, b := range o.Also {
		h, ok, err := r.BranchHash(b)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		pb := PushedBranch{Branch: b, New: h}
		dest := plumbing.NewBranchReferenceName(b)
		if rf, err := remoteRefs.Reference(dest); err == nil {
			pb.Old = rf.Hash()
		}
		pb.UpToDate = pb.Old == pb.New
		if !pb.UpToDate {
			if err := r.checkFastForward(target, b, dest, pb.Old, pb.New); err != nil {
				return nil, err
			}
			cmds = append(cmds, &packp.Command{Name: dest, Old: pb.Old, New: pb.New})
			news = append(news, pb.New)
		}
		res.Also = append(res.Also, pb)
	}
	if len(cmds) == 0 {
		res.TrackingUpdated, err = r.updateTracking(target, res.New, o.Who)
		return res, err
	}

	// What the server lacks: everything reachable from New, less what its
	// refs (and, in a shallow clone, the shallow boundary) already reach.
	var haves []plumbing.Hash
	iter, err := remoteRefs.IterReferences()
	if err != nil {
		return nil, err
	}
	iter.ForEach(func(rf *plumbing.Reference) error {
		if rf.Type() == plumbing.HashReference {
			haves = append(haves, rf.Hash())
		}
		return nil
	})
	if sh, err := r.st.Shallow(); err == nil {
		haves = append(haves, sh...)
	}
	hashes, err := revlist.Objects(r.st, news, haves)
	if err != nil {
		return nil, fmt.Errorf("list the objects to push: %w", err)
	}
	res.Objects = len(hashes)

	req := packp.NewReferenceUpdateRequestFromCapabilities(ar.Capabilities)
	if o.Progress != nil {
		req.Progress = o.Progress
		if ar.Capabilities.Supports(capability.Sideband64k) {
			req.Capabilities.Set(capability.Sideband64k)
		} else if ar.Capabilities.Supports(capability.Sideband) {
			req.Capabilities.Set(capability.Sideband)
		}
	}
	req.Commands = cmds
	if len(cmds) > 1 && ar.Capabilities.Supports(capability.Atomic) {
		req.Capabilities.Set(capability.Atomic) // all the branches or none
	}
	window := uint(10)
	if cfg, err := r.st.Config(); err == nil && cfg.Pack.Window > 0 {
		window = cfg.Pack.Window
	}
	rd, wr := io.Pipe()
	req.Packfile = rd
	done := make(chan error, 1)
	go func() {
		enc := packfile.NewEncoder(wr, r.st, !ar.Capabilities.Supports(capability.OFSDelta))
		_, err := enc.Encode(hashes, window)
		if err != nil {
			done <- wr.CloseWithError(err)
			return
		}
		done <- wr.Close()
	}()
	status, err := sess.ReceivePack(ctx, req)
	if err != nil {
		rd.Close()
		<-done
		return nil, r.pushFailed(target, authDesc, err)
	}
	if err := <-done; err != nil {
		return nil, fmt.Errorf("write the pack: %w", err)
	}
	if status != nil {
		if err := status.Error(); err != nil {
			return nil, &PushError{
				Setting: "the server at " + target.Display + " refused the update of " + target.Dest.String(),
				Problem: err.Error() + " (a protected branch, a hook, or a push made meanwhile)",
				WayOut:  "see the server's messages above; if someone pushed meanwhile, fetch and merge with git, then push again",
			}
		}
	}
	if res.TrackingUpdated, err = r.updateTracking(target, res.New, o.Who); err != nil {
		return res, fmt.Errorf("pushed, but %w", err)
	}
	for _, pb := range res.Also {
		if t := alsoTracking(target, pb.Branch); t != "" && !pb.UpToDate {
			tt := *target
			tt.Tracking = t
			if _, err := r.updateTracking(&tt, pb.New, o.Who); err != nil {
				return res, fmt.Errorf("pushed, but %w", err)
			}
		}
	}
	return res, nil
}

// alsoTracking is the remote-tracking ref of another branch pushed to a
// named remote, when the main branch's follows git's default fetch
// refspec (refs/remotes/<remote>/<branch>); "" otherwise.
func alsoTracking(t *PushTarget, branch string) plumbing.ReferenceName {
	if !t.Named || t.Tracking != plumbing.ReferenceName("refs/remotes/"+t.Remote+"/"+shortBranch(t.Dest)) {
		return ""
	}
	return plumbing.ReferenceName("refs/remotes/" + t.Remote + "/" + branch)
}

// checkFastForward refuses a push of local (at new) to dest (at old on the
// remote) that is not a fast-forward.
func (r *Repo) checkFastForward(target *PushTarget, local string, dest plumbing.ReferenceName, old, new plumbing.Hash) error {
	if old.IsZero() {
		return nil
	}
	ff, known, err := r.isAncestor(old, new)
	if err != nil {
		return err
	}
	if ff {
		return nil
	}
	what := "the remote's " + shortBranch(dest) + " has commits that your " + local + " does not have (" + short(old) + ")"
	if known {
		what = "your " + local + " and the remote's " + shortBranch(dest) + " (" + short(old) + ") have diverged"
	}
	return &PushError{
		Setting: "non-fast-forward push to " + target.Display,
		Problem: what + "; fleetgen never forces a push",
		WayOut:  "fetch and merge or rebase with git first (`git pull`, resolve, commit), then run fleetgen push again",
	}
}

// updateTracking moves the remote-tracking ref to h, as git does after a
// push that succeeded or found the branch up to date; moved says whether
// it changed.
func (r *Repo) updateTracking(t *PushTarget, h plumbing.Hash, who Author) (moved bool, err error) {
	if t.Tracking == "" {
		return false, nil
	}
	old := plumbing.ZeroHash
	if rf, err := r.st.Reference(t.Tracking); err == nil {
		old = rf.Hash()
	}
	if old == h {
		return false, nil
	}
	if who.Name == "" {
		who = ResolveAuthor(r.dir, Author{})
	}
	if err := r.updateRef(t.Tracking, old, h, who, time.Now(), "update by push", false); err != nil {
		return false, err
	}
	return true, nil
}

// isAncestor reports whether old is new or one of its ancestors; known is
// whether old is in the local object store at all.
func (r *Repo) isAncestor(old, new plumbing.Hash) (ff, known bool, err error) {
	if _, err := object.GetCommit(r.st, old); err != nil {
		return false, false, nil
	}
	seen := map[plumbing.Hash]bool{new: true}
	stack := []plumbing.Hash{new}
	shallow := r.shallowCommits()
	for len(stack) > 0 {
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if h == old {
			return true, true, nil
		}
		if shallow[h] {
			continue
		}
		c, err := object.GetCommit(r.st, h)
		if err != nil {
			return false, true, fmt.Errorf("read commit %s: %w", h, err)
		}
		for _, p := range c.ParentHashes {
			if !seen[p] {
				seen[p] = true
				stack = append(stack, p)
			}
		}
	}
	return false, true, nil
}

// pushFailed turns a transport error into one that says what to do.
func (r *Repo) pushFailed(t *PushTarget, authDesc string, err error) error {
	pe := r.pushFailedRaw(t, authDesc, err)
	if p, ok := pe.(*PushError); ok {
		p.Problem = strings.Join(strings.Fields(p.Problem), " ")
	}
	return pe
}

func (r *Repo) pushFailedRaw(t *PushTarget, authDesc string, err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, transport.ErrAuthenticationRequired):
		way := "set FLEETGEN_GIT_TOKEN (and FLEETGEN_GIT_USERNAME if your server needs a user name) to a token allowed to push"
		if authDesc != "" {
			way = authDesc + " was refused: check that the token is valid and allowed to push"
		}
		if h := t.credentialHelper; h != "" {
			way += "; fleetgen does not run git credential helpers (credential.helper=" + h + " is set here): push with `git push` to use it"
		}
		return &PushError{Setting: t.Display + " asks for credentials", Problem: err.Error(), WayOut: way}
	case errors.Is(err, transport.ErrAuthorizationFailed):
		return &PushError{Setting: t.Display + " refused access", Problem: err.Error(), WayOut: "check that the credentials (" + orNone(authDesc) + ") may push to this repository"}
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return &PushError{Setting: t.Display, Problem: "repository not found (or not visible with these credentials: " + orNone(authDesc) + ")", WayOut: "check the URL (`git remote -v`) and the credentials"}
	case strings.Contains(err.Error(), "knownhosts: key is unknown"):
		return &PushError{Setting: "the SSH host key of " + t.Display + " is not in known_hosts", Problem: "fleetgen checks host keys against ~/.ssh/known_hosts (or the files in SSH_KNOWN_HOSTS)",
			WayOut: "verify the server's fingerprint and add its key (connect once with `ssh`, or `ssh-keyscan HOST >> ~/.ssh/known_hosts` after checking it)"}
	case strings.Contains(err.Error(), "knownhosts: key mismatch"):
		return &PushError{Setting: "the SSH host key of " + t.Display + " does not match known_hosts", Problem: "this may be a man-in-the-middle attack, or the server's key changed",
			WayOut: "check the new key with the server's operator before you replace the old line in known_hosts"}
	case strings.Contains(err.Error(), "unable to authenticate"):
		return &PushError{Setting: t.Display + " refused the SSH key", Problem: err.Error(), WayOut: "check that the key (" + orNone(authDesc) + ") may push to this repository"}
	case errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded), strings.Contains(err.Error(), "connection refused"):
		return &PushError{Setting: "cannot reach " + t.Display, Problem: err.Error(), WayOut: "check the URL (`git remote -v`) and the network"}
	}
	return &PushError{Setting: "push to " + t.Display + " failed", Problem: err.Error()}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func shortBranch(n plumbing.ReferenceName) string {
	return strings.TrimPrefix(n.String(), "refs/heads/")
}

// readHeadBranch returns the branch HEAD points to ("" when detached).
func readHeadBranch(gitDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(gitDir, "HEAD"))
	if err != nil {
		return "", err
	}
	h := strings.TrimSpace(string(b))
	if !strings.HasPrefix(h, "ref: refs/heads/") {
		return "", nil
	}
	return strings.TrimPrefix(h, "ref: refs/heads/"), nil
}
