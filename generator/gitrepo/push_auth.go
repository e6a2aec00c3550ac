package gitrepo

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
)

// Credentials come from the environment only, and are never stored or
// printed:
//
//   - https/http: FLEETGEN_GIT_TOKEN is sent as the password of HTTP basic
//     authentication, with the user FLEETGEN_GIT_USERNAME, else the URL's
//     user, else "x-access-token" (GitHub and GitLab accept it with a
//     token; other servers may want a given name, e.g. Bitbucket's
//     x-token-auth).
//     Without it, a user and password written in the URL are used, as git
//     does. A token is never sent over plain http to another host than
//     the loopback one.
//   - ssh: the key file FLEETGEN_SSH_KEY (passphrase in
//     FLEETGEN_SSH_KEY_PASSPHRASE), else the agent at SSH_AUTH_SOCK, else
//     ~/.ssh/id_ed25519, id_ecdsa or id_rsa (as ssh tries them); the user
//     is the URL's, else "git". The server's host key must be in
//     known_hosts (~/.ssh/known_hosts, /etc/ssh/ssh_known_hosts, or the
//     files listed in SSH_KNOWN_HOSTS): it is never accepted unchecked.
//
// git's credential helpers (credential.helper) are not run.
const (
	EnvToken         = "FLEETGEN_GIT_TOKEN"
	EnvUsername      = "FLEETGEN_GIT_USERNAME"
	EnvSSHKey        = "FLEETGEN_SSH_KEY"
	EnvSSHPassphrase = "FLEETGEN_SSH_KEY_PASSPHRASE"
)

// DefaultTokenUser is the user name sent with FLEETGEN_GIT_TOKEN when
// neither FLEETGEN_GIT_USERNAME nor the URL names one.
const DefaultTokenUser = "x-access-token"

// pushAuth chooses the credentials for t's URL; desc says which, without
// the secret.
func pushAuth(t *PushTarget) (auth transport.AuthMethod, desc string, err error) {
	ep, err := transport.NewEndpoint(t.URL)
	if err != nil {
		return nil, "", &PushError{Setting: "remote URL " + t.Display, Problem: err.Error()}
	}
	switch ep.Protocol {
	case "http", "https":
		tok := os.Getenv(EnvToken)
		if tok == "" {
			if ep.User != "" && ep.Password != "" {
				return nil, "the user and password in the URL", nil
			}
			return nil, "", nil
		}
		if ep.Protocol == "http" && !isLoopback(ep.Host) {
			return nil, "", &PushError{Setting: "remote URL " + t.Display + " is plain http", Problem: "fleetgen does not send " + EnvToken + " unencrypted to another machine",
				WayOut: "use the https URL of the repository"}
		}
		user := os.Getenv(EnvUsername)
		if user == "" {
			user = ep.User
		}
		if user == "" {
			user = DefaultTokenUser
		}
		return &githttp.BasicAuth{Username: user, Password: tok}, EnvToken + " (user " + user + ")", nil
	case "ssh":
		return sshAuth(ep, t)
	}
	return nil, "", nil
}

func isLoopback(host string) bool {
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func sshAuth(ep *transport.Endpoint, t *PushTarget) (transport.AuthMethod, string, error) {
	user := ep.User
	if user == "" {
		user = "git"
	}
	// Host keys: the known_hosts files, with the algorithms they hold for
	// this host (so the server is asked for a key that can be checked).
	db, err := gitssh.NewKnownHostsDb()
	if err != nil {
		return nil, "", &PushError{Setting: "no known_hosts file", Problem: "fleetgen checks the SSH server's host key against ~/.ssh/known_hosts, /etc/ssh/ssh_known_hosts or the files in SSH_KNOWN_HOSTS, and none exists",
			WayOut: "connect once with `ssh` to record the server's key after checking its fingerprint, or set SSH_KNOWN_HOSTS"}
	}
	hk := gitssh.HostKeyCallbackHelper{HostKeyCallback: db.HostKeyCallback(), HostKeyAlgorithms: db.HostKeyAlgorithms(sshHostPort(ep))}

	if key := os.Getenv(EnvSSHKey); key != "" {
		a, err := gitssh.NewPublicKeysFromFile(user, key, os.Getenv(EnvSSHPassphrase))
		if err != nil {
			return nil, "", sshKeyError(EnvSSHKey+"="+key, err)
		}
		a.HostKeyCallbackHelper = hk
		return timeoutAuth{a}, "the SSH key in " + EnvSSHKey + " (user " + user + ")", nil
	}
	if os.Getenv("SSH_AUTH_SOCK") != "" {
		a, err := gitssh.NewSSHAgentAuth(user)
		if err != nil {
			return nil, "", &PushError{Setting: "SSH_AUTH_SOCK=" + os.Getenv("SSH_AUTH_SOCK"), Problem: "cannot reach the SSH agent: " + err.Error(), WayOut: "start ssh-agent and add your key (`ssh-add`), or set " + EnvSSHKey}
		}
		a.HostKeyCallbackHelper = hk
		return timeoutAuth{a}, "the SSH agent (user " + user + ")", nil
	}
	if home, err := os.UserHomeDir(); err == nil {
		for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			p := filepath.Join(home, ".ssh", n)
			if _, err := os.Stat(p); err != nil {
				continue
			}
			a, err := gitssh.NewPublicKeysFromFile(user, p, os.Getenv(EnvSSHPassphrase))
			if err != nil {
				return nil, "", sshKeyError(p, err)
			}
			a.HostKeyCallbackHelper = hk
			return timeoutAuth{a}, "the SSH key " + p + " (user " + user + ")", nil
		}
	}
	return nil, "", &PushError{Setting: "no SSH credentials for " + t.Display, Problem: "no SSH agent (SSH_AUTH_SOCK), no " + EnvSSHKey + ", no ~/.ssh/id_ed25519, id_ecdsa or id_rsa",
		WayOut: "start ssh-agent and `ssh-add` your key, or set " + EnvSSHKey + "=<private key file>"}
}

func sshKeyError(what string, err error) error {
	var pp *ssh.PassphraseMissingError
	if errors.As(err, &pp) || strings.Contains(err.Error(), "passphrase") {
		return &PushError{Setting: what, Problem: "the key is protected by a passphrase", WayOut: "add it to ssh-agent (`ssh-add`), or set " + EnvSSHPassphrase}
	}
	return &PushError{Setting: what, Problem: "cannot read the SSH key: " + err.Error()}
}

// sshHostPort is the address go-git's SSH transport dials: the endpoint's
// host and port, or ~/.ssh/config's Hostname and Port for it.
func sshHostPort(ep *transport.Endpoint) string {
	host, port := ep.Host, ep.Port
	if gitssh.DefaultSSHConfig != nil {
		if h := gitssh.DefaultSSHConfig.Get(ep.Host, "Hostname"); h != "" {
			host = h
			if p, err := strconv.Atoi(gitssh.DefaultSSHConfig.Get(ep.Host, "Port")); err == nil {
				port = p
			}
		}
	}
	if port <= 0 {
		port = gitssh.DefaultPort
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// timeoutAuth bounds the SSH connection and handshake (go-git's SSH dial
// does not take the push's context).
type timeoutAuth struct{ gitssh.AuthMethod }

func (a timeoutAuth) ClientConfig() (*ssh.ClientConfig, error) {
	c, err := a.AuthMethod.ClientConfig()
	if err == nil && c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	return c, err
}
