// Package gitservertest runs real git servers on 127.0.0.1 for tests: the
// git CLI's http-backend behind net/http/cgi, with a token checked by a
// small wrapper, and an in-process SSH server (golang.org/x/crypto/ssh)
// that runs the real git-receive-pack and git-upload-pack.
package gitservertest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
)

// GitEnv isolates a git command from the user's and the system's config.
var GitEnv = []string{"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1"}

// Bare makes an empty bare repository root/name whose HEAD is main and
// that accepts pushes over HTTP.
func Bare(tb testing.TB, root, name string) string {
	tb.Helper()
	p := filepath.Join(root, name)
	run(tb, root, "init", "-q", "--bare", "-b", "main", p)
	run(tb, p, "config", "http.receivepack", "true")
	return p
}

func run(tb testing.TB, dir string, args ...string) {
	tb.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), GitEnv...)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// HTTP is a smart-HTTP git server over the repositories under Root.
type HTTP struct {
	*httptest.Server
	Root string
	// User and Token are the credentials it requires (HTTP basic auth);
	// an empty Token lets everybody in.
	User, Token string

	mu sync.Mutex
	// Requests counts the requests served; Refused those answered 401;
	// Pushes the receive-pack POSTs that reached git.
	Requests, Refused, Pushes int
}

// NewHTTP starts the server; it stops with the test.
func NewHTTP(tb testing.TB, root, user, token string) *HTTP {
	tb.Helper()
	git, err := exec.LookPath("git")
	if err != nil {
		tb.Skip("git not on PATH")
	}
	s := &HTTP{Root: root, User: user, Token: token}
	backend := &cgi.Handler{
		Path: git,
		Args: []string{"http-backend"},
		Env:  append([]string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}, GitEnv...),
	}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.Requests++
		s.mu.Unlock()
		if s.Token != "" {
			u, p, ok := r.BasicAuth()
			if !ok || u != s.User || p != s.Token {
				s.mu.Lock()
				s.Refused++
				s.mu.Unlock()
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
		}
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			s.mu.Lock()
			s.Pushes++
			s.mu.Unlock()
		}
		backend.ServeHTTP(w, r)
	}))
	tb.Cleanup(s.Close)
	return s
}

// Counts returns Requests, Refused and Pushes.
func (s *HTTP) Counts() (requests, refused, pushes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Requests, s.Refused, s.Pushes
}

// SSH is an SSH server on 127.0.0.1 that runs git-receive-pack and
// git-upload-pack on the repositories under Root for one authorized key.
type SSH struct {
	Addr string // host:port
	Root string
	// HostKey is the server's public host key (for known_hosts).
	HostKey ssh.PublicKey
	// Execs lists the commands clients ran.
	mu    sync.Mutex
	Execs []string
}

// NewSSH starts the server, accepting only authorized; it stops with the
// test.
func NewSSH(tb testing.TB, root string, authorized ssh.PublicKey) *SSH {
	tb.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		tb.Skip("git not on PATH")
	}
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			if string(k.Marshal()) == string(authorized.Marshal()) {
				return nil, nil
			}
			return nil, fmt.Errorf("key not authorized")
		},
	}
	cfg.AddHostKey(hostSigner)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &SSH{Addr: ln.Addr().String(), Root: root, HostKey: hostSigner.PublicKey()}
	var wg sync.WaitGroup
	tb.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.serve(c, cfg)
			}()
		}
	}()
	return s
}

// KnownHostsLine is the server's known_hosts line.
func (s *SSH) KnownHostsLine() string {
	host, port, _ := net.SplitHostPort(s.Addr)
	return fmt.Sprintf("[%s]:%s %s", host, port, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.HostKey))))
}

// URL is the ssh:// URL of repository name.
func (s *SSH) URL(name string) string { return "ssh://git@" + s.Addr + "/" + name }

func (s *SSH) serve(c net.Conn, cfg *ssh.ServerConfig) {
	defer c.Close()
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		go s.session(ch, creqs)
	}
}

func (s *SSH) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		if req.Type == "env" {
			req.Reply(true, nil)
			continue
		}
		if req.Type != "exec" || len(req.Payload) < 4 {
			req.Reply(false, nil)
			continue
		}
		n := binary.BigEndian.Uint32(req.Payload)
		line := string(req.Payload[4 : 4+n])
		s.mu.Lock()
		s.Execs = append(s.Execs, line)
		s.mu.Unlock()
		prog, arg, _ := strings.Cut(line, " ")
		arg = strings.Trim(arg, "'")
		if (prog != "git-receive-pack" && prog != "git-upload-pack") || strings.Contains(arg, "..") {
			req.Reply(false, nil)
			return
		}
		req.Reply(true, nil)
		cmd := exec.Command("git", strings.TrimPrefix(prog, "git-"), filepath.Join(s.Root, filepath.FromSlash(arg)))
		cmd.Env = append(os.Environ(), GitEnv...)
		cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
		// Not cmd.Stdin = ch: Wait would wait for the client to close
		// its side, which it does only once the command exited.
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return
		}
		go func() { io.Copy(stdin, ch); stdin.Close() }()
		code := 0
		if err := cmd.Run(); err != nil {
			code = 1
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
		}
		ch.CloseWrite()
		status := make([]byte, 4)
		binary.BigEndian.PutUint32(status, uint32(code))
		ch.SendRequest("exit-status", false, status)
		return
	}
}

// WriteKey writes a new, unencrypted ed25519 private key (OpenSSH format)
// to path and returns its signer.
func WriteKey(tb testing.TB, path string) ssh.Signer {
	tb.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		tb.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		tb.Fatal(err)
	}
	return signer
}
