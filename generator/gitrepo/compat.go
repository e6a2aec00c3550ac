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
	"strconv"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/config"
	"github.com/go-git/go-git/v5/plumbing/format/gitattributes"
	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// Follow git or refuse up front: before fleetgen writes anything in an
// existing repository, the repository's layout, state and git settings
// are read the way git reads them (system, global, XDG, local and
// per-worktree config; attributes files; hooks), and what fleetgen cannot
// do as git would is refused with one message that names the setting and
// the way out. What it can do as git would is followed: fileMode, symlinks,
// text/eol conversion on add, sparse checkouts (as long as nothing is
// written outside them), index version 4.

// CompatOptions are the caller's answers to git policies fleetgen does not
// apply itself.
type CompatOptions struct {
	// Branch is the branch the fleet's clusters sync (spec.git.branch);
	// empty skips the check.
	Branch string
	// AllowOtherBranch lets fleetgen commit on a checked-out branch that
	// is not Branch (--allow-other-branch).
	AllowOtherBranch bool
	// NoVerify commits although executable git hooks exist (--no-verify):
	// fleetgen does not run hooks.
	NoVerify bool
	// Signing is set when fleetgen signs its commits (--sign-key), which
	// honours commit.gpgsign.
	Signing bool
}

// CompatError is a refusal: the repository uses a git feature or setting
// fleetgen cannot follow. Nothing was written.
type CompatError struct {
	Dir     string
	Setting string // what git calls it: core.autocrlf=true, a linked worktree...
	Problem string // what fleetgen would get wrong
	WayOut  string // what the user can do
}

func (e *CompatError) Error() string {
	return fmt.Sprintf("%s: %s: %s; %s (nothing was written)", e.Dir, e.Setting, e.Problem, e.WayOut)
}

// Compat is what CheckCompat learnt of a repository: what the later checks
// of the paths fleetgen writes need.
type Compat struct {
	dir, gitDir string
	cfg         gitConfig
	trustExec   bool // core.fileMode
	symlinks    bool // core.symlinks
	autocrlf    string
	eolCRLF     bool // core.eol=crlf
	sparse      []gitignore.Pattern
	sparseOn    bool
	attrs       *attrStack
}

// CheckCompat reads the repository whose worktree root is dir (dir/.git
// must exist) and refuses what fleetgen cannot do there as git would.
func CheckCompat(dir string, o CompatOptions) (*Compat, error) {
	c := &Compat{dir: dir, gitDir: filepath.Join(dir, ".git")}
	refuse := func(setting, problem, wayOut string) error {
		return &CompatError{Dir: dir, Setting: setting, Problem: problem, WayOut: wayOut}
	}
	st, err := os.Lstat(c.gitDir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		target := gitFileTarget(c.gitDir)
		if _, err := os.Stat(filepath.Join(target, "commondir")); err == nil {
			main := filepath.Dir(filepath.Dir(filepath.Clean(target)))
			if filepath.Base(main) == ".git" {
				main = filepath.Dir(main)
			}
			return nil, refuse("a linked worktree (git worktree add) of "+main,
				"fleetgen works only in a repository's main worktree (where .git is a folder)",
				"run fleetgen in "+main+", or in a clone (`git clone "+main+" <folder>`)")
		}
		return nil, refuse(".git is a file pointing to "+target+" (git init --separate-git-dir, or a submodule)",
			"fleetgen needs the repository's .git folder inside "+dir,
			"work in a regular clone (`git clone "+dir+" <folder>`), or move the git folder back: `mv "+target+" "+c.gitDir+"` after deleting the .git file")
	}
	if err := c.cfg.load(c.gitDir); err != nil {
		return nil, err
	}
	cfg := &c.cfg

	// Repository format and extensions (go-git refuses them all, with
	// "unknown extension").
	if v, _ := cfg.get("core", "", "repositoryformatversion"); v != "" && v != "0" && v != "1" {
		return nil, refuse("core.repositoryformatversion="+v, "fleetgen does not know this repository format", "use a repository made by git 2.x with default settings")
	}
	exts := cfg.keys("extensions")
	if _, ok := cfg.get("core", "", "repositoryformatversion"); !ok {
		exts = nil // git ignores them (see gitConfig.load)
	}
	for _, ext := range exts {
		switch ext {
		case "worktreeconfig": // read here: config.worktree
		case "partialclone":
			return nil, refuse("a partial clone (extensions.partialClone, git clone --filter)",
				"blobs fleetgen reads may be missing and it cannot fetch them on demand",
				"make a full clone (`git clone` without --filter) and run fleetgen there")
		case "noop":
		default:
			v, _ := cfg.get("extensions", "", ext)
			return nil, refuse("extensions."+ext+"="+v, "fleetgen does not support this repository extension", "run fleetgen in a repository without it (a sha1 repository made by `git init` or `git clone`)")
		}
	}
	for _, remote := range cfg.subsections("remote") {
		if cfg.boolean("remote", remote, "promisor", false) {
			return nil, refuse("a partial clone (remote."+remote+".promisor=true, git clone --filter)",
				"blobs fleetgen reads may be missing and it cannot fetch them on demand",
				"make a full clone (`git clone` without --filter) and run fleetgen there")
		}
	}
	if alt, err := os.ReadFile(filepath.Join(c.gitDir, "objects", "info", "alternates")); err == nil && len(bytes.TrimSpace(alt)) > 0 {
		return nil, refuse("objects borrowed from another repository (.git/objects/info/alternates: git clone --shared or --reference)",
			"fleetgen reads objects only from this repository's own object store",
			"copy the borrowed objects in and drop the link: `git repack -a -d && rm .git/objects/info/alternates` (or clone with --dissociate)")
	}

	// A git operation in progress: a commit now would not be the one it
	// expects.
	for _, s := range []struct{ file, what, wayOut string }{
		{"MERGE_HEAD", "a merge is in progress", "finish it with `git commit`, or `git merge --abort`"},
		{"CHERRY_PICK_HEAD", "a cherry-pick is in progress", "finish it with `git cherry-pick --continue`, or `git cherry-pick --abort`"},
		{"REVERT_HEAD", "a revert is in progress", "finish it with `git revert --continue`, or `git revert --abort`"},
		{"rebase-merge", "a rebase is in progress", "finish it with `git rebase --continue`, or `git rebase --abort`"},
		{"rebase-apply", "a rebase or `git am` is in progress", "finish it with `git rebase --continue` (`git am --continue`), or abort it"},
		{"BISECT_LOG", "a bisect is in progress", "end it with `git bisect reset`"},
	} {
		if _, err := os.Lstat(filepath.Join(c.gitDir, s.file)); err == nil {
			return nil, refuse(s.what+" (.git/"+s.file+")", "fleetgen's commit would not be the one git expects", s.wayOut)
		}
	}

	// The index: a split or sparse index cannot be rewritten here. (Read
	// only when git may have made one: a split index always comes with a
	// sharedindex.* file, a sparse one with index.sparse.)
	shared, _ := filepath.Glob(filepath.Join(c.gitDir, "sharedindex.*"))
	mayNeed := len(shared) > 0 || cfg.boolean("index", "", "sparse", false)
	if !mayNeed {
		// nothing to look for
	} else if ext, err := indexRequiredExtension(filepath.Join(c.gitDir, "index")); err != nil {
		return nil, err
	} else {
		switch ext {
		case "":
		case "link":
			return nil, refuse("a split index (core.splitIndex=true)",
				"fleetgen cannot rewrite a split index",
				"make it whole with `git config core.splitIndex false && git update-index --no-split-index`, then run again")
		case "sdir":
			return nil, refuse("a sparse index (index.sparse=true)",
				"fleetgen cannot rewrite a sparse index",
				"expand it with `git sparse-checkout init --no-sparse-index` (or `git config index.sparse false`), then run again")
		default:
			return nil, refuse("index extension "+strconv.Quote(ext),
				"fleetgen does not know this required index extension",
				"rewrite the index with default settings (`git config --unset index.version; git update-index --index-version 2`), then run again")
		}
	}

	// HEAD: the branch the clusters sync.
	if o.Branch != "" && !o.AllowOtherBranch {
		head, err := os.ReadFile(filepath.Join(c.gitDir, "HEAD"))
		if err != nil {
			return nil, err
		}
		h := strings.TrimSpace(string(head))
		want := "refs/heads/" + o.Branch
		switch {
		case !strings.HasPrefix(h, "ref: "):
			return nil, refuse("HEAD is detached (at "+shortID(h)+")",
				"fleetgen would commit where no branch points, while the clusters sync branch "+o.Branch+" (spec.git.branch)",
				"check out "+o.Branch+" (`git switch "+o.Branch+"`), or pass --allow-other-branch")
		case strings.TrimPrefix(h, "ref: ") != want:
			cur := strings.TrimPrefix(strings.TrimPrefix(h, "ref: "), "refs/heads/")
			sw := "`git switch " + o.Branch + "`"
			if _, err := os.Stat(filepath.Join(c.gitDir, "refs", "heads", filepath.FromSlash(cur))); err != nil && !strings.Contains(readString(filepath.Join(c.gitDir, "packed-refs")), " refs/heads/"+cur+"\n") {
				sw = "`git switch --orphan " + o.Branch + "`, as " + cur + " has no commit yet" // unborn
			}
			return nil, refuse("the checked-out branch is "+cur+", not "+o.Branch+" (spec.git.branch)",
				"the clusters sync "+o.Branch+", so fleetgen's commit on "+cur+" would not reach them",
				"check out "+o.Branch+" ("+sw+"), or pass --allow-other-branch to commit on "+cur+" anyway")
		}
	}

	// Commit policy.
	if cfg.boolean("commit", "", "gpgsign", false) && !o.Signing {
		return nil, refuse("commit.gpgsign=true",
			"git signs every commit here and fleetgen signs only with a key file it is given",
			"pass --sign-key FILE (an armored, unprotected OpenPGP private key), or turn it off for this repository with `git config commit.gpgsign false`")
	}
	if !o.NoVerify {
		if hook := c.executableHook(); hook != "" {
			return nil, refuse("an executable git hook ("+hook+")",
				"fleetgen commits with go-git and does not run hooks",
				"pass --no-verify to commit without them (like `git commit --no-verify`; fleetgen then runs none of pre-commit, prepare-commit-msg, commit-msg, post-commit), or make the hook non-executable")
		}
	}

	// What the path checks follow.
	c.trustExec = cfg.boolean("core", "", "filemode", true)
	c.symlinks = cfg.boolean("core", "", "symlinks", true)
	c.autocrlf = "false"
	if v, ok := cfg.get("core", "", "autocrlf"); ok {
		switch strings.ToLower(v) {
		case "input":
			c.autocrlf = "input"
		default:
			if b, ok := parseBool(v); ok && b {
				c.autocrlf = "true"
			}
		}
	}
	if v, _ := cfg.get("core", "", "eol"); strings.EqualFold(v, "crlf") {
		c.eolCRLF = true
	}
	if cfg.boolean("core", "", "sparsecheckout", false) {
		c.sparseOn = true
		if b, err := os.ReadFile(filepath.Join(c.gitDir, "info", "sparse-checkout")); err == nil {
			ps, err := readPatterns(bytes.NewReader(b), nil)
			if err != nil {
				return nil, err
			}
			c.sparse = ps
		}
	}
	c.attrs, err = c.loadGlobalAttributes()
	if err != nil {
		return nil, err
	}
	return c, nil
}

func shortID(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// gitFileTarget reads a .git file ("gitdir: <path>").
func gitFileTarget(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return "?"
	}
	t := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(b)), "gitdir:"))
	if !filepath.IsAbs(t) {
		t = filepath.Join(filepath.Dir(p), t)
	}
	return t
}

// executableHook returns the first executable hook a `git commit` would
// run, as a path relative to dir when it is inside it.
func (c *Compat) executableHook() string {
	dir := filepath.Join(c.gitDir, "hooks")
	if hp, ok := c.cfg.get("core", "", "hookspath"); ok && hp != "" {
		hp = expandHome(hp)
		if !filepath.IsAbs(hp) {
			hp = filepath.Join(c.dir, hp)
		}
		dir = hp
	}
	for _, name := range []string{"pre-commit", "prepare-commit-msg", "commit-msg", "post-commit"} {
		p := filepath.Join(dir, name)
		st, err := os.Stat(p)
		if err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			if rel, err := filepath.Rel(c.dir, p); err == nil && !strings.HasPrefix(rel, "..") {
				return filepath.ToSlash(rel)
			}
			return p
		}
	}
	return ""
}

// indexRequiredExtension returns the first extension of the index file
// that a reader must understand (a lower-case first letter), "" when none.
// A missing index has none.
func indexRequiredExtension(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var req *requiredExtError
	if _, err := parseIndex(b); errors.As(err, &req) {
		return req.name, nil
	}
	return "", nil
}

// CheckPaths refuses when git would convert or filter any of paths (files
// fleetgen will write or delete) in a way fleetgen does not.
func (c *Compat) CheckPaths(paths []string) error {
	for _, p := range paths {
		a := c.attributes(p)
		if f := a["filter"]; f.set && f.value != "" {
			if c.cfg.has("filter", f.value, "clean") || c.cfg.has("filter", f.value, "smudge") || c.cfg.has("filter", f.value, "process") {
				return &CompatError{Dir: c.dir, Setting: "filter=" + f.value + " (" + f.from + ") applies to " + p,
					Problem: "fleetgen writes and commits files as they are and cannot run clean/smudge filters (git LFS)",
					WayOut:  "keep fleetgen's files out of the filter with a line `" + gitattrsDir(p) + " !filter` at the end of .gitattributes (and commit it), or run fleetgen where the filter is not configured"}
			}
		}
		if a["ident"].set && a["ident"].value == "" {
			return &CompatError{Dir: c.dir, Setting: "the ident attribute (" + a["ident"].from + ") applies to " + p,
				Problem: "git expands $Id$ on checkout and fleetgen does not",
				WayOut:  "add `" + gitattrsDir(p) + " -ident` at the end of .gitattributes"}
		}
		if e := a["working-tree-encoding"]; e.set && e.value != "" {
			return &CompatError{Dir: c.dir, Setting: "working-tree-encoding=" + e.value + " (" + e.from + ") applies to " + p,
				Problem: "git re-encodes the file on checkout and fleetgen writes UTF-8",
				WayOut:  "add `" + gitattrsDir(p) + " !working-tree-encoding` at the end of .gitattributes"}
		}
		if crlf, why := c.checkoutCRLF(a); crlf {
			return &CompatError{Dir: c.dir, Setting: why + " applies to " + p,
				Problem: "git checks that file out with CRLF line endings, and fleetgen writes LF",
				WayOut:  c.crlfWayOut(why, p)}
		}
	}
	return nil
}

func (c *Compat) crlfWayOut(why, p string) string {
	if strings.HasPrefix(why, "core.autocrlf") {
		return "set `git config core.autocrlf input` in this repository (LF in the worktree, as committed), or mark fleetgen's files with `" + gitattrsDir(p) + " text eol=lf` in .gitattributes"
	}
	if strings.HasPrefix(why, "core.eol") {
		return "set `git config core.eol lf` in this repository, or mark fleetgen's files with `" + gitattrsDir(p) + " eol=lf` in .gitattributes"
	}
	return "mark fleetgen's files with `" + gitattrsDir(p) + " eol=lf` at the end of .gitattributes (and commit it)"
}

// gitattrsDir is a pattern for the top folder of p (or p at the root).
func gitattrsDir(p string) string {
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return "/" + p[:i] + "/**"
	}
	return "/" + p
}

// crlfAction is git's convert.c decision for one path (text, eol, crlf
// attributes and core.autocrlf/core.eol).
type crlfAction int

const (
	crlfBinary crlfAction = iota
	crlfTextInput
	crlfTextCRLF
	crlfAutoInput
	crlfAutoCRLF
)

func (c *Compat) crlfAction(a map[string]attrValue) (crlfAction, string) {
	const (
		undefined = iota
		text
		auto
		binary
		textInput
	)
	action, from := undefined, ""
	pick := func(name string) {
		v := a[name]
		switch {
		case !v.known:
		case v.set && v.value == "":
			action, from = text, name+" ("+v.from+")"
		case !v.set:
			action, from = binary, name
		case v.value == "auto":
			action, from = auto, name+"=auto ("+v.from+")"
		case v.value == "input":
			action, from = textInput, name+"=input ("+v.from+")"
		}
	}
	if a["binary"].set && a["binary"].value == "" {
		return crlfBinary, ""
	}
	pick("text")
	if action == undefined {
		pick("crlf")
	}
	res := crlfBinary
	if action != binary {
		eol := a["eol"]
		switch {
		case action == auto && eol.set && eol.value == "lf":
			return crlfAutoInput, from
		case action == auto && eol.set && eol.value == "crlf":
			return crlfAutoCRLF, "eol=crlf (" + eol.from + ")"
		case eol.set && eol.value == "lf":
			return crlfTextInput, "eol=lf"
		case eol.set && eol.value == "crlf":
			return crlfTextCRLF, "eol=crlf (" + eol.from + ")"
		}
	}
	eolIsCRLF := func() (bool, string) {
		switch {
		case c.autocrlf == "true":
			return true, "core.autocrlf=true"
		case c.autocrlf == "input":
			return false, ""
		case c.eolCRLF:
			return true, "core.eol=crlf with " + from
		}
		return false, ""
	}
	switch action {
	case binary:
		res = crlfBinary
	case text, textInput:
		if crlf, why := eolIsCRLF(); crlf && action == text {
			return crlfTextCRLF, why
		}
		return crlfTextInput, from
	case auto:
		if crlf, why := eolIsCRLF(); crlf {
			return crlfAutoCRLF, why
		}
		return crlfAutoInput, from
	case undefined:
		switch c.autocrlf {
		case "true":
			return crlfAutoCRLF, "core.autocrlf=true"
		case "input":
			return crlfAutoInput, "core.autocrlf=input"
		}
	}
	return res, from
}

// checkoutCRLF reports whether git would check a text file out with CRLF
// line endings, and why.
func (c *Compat) checkoutCRLF(a map[string]attrValue) (bool, string) {
	act, why := c.crlfAction(a)
	return act == crlfTextCRLF || act == crlfAutoCRLF, why
}

// toGit returns the content `git add` would store for worktree bytes b at
// path p: CRLF turned into LF where a text attribute or core.autocrlf asks
// for it (with text=auto, only in files that do not look binary).
func (c *Compat) toGit(p string, b []byte) []byte {
	if c == nil || !bytes.Contains(b, []byte("\r\n")) {
		return b
	}
	act, _ := c.crlfAction(c.attributes(p))
	switch act {
	case crlfBinary:
		return b
	case crlfAutoInput, crlfAutoCRLF:
		if bytes.IndexByte(b[:min(len(b), 8000)], 0) >= 0 {
			return b
		}
	}
	return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
}

// inSparse reports whether a path not yet in the index would be checked
// out by the sparse checkout (always, when there is none).
func (c *Compat) inSparse(p string) bool {
	if c == nil || !c.sparseOn {
		return true
	}
	parts := strings.Split(p, "/")
	for i := len(c.sparse) - 1; i >= 0; i-- {
		switch c.sparse[i].Match(parts, false) {
		case gitignore.Exclude: // a positive pattern: checked out
			return true
		case gitignore.Include: // a negated one
			return false
		}
	}
	return false
}

// ---- attributes -------------------------------------------------------

type attrValue struct {
	known bool   // the attribute is set, unset or has a value
	set   bool   // set, or has a value (value != "")
	value string // "" when set without value
	from  string // the file that said so
}

type attrRule struct {
	m    gitattributes.MatchAttribute
	from string
}

// attrStack holds the attribute rules in increasing priority: the global
// attributes file, the .gitattributes files from the root down (read on
// demand), then .git/info/attributes.
type attrStack struct {
	global, info []attrRule
	dirs         map[string][]attrRule // folder -> rules of its .gitattributes
	macros       map[string][]gitattributes.Attribute
}

func (c *Compat) loadGlobalAttributes() (*attrStack, error) {
	s := &attrStack{dirs: map[string][]attrRule{}, macros: map[string][]gitattributes.Attribute{}}
	global := ""
	if v, ok := c.cfg.get("core", "", "attributesfile"); ok && v != "" {
		global = expandHome(v)
	} else if x := xdgConfigHome(); x != "" {
		global = filepath.Join(x, "git", "attributes")
	}
	var err error
	if global != "" {
		if s.global, err = readAttrRules(global, nil, true, s.macros); err != nil {
			return nil, err
		}
	}
	if s.info, err = readAttrRules(filepath.Join(c.gitDir, "info", "attributes"), nil, true, s.macros); err != nil {
		return nil, err
	}
	return s, nil
}

func readAttrRules(path string, domain []string, macros bool, into map[string][]gitattributes.Attribute) ([]attrRule, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rules []attrRule
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m, err := gitattributes.ParseAttributesLine(line, domain, macros)
		if err != nil {
			continue // git warns and goes on
		}
		if m.Pattern == nil {
			into[m.Name] = m.Attributes
			continue
		}
		rules = append(rules, attrRule{m: m, from: path})
	}
	return rules, nil
}

// attributes returns the attributes of path p, as `git check-attr -a`.
func (c *Compat) attributes(p string) map[string]attrValue {
	s := c.attrs
	parts := strings.Split(p, "/")
	stack := append([]attrRule(nil), s.global...)
	for i := 0; i < len(parts); i++ {
		d := strings.Join(parts[:i], "/")
		rules, ok := s.dirs[d]
		if !ok {
			name := filepath.Join(c.dir, filepath.FromSlash(d), ".gitattributes")
			rules, _ = readAttrRules(name, parts[:i], i == 0, s.macros)
			for j := range rules {
				if rel, err := filepath.Rel(c.dir, name); err == nil {
					rules[j].from = filepath.ToSlash(rel)
				}
			}
			s.dirs[d] = rules
		}
		stack = append(stack, rules...)
	}
	stack = append(stack, s.info...)
	out := map[string]attrValue{}
	apply := func(attr gitattributes.Attribute, from string) {
		switch {
		case attr.IsSet():
			out[attr.Name()] = attrValue{known: true, set: true, from: from}
			if m, ok := s.macros[attr.Name()]; ok {
				for _, x := range m {
					applyOne(out, x, from)
				}
			}
			if attr.Name() == "binary" {
				out["text"] = attrValue{known: true, from: from}
			}
		default:
			applyOne(out, attr, from)
		}
	}
	for _, r := range stack {
		if r.m.Pattern.Match(parts) {
			for _, attr := range r.m.Attributes {
				apply(attr, r.from)
			}
		}
	}
	return out
}

func applyOne(out map[string]attrValue, attr gitattributes.Attribute, from string) {
	switch {
	case attr.IsSet():
		out[attr.Name()] = attrValue{known: true, set: true, from: from}
	case attr.IsUnset():
		out[attr.Name()] = attrValue{known: true, from: from}
	case attr.IsValueSet():
		out[attr.Name()] = attrValue{known: true, set: true, value: attr.Value(), from: from}
	default: // !name: unspecified again
		delete(out, attr.Name())
	}
}

// ---- config -------------------------------------------------------------

// gitConfig is git's configuration as a `git config` run in the worktree
// sees it: system, global (~/.gitconfig and $XDG_CONFIG_HOME/git/config,
// or GIT_CONFIG_GLOBAL), local, per-worktree (extensions.worktreeConfig),
// then GIT_CONFIG_COUNT/KEY_n/VALUE_n; later files win. include.path is
// followed; includeIf is not.
type gitConfig struct {
	files []*config.Config
}

func (g *gitConfig) load(gitDir string) error {
	var paths []string
	if os.Getenv("GIT_CONFIG_NOSYSTEM") == "" {
		if p := os.Getenv("GIT_CONFIG_SYSTEM"); p != "" {
			paths = append(paths, p)
		} else {
			paths = append(paths, "/etc/gitconfig")
		}
	}
	if p, ok := os.LookupEnv("GIT_CONFIG_GLOBAL"); ok {
		paths = append(paths, p)
	} else {
		if x := xdgConfigHome(); x != "" {
			paths = append(paths, filepath.Join(x, "git", "config"))
		}
		if h, err := os.UserHomeDir(); err == nil {
			paths = append(paths, filepath.Join(h, ".gitconfig"))
		}
	}
	for _, p := range paths {
		if err := g.add(p, 0); err != nil {
			return err
		}
	}
	if err := g.add(filepath.Join(gitDir, "config"), 0); err != nil {
		return err
	}
	// git reads extensions only where the repository says its format
	// (a config without core.repositoryformatversion is read as if it
	// had none: setup.c clears the format).
	if _, ok := g.get("core", "", "repositoryformatversion"); ok && g.boolean("extensions", "", "worktreeconfig", false) {
		if err := g.add(filepath.Join(gitDir, "config.worktree"), 0); err != nil {
			return err
		}
	}
	if n, err := strconv.Atoi(os.Getenv("GIT_CONFIG_COUNT")); err == nil && n > 0 {
		env := config.New()
		for i := 0; i < n; i++ {
			k, v := os.Getenv(fmt.Sprintf("GIT_CONFIG_KEY_%d", i)), os.Getenv(fmt.Sprintf("GIT_CONFIG_VALUE_%d", i))
			first, last := strings.IndexByte(k, '.'), strings.LastIndexByte(k, '.')
			if first < 0 {
				continue
			}
			sub := ""
			if last > first {
				sub = k[first+1 : last]
			}
			env.AddOption(k[:first], sub, k[last+1:], v)
		}
		g.files = append(g.files, env)
	}
	return nil
}

func (g *gitConfig) add(path string, depth int) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.ENOTDIR) {
		return nil
	}
	if err != nil {
		return err
	}
	cfg := config.New()
	if err := config.NewDecoder(bytes.NewReader(b)).Decode(cfg); err != nil {
		return fmt.Errorf("git config %s: %w", path, err)
	}
	g.files = append(g.files, cfg)
	if depth < 10 && cfg.HasSection("include") {
		for _, inc := range cfg.Section("include").OptionAll("path") {
			inc = expandHome(inc)
			if !filepath.IsAbs(inc) {
				inc = filepath.Join(filepath.Dir(path), inc)
			}
			if err := g.add(inc, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// get returns the last value of section[.subsection].key.
func (g *gitConfig) get(section, subsection, key string) (string, bool) {
	for i := len(g.files) - 1; i >= 0; i-- {
		c := g.files[i]
		if !c.HasSection(section) {
			continue
		}
		s := c.Section(section)
		if subsection == "" {
			if s.HasOption(key) {
				return s.Option(key), true
			}
			continue
		}
		if s.HasSubsection(subsection) && s.Subsection(subsection).HasOption(key) {
			return s.Subsection(subsection).Option(key), true
		}
	}
	return "", false
}

func (g *gitConfig) has(section, subsection, key string) bool {
	v, ok := g.get(section, subsection, key)
	return ok && v != ""
}

func (g *gitConfig) boolean(section, subsection, key string, def bool) bool {
	v, ok := g.get(section, subsection, key)
	if !ok {
		return def
	}
	if b, ok := parseBool(v); ok {
		return b
	}
	return def
}

// keys lists the keys of a section (lower case), over all files.
func (g *gitConfig) keys(section string) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range g.files {
		if !c.HasSection(section) {
			continue
		}
		for _, o := range c.Section(section).Options {
			k := strings.ToLower(o.Key)
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out
}

func (g *gitConfig) subsections(section string) []string {
	var out []string
	for _, c := range g.files {
		if c.HasSection(section) {
			for _, s := range c.Section(section).Subsections {
				out = append(out, s.Name)
			}
		}
	}
	return out
}

// parseBool reads a git boolean ("" is true: a key without a value).
func parseBool(v string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "true", "yes", "on", "1":
		return true, true
	case "false", "no", "off", "0":
		return false, true
	}
	if n, err := strconv.Atoi(v); err == nil {
		return n != 0, true
	}
	return false, false
}

func xdgConfigHome() string {
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" {
		return x
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".config")
	}
	return ""
}

func expandHome(p string) string {
	if strings.HasPrefix(p, "~/") {
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, p[2:])
		}
	}
	return p
}

func readPatterns(rd io.Reader, domain []string) ([]gitignore.Pattern, error) {
	var ps []gitignore.Pattern
	sc := bufio.NewScanner(rd)
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(line, domain))
	}
	return ps, sc.Err()
}

// OpenOrInitOn is OpenOrInit, with a new repository's unborn branch named
// branch (the spec's spec.git.branch) instead of main, so that its first
// commit lands on the branch the clusters sync, and its config as `git
// init` writes it: go-git leaves out core.repositoryformatversion, and
// without it git ignores every extensions.* setting (a later `git
// sparse-checkout` then half works: git applies it once, then no longer
// reads config.worktree).
func OpenOrInitOn(dir, branch string) (*Repo, bool, error) {
	r, created, err := OpenOrInit(dir)
	if err != nil || !created {
		return r, created, err
	}
	cfg, err := r.repo.Config()
	if err != nil {
		return nil, false, err
	}
	if cfg.Core.RepositoryFormatVersion == "" {
		cfg.Core.RepositoryFormatVersion = "0"
		core := cfg.Raw.Section("core")
		core.SetOption("filemode", "true")
		core.SetOption("logallrefupdates", "true")
		if err := r.repo.SetConfig(cfg); err != nil {
			return nil, false, fmt.Errorf("init git repository %s: %w", dir, err)
		}
	}
	if branch == "" || plumbing.ReferenceName("refs/heads/"+branch) == DefaultBranch {
		return r, created, nil
	}
	ref := plumbing.NewSymbolicReference(plumbing.HEAD, plumbing.ReferenceName("refs/heads/"+branch))
	if err := r.st.SetReference(ref); err != nil {
		return nil, false, fmt.Errorf("init git repository %s: %w", dir, err)
	}
	return r, created, nil
}

func readString(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}
