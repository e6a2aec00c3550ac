package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/fleetgen/fleetgen/generator"
	"github.com/fleetgen/fleetgen/generator/spec"
	"github.com/fleetgen/fleetgen/generator/tree"
)

// What the model test (model_test.go) checks after its steps, and the git
// CLI it checks with.

// gitIn runs the git CLI as an operator would, with a fixed identity and
// no user or system config. (maintenance.auto=false: a commit would start
// `git maintenance run --auto`, which does nothing in repositories this
// small but costs a process.)
func (m *model) gitIn(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-c", "user.name=Operator", "-c", "user.email=op@example.com", "-c", "commit.gpgsign=false", "-c", "maintenance.auto=false"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (m *model) git(args ...string) (string, error) { return m.gitIn(m.dir, args...) }

func (m *model) mustGit(args ...string) string { return m.mustGitIn(m.dir, args...) }

func (m *model) mustGitIn(dir string, args ...string) string {
	out, err := m.gitIn(dir, args...)
	if err != nil {
		m.fail("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// runFleetgen runs a command that writes. A conflict must only name files
// the operator edited: the model then reverts its edits there with git,
// commits, and runs the command again.
func (m *model) runFleetgen(args []string) {
	for attempt := 0; ; attempt++ {
		head := m.lastHead // every step ends with check
		out, errs, code := fleetgen(m.t, append(args, testAuthor...)...)
		if code == 0 {
			m.forgetUnplannedDeletions()
			m.note(m.outcome(out))
			return
		}
		if !strings.Contains(errs, "conflict") {
			m.fail("%s: exit %d\nstdout: %s\nstderr: %s", m.cmdline(args), code, out, errs)
		}
		m.check(false) // nothing written
		if m.lastHead != head {
			m.fail("%s reported a conflict and committed %s", m.cmdline(args), m.lastHead)
		}
		conflicts := parseConflicts(errs)
		if len(conflicts) == 0 {
			m.fail("%s: a conflict that names no file:\n%s", m.cmdline(args), errs)
		}
		if attempt == 2 {
			m.fail("%s still conflicts after the operator reverted their edits:\n%s", m.cmdline(args), errs)
		}
		var names []string
		for _, c := range conflicts {
			if strings.Contains(c.reason, "not written by fleetgen") {
				m.fail("%s calls %s %q, but fleetgen wrote it\n%s", m.cmdline(args), c.path, c.reason, errs)
			}
			if c.path == "fleet.yaml" || c.path == "clusters.csv" {
				m.fail("%s reports a conflict on %s (%s): the operator's own spec file, which they edited as the spec and fleetgen only has to carry\n%s", m.cmdline(args), c.path, c.reason, errs)
			}
			if len(m.edits[c.path]) == 0 {
				m.fail("%s reports a conflict on %s (%s), a file the operator never edited\n%s", m.cmdline(args), c.path, c.reason, errs)
			}
			m.revert(c.path)
			names = append(names, c.path)
		}
		m.mustGit("commit", "-q", "-a", "-m", "resolve: revert my edits to "+strings.Join(names, ", "))
		m.check(false)
		m.note("conflict on " + strings.Join(names, ", ") + ": the operator reverted their edits there and reran")
	}
}

type conflictLine struct{ path, reason string }

// parseConflicts reads the "  path: reason" lines of a ConflictError.
func parseConflicts(errs string) []conflictLine {
	var out []conflictLine
	for _, l := range strings.Split(errs, "\n") {
		if rest, ok := strings.CutPrefix(l, "  "); ok {
			if p, reason, ok := strings.Cut(rest, ": "); ok {
				out = append(out, conflictLine{p, reason})
			}
		}
	}
	return out
}

// revert undoes the operator's edits to p: changed lines get their old
// value back, appended lines go.
func (m *model) revert(p string) {
	lines := strings.Split(m.read(p), "\n")
	for _, e := range m.edits[p] {
		i := indexOf(lines, e.line)
		if i < 0 {
			m.fail("revert %s: line %q is not there", p, e.line)
		}
		if e.orig == "" {
			lines = append(lines[:i:i], lines[i+1:]...)
		} else {
			lines[i] = e.orig
		}
	}
	m.write(p, strings.Join(lines, "\n"))
	delete(m.edits, p)
}

func indexOf(lines []string, l string) int {
	for i, x := range lines {
		if x == l {
			return i
		}
	}
	return -1
}

// outcome is what a run's last line says, without the folder, the commit
// hash and the timing (which differ from run to run).
func (m *model) outcome(out string) string {
	s := strings.TrimSpace(out)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	switch {
	case strings.Contains(s, "up to date"):
		return "up to date"
	case strings.HasPrefix(s, "attached "):
		return "attached"
	}
	s = strings.TrimPrefix(s, m.dir+": ")
	if i := strings.Index(s, "; committed"); i >= 0 {
		s = s[:i]
	}
	return s
}

// cmdline shows args as the operator typed them.
func (m *model) cmdline(args []string) string {
	return "fleetgen " + strings.ReplaceAll(strings.Join(args, " "), m.dir, "DIR")
}

// repeatNoOp runs a command that just succeeded once more: it must change
// nothing and commit nothing.
func (m *model) repeatNoOp(args []string) {
	head := m.lastHead // every step checks before it repeats
	out, errs, code := fleetgen(m.t, append(args, testAuthor...)...)
	m.note("repeated: " + m.outcome(out))
	// Say first what the operator lost, if anything.
	m.check(false)
	if code == 0 && strings.Contains(out, "up to date") && m.lastHead == head {
		return
	}
	// A regen of a region that left the spec deletes its folders; once
	// they are gone, fleetgen no longer knows the name and refuses it,
	// writing nothing: as much a no-op.
	if code != 0 && strings.Contains(errs, "no such region") && m.lastHead == head {
		return
	}
	m.fail("the same `%s` again is not a no-op: exit %d, HEAD %s -> %s\nstdout: %s\nstderr: %s",
		m.cmdline(args), code, shortHash(head), shortHash(m.lastHead), out, errs)
}

// check: git status is clean and every hand edit is still at HEAD. When
// fleetgen or git clone wrote (wrote), also: HEAD's tree as `git ls-tree`
// lists it is the worktree file for file (bytes and mode), and `git fsck
// --strict` is clean. After a step in which only the git CLI wrote, the
// files are read from the worktree, which git status has just found equal
// to HEAD.
func (m *model) check(wrote bool) {
	// One git status gives both the worktree's state and HEAD.
	st := m.mustGit("status", "--porcelain=v2", "--branch", "--untracked-files=all")
	var dirty []string
	m.lastHead = ""
	for _, l := range strings.Split(strings.TrimSpace(st), "\n") {
		if h, ok := strings.CutPrefix(l, "# branch.oid "); ok {
			m.lastHead = h
		} else if !strings.HasPrefix(l, "# ") && l != "" {
			dirty = append(dirty, l)
		}
	}
	if len(dirty) > 0 {
		m.fail("git status is not clean:\n%s", strings.Join(dirty, "\n"))
	}
	if m.lastHead == "" || m.lastHead == "(initial)" {
		m.fail("git status shows no HEAD commit:\n%s", st)
	}
	if m.lastHead == m.checkedHead && !wrote {
		return // HEAD's files were checked as they are
	}
	m.checkedHead = m.lastHead
	files := m.worktreeTree()
	if wrote && m.treeHead == m.lastHead {
		// HEAD did not move: the worktree must still be the tree read
		// at this HEAD (git status may not see a file rewritten with the
		// same size and time).
		for _, p := range sortedKeys(files) {
			if files[p].hash != m.tree[p].hash || files[p].mode != m.tree[p].mode {
				m.fail("HEAD did not move and git status is clean, but %s changed in the worktree", p)
			}
		}
		if len(files) != len(m.tree) {
			m.fail("HEAD did not move and git status is clean, but the worktree has %d files instead of %d", len(files), len(m.tree))
		}
		m.fsck()
	} else if wrote {
		head := m.lsTree()
		for _, p := range sortedKeys(head) {
			w, ok := files[p]
			if !ok || w.hash != head[p].hash || w.mode != head[p].mode {
				m.fail("git status is clean, but %s at HEAD (%s %s) is not the worktree's file (present: %v, %s %s)", p, head[p].mode, head[p].hash, ok, w.mode, w.hash)
			}
		}
		for _, p := range sortedKeys(files) {
			if _, ok := head[p]; !ok {
				m.fail("git status is clean, but %s is in the worktree and not at HEAD", p)
			}
		}
		m.fsck()
	}
	m.tree, m.treeHead = files, m.lastHead
	for _, p := range sortedKeys(m.edits) {
		f, ok := files[p]
		if !ok {
			m.fail("hand edit lost: %s, which the operator edited, is no longer at HEAD", p)
		}
		for _, e := range m.edits[p] {
			if indexOf(strings.Split(f.content, "\n"), e.line) < 0 {
				m.fail("hand edit lost: %s at HEAD no longer has the line %q\n%s", p, e.line, f.content)
			}
		}
	}
	for _, p := range sortedKeys(m.added) {
		if f, ok := files[p]; !ok || f.content != m.added[p] {
			m.fail("hand-added file lost: %s at HEAD (present: %v) is not what the operator added", p, ok)
		}
	}
	for _, p := range sortedKeys(m.deleted) {
		f, ok := files[p]
		switch {
		case !ok:
		case f.content == m.deleted[p]:
			m.fail("hand deletion undone: %s is back at HEAD with the bytes it had when the operator deleted it", p)
		default:
			// The spec changed the file since: fleetgen writes the new version.
			delete(m.deleted, p)
			m.note(p + " generated again with new content")
		}
	}
}

// fsck runs git fsck --strict, unless no object or ref changed since the
// last time it passed.
func (m *model) fsck() {
	fp := m.gitFingerprint()
	if fp == m.fsckedPrint {
		return
	}
	out, err := m.git("fsck", "--strict", "--no-progress", "--no-dangling")
	if err != nil || strings.TrimSpace(out) != "" {
		m.fail("git fsck --strict: %v\n%s", err, out)
	}
	m.fsckedPrint = fp
}

// gitFingerprint names every object, ref and reflog file under .git with
// its size and time: what fsck checks, but for the index, which git
// status itself rewrites (and checks against the worktree and HEAD).
func (m *model) gitFingerprint() string {
	var b strings.Builder
	b.WriteString(m.dir + "\n")
	gitDir := filepath.Join(m.dir, ".git")
	for _, sub := range []string{"objects", "refs", "logs", "packed-refs", "HEAD"} {
		_ = filepath.WalkDir(filepath.Join(gitDir, sub), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			if info, err := d.Info(); err == nil {
				fmt.Fprintf(&b, "%s %d %d\n", p, info.Size(), info.ModTime().UnixNano())
			}
			return nil
		})
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// treeFile is one file of HEAD or of the worktree: its mode and blob hash
// as git writes them (and, in the worktree, its content).
type treeFile struct {
	mode, hash, content string
}

// worktreeTree reads every file of the worktree.
func (m *model) worktreeTree() map[string]treeFile {
	files := map[string]treeFile{}
	for _, p := range m.worktreeFiles() {
		full := filepath.Join(m.dir, filepath.FromSlash(p))
		st, err := os.Lstat(full)
		if err != nil {
			m.fail("%v", err)
		}
		b, err := os.ReadFile(full)
		if err != nil {
			m.fail("%v", err)
		}
		mode := "100644"
		if st.Mode()&0o111 != 0 {
			mode = "100755"
		}
		files[p] = treeFile{mode: mode, hash: plumbing.ComputeHash(plumbing.BlobObject, b).String(), content: string(b)}
	}
	return files
}

// lsTree lists HEAD's files with `git ls-tree -r`.
func (m *model) lsTree() map[string]treeFile {
	out := m.mustGit("ls-tree", "-r", "-z", "--full-tree", "HEAD")
	files := map[string]treeFile{}
	for _, rec := range strings.Split(out, "\x00") {
		meta, p, ok := strings.Cut(rec, "\t")
		if !ok {
			continue
		}
		f := strings.Fields(meta) // mode type hash
		files[p] = treeFile{mode: f[0], hash: f[2]}
	}
	return files
}

// plan is what fleetgen generates from the committed fleet.yaml.
func (m *model) plan() *generator.Result {
	key := m.read("fleet.yaml") + "\x00" + m.read("clusters.csv")
	if m.planned != nil && m.plannedKey == key {
		return m.planned
	}
	l, err := spec.LoadFile(filepath.Join(m.dir, "fleet.yaml"))
	if err != nil {
		m.fail("the model wrote a fleet.yaml that does not load: %v", err)
	}
	res, err := generator.Plan(l)
	if err != nil {
		m.fail("plan: %v", err)
	}
	m.planned, m.plannedKey = res, key
	return res
}

// forgetUnplannedDeletions stops tracking hand deletions of files the spec
// no longer plans: once a run has removed their cluster or region,
// recreating them with the region is right.
func (m *model) forgetUnplannedDeletions() {
	if len(m.deleted) == 0 {
		return
	}
	res := m.plan()
	for p := range m.deleted {
		if _, ok := res.Tree.Get(p); !ok {
			delete(m.deleted, p)
		}
	}
}

// checkConverged: after a regen (or an inventory command) of regions (nil:
// all) and files, every file there at HEAD is the plan of the committed
// fleet.yaml, except the operator's: edited files, added ones, deleted
// ones, and the attached design document.
func (m *model) checkConverged(regions []string, files ...string) {
	var prefixes []string
	for _, r := range regions {
		for _, p := range generator.RegionPaths(r) {
			prefixes = append(prefixes, p+"/")
		}
	}
	inScope := func(p string) bool {
		if regions == nil {
			return true
		}
		for _, f := range files {
			if p == f {
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
	res := m.plan()
	head := m.tree // HEAD, as the check after the run read it
	if m.treeHead != m.lastHead {
		m.fail("model bug: checkConverged without a check of HEAD")
	}
	planned := map[string]bool{}
	for _, f := range res.Tree.Files {
		if !inScope(f.Path) {
			continue
		}
		planned[f.Path] = true
		if f.Owner == tree.Seeded || len(m.edits[f.Path]) > 0 {
			continue
		}
		got, ok := head[f.Path]
		if !ok {
			if _, del := m.deleted[f.Path]; del {
				continue
			}
			m.fail("%s is planned by the committed fleet.yaml but not at HEAD after the run", f.Path)
		}
		if want := plumbing.ComputeHash(plumbing.BlobObject, f.Content).String(); got.hash != want {
			m.fail("%s at HEAD is not what the committed fleet.yaml plans, and the operator did not edit it\n%s",
				f.Path, firstDiff(got.content, string(f.Content)))
		}
		if want := fmt.Sprintf("100%o", f.Mode); got.mode != want {
			m.fail("%s at HEAD has mode %s, planned %s", f.Path, got.mode, want)
		}
	}
	for _, p := range sortedKeys(head) {
		if !inScope(p) || planned[p] || p == DesignDocPath || len(m.edits[p]) > 0 {
			continue
		}
		if _, ok := m.added[p]; ok {
			continue
		}
		m.fail("%s is at HEAD, but the committed fleet.yaml no longer plans it and the operator did not edit it", p)
	}
}

// firstDiff shows the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return fmt.Sprintf("line %d: HEAD has %q, the plan %q", i+1, a, b)
		}
	}
	return "same lines (different line ends?)"
}
