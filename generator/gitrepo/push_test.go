package gitrepo

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/fleetgen/fleetgen/generator/gitrepo/gitservertest"
)

// pushEnv isolates a push from the machine: no user or system git config,
// no credentials, no SSH agent or keys.
func pushEnv(t *testing.T) {
	t.Helper()
	needGit(t)
	home := t.TempDir()
	for k, v := range map[string]string{
		"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_COUNT": "",
		"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, ".config"),
		EnvToken: "", EnvUsername: "", EnvSSHKey: "", EnvSSHPassphrase: "",
		"SSH_AUTH_SOCK": "", "SSH_KNOWN_HOSTS": "", "GIT_SSH_COMMAND": "", "GIT_SSH": "",
		"GIT_SSL_NO_VERIFY": "", "GIT_SSL_CAINFO": "",
	} {
		t.Setenv(k, v)
	}
}

// rev is what the git CLI says name resolves to in dir ("" if nothing).
func rev(t *testing.T, dir, name string) string {
	t.Helper()
	cmd := exec.Command("git", "rev-parse", "-q", "--verify", name+"^{commit}")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), gitservertest.GitEnv...)
	out, _ := cmd.Output()
	return strings.TrimSpace(string(out))
}

func push(t *testing.T, dir string, o PushOptions) (*PushResult, error) {
	t.Helper()
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r.Push(context.Background(), o)
}

// assertNothingLocal checks that a failed push left no lock file and no
// remote-tracking ref behind.
func assertNothingLocal(t *testing.T, dir, tracking, want string) {
	t.Helper()
	if got := rev(t, dir, tracking); got != want {
		t.Errorf("%s is %q after a failed push, want %q", tracking, got, want)
	}
	for _, f := range []string{"index.lock", "fleetgen.lock", tracking + ".lock"} {
		if _, err := os.Stat(filepath.Join(dir, ".git", f)); err == nil {
			t.Errorf(".git/%s left behind", f)
		}
	}
}

func pushErr(t *testing.T, err error, wants ...string) {
	t.Helper()
	var pe *PushError
	if !errors.As(err, &pe) {
		t.Fatalf("want a PushError, got %T %v", err, err)
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not say %q:\n%s", w, err)
		}
	}
	if !strings.HasSuffix(err.Error(), "(nothing was pushed)") {
		t.Errorf("error does not say nothing was pushed:\n%s", err)
	}
}

// TestPushHTTP pushes over smart HTTP (the git CLI's http-backend) with a
// token: refused credentials, a first push, up to date, a second push,
// and a non-fast-forward push, each checked on the server with git.
func TestPushHTTP(t *testing.T) {
	pushEnv(t)
	root := t.TempDir()
	bare := gitservertest.Bare(t, root, "fleet.git")
	srv := gitservertest.NewHTTP(t, root, "robot", "s3cret-token")
	_, dir := commitFiles(t, sampleFiles())
	gitCmd(t, dir, "remote", "add", "origin", srv.URL+"/fleet.git")
	head := rev(t, dir, "HEAD")
	const tracking = "refs/remotes/origin/main"

	// No token: the server asks, and the error says how to give one.
	gitCmd(t, dir, "config", "credential.helper", "store")
	_, err := push(t, dir, PushOptions{})
	pushErr(t, err, "asks for credentials", EnvToken, "credential.helper=store")
	// A wrong token is sent, refused, and named (not its value).
	t.Setenv(EnvToken, "wrong")
	t.Setenv(EnvUsername, "robot")
	_, err = push(t, dir, PushOptions{})
	pushErr(t, err, "asks for credentials", EnvToken+" (user robot) was refused")
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("the token is printed: %v", err)
	}
	if _, refused, pushes := srv.Counts(); refused < 2 || pushes != 0 {
		t.Errorf("server: %d refused, %d pushes; want >= 2 refused, no push", refused, pushes)
	}
	if got := rev(t, bare, "main"); got != "" {
		t.Fatalf("the bare repository has main = %s after refused pushes", got)
	}
	assertNothingLocal(t, dir, tracking, "")

	// The right token: the first push creates main.
	t.Setenv(EnvToken, "s3cret-token")
	res, err := push(t, dir, PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Old.IsZero() || res.New.String() != head || res.UpToDate || res.Objects == 0 {
		t.Errorf("first push: %+v", res)
	}
	if got := rev(t, bare, "main"); got != head {
		t.Errorf("bare main = %q, want HEAD %s", got, head)
	}
	if got := rev(t, dir, tracking); got != head || !res.TrackingUpdated {
		t.Errorf("%s = %q (updated %v), want %s", tracking, got, res.TrackingUpdated, head)
	}
	if out := gitCmd(t, dir, "reflog", "show", "--format=%gs", tracking); strings.TrimSpace(out) != "update by push" {
		t.Errorf("reflog of %s: %q", tracking, out)
	}
	if out := gitCmd(t, bare, "fsck", "--strict", "--no-progress", "--no-dangling"); out != "" {
		t.Errorf("git fsck --strict on the server: %s", out)
	}
	assertGitClean(t, dir)

	// Again: up to date, nothing sent.
	res, err = push(t, dir, PushOptions{})
	if err != nil || !res.UpToDate {
		t.Fatalf("second push: %+v, %v", res, err)
	}
	if _, _, pushes := srv.Counts(); pushes != 1 {
		t.Errorf("up to date, but %d receive-pack requests in all", pushes)
	}

	// A new commit: a fast-forward.
	writeFiles(t, dir, nil)
	os.WriteFile(filepath.Join(dir, "NOTES.md"), []byte("hand-written\n"), 0o644)
	gitCmd(t, dir, "add", "NOTES.md")
	gitCmd(t, dir, "commit", "-qm", "notes")
	head2 := rev(t, dir, "HEAD")
	res, err = push(t, dir, PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Old.String() != head || res.New.String() != head2 {
		t.Errorf("second push: %s..%s, want %s..%s", res.Old, res.New, head, head2)
	}
	if got := rev(t, bare, "main"); got != head2 {
		t.Errorf("bare main = %q, want %s", got, head2)
	}

	// Someone else pushes; our new commit does not build on theirs.
	other := filepath.Join(t.TempDir(), "other")
	gitCmd(t, root, "clone", "-q", bare, other)
	gitCmd(t, other, "commit", "-q", "--allow-empty", "-m", "theirs")
	gitCmd(t, other, "push", "-q", "origin", "main")
	theirs := rev(t, other, "HEAD")
	gitCmd(t, dir, "commit", "-q", "--allow-empty", "-m", "ours")
	_, err = push(t, dir, PushOptions{})
	pushErr(t, err, "non-fast-forward", "has commits that your main does not have", "fetch and merge or rebase with git first", "never forces")
	if got := rev(t, bare, "main"); got != theirs {
		t.Errorf("bare main = %q after a refused push, want theirs %s", got, theirs)
	}
	assertNothingLocal(t, dir, tracking, head2)
	if out := gitCmd(t, bare, "log", "--format=%s", "main"); !strings.HasPrefix(out, "theirs\nnotes\n") {
		t.Errorf("git log on the server:\n%s", out)
	}

	// After a fetch the two lines are known to have diverged.
	gitCmd(t, dir, "fetch", "-q", bare, "main:refs/remotes/origin/main")
	_, err = push(t, dir, PushOptions{})
	pushErr(t, err, "have diverged")
	// Merged with git, the push goes through.
	gitCmd(t, dir, "merge", "-q", "--no-edit", "refs/remotes/origin/main")
	if _, err = push(t, dir, PushOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, want := rev(t, bare, "main"), rev(t, dir, "HEAD"); got != want {
		t.Errorf("bare main = %q, want %s", got, want)
	}
	gitCmd(t, bare, "fsck", "--strict", "--no-progress")
}

func TestPushUnreachable(t *testing.T) {
	pushEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, dir := commitFiles(t, sampleFiles())
	gitCmd(t, dir, "remote", "add", "origin", "http://"+addr+"/fleet.git")
	_, err = push(t, dir, PushOptions{})
	pushErr(t, err, "cannot reach http://"+addr+"/fleet.git", "connection refused")
	assertNothingLocal(t, dir, "refs/remotes/origin/main", "")
}

func TestPushRefusesTokenOverPlainHTTP(t *testing.T) {
	pushEnv(t)
	_, dir := commitFiles(t, sampleFiles())
	gitCmd(t, dir, "remote", "add", "origin", "http://git.example.com/fleet.git")
	t.Setenv(EnvToken, "tok")
	_, err := push(t, dir, PushOptions{})
	pushErr(t, err, "plain http", "use the https URL")
}

// TestPushHoldsTheLock: while another fleetgen holds the repository's
// lock, a push is refused before it connects.
func TestPushHoldsTheLock(t *testing.T) {
	pushEnv(t)
	root := t.TempDir()
	bare := gitservertest.Bare(t, root, "fleet.git")
	srv := gitservertest.NewHTTP(t, root, "", "")
	_, dir := commitFiles(t, sampleFiles())
	gitCmd(t, dir, "remote", "add", "origin", srv.URL+"/fleet.git")
	other, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Lock(); err != nil {
		t.Fatal(err)
	}
	_, err = push(t, dir, PushOptions{})
	var le *ErrLocked
	if !errors.As(err, &le) {
		t.Fatalf("push under another run's lock: %v", err)
	}
	if n, _, _ := srv.Counts(); n != 0 || rev(t, bare, "main") != "" {
		t.Errorf("the push reached the server (%d requests)", n)
	}
	other.Unlock()
	if _, err := push(t, dir, PushOptions{}); err != nil {
		t.Fatal(err)
	}
	if rev(t, bare, "main") != rev(t, dir, "HEAD") {
		t.Error("push after the lock was freed did not update the server")
	}
}

// TestPushLegacyRef: a repository whose base is still only on
// refs/fleetgen/generated pushes its branch, says so, and does not push
// the ref.
func TestPushLegacyRef(t *testing.T) {
	pushEnv(t)
	root := t.TempDir()
	bare := gitservertest.Bare(t, root, "fleet.git")
	_, dir := commitFiles(t, sampleFiles())
	gitCmd(t, dir, "update-ref", string(LegacyGeneratedRef), "HEAD")
	gitCmd(t, dir, "remote", "add", "origin", bare)
	res, err := push(t, dir, PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.LegacyRef {
		t.Error("LegacyRef not reported")
	}
	if out := gitCmd(t, bare, "for-each-ref", "--format=%(refname)"); strings.TrimSpace(out) != "refs/heads/main" {
		t.Errorf("refs on the server: %q", out)
	}
}

// TestResolvePushFollowsGit sets git's push settings with the git CLI and
// compares where fleetgen would push with what git says
// (`git remote get-url --push` applies pushurl and pushInsteadOf).
func TestResolvePushFollowsGit(t *testing.T) {
	pushEnv(t)
	cases := []struct {
		name     string
		config   [][]string // git config arguments
		remote   string     // --remote
		wantRem  string
		dest     string
		tracking string
		upstream bool
	}{
		{name: "origin, no upstream", config: [][]string{{"remote.origin.url", "https://example.com/fleet.git"}, {"remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*"}},
			wantRem: "origin", dest: "refs/heads/main", tracking: "refs/remotes/origin/main"},
		{name: "upstream of the same name", config: [][]string{{"remote.origin.url", "https://example.com/fleet.git"}, {"remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*"},
			{"branch.main.remote", "origin"}, {"branch.main.merge", "refs/heads/main"}},
			wantRem: "origin", dest: "refs/heads/main", tracking: "refs/remotes/origin/main", upstream: true},
		{name: "push.default=upstream, upstream of another name", config: [][]string{{"remote.origin.url", "https://example.com/fleet.git"}, {"remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*"},
			{"branch.main.remote", "origin"}, {"branch.main.merge", "refs/heads/production"}, {"push.default", "upstream"}},
			wantRem: "origin", dest: "refs/heads/production", tracking: "refs/remotes/origin/production", upstream: true},
		{name: "pushurl", config: [][]string{{"remote.origin.url", "https://example.com/fleet.git"}, {"remote.origin.pushurl", "ssh://git@example.com/fleet.git"}},
			wantRem: "origin", dest: "refs/heads/main"},
		{name: "insteadOf and pushInsteadOf", config: [][]string{{"remote.origin.url", "gh:acme/fleet.git"},
			{"url.https://github.com/.insteadOf", "gh:"}, {"url.ssh://git@github.com/.pushInsteadOf", "https://github.com/"}, {"url.ssh://git@github.com/.pushInsteadOf", "gh:"}},
			wantRem: "origin", dest: "refs/heads/main"},
		{name: "insteadOf, longest prefix", config: [][]string{{"remote.origin.url", "gh:acme/fleet.git"},
			{"url.https://github.com/.insteadOf", "gh:"}, {"url.https://git.acme.example/.insteadOf", "gh:acme/"}},
			wantRem: "origin", dest: "refs/heads/main"},
		{name: "branch pushRemote", config: [][]string{{"remote.origin.url", "https://example.com/fleet.git"}, {"remote.backup.url", "https://backup.example.com/fleet.git"},
			{"remote.backup.fetch", "+refs/heads/*:refs/remotes/bk/*"}, {"remote.pushDefault", "origin"}, {"branch.main.pushRemote", "backup"}},
			wantRem: "backup", dest: "refs/heads/main", tracking: "refs/remotes/bk/main"},
		{name: "remote.pushDefault", config: [][]string{{"remote.origin.url", "https://example.com/fleet.git"}, {"remote.backup.url", "https://backup.example.com/fleet.git"},
			{"remote.pushDefault", "backup"}},
			wantRem: "backup", dest: "refs/heads/main"},
		{name: "--remote NAME", config: [][]string{{"remote.origin.url", "https://example.com/fleet.git"}, {"remote.backup.url", "https://backup.example.com/fleet.git"}},
			remote: "backup", wantRem: "backup", dest: "refs/heads/main"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, dir := commitFiles(t, sampleFiles())
			for _, kv := range c.config {
				gitCmd(t, dir, "config", "--add", kv[0], kv[1])
			}
			tg, err := ResolvePush(dir, c.remote)
			if err != nil {
				t.Fatal(err)
			}
			if tg.Remote != c.wantRem || tg.Dest.String() != c.dest || tg.Tracking.String() != c.tracking || tg.Upstream != c.upstream {
				t.Errorf("remote %q dest %q tracking %q upstream %v; want %q %q %q %v", tg.Remote, tg.Dest, tg.Tracking, tg.Upstream, c.wantRem, c.dest, c.tracking, c.upstream)
			}
			if want := strings.TrimSpace(gitCmd(t, dir, "remote", "get-url", "--push", tg.Remote)); tg.URL != want {
				t.Errorf("URL %q, git says %q", tg.URL, want)
			}
			// Where git would push: its dry run names the destination.
			if out := gitDryRun(t, dir, c.remote, c.config); !strings.Contains(out, ":"+c.dest+"\t") {
				t.Errorf("git push --dry-run says %q, fleetgen pushes to %s", out, c.dest)
			}
		})
	}
}

// gitDryRun is the porcelain line of `git push --dry-run` for main with
// every remote URL of the case pointed at a local bare repository (the
// whole URL as an insteadOf prefix, longer than any rule of the case), so
// that git can answer; "" when git refuses. push.autoSetupRemote: git's
// push to a remote without an upstream, as fleetgen does it.
func gitDryRun(t *testing.T, dir, remote string, config [][]string) string {
	t.Helper()
	tmp, err := os.MkdirTemp("", "dryrun") // no "=" in the path (git -c splits there)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	bare := gitservertest.Bare(t, tmp, "x.git")
	var args []string
	for _, kv := range config {
		if strings.HasPrefix(kv[0], "remote.") && (strings.HasSuffix(kv[0], ".url") || strings.HasSuffix(kv[0], ".pushurl")) {
			args = append(args, "-c", "url."+bare+".insteadOf="+kv[1], "-c", "url."+bare+".pushInsteadOf="+kv[1])
		}
	}
	args = append(args, "-c", "push.autoSetupRemote=true", "push", "--dry-run", "--porcelain")
	if remote != "" {
		args = append(args, remote)
	}
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), gitservertest.GitEnv...)
	out, err := cmd.CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "*\trefs/heads/") {
			return l
		}
	}
	t.Logf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	return ""
}

// TestResolvePushRefuses: each setting fleetgen cannot follow is refused
// before anything is sent, by name, with git push as the way out.
func TestResolvePushRefuses(t *testing.T) {
	pushEnv(t)
	origin := []string{"remote.origin.url", "https://example.com/fleet.git"}
	cases := []struct {
		name   string
		config [][]string
		remote string
		env    map[string]string
		want   []string
	}{
		{"push refspec", [][]string{origin, {"remote.origin.push", "refs/heads/main:refs/heads/prod"}}, "", nil, []string{"remote.origin.push=refs/heads/main:refs/heads/prod", "git push"}},
		{"mirror", [][]string{origin, {"remote.origin.mirror", "true"}}, "", nil, []string{"remote.origin.mirror=true"}},
		{"push.default=matching", [][]string{origin, {"push.default", "matching"}}, "", nil, []string{"push.default=matching", "every branch"}},
		{"push.default=nothing", [][]string{origin, {"push.default", "nothing"}}, "", nil, []string{"push.default=nothing"}},
		{"simple with another upstream name", [][]string{origin, {"branch.main.remote", "origin"}, {"branch.main.merge", "refs/heads/prod"}}, "", nil,
			[]string{"push.default=simple", "refs/heads/prod", "git push origin HEAD:prod"}},
		{"upstream to another remote", [][]string{origin, {"remote.b.url", "https://b.example.com/x.git"}, {"push.default", "upstream"}}, "b", nil, []string{"push.default=upstream", "not the upstream remote"}},
		{"two push URLs", [][]string{origin, {"remote.origin.pushurl", "https://a.example.com/x.git"}, {"remote.origin.pushurl", "https://b.example.com/x.git"}}, "", nil, []string{"several push URLs"}},
		{"two URLs", [][]string{origin, {"remote.origin.url", "https://b.example.com/x.git"}}, "", nil, []string{"several push URLs"}},
		{"http.extraHeader", [][]string{origin, {"http.extraHeader", "Authorization: Bearer x"}}, "", nil, []string{"http.extraheader="}},
		{"http.<url>.sslVerify", [][]string{origin, {"http.https://example.com/.sslVerify", "false"}}, "", nil, []string{"http.https://example.com/.sslverify=false", "verifies the server's TLS certificate"}},
		{"GIT_SSL_NO_VERIFY", [][]string{origin}, "", map[string]string{"GIT_SSL_NO_VERIFY": "1"}, []string{"GIT_SSL_NO_VERIFY"}},
		{"http.proxy", [][]string{origin, {"http.proxy", "http://proxy:3128"}}, "", nil, []string{"http.proxy=http://proxy:3128", "HTTPS_PROXY"}},
		{"push.followTags", [][]string{origin, {"push.followTags", "true"}}, "", nil, []string{"push.followtags=true", "tags"}},
		{"core.sshCommand", [][]string{{"remote.origin.url", "git@example.com:acme/fleet.git"}, {"core.sshCommand", "ssh -i key"}}, "", nil, []string{"core.sshCommand=ssh -i key"}},
		{"GIT_SSH_COMMAND", [][]string{{"remote.origin.url", "ssh://git@example.com/fleet.git"}}, "", map[string]string{"GIT_SSH_COMMAND": "ssh -v"}, []string{"GIT_SSH_COMMAND is set"}},
		{"remote helper", [][]string{{"remote.origin.url", "ext::ssh example.com git-receive-pack"}}, "", nil, []string{"git-remote-ext"}},
		{"no such remote", [][]string{origin}, "upstream", nil, []string{"no remote named upstream", "git remote -v"}},
		{"no remote at all", nil, "", nil, []string{"no remote origin is configured", "git remote add origin URL"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			_, dir := commitFiles(t, sampleFiles())
			for _, kv := range c.config {
				gitCmd(t, dir, "config", "--add", kv[0], kv[1])
			}
			_, err := ResolvePush(dir, c.remote)
			pushErr(t, err, c.want...)
		})
	}
	t.Run("detached HEAD", func(t *testing.T) {
		_, dir := commitFiles(t, sampleFiles())
		gitCmd(t, dir, "remote", "add", "origin", "https://example.com/fleet.git")
		gitCmd(t, dir, "checkout", "-q", "--detach")
		_, err := ResolvePush(dir, "")
		pushErr(t, err, "HEAD is detached", "git switch")
	})
}

// TestResolvePushURL: a URL in place of a remote name is pushed to as git
// does, without a remote-tracking ref; a relative path is taken from the
// worktree's top; a password in the URL is never displayed.
func TestResolvePushURL(t *testing.T) {
	pushEnv(t)
	_, dir := commitFiles(t, sampleFiles())
	tg, err := ResolvePush(dir, "https://robot:pa55@example.com/fleet.git")
	if err != nil {
		t.Fatal(err)
	}
	if tg.Named || tg.Tracking != "" || tg.Dest != plumbing.NewBranchReferenceName("main") {
		t.Errorf("URL target: %+v", tg)
	}
	if strings.Contains(tg.Display, "pa55") || !strings.Contains(tg.Display, "example.com/fleet.git") {
		t.Errorf("Display %q", tg.Display)
	}
	gitCmd(t, dir, "remote", "add", "origin", "../bare.git")
	tg, err = ResolvePush(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(filepath.Dir(dir), "bare.git"); tg.URL != want {
		t.Errorf("relative remote URL: %q, want %q", tg.URL, want)
	}
}

// TestPushSSH pushes over SSH to an in-process server on 127.0.0.1 that
// runs the real git-receive-pack: with a key file, with an SSH agent;
// an unknown host key and an unauthorized key are refused.
func TestPushSSH(t *testing.T) {
	pushEnv(t)
	root := t.TempDir()
	bare := gitservertest.Bare(t, root, "fleet.git")
	keys := t.TempDir()
	signer := gitservertest.WriteKey(t, filepath.Join(keys, "id_fleet"))
	srv := gitservertest.NewSSH(t, root, signer.PublicKey())
	knownHosts := filepath.Join(keys, "known_hosts")
	if err := os.WriteFile(knownHosts, []byte(srv.KnownHostsLine()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSH_KNOWN_HOSTS", knownHosts)
	_, dir := commitFiles(t, sampleFiles())
	gitCmd(t, dir, "remote", "add", "origin", srv.URL("fleet.git"))
	gitCmd(t, dir, "config", "remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*")

	// No credentials at all: said before connecting.
	_, err := push(t, dir, PushOptions{})
	pushErr(t, err, "no SSH credentials", EnvSSHKey, "SSH_AUTH_SOCK")

	// The host is not in known_hosts: refused, nothing sent.
	other := filepath.Join(keys, "other_known_hosts")
	os.WriteFile(other, []byte("[127.0.0.1]:1 "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))+"\n"), 0o644)
	t.Setenv("SSH_KNOWN_HOSTS", other)
	t.Setenv(EnvSSHKey, filepath.Join(keys, "id_fleet"))
	_, err = push(t, dir, PushOptions{})
	pushErr(t, err, "not in known_hosts")
	if rev(t, bare, "main") != "" {
		t.Fatal("pushed to a host whose key is unknown")
	}
	// The same address with another key: a mismatch.
	os.WriteFile(other, []byte(strings.Replace(srv.KnownHostsLine(), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(srv.HostKey))), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))), 1)+"\n"), 0o644)
	_, err = push(t, dir, PushOptions{})
	pushErr(t, err, "does not match known_hosts")
	t.Setenv("SSH_KNOWN_HOSTS", knownHosts)

	// A key the server does not accept.
	gitservertest.WriteKey(t, filepath.Join(keys, "id_stranger"))
	t.Setenv(EnvSSHKey, filepath.Join(keys, "id_stranger"))
	_, err = push(t, dir, PushOptions{})
	pushErr(t, err, "refused the SSH key")
	assertNothingLocal(t, dir, "refs/remotes/origin/main", "")

	// The key file: pushed.
	t.Setenv(EnvSSHKey, filepath.Join(keys, "id_fleet"))
	res, err := push(t, dir, PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Auth, EnvSSHKey) || rev(t, bare, "main") != rev(t, dir, "HEAD") || rev(t, dir, "refs/remotes/origin/main") != rev(t, dir, "HEAD") {
		t.Fatalf("key-file push: %+v; server main %q", res, rev(t, bare, "main"))
	}

	// The agent: pushed.
	t.Setenv(EnvSSHKey, "")
	kr := agent.NewKeyring()
	raw, err := os.ReadFile(filepath.Join(keys, "id_fleet"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.ParseRawPrivateKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := kr.Add(agent.AddedKey{PrivateKey: k}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { agent.ServeAgent(kr, c); c.Close() }()
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", sock)
	gitCmd(t, dir, "commit", "-q", "--allow-empty", "-m", "via the agent")
	res, err = push(t, dir, PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Auth, "SSH agent") || rev(t, bare, "main") != rev(t, dir, "HEAD") {
		t.Fatalf("agent push: %+v", res)
	}
	if out := gitCmd(t, bare, "fsck", "--strict", "--no-progress", "--no-dangling"); out != "" {
		t.Errorf("git fsck --strict on the server: %s", out)
	}
	execs := strings.Join(srv.Execs, "\n")
	if !strings.Contains(execs, "git-receive-pack '/fleet.git'") {
		t.Errorf("commands run on the server:\n%s", execs)
	}
}
