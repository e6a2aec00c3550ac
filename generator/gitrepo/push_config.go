package gitrepo

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
)

// PushTarget is where a push goes, resolved from git's configuration as
// `git push` (no arguments, or one remote) resolves it.
type PushTarget struct {
	// Branch is the checked-out branch, Local its ref.
	Branch string
	Local  plumbing.ReferenceName
	// Remote is the remote's name, or the URL given in its place.
	Remote string
	// Named: Remote is a configured remote (remote.<name>.url).
	Named bool
	// URL is where the push goes, after pushurl and insteadOf /
	// pushInsteadOf; Display is it without any password.
	URL, Display string
	// Dest is the branch updated on the remote.
	Dest plumbing.ReferenceName
	// Tracking is the remote-tracking ref git updates after the push
	// (from remote.<name>.fetch; empty for a URL or no matching refspec).
	Tracking plumbing.ReferenceName
	// Upstream: the branch has an upstream on this remote
	// (branch.<name>.remote and .merge).
	Upstream bool

	caBundle         []byte
	credentialHelper string
}

// ResolvePush finds the branch, remote, URL and destination a `git push
// [remote]` run in dir would use, and refuses, before anything is sent,
// the settings fleetgen cannot follow as git would.
func ResolvePush(dir, remote string) (*PushTarget, error) {
	gitDir, _, err := gitDirs(dir)
	if err != nil {
		return nil, fmt.Errorf("%s is not a git repository: %w", dir, err)
	}
	var g gitConfig
	if err := g.load(gitDir); err != nil {
		return nil, err
	}
	refuse := func(setting, problem, wayOut string) error {
		return &PushError{Setting: setting, Problem: problem, WayOut: wayOut}
	}
	branch, err := readHeadBranch(gitDir)
	if err != nil {
		return nil, err
	}
	if branch == "" {
		return nil, refuse("HEAD is detached", "there is no branch to push", "check out the branch to push (`git switch <branch>`)")
	}
	t := &PushTarget{Branch: branch, Local: plumbing.NewBranchReferenceName(branch)}

	// The remote: as remote.c's pushremote_for_branch.
	upRemote, hasUpRemote := g.get("branch", branch, "remote")
	if !hasUpRemote || upRemote == "" {
		upRemote = "origin"
	}
	t.Remote = remote
	if t.Remote == "" {
		if v, ok := g.get("branch", branch, "pushremote"); ok && v != "" {
			t.Remote = v
		} else if v, ok := g.get("remote", "", "pushdefault"); ok && v != "" {
			t.Remote = v
		} else {
			t.Remote = upRemote
		}
	}
	urls := g.getAll("remote", t.Remote, "url")
	pushURLs := g.getAll("remote", t.Remote, "pushurl")
	t.Named = len(urls) > 0 || len(pushURLs) > 0
	if !t.Named {
		if !looksLikeURL(t.Remote) {
			if remote == "" {
				return nil, refuse("no remote "+t.Remote+" is configured", "fleetgen pushes where `git push` would",
					"add it (`git remote add "+t.Remote+" URL`), or pass --remote NAME|URL")
			}
			return nil, refuse("no remote named "+t.Remote, "and it is not a URL", "list the remotes with `git remote -v`, or pass the URL")
		}
		urls = []string{t.Remote}
	}
	name := "remote." + t.Remote
	for _, k := range []struct{ key, why string }{
		{"push", "git pushes what these refspecs say instead of the current branch"},
		{"mirror", "git mirrors every ref to this remote"},
		{"receivepack", "git runs another receive-pack program on the server"},
		{"proxy", "fleetgen does not read git's proxy settings (it uses HTTPS_PROXY, HTTP_PROXY and NO_PROXY)"},
	} {
		if t.Named && g.has("remote", t.Remote, k.key) {
			v, _ := g.get("remote", t.Remote, k.key)
			if k.key == "mirror" && !g.boolean("remote", t.Remote, "mirror", false) {
				continue
			}
			return nil, refuse(name+"."+k.key+"="+v, k.why+", which fleetgen does not do", "push with `git push`")
		}
	}

	// The URL: pushurl, else url with pushInsteadOf (else insteadOf).
	var u string
	switch {
	case len(pushURLs) > 1 || (len(pushURLs) == 0 && len(urls) > 1):
		return nil, refuse(name+" has several push URLs", "git pushes to each of them", "push with `git push`")
	case len(pushURLs) == 1:
		u = rewriteURL(&g, pushURLs[0], false)
	default:
		u = rewriteURL(&g, urls[0], true)
	}
	if i := strings.Index(u, "::"); i > 0 && !strings.Contains(u[:i], "/") && !strings.Contains(u[:i], ":") {
		return nil, refuse("remote URL "+redactURL(u), "git runs the remote helper git-remote-"+u[:i]+", which fleetgen cannot", "push with `git push`")
	}
	if isLocalPath(u) && !filepath.IsAbs(u) && !strings.HasPrefix(u, "file:") {
		top, err := filepath.Abs(dir)
		if err != nil {
			return nil, err
		}
		u = filepath.Join(top, u) // git resolves it from the worktree's top
	}
	t.URL, t.Display = u, redactURL(u)

	// The destination: push.default, as builtin/push.c's
	// setup_default_push_refspecs.
	mode := "simple"
	if v, ok := g.get("push", "", "default"); ok {
		mode = strings.ToLower(v)
	}
	merge, hasMerge := g.get("branch", branch, "merge")
	sameRemote := t.Remote == upRemote
	t.Upstream = sameRemote && hasUpRemote && hasMerge && merge != ""
	t.Dest = t.Local
	switch mode {
	case "simple":
		if t.Upstream && merge != t.Local.String() {
			return nil, refuse("push.default=simple and the upstream of "+branch+" is "+merge+" on "+upRemote,
				"git refuses to push when the upstream branch's name differs from the local branch's",
				"push with `git push "+t.Remote+" HEAD:"+strings.TrimPrefix(merge, "refs/heads/")+"`, or set push.default=upstream")
		}
	case "current":
	case "upstream", "tracking":
		if !sameRemote {
			return nil, refuse("push.default="+mode, "git refuses to push to "+t.Remote+", which is not the upstream remote of "+branch+" ("+upRemote+")", "push with `git push "+t.Remote+" "+branch+"`")
		}
		if t.Upstream {
			t.Dest = plumbing.ReferenceName(merge)
		}
	case "matching":
		return nil, refuse("push.default=matching", "git pushes every branch that has a namesake on the remote", "push with `git push`, or set push.default=simple")
	case "nothing":
		return nil, refuse("push.default=nothing", "git pushes nothing without an explicit refspec", "push with `git push "+t.Remote+" "+branch+"`")
	default:
		return nil, refuse("push.default="+mode, "not a value git knows", "fix it (`git config push.default simple`)")
	}
	if !strings.HasPrefix(t.Dest.String(), "refs/heads/") {
		return nil, refuse("branch."+branch+".merge="+t.Dest.String(), "fleetgen pushes to a branch (refs/heads/...)", "push with `git push`")
	}

	// The remote-tracking ref: the first remote.<name>.fetch refspec that
	// maps Dest (git's remote_find_tracking).
	if t.Named {
		for _, f := range g.getAll("remote", t.Remote, "fetch") {
			rs := config.RefSpec(f)
			if rs.Validate() != nil || strings.HasPrefix(f, "^") {
				continue
			}
			if rs.Match(t.Dest) {
				t.Tracking = rs.Dst(t.Dest)
				break
			}
		}
	}

	// Other settings that change what git would send, or how.
	for _, k := range []struct{ section, key, why, way string }{
		{"push", "followtags", "git also pushes the annotated tags the branch reaches", "push with `git push`, or push tags yourself afterwards"},
		{"push", "gpgsign", "git signs the push certificate", "push with `git push`"},
		{"push", "pushoption", "git sends push options", "push with `git push`"},
	} {
		v, ok := g.get(k.section, "", k.key)
		if !ok || v == "" {
			continue
		}
		if b, isBool := parseBool(v); isBool && !b {
			continue
		}
		if k.key == "gpgsign" && strings.EqualFold(v, "if-asked") {
			continue
		}
		return nil, refuse(k.section+"."+k.key+"="+v, k.why+", which fleetgen does not do", k.way)
	}
	scheme := urlScheme(u)
	switch scheme {
	case "http", "https":
		if err := httpSettings(&g, t, u); err != nil {
			return nil, err
		}
	case "ssh":
		for _, env := range []string{"GIT_SSH_COMMAND", "GIT_SSH"} {
			if os.Getenv(env) != "" {
				return nil, refuse(env+" is set", "git would connect through that command; fleetgen connects with its own SSH client", "push with `git push`, or unset it")
			}
		}
		if v, ok := g.get("core", "", "sshcommand"); ok && v != "" {
			return nil, refuse("core.sshCommand="+v, "git would connect through that command; fleetgen connects with its own SSH client", "push with `git push`")
		}
	case "file", "git":
	default:
		return nil, refuse("remote URL "+t.Display, "fleetgen pushes over https, http, ssh and to local paths", "push with `git push`")
	}
	if v, ok := g.get("credential", "", "helper"); ok {
		t.credentialHelper = v
	}
	return t, nil
}

// httpSettings follows http.sslCAInfo and refuses the http.* settings that
// change how git talks to the server. Keys may be set for every URL
// (http.<key>) or for URLs starting with a prefix (http.<prefix>.<key>).
func httpSettings(g *gitConfig, t *PushTarget, u string) error {
	get := func(key string) (string, string, bool) {
		best, val, found := "", "", false
		for _, sub := range g.subsections("http") {
			if strings.HasPrefix(u, strings.TrimSuffix(sub, "/")) && len(sub) >= len(best) {
				if v, ok := g.get("http", sub, key); ok {
					best, val, found = sub, v, true
				}
			}
		}
		if found {
			return "http." + best + "." + key, val, true
		}
		if v, ok := g.get("http", "", key); ok {
			return "http." + key, v, true
		}
		return "", "", false
	}
	refuse := func(setting, problem, wayOut string) error {
		return &PushError{Setting: setting, Problem: problem, WayOut: wayOut}
	}
	if os.Getenv("GIT_SSL_NO_VERIFY") != "" {
		return refuse("GIT_SSL_NO_VERIFY is set", "fleetgen always verifies the server's TLS certificate", "unset it, or push with `git push`")
	}
	if k, v, ok := get("sslverify"); ok {
		if b, isBool := parseBool(v); isBool && !b {
			return refuse(k+"="+v, "fleetgen always verifies the server's TLS certificate", "give it the server's CA with http.sslCAInfo, or push with `git push`")
		}
	}
	for _, key := range []string{"proxy", "extraheader", "cookiefile", "sslcert", "sslkey", "emptyauth", "followredirects"} {
		if k, v, ok := get(key); ok && v != "" {
			return refuse(k+"="+v, "fleetgen does not follow this git HTTP setting",
				"push with `git push`"+map[bool]string{true: " (fleetgen uses HTTPS_PROXY, HTTP_PROXY and NO_PROXY from the environment)"}[key == "proxy"])
		}
	}
	ca := os.Getenv("GIT_SSL_CAINFO")
	if ca == "" {
		_, ca, _ = get("sslcainfo")
	}
	if ca != "" {
		b, err := os.ReadFile(expandHome(ca))
		if err != nil {
			return refuse("http.sslCAInfo="+ca, "cannot read it: "+err.Error(), "fix the path")
		}
		t.caBundle = b
	}
	return nil
}

// rewriteURL applies url.<base>.insteadOf (and, for a push to a remote's
// url, url.<base>.pushInsteadOf first), longest matching prefix first, as
// git's remote.c alias_url does.
func rewriteURL(g *gitConfig, u string, push bool) string {
	best := func(key string) (string, bool) {
		var base, match string
		found := false
		for _, sub := range g.subsections("url") {
			for _, prefix := range g.getAll("url", sub, key) {
				if prefix != "" && strings.HasPrefix(u, prefix) && len(prefix) > len(match) {
					base, match, found = sub, prefix, true
				}
			}
		}
		if !found {
			return "", false
		}
		return base + u[len(match):], true
	}
	if push {
		if v, ok := best("pushinsteadof"); ok {
			return v
		}
	}
	if v, ok := best("insteadof"); ok {
		return v
	}
	return u
}

// looksLikeURL says whether git would take a push destination for a URL
// or path rather than a remote's name.
func looksLikeURL(s string) bool {
	return strings.Contains(s, "://") || isLocalPath(s) || strings.Contains(s, ":")
}

func isLocalPath(s string) bool {
	return strings.HasPrefix(s, "/") || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") || strings.HasPrefix(s, "file://") ||
		(!strings.Contains(s, ":") && !strings.Contains(s, "@") && strings.Contains(s, "/"))
}

func urlScheme(u string) string {
	if i := strings.Index(u, "://"); i > 0 {
		return strings.ToLower(u[:i])
	}
	if isLocalPath(u) {
		return "file"
	}
	if strings.Contains(u, ":") {
		return "ssh" // scp-like: [user@]host:path
	}
	return "file"
}

// redactURL hides a password in u.
func redactURL(u string) string {
	if !strings.Contains(u, "://") {
		return u
	}
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return u
	}
	if _, ok := p.User.Password(); ok {
		p.User = url.UserPassword(p.User.Username(), "REDACTED")
		return strings.Replace(p.String(), "REDACTED", "***", 1)
	}
	return u
}

// getAll returns every value of section[.subsection].key over all the
// configuration files, in the order git reads them.
func (g *gitConfig) getAll(section, subsection, key string) []string {
	var out []string
	for _, c := range g.files {
		if !c.HasSection(section) {
			continue
		}
		s := c.Section(section)
		if subsection == "" {
			out = append(out, s.OptionAll(key)...)
			continue
		}
		for _, ss := range s.Subsections {
			if ss.Name == subsection {
				out = append(out, ss.OptionAll(key)...)
			}
		}
	}
	return out
}
