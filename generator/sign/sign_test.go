package sign

import (
	"errors"
	"strings"
	"testing"
)

// The payload is byte for byte what cosign signs (sigstore's
// payload.Cosign with no annotations marshals "optional":null).
func TestPayloadIsCosignSimpleSigning(t *testing.T) {
	got := string(Payload("ghcr.io/acme/fleet", "sha256:abc"))
	want := `{"critical":{"identity":{"docker-reference":"ghcr.io/acme/fleet"},"image":{"docker-manifest-digest":"sha256:abc"},"type":"cosign container image signature"},"optional":null}`
	if got != want {
		t.Errorf("payload\n%s\nwant\n%s", got, want)
	}
	if tag := SignatureTag("sha256:abc"); tag != "sha256-abc.sig" {
		t.Errorf("signature tag %s", tag)
	}
}

func TestLoadKey(t *testing.T) {
	priv, pub, err := GenerateKey([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(priv), "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----") {
		t.Errorf("key file:\n%s", priv)
	}
	s, err := LoadKey(priv, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	if string(s.PublicPEM) != string(pub) {
		t.Error("public key differs")
	}
	sig, err := s.Sign([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParsePublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if !Verify(k, []byte("x"), sig) || Verify(k, []byte("y"), sig) || Verify(k, []byte("x"), "AAAA") {
		t.Error("Verify accepts what it must not, or refuses its own signature")
	}
	if _, err := LoadKey(priv, []byte("other")); !errors.Is(err, ErrPassword) {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := LoadKey(pub, []byte("pw")); err == nil || !strings.Contains(err.Error(), "not a cosign private key") {
		t.Errorf("a public key as private key: %v", err)
	}
	if _, err := LoadKey([]byte("garbage"), []byte("pw")); err == nil {
		t.Error("garbage loaded")
	}
	if _, err := ParsePublicKey(priv); err == nil {
		t.Error("a private key parsed as public")
	}
}
