package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/fleetgen/fleetgen/generator/sign"
)

// writeKey writes a cosign key pair (as cosign generate-key-pair does)
// into a temporary folder and returns the private key's path.
func writeKey(t *testing.T, password string) (keyPath string, pub []byte) {
	t.Helper()
	priv, pub, err := sign.GenerateKey([]byte(password))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "cosign.key")
	if err := os.WriteFile(p, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, pub
}

// signatureOK reports whether tag's artifact carries a signature, in
// cosign's layout, that pub verifies.
func signatureOK(t *testing.T, repo, tag string, pub []byte) bool {
	t.Helper()
	r, err := name.NewRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Head(r.Tag(tag))
	if err != nil {
		t.Fatalf("%s:%s: %v", repo, tag, err)
	}
	img, err := remote.Image(r.Tag(sign.SignatureTag(d.Digest.String())))
	if err != nil {
		return false
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	k, err := sign.ParsePublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range m.Layers {
		layer, err := img.LayerByDigest(l.Digest)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := layer.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(rc)
		rc.Close()
		if b.String() == string(sign.Payload(repo, d.Digest.String())) && sign.Verify(k, b.Bytes(), l.Annotations[sign.SignatureAnnotation]) {
			return true
		}
	}
	return false
}

func tagsIn(t *testing.T, repo string) []string {
	t.Helper()
	r, _ := name.NewRepository(repo)
	tags, err := remote.List(r)
	if err != nil && !strings.Contains(err.Error(), "NAME_UNKNOWN") {
		t.Fatal(err)
	}
	return tags
}

// TestPublishSigns: --cosign-key signs every artifact in cosign's format
// (generator/sign/fluxcompat proves cosign's verifier, as source-controller
// runs it, accepts them); a rerun signs nothing again; a new artifact
// after a commit is signed.
func TestPublishSigns(t *testing.T) {
	dir := cargoRepo(t)
	repo := ociRegistry(t)
	key, pub := writeKey(t, "correct horse")
	t.Setenv("COSIGN_PASSWORD", "correct horse")
	out := mustFleetgen(t, "publish", "--dir", dir, "--registry", repo, "--cosign-key", key)
	if !strings.Contains(out, "5 signed, 0 already signed by this key") {
		t.Fatalf("first publish:\n%s", out)
	}
	for _, tag := range []string{"tp-ship-0001", "tp-ship-0002", "tp-ship-0003", "ne-feeder-1", "ne-feeder-2"} {
		if !signatureOK(t, repo, tag, pub) {
			t.Errorf("%s: no valid signature", tag)
		}
	}
	other, otherPub := writeKey(t, "correct horse")
	if signatureOK(t, repo, "tp-ship-0001", otherPub) {
		t.Error("another key verifies the signature")
	}
	out = mustFleetgen(t, "publish", "--dir", dir, "--registry", repo, "--cosign-key", key)
	if !strings.Contains(out, "0 signed, 5 already signed by this key") || !strings.Contains(out, "0 pushed") {
		t.Fatalf("rerun re-signed or re-pushed:\n%s", out)
	}
	// Signing with a second key (a rotation) adds its signature and
	// keeps the first.
	out = mustFleetgen(t, "publish", "--dir", dir, "--registry", repo, "--cosign-key", other)
	if !strings.Contains(out, "5 signed") || !signatureOK(t, repo, "ne-feeder-1", pub) || !signatureOK(t, repo, "ne-feeder-1", otherPub) {
		t.Fatalf("second key:\n%s", out)
	}
	// Dry run: says what it would sign, pushes and signs nothing.
	fresh := ociRegistry(t)
	out = mustFleetgen(t, "publish", "--dir", dir, "--registry", fresh, "--cosign-key", key, "--dry-run")
	if strings.Count(out, "would sign") != 5 || len(tagsIn(t, fresh)) != 0 {
		t.Fatalf("dry run:\n%s\ntags %v", out, tagsIn(t, fresh))
	}
}

// TestPublishBadCosignKey: a missing key file, a wrong password, a file
// that is not a cosign private key, or a key the clusters do not trust
// stop publish before anything is pushed.
func TestPublishBadCosignKey(t *testing.T) {
	dir := cargoRepo(t)
	repo := ociRegistry(t)
	key, pub := writeKey(t, "right")
	pubFile := filepath.Join(t.TempDir(), "cosign.pub")
	os.WriteFile(pubFile, pub, 0o644)
	for _, c := range []struct {
		name, key, password string
		want                []string
	}{
		{"missing", filepath.Join(t.TempDir(), "nope.key"), "right", []string{"--cosign-key", "no such file"}},
		{"wrong password", key, "wrong", []string{"wrong password (COSIGN_PASSWORD)", "nothing pushed"}},
		{"no password", key, "", []string{"wrong password (COSIGN_PASSWORD)"}},
		{"a public key", pubFile, "right", []string{"not a cosign private key", "PUBLIC KEY"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("COSIGN_PASSWORD", c.password)
			_, stderr, code := fleetgen(t, "publish", "--dir", dir, "--registry", repo, "--cosign-key", c.key)
			if code == 0 {
				t.Fatal("exit 0")
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if tags := tagsIn(t, repo); len(tags) != 0 {
				t.Errorf("pushed %v before failing", tags)
			}
		})
	}

	t.Run("key the clusters do not trust", func(t *testing.T) {
		needGit(t)
		signed := filepath.Join(t.TempDir(), "signed")
		mustFleetgen(t, append([]string{"generate", "--spec", "../../generator/testdata/cases/cargo-signed/fleet.yaml", "--out", signed}, testAuthor...)...)
		t.Setenv("COSIGN_PASSWORD", "right")
		_, stderr, code := fleetgen(t, "publish", "--dir", signed, "--registry", repo, "--cosign-key", key)
		if code == 0 || !strings.Contains(stderr, "not in spec.delivery.verify.publicKeys") {
			t.Fatalf("exit %d:\n%s", code, stderr)
		}
		if tags := tagsIn(t, repo); len(tags) != 0 {
			t.Errorf("pushed %v before failing", tags)
		}
	})
}

// TestPublishListsUnsignedRefs: --unsigned-refs writes repo@digest of
// each artifact that has no signature tag (what the CI's keyless cosign
// sign signs), and nothing once they are signed.
func TestPublishListsUnsignedRefs(t *testing.T) {
	dir := cargoRepo(t)
	repo := ociRegistry(t)
	list := filepath.Join(t.TempDir(), "unsigned.txt")
	mustFleetgen(t, "publish", "--dir", dir, "--registry", repo, "--unsigned-refs", list)
	b, err := os.ReadFile(list)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(b))
	if len(lines) != 5 {
		t.Fatalf("unsigned refs:\n%s", b)
	}
	for _, l := range lines {
		if _, err := name.NewDigest(l, name.StrictValidation); err != nil || !strings.HasPrefix(l, repo+"@sha256:") {
			t.Errorf("%q is not a digest reference in %s: %v", l, repo, err)
		}
	}
	key, _ := writeKey(t, "pw")
	t.Setenv("COSIGN_PASSWORD", "pw")
	mustFleetgen(t, "publish", "--dir", dir, "--registry", repo, "--cosign-key", key)
	mustFleetgen(t, "publish", "--dir", dir, "--registry", repo, "--unsigned-refs", list)
	if b, _ := os.ReadFile(list); len(b) != 0 {
		t.Errorf("signed artifacts listed as unsigned:\n%s", b)
	}
}
