package e2e

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// gitServer serves bare repositories under root over smart HTTP
// (git-http-backend behind net/http/cgi), as a git host would. A repository
// registered with credentials answers only to HTTP basic auth with them.
type gitServer struct {
	root string
	url  string // http://127.0.0.1:PORT

	mu    sync.Mutex
	creds map[string][2]string // repo name -> username, password
	log   []string
}

func startGitServer(t *testing.T, tl *tools, root string, port int) *gitServer {
	t.Helper()
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	requireFree(t, port)
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	g := &gitServer{root: root, url: "http://" + l.Addr().String(), creds: map[string][2]string{}}
	backend := &cgi.Handler{
		Path: tl.gitHTTPBackend,
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		repo := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[0]
		g.mu.Lock()
		cred, private := g.creds[repo]
		g.mu.Unlock()
		if private {
			u, p, ok := r.BasicAuth()
			if !ok || u != cred[0] || p != cred[1] {
				g.record(fmt.Sprintf("401 %s %s (user agent %q)", r.Method, r.URL.Path, r.UserAgent()))
				w.Header().Set("WWW-Authenticate", `Basic realm="fleetgen-e2e"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
		}
		if strings.HasSuffix(r.URL.Path, "/git-upload-pack") || strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			g.record(fmt.Sprintf("%s %s (user agent %q)", r.Method, r.URL.Path, r.UserAgent()))
		}
		backend.ServeHTTP(w, r)
	})}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Logf("git server: %v", err)
		}
	}()
	t.Cleanup(func() { srv.Close() })
	return g
}

func (g *gitServer) record(s string) {
	g.mu.Lock()
	g.log = append(g.log, s)
	g.mu.Unlock()
}

// requests returns the recorded fetches and pushes of repo.
func (g *gitServer) requests(repo string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, l := range g.log {
		if strings.Contains(l, "/"+repo+"/") {
			out = append(out, l)
		}
	}
	return out
}

// newRepo makes an empty bare repository name (e.g. "farm-lab.git") that
// accepts pushes over HTTP; with a username, it requires basic auth.
func (g *gitServer) newRepo(t *testing.T, name, username, password string) string {
	t.Helper()
	dir := filepath.Join(g.root, name)
	gitCmd(t, "", "init", "-q", "--bare", "-b", "main", dir)
	gitCmd(t, dir, "config", "http.receivepack", "true")
	if username != "" {
		g.mu.Lock()
		g.creds[name] = [2]string{username, password}
		g.mu.Unlock()
	}
	return g.url + "/" + name
}

// gitCmd runs the git CLI in dir and returns its output.
func gitCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := gitRun(dir, nil, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

// gitHome is the HOME of the git CLI in the test: no user configuration.
var gitHome = os.TempDir()

func gitRun(dir string, env []string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+gitHome, "XDG_CONFIG_HOME="+filepath.Join(gitHome, ".config"),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=e2e operator", "GIT_AUTHOR_EMAIL=operator@fleetgen.test",
		"GIT_COMMITTER_NAME=e2e operator", "GIT_COMMITTER_EMAIL=operator@fleetgen.test")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// head is the commit branch points to in the served repository name.
func (g *gitServer) head(t *testing.T, name, branch string) string {
	t.Helper()
	return gitCmd(t, filepath.Join(g.root, name), "rev-parse", "refs/heads/"+branch)
}
