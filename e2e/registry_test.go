package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ociRegistry is an OCI registry on loopback for the examples delivered as
// OCI artifacts (spec.delivery.mode: oci): go-containerregistry's registry,
// over TLS with the test CA's 127.0.0.1 certificate (source-controller and
// fleetgen trust that CA through SSL_CERT_FILE, as a node would trust its
// registry's CA), behind basic auth (so the pull Secret provision.sh
// installs is what lets the cluster in).
type ociRegistry struct {
	host           string // 127.0.0.1:port
	user, password string
	caFile         string
	dockerConfig   string // a DOCKER_CONFIG folder for `fleetgen publish`
}

func startRegistry(t *testing.T, p *pki, dir string) *ociRegistry {
	t.Helper()
	r := &ociRegistry{user: "fleet-puller", password: "e2e-registry-token", caFile: p.caFile}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		u, pw, ok := req.BasicAuth()
		if !ok || u != r.user || pw != r.password {
			w.Header().Set("WWW-Authenticate", `Basic realm="fleetgen-e2e"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, req)
	}))
	cert, err := tls.LoadX509KeyPair(p.serverCert, p.serverK)
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	r.host = srv.Listener.Addr().String()
	r.dockerConfig = filepath.Join(dir, "docker")
	if err := os.MkdirAll(r.dockerConfig, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.dockerConfig, "config.json"), r.dockerConfigJSON(), 0o600); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *ociRegistry) dockerConfigJSON() []byte {
	auth := base64.StdEncoding.EncodeToString([]byte(r.user + ":" + r.password))
	return []byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, r.host, auth))
}

// pullSecret is the Secret the operator gives provision.sh for a private
// registry (what `flux create secret oci` writes).
func (r *ociRegistry) pullSecret(name string) []byte {
	return []byte(fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: flux-system\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: %s\n",
		name, base64.StdEncoding.EncodeToString(r.dockerConfigJSON())))
}

// env is what `fleetgen publish` and source-controller need to reach it.
func (r *ociRegistry) env() []string {
	return []string{"SSL_CERT_FILE=" + r.caFile, "DOCKER_CONFIG=" + r.dockerConfig}
}

// revision is what Flux reports for an OCIRepository following tag in
// repository: <tag>@sha256:<digest of the tag's manifest>.
func (r *ociRegistry) revision(t *testing.T, repository, tag string) string {
	t.Helper()
	ref, err := name.ParseReference(repository + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(r.caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	desc, err := remote.Head(ref, remote.WithTransport(tr), remote.WithAuth(&authn.Basic{Username: r.user, Password: r.password}))
	if err != nil {
		t.Fatalf("registry: %s: %v", ref, err)
	}
	return tag + "@" + desc.Digest.String()
}
