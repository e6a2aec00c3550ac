package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetgen/fleetgen/generator/gitrepo/gitservertest"
)

// TestPushThenCloneRegenKeepsHandEdits is the whole loop a team runs:
// generate, fleetgen push to a git server (the git CLI's http-backend on
// 127.0.0.1, token-checked), a teammate's fresh `git clone`, a hand edit and
// a spec change there, fleetgen regen in the clone (the base came with the
// branch: the hand edit is merged, not lost), a push from the clone, and a
// stale push from the first repository refused without touching the server.
func TestPushThenCloneRegenKeepsHandEdits(t *testing.T) {
	needGit(t)
	home := t.TempDir()
	for k, v := range map[string]string{
		"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "HOME": home,
		"FLEETGEN_GIT_TOKEN": "", "FLEETGEN_GIT_USERNAME": "", "SSH_AUTH_SOCK": "",
	} {
		t.Setenv(k, v)
	}
	root := t.TempDir()
	bare := gitservertest.Bare(t, root, "fleet.git")
	srv := gitservertest.NewHTTP(t, root, "robot", "tok-123456")
	dir := newRepo(t)
	git(t, dir, "remote", "add", "origin", srv.URL+"/fleet.git")
	git(t, dir, "config", "remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*")

	// Without the token: refused by the server, said clearly, exit 1.
	out, errs, code := fleetgen(t, "push", "--dir", dir)
	if code == 0 || !strings.Contains(errs, "asks for credentials") || !strings.Contains(errs, "FLEETGEN_GIT_TOKEN") {
		t.Fatalf("push without a token: exit %d\n%s\n%s", code, out, errs)
	}
	if serverHas(t, bare, "main") != "" {
		t.Fatal("the server has main after a refused push")
	}

	t.Setenv("FLEETGEN_GIT_TOKEN", "tok-123456")
	t.Setenv("FLEETGEN_GIT_USERNAME", "robot")
	out = mustFleetgen(t, "push", "--dir", dir)
	head := git(t, dir, "rev-parse", "HEAD")
	if !strings.Contains(out, "new branch main at "+head[:12]) || !strings.Contains(out, "refs/remotes/origin/main is now") {
		t.Errorf("first push says:\n%s", out)
	}
	if got := serverHas(t, bare, "main"); got != head {
		t.Fatalf("server main = %q, want %s", got, head)
	}
	if out := mustFleetgen(t, "push", "--dir", dir); !strings.Contains(out, "Everything up to date") {
		t.Errorf("second push says:\n%s", out)
	}

	// A teammate clones with the git CLI (over the same server).
	u := strings.Replace(srv.URL, "http://", "http://robot:tok-123456@", 1) + "/fleet.git"
	clone := filepath.Join(t.TempDir(), "clone")
	git(t, root, "clone", "-q", u, clone)
	if got, want := generatedBase(t, clone), generatedBase(t, dir); got != want {
		t.Fatalf("the clone's base is %s, the original's %s", got, want)
	}
	writeFile(t, filepath.Join(clone, overlay), readFile(t, filepath.Join(clone, overlay))+userPatch)
	editSpec(t, clone, "      clusterPrefix: ns-rig\n", "      clusterPrefix: ns-rig\n      labels:\n        acme-energy.example/tier: gold\n")
	git(t, clone, "commit", "-qam", "hand edit and a label")
	if out, errs, code := regen(t, clone); code != 0 {
		t.Fatalf("regen in the clone: exit %d\n%s\n%s", code, out, errs)
	}
	got := readFile(t, filepath.Join(clone, overlay))
	if !strings.Contains(got, "cidr: 10.20.0.0/16") || !strings.Contains(got, "acme-energy.example/tier: gold") {
		t.Fatalf("after regen in the clone, the overlay lost the hand edit or lacks the label:\n%s", got)
	}
	// The clone's origin carries the credentials in its URL (as git
	// clone left it); they are used, and not printed.
	t.Setenv("FLEETGEN_GIT_TOKEN", "")
	t.Setenv("FLEETGEN_GIT_USERNAME", "")
	out = mustFleetgen(t, "push", "--dir", clone)
	if strings.Contains(out, "tok-123456") {
		t.Errorf("the password in the URL is printed:\n%s", out)
	}
	cloneHead := git(t, clone, "rev-parse", "HEAD")
	if got := serverHas(t, bare, "main"); got != cloneHead {
		t.Fatalf("server main = %q after the clone's push, want %s", got, cloneHead)
	}

	// Meanwhile the first repository regenerated on its own: its push is
	// refused, and the server keeps the teammate's work.
	t.Setenv("FLEETGEN_GIT_TOKEN", "tok-123456")
	t.Setenv("FLEETGEN_GIT_USERNAME", "robot")
	editSpec(t, dir, "      clusterPrefix: ns-rig\n", "      clusterPrefix: ns-rig\n      connectivity: intermittent\n")
	git(t, dir, "commit", "-qam", "north-sea goes intermittent")
	if out, errs, code := regen(t, dir); code != 0 {
		t.Fatalf("regen: exit %d\n%s\n%s", code, out, errs)
	}
	out, errs, code = fleetgen(t, "push", "--dir", dir)
	if code == 0 || !strings.Contains(errs, "non-fast-forward") || !strings.Contains(errs, "fetch and merge or rebase with git first") {
		t.Fatalf("stale push: exit %d\n%s\n%s", code, out, errs)
	}
	if got := serverHas(t, bare, "main"); got != cloneHead {
		t.Errorf("server main = %q after a refused push, want %s", got, cloneHead)
	}
	if log := git(t, bare, "log", "--first-parent", "--format=%s", "-3", "main"); !strings.Contains(log, "hand edit and a label") {
		t.Errorf("server history:\n%s", log)
	}
	git(t, bare, "fsck", "--strict", "--no-progress")
}

// serverHas is the commit name resolves to in the bare repository ("" if none).
func serverHas(t *testing.T, bare, name string) string {
	t.Helper()
	cmd := exec.Command("git", "rev-parse", "-q", "--verify", name+"^{commit}")
	cmd.Dir = bare
	cmd.Env = append(cmd.Environ(), gitservertest.GitEnv...)
	out, _ := cmd.Output()
	return strings.TrimSpace(string(out))
}
