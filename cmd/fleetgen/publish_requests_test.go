package main

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// countingRegistry is an in-process registry that counts the requests it
// gets, by kind, and can be told to fail manifest PUTs after a number.
type countingRegistry struct {
	t    *testing.T
	repo string // host:port/cargo-fleet
	mu   sync.Mutex
	hits map[string]int
	// failManifestPutsAfter >= 0: the manifest PUTs after that many get 500.
	failManifestPutsAfter atomic.Int64
	manifestPuts          atomic.Int64
}

func newCountingRegistry(t *testing.T) *countingRegistry {
	t.Helper()
	c := &countingRegistry{t: t, hits: map[string]int{}}
	c.failManifestPutsAfter.Store(-1)
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := r.Method + " " + requestKind(r.URL.Path)
		c.mu.Lock()
		c.hits[kind]++
		c.mu.Unlock()
		if kind == "PUT manifest" {
			n := c.manifestPuts.Add(1)
			if after := c.failManifestPutsAfter.Load(); after >= 0 && n > after {
				http.Error(w, `{"errors":[{"code":"UNKNOWN","message":"disk full"}]}`, http.StatusInternalServerError)
				return
			}
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c.repo = strings.TrimPrefix(srv.URL, "http://") + "/cargo-fleet"
	return c
}

func requestKind(p string) string {
	switch {
	case p == "/v2/" || p == "/v2":
		return "ping"
	case strings.Contains(p, "/tags/list"):
		return "tags"
	case strings.Contains(p, "/manifests/"):
		return "manifest"
	case strings.Contains(p, "/blobs/uploads"):
		return "upload"
	case strings.Contains(p, "/blobs/"):
		return "blob"
	}
	return p
}

// take returns the counts since the last take, and their total.
func (c *countingRegistry) take() (map[string]int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, n := c.hits, 0
	for _, v := range h {
		n += v
	}
	c.hits = map[string]int{}
	return h, n
}

// The requests a user pays for on a slow link: publish of a new fleet
// costs two per artifact (layer upload, manifest PUT) plus a handful for
// the run; publish of an unchanged fleet costs the handshake and one tag
// list, whatever the fleet's size; a changed artifact costs three.
func TestPublishRequestCounts(t *testing.T) {
	dir := cargoRepo(t)
	reg := newCountingRegistry(t)
	const artifacts = 5

	out := mustFleetgen(t, "publish", "--dir", dir, "--registry", reg.repo)
	hits, n := reg.take()
	if !strings.Contains(out, "5 pushed") {
		t.Fatalf("first publish:\n%s", out)
	}
	// ping, tags/list, config HEAD + upload; then per artifact one
	// monolithic upload and one manifest PUT.
	t.Logf("first publish: %d requests %v", n, hits)
	if n > 4+2*artifacts || hits["POST upload"] != artifacts+1 || hits["PUT manifest"] != artifacts || hits["GET manifest"]+hits["HEAD manifest"] != 0 {
		t.Errorf("first publish of %d artifacts: %d requests %v", artifacts, n, hits)
	}
	if !strings.Contains(out, "registry requests") {
		t.Errorf("publish does not say how many requests it made:\n%s", out)
	}

	out = mustFleetgen(t, "publish", "--dir", dir, "--registry", reg.repo)
	hits, n = reg.take()
	if !strings.Contains(out, "0 pushed") || !strings.Contains(out, "5 unchanged") {
		t.Fatalf("second publish:\n%s", out)
	}
	t.Logf("unchanged: %d requests %v", n, hits)
	if n > 2 {
		t.Errorf("publish of an unchanged fleet: %d requests %v, want at most 2 (handshake, tag list)", n, hits)
	}

	// A commit to transpacific (3 ships): HEAD, upload, PUT each.
	commitEdit(t, dir, "infrastructure/regions/transpacific/kustomization.yaml", "resources:", "# transpacific: VSAT window\nresources:")
	out = mustFleetgen(t, "publish", "--dir", dir, "--registry", reg.repo)
	hits, n = reg.take()
	if !strings.Contains(out, "3 pushed") || !strings.Contains(out, "2 unchanged") {
		t.Fatalf("publish after a transpacific commit:\n%s", out)
	}
	t.Logf("3 changed: %d requests %v", n, hits)
	if n > 3+3*3 || hits["PUT manifest"] != 3 || hits["GET manifest"] != 0 {
		t.Errorf("publish of 3 changed artifacts: %d requests %v", n, hits)
	}
	// north-europe was not even read from git.
	if !strings.Contains(out, "1 of 2 regions unchanged since the last publish") {
		t.Errorf("publish after a transpacific commit read every region:\n%s", out)
	}

	// --verify asks about every tag (a HEAD each) and finds it all there.
	out = mustFleetgen(t, "publish", "--dir", dir, "--registry", reg.repo, "--verify")
	hits, _ = reg.take()
	if !strings.Contains(out, "0 pushed") || hits["HEAD manifest"] != artifacts || hits["PUT manifest"] != 0 {
		t.Errorf("--verify: %v\n%s", hits, out)
	}
}

// Without the record (a fresh clone in CI) or with a wrong one, publish
// asks the registry and comes to the same answer.
func TestPublishWithoutOrWithAStaleRecord(t *testing.T) {
	dir := cargoRepo(t)
	reg := newCountingRegistry(t)
	mustFleetgen(t, "publish", "--dir", dir, "--registry", reg.repo)
	recs, _ := filepath.Glob(filepath.Join(dir, ".git/fleetgen/publish/*.json"))
	if len(recs) != 1 {
		t.Fatalf("publish records: %v", recs)
	}
	if st := git(t, dir, "status", "--porcelain"); st != "" {
		t.Errorf("the record shows in git status:\n%s", st)
	}

	// No record: a GET per tag, nothing pushed.
	os.Remove(recs[0])
	reg.take()
	out := mustFleetgen(t, "publish", "--dir", dir, "--registry", reg.repo)
	hits, _ := reg.take()
	if !strings.Contains(out, "0 pushed") || !strings.Contains(out, "5 unchanged") || hits["GET manifest"] != 5 {
		t.Fatalf("publish without a record: %v\n%s", hits, out)
	}

	// A record that lies (another digest, another key for every tag) is
	// trusted for unchanged regions (no request: that is its point), and
	// --verify repairs it: a HEAD per tag shows other digests, a GET the
	// real content keys; nothing pushed.
	b, err := os.ReadFile(recs[0])
	if err != nil {
		t.Fatal(err)
	}
	lie := strings.ReplaceAll(string(b), `"key":"sha256:`, `"key":"sha256:0`)
	lie = strings.ReplaceAll(lie, `"digest":"sha256:`, `"digest":"sha256:1`)
	writeFile(t, recs[0], lie)
	reg.take()
	out = mustFleetgen(t, "publish", "--dir", dir, "--registry", reg.repo, "--verify")
	hits, _ = reg.take()
	if !strings.Contains(out, "0 pushed") || !strings.Contains(out, "5 unchanged") || hits["HEAD manifest"] != 5 || hits["GET manifest"] != 5 {
		t.Fatalf("--verify with a wrong record: %v\n%s", hits, out)
	}
	if got := readFile(t, recs[0]); got != string(b) {
		t.Errorf("--verify did not repair the record:\n%s\nwant\n%s", got, b)
	}
	mustFleetgen(t, "publish", "--dir", dir, "--registry", reg.repo)
	if _, n := reg.take(); n > 2 {
		t.Errorf("%d requests after the repair", n)
	}
	// A region whose files changed is read again whatever the record
	// says: a lying key for a changed artifact costs a HEAD and a GET.
	writeFile(t, recs[0], lie)
	commitEdit(t, dir, "apps/regions/north-europe/kustomization.yaml", "resources:", "# edited\nresources:")
	out = mustFleetgen(t, "publish", "--dir", dir, "--registry", reg.repo)
	hits, _ = reg.take()
	if !strings.Contains(out, "2 pushed") || hits["GET manifest"] != 2 {
		t.Errorf("a north-europe commit with a wrong record: %v\n%s", hits, out)
	}
	b, _ = os.ReadFile(recs[0])

	// A tag deleted from the registry (not in its tag list) is pushed
	// again, whatever the record says.
	writeFile(t, recs[0], string(b))
	other := newCountingRegistry(t)
	rec2 := filepath.Join(dir, ".git/fleetgen/publish", strings.NewReplacer("/", "_", ":", "_").Replace(other.repo)+".json")
	writeFile(t, rec2, strings.Replace(string(b), reg.repo, other.repo, 1))
	out = mustFleetgen(t, "publish", "--dir", dir, "--registry", other.repo)
	if !strings.Contains(out, "5 pushed") {
		t.Errorf("publish to an empty registry with a record saying all is there:\n%s", out)
	}
}

// A tag someone else overwrote after fleetgen recorded it is still never
// overwritten: the changed artifact's HEAD shows another digest, the GET
// shows it is not fleetgen's.
func TestPublishRefusesATagOverwrittenSinceTheRecord(t *testing.T) {
	dir := cargoRepo(t)
	reg := newCountingRegistry(t)
	mustFleetgen(t, "publish", "--dir", dir, "--registry", reg.repo)
	foreign, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.NewTag(reg.repo+":tp-ship-0002", name.StrictValidation)
	if err := remote.Write(ref, foreign); err != nil {
		t.Fatal(err)
	}
	fd, _ := foreign.Digest()

	// Unchanged: publish does not write it; --verify finds it.
	_, errs, code := fleetgen(t, "publish", "--dir", dir, "--registry", reg.repo, "--verify")
	if code == 0 || !strings.Contains(errs, ":tp-ship-0002 already exists and was not made by fleetgen publish") {
		t.Errorf("--verify over a foreign tag: exit %d\n%s", code, errs)
	}
	// Changed: refused.
	commitEdit(t, dir, "infrastructure/regions/transpacific/kustomization.yaml", "resources:", "# changed\nresources:")
	_, errs, code = fleetgen(t, "publish", "--dir", dir, "--registry", reg.repo)
	if code == 0 || !strings.Contains(errs, ":tp-ship-0002 already exists and was not made by fleetgen publish") {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	if p := pullAs(t, reg.repo, "tp-ship-0002", v1.Hash{}); p.Digest != fd {
		t.Errorf("the foreign tag was overwritten")
	}
}

// A publish that fails half-way (the registry refuses manifests after
// two) says so; the rerun pushes the rest and then all is unchanged.
func TestPublishRerunAfterAnInterruptionConverges(t *testing.T) {
	dir := cargoRepo(t)
	reg := newCountingRegistry(t)
	reg.failManifestPutsAfter.Store(2)
	out, errs, code := fleetgen(t, "publish", "--dir", dir, "--registry", reg.repo, "--jobs", "1")
	if code == 0 || !strings.Contains(errs, "2 artifacts pushed before the failure") || !strings.Contains(errs, "HTTP 500") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	reg.failManifestPutsAfter.Store(-1)
	out = mustFleetgen(t, "publish", "--dir", dir, "--registry", reg.repo)
	if !strings.Contains(out, "3 pushed") || !strings.Contains(out, "2 unchanged") {
		t.Fatalf("rerun:\n%s", out)
	}
	reg.take()
	out = mustFleetgen(t, "publish", "--dir", dir, "--registry", reg.repo)
	if _, n := reg.take(); !strings.Contains(out, "5 unchanged") || n > 2 {
		t.Errorf("third run: %d requests\n%s", n, out)
	}
	for _, tag := range []string{"tp-ship-0001", "tp-ship-0003", "ne-feeder-2"} {
		if p := pullAs(t, reg.repo, tag, v1.Hash{}); p.Files["clusters/"+map[bool]string{true: "transpacific", false: "north-europe"}[strings.HasPrefix(tag, "tp")]+"/"+tag+"/kustomization.yaml"] == nil {
			t.Errorf("%s: its folder is not in its artifact", tag)
		}
	}
}

// With --cosign-key, a rerun over an unchanged, signed fleet costs what an
// unsigned one does (the record remembers which key signed which digest
// and the tag list shows the signature tags), and signing a fleet never
// reads a signature tag that the tag list says is not there.
func TestPublishSignedRequestCounts(t *testing.T) {
	dir := cargoRepo(t)
	reg := newCountingRegistry(t)
	key, _ := writeKey(t, "correct horse")
	t.Setenv("COSIGN_PASSWORD", "correct horse")

	out := mustFleetgen(t, "publish", "--dir", dir, "--registry", reg.repo, "--cosign-key", key)
	hits, n := reg.take()
	if !strings.Contains(out, "5 signed, 0 already signed") {
		t.Fatalf("first signed publish:\n%s", out)
	}
	t.Logf("first signed publish: %d requests %v", n, hits)
	if hits["GET manifest"] != 0 || hits["PUT manifest"] != 10 {
		t.Errorf("first signed publish: %v, want no manifest GET and 10 manifest PUTs (5 artifacts, 5 signatures)", hits)
	}
	out = mustFleetgen(t, "publish", "--dir", dir, "--registry", reg.repo, "--cosign-key", key)
	hits, n = reg.take()
	if !strings.Contains(out, "0 signed, 5 already signed") {
		t.Fatalf("signed rerun:\n%s", out)
	}
	if n > 2 {
		t.Errorf("signed rerun of an unchanged fleet: %d requests %v, want at most 2", n, hits)
	}
	// --verify reads every signature again.
	out = mustFleetgen(t, "publish", "--dir", dir, "--registry", reg.repo, "--cosign-key", key, "--verify")
	hits, _ = reg.take()
	if !strings.Contains(out, "0 signed, 5 already signed") || hits["GET manifest"] < 5 {
		t.Errorf("--verify with a key: %v\n%s", hits, out)
	}
}
