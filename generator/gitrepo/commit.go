package gitrepo

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/fleetgen/fleetgen/generator/fsutil"
	"github.com/fleetgen/fleetgen/generator/tree"
)

// stageNormal is the stage of an index entry without a merge conflict. (go-git
// names stage 1 "Merged", but entries it reads from a normal index have 0.)
const stageNormal index.Stage = 0

// CommitOptions describes one commit. The caller has already written Write
// to the worktree (same bytes, same mode) and removed Delete from it.
type CommitOptions struct {
	// Write lists files now in the worktree with this Content and Mode
	// (tree.ModeScript, or any mode with the owner's x bit, is committed as
	// 100755, anything else as 100644). Unchanged files may be included.
	Write []tree.File
	// Delete lists file paths removed from the worktree (or replaced there by
	// a directory). Directories left empty disappear from the tree. Paths not
	// in HEAD are ignored.
	Delete []string
	// Message is the commit message; a final newline is added if missing.
	Message string
	// Author is used as author and committer (see ResolveAuthor).
	Author Author
	// When is the author and committer date; zero means now.
	When time.Time
	// SignKey, when set, signs the commit with OpenPGP (an unlocked private
	// key) the way `git commit -S` does, so `git verify-commit` accepts it.
	SignKey *openpgp.Entity

	// ExpectHead, when set, is the commit HEAD held when the caller read
	// the repository (zero: unborn): if HEAD moved since, nothing is
	// committed (compare-and-swap, so a commit made meanwhile is never
	// reverted).
	ExpectHead *plumbing.Hash

	// Base is the commit holding the previous generated tree (zero: none
	// yet). With Snapshot or SnapshotCopy, the new generated tree is
	// Base's tree edited: Snapshot's files set and removed, or the
	// SnapshotCopy paths (files or folders) copied from the new commit's
	// tree. When that tree differs from Base's, it is committed on the
	// generated line (parent Base) and that commit becomes the new
	// commit's second parent, named by a Fleetgen-Generated trailer; a
	// commit is then made even if the branch's tree does not change.
	Base         plumbing.Hash
	Snapshot     *Snapshot
	SnapshotCopy []string
	// RecordBase records Base itself as the second parent even when the
	// generated tree does not change (it came from the old
	// refs/fleetgen/generated, which a push does not carry).
	RecordBase bool
	// SnapshotMessage is the generated-line commit's message.
	SnapshotMessage string
}

// Commit records HEAD's tree plus opts.Write minus opts.Delete as a new
// commit on the current branch (HEAD's parent commit, if any, is its parent),
// moves the branch, and updates the index entries of those paths so that
// `git status` is clean. It never scans the worktree: only the given paths are
// stat-ed and hashed, only objects the repository lacks are stored (as one
// packfile when there are at least 100 of them, else as loose objects), and
// only the trees on changed paths are rebuilt.
//
// When the resulting tree equals HEAD's (or is empty on an unborn branch), no
// commit is made: committed is false and hash is HEAD (zero if unborn); the
// index still gets the files' fresh stat data.
//
// Unsigned commits are deterministic: the same files, message, author and
// time give the same commit hash.
func (r *Repo) Commit(opts CommitOptions) (hash plumbing.Hash, committed bool, err error) {
	// 1. Check every path against the worktree before changing anything.
	type write struct {
		path string
		mode filemode.FileMode
		hash plumbing.Hash
		fi   os.FileInfo
		data []byte
	}
	writes := make([]write, len(opts.Write))
	seen := make(map[string]bool, len(opts.Write))
	for i := range opts.Write {
		f := &opts.Write[i]
		if err := tree.CheckPath(f.Path); err != nil {
			return plumbing.ZeroHash, false, err
		}
		if seen[f.Path] {
			return plumbing.ZeroHash, false, fmt.Errorf("commit: %q listed twice", f.Path)
		}
		seen[f.Path] = true
		mode := filemode.Regular
		if f.Mode&0o100 != 0 {
			mode = filemode.Executable
		}
		fi, err := os.Lstat(r.abs(f.Path))
		if err != nil {
			return plumbing.ZeroHash, false, fmt.Errorf("commit: %w", err)
		}
		switch {
		case !fi.Mode().IsRegular():
			return plumbing.ZeroHash, false, fmt.Errorf("commit: %s is not a regular file in the worktree", f.Path)
		case fi.Size() != int64(len(f.Content)):
			return plumbing.ZeroHash, false, fmt.Errorf("commit: %s has %d bytes in the worktree, not the %d to commit", f.Path, fi.Size(), len(f.Content))
		case (fi.Mode()&0o100 != 0) != (mode == filemode.Executable):
			return plumbing.ZeroHash, false, fmt.Errorf("commit: %s has mode %v in the worktree, not %v", f.Path, fi.Mode().Perm(), fs.FileMode(f.Mode).Perm())
		}
		writes[i] = write{f.Path, mode, plumbing.ComputeHash(plumbing.BlobObject, f.Content), fi, f.Content}
	}
	deleted := make(map[string]bool, len(opts.Delete))
	for _, p := range opts.Delete {
		if err := tree.CheckPath(p); err != nil {
			return plumbing.ZeroHash, false, err
		}
		if seen[p] {
			return plumbing.ZeroHash, false, fmt.Errorf("commit: %q is both written and deleted", p)
		}
		// A directory there is fine: a file turned into a folder.
		if fi, err := os.Lstat(r.abs(p)); err == nil && !fi.IsDir() {
			return plumbing.ZeroHash, false, fmt.Errorf("commit: deleted file %s still exists in the worktree", p)
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return plumbing.ZeroHash, false, fmt.Errorf("commit: %w", err)
		}
		deleted[p] = true
	}

	// 2. Lock as git does, so no git command runs in between: the run's
	// lock when the caller holds one (taken before it read anything),
	// else one for this commit alone.
	l := r.lock
	if l == nil {
		if l, err = r.Lock(); err != nil {
			return plumbing.ZeroHash, false, err
		}
		defer func() {
			if uerr := l.Release(); uerr != nil && err == nil {
				err = uerr
			}
		}()
	}

	// 3. Where HEAD is.
	r.refresh()
	headRef, err := r.st.Reference(plumbing.HEAD)
	if err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("read HEAD: %w", err)
	}
	branch, oldRef := plumbing.HEAD, headRef // detached HEAD: move HEAD itself
	if headRef.Type() == plumbing.SymbolicReference {
		branch = headRef.Target()
		oldRef, err = r.st.Reference(branch)
		if errors.Is(err, plumbing.ErrReferenceNotFound) {
			oldRef, err = nil, nil
		}
		if err != nil {
			return plumbing.ZeroHash, false, fmt.Errorf("read %s: %w", branch, err)
		}
	}
	var parent, parentTree plumbing.Hash
	if oldRef != nil {
		parent = oldRef.Hash()
		c, err := object.GetCommit(r.st, parent)
		if err != nil {
			return plumbing.ZeroHash, false, fmt.Errorf("read HEAD commit %s: %w", parent, err)
		}
		parentTree = c.TreeHash
	}

	// 4. New tree: HEAD's tree - Delete + Write, storing missing blobs.
	stage := newStagingStore(r.st)
	ed, err := newTreeEditor(stage, parentTree)
	if err != nil {
		return plumbing.ZeroHash, false, err
	}
	ed.known = r.trees
	ed.noLookup = r.fresh || len(opts.Write)+len(opts.Delete) >= packThreshold
	for _, p := range opts.Delete {
		if _, err := ed.remove(p); err != nil {
			return plumbing.ZeroHash, false, err
		}
	}
	stored := make(map[plumbing.Hash]bool)
	for _, w := range writes {
		changed, err := ed.set(w.path, w.mode, w.hash)
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
		if !changed || stored[w.hash] {
			continue // HEAD's tree already has this blob at this path
		}
		stored[w.hash] = true
		if !r.needsStore(stage, w.hash, len(writes) >= packThreshold) {
			continue
		}
		obj := &plumbing.MemoryObject{}
		obj.SetType(plumbing.BlobObject)
		obj.Write(w.data)
		stage.SetEncodedObject(obj)
	}
	newTree, err := ed.write(true)
	if err != nil {
		return plumbing.ZeroHash, false, err
	}

	if opts.ExpectHead != nil && *opts.ExpectHead != parent {
		return plumbing.ZeroHash, false, fmt.Errorf("%s moved from %s to %s while fleetgen ran (a commit was made meanwhile); nothing was committed: run fleetgen again", branch.Short(), short(*opts.ExpectHead), short(parent))
	}

	// 5. The generated tree, when the caller records one: Base's tree
	// edited, committed on the generated line (parent: Base).
	snap := opts.Base
	if opts.Snapshot != nil || opts.SnapshotCopy != nil {
		snap, err = r.snapshotCommit(stage, opts, newTree)
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
	}

	// 6. The commit, unless nothing changed. A new generated tree is
	// merged in as the second parent, so it travels with the branch.
	hash = parent
	mergeIn := !snap.IsZero() && (snap != opts.Base || opts.RecordBase)
	if mergeIn || (newTree != parentTree && !(parent.IsZero() && len(ed.root.entries) == 0)) {
		var parents []plumbing.Hash
		if !parent.IsZero() {
			parents = append(parents, parent)
		}
		msg := opts.Message
		if mergeIn {
			parents = append(parents, snap)
			msg = withTrailer(msg, BaseTrailer, snap.String())
		}
		hash, err = writeCommit(stage, opts.Author, opts.When, opts.SignKey, msg, newTree, parents)
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
		staged := stage.order
		if err := stage.flush(); err != nil {
			return plumbing.ZeroHash, false, err
		}
		r.remember(staged)
		// Everything the commit needs is on disk before the branch
		// points to it (a power cut never leaves it naming lost objects).
		if err := fsutil.Sync(r.dir); err != nil {
			return plumbing.ZeroHash, false, err
		}
		CrashPoint("objects", 0)
		kind := "commit"
		switch {
		case parent.IsZero():
			kind = "commit (initial)"
		case len(parents) > 1:
			kind = "commit (merge)"
		}
		if err := r.updateRef(branch, parent, hash, opts.Author, opts.When, kind+": "+opts.Message, branch != plumbing.HEAD); err != nil {
			return plumbing.ZeroHash, false, err
		}
		committed = true
		CrashPoint("ref", 0)
	}

	// 7. Index: only the written and deleted paths change; the other
	// entries are copied as they are (see rawIndex).
	idx, err := r.readIndex()
	if err != nil {
		return hash, committed, fmt.Errorf("read index: %w", err)
	}
	edited := map[int]*index.Entry{}
	var added []*index.Entry
	touch := func(p string, w *write) {
		var normal *index.Entry
		for i := idx.search(p); i < idx.len() && idx.names[i] == p; i++ {
			if idx.stage(i) != stageNormal || w == nil {
				edited[i] = nil // deleted, or a conflict this commit resolves
				continue
			}
			e := *idx.entry(i)
			normal = &e
			edited[i] = normal
		}
		if w == nil {
			return
		}
		if normal == nil {
			normal = &index.Entry{Name: p}
			added = append(added, normal)
		}
		normal.Hash, normal.Mode = w.hash, w.mode
		normal.SkipWorktree, normal.IntentToAdd = false, false
		fillStat(normal, w.fi)
	}
	for p := range deleted {
		touch(p, nil)
	}
	for i := range writes {
		touch(writes[i].path, &writes[i])
	}
	r.idx = nil // about to change on disk
	if err := l.writeIndex(func(w *os.File) error {
		bw := bufio.NewWriterSize(w, 1<<16)
		if err := idx.writeEdited(bw, edited, added); err != nil {
			return err
		}
		return bw.Flush()
	}); err != nil {
		return hash, committed, err
	}
	return hash, committed, nil
}

func writeCommit(s storer.EncodedObjectStorer, author Author, when time.Time, key *openpgp.Entity, msg string, treeHash plumbing.Hash, parents []plumbing.Hash) (plumbing.Hash, error) {
	if when.IsZero() {
		when = time.Now()
	}
	who := object.Signature{Name: sanitizeIdent(author.Name), Email: sanitizeIdent(author.Email), When: when}
	if who.Name == "" || who.Email == "" {
		return plumbing.ZeroHash, fmt.Errorf("commit: author name and email are required (see ResolveAuthor)")
	}
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	c := &object.Commit{Author: who, Committer: who, Message: msg, TreeHash: treeHash, ParentHashes: parents}
	if key != nil {
		unsigned := &plumbing.MemoryObject{}
		if err := c.EncodeWithoutSignature(unsigned); err != nil {
			return plumbing.ZeroHash, err
		}
		rd, err := unsigned.Reader()
		if err != nil {
			return plumbing.ZeroHash, err
		}
		sig, err := signDetached(key, unsigned, rd, when)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		c.PGPSignature = sig
	}
	obj := &plumbing.MemoryObject{}
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.SetEncodedObject(obj)
}

// signDetached makes an armored detached OpenPGP signature of the unsigned
// commit. The signature is dated like the commit, but never before the key was
// made (a signature older than its key is invalid); if the key rejects that
// date (expired then), it is dated now. go-crypto salts signatures by default,
// so a signed commit's hash is not reproducible; unsigned ones are.
func signDetached(key *openpgp.Entity, unsigned *plumbing.MemoryObject, rd io.Reader, when time.Time) (string, error) {
	at := when
	if key.PrimaryKey != nil && key.PrimaryKey.CreationTime.After(at) {
		at = key.PrimaryKey.CreationTime
	}
	for _, sk := range key.Subkeys {
		if sk.PublicKey != nil && sk.PublicKey.CreationTime.After(at) {
			at = sk.PublicKey.CreationTime
		}
	}
	var sig bytes.Buffer
	err := openpgp.ArmoredDetachSign(&sig, key, rd, &packet.Config{Time: func() time.Time { return at }})
	if err != nil {
		sig.Reset()
		if rd, err = unsigned.Reader(); err == nil {
			err = openpgp.ArmoredDetachSign(&sig, key, rd, nil)
		}
	}
	if err != nil {
		return "", fmt.Errorf("sign commit: %w", err)
	}
	return sig.String(), nil
}

// sanitizeIdent drops what git would refuse in an identity.
func sanitizeIdent(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		switch r {
		case '<', '>', '\n', '\r', 0:
			return -1
		}
		return r
	}, s))
}

func (r *Repo) abs(p string) string { return filepath.Join(r.dir, filepath.FromSlash(p)) }
