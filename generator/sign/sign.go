// Package sign makes and checks cosign signatures of OCI artifacts in
// cosign's key-based format, the one source-controller verifies with
// `OCIRepository.spec.verify: {provider: cosign, secretRef}`:
//
//   - the private key is a cosign key file (`cosign generate-key-pair`):
//     PEM "ENCRYPTED SIGSTORE PRIVATE KEY" (or the older "ENCRYPTED COSIGN
//     PRIVATE KEY"), a PKCS#8 key sealed with scrypt + NaCl secretbox
//     (go-securesystemslib's encrypted package, as cosign's
//     pkg/cosign/keys.go LoadPrivateKey); its password comes from
//     COSIGN_PASSWORD, as cosign reads it;
//   - the signed payload is the "simple signing" JSON of sigstore's
//     pkg/signature/payload (Cosign.MarshalJSON): the repository as the
//     claimed identity and the manifest digest;
//   - the signature is ECDSA P-256 over SHA-256 of the payload, ASN.1 DER,
//     base64 in the layer annotation dev.cosignproject.cosign/signature;
//   - the payload is one layer (media type
//     application/vnd.dev.cosign.simplesigning.v1+json) of an image tagged
//     sha256-<manifest hex>.sig in the same repository.
//
// Key-based verification needs no Rekor, Fulcio or TUF root
// (source-controller sets IgnoreTlog and Offline for a public key), which
// is what an air-gapped region needs. The compatibility with cosign's own
// verifier is proven by the test module in ./fluxcompat.
package sign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
)

// Cosign's names (cosign pkg/oci/static, pkg/types, pkg/oci/remote).
const (
	SignatureAnnotation   = "dev.cosignproject.cosign/signature"
	SimpleSigningMedia    = "application/vnd.dev.cosign.simplesigning.v1+json"
	SignatureTagSuffix    = ".sig"
	payloadType           = "cosign container image signature"
	sigstorePrivateKeyPEM = "ENCRYPTED SIGSTORE PRIVATE KEY"
	cosignPrivateKeyPEM   = "ENCRYPTED COSIGN PRIVATE KEY"
)

// PasswordEnv is where the key's password is read from, as cosign does.
const PasswordEnv = "COSIGN_PASSWORD"

// Signer holds a decrypted ECDSA P-256 key.
type Signer struct {
	key *ecdsa.PrivateKey
	// PublicPEM is the public key as `cosign public-key` prints it: what
	// the clusters' cosign Secret holds.
	PublicPEM []byte
}

// ErrPassword is returned when the key cannot be decrypted.
var ErrPassword = errors.New("cannot decrypt the key: wrong password (" + PasswordEnv + ")")

// LoadKey decrypts a cosign private key file's content with password.
func LoadKey(pemBytes, password []byte) (*Signer, error) {
	p, rest := pem.Decode(pemBytes)
	if p == nil || strings.TrimSpace(string(rest)) != "" {
		return nil, errors.New("not a cosign private key: expected one PEM block " + sigstorePrivateKeyPEM + " (cosign generate-key-pair)")
	}
	if p.Type != sigstorePrivateKeyPEM && p.Type != cosignPrivateKeyPEM {
		return nil, fmt.Errorf("not a cosign private key: PEM type %q, want %q (cosign generate-key-pair; cosign import-key-pair converts other keys)", p.Type, sigstorePrivateKeyPEM)
	}
	der, err := encrypted.Decrypt(p.Bytes, password)
	if err != nil {
		if strings.Contains(err.Error(), "decryption failed") {
			return nil, ErrPassword
		}
		return nil, fmt.Errorf("cannot decrypt the key: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("the decrypted key is not PKCS#8: %w", err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("the key is a %T; fleetgen signs with ECDSA P-256 keys, what cosign generate-key-pair makes", k)
	}
	pub, err := publicPEM(&ec.PublicKey)
	if err != nil {
		return nil, err
	}
	return &Signer{key: ec, PublicPEM: pub}, nil
}

// GenerateKey makes a new key pair in cosign's file format (the private
// key sealed with password), as `cosign generate-key-pair` writes
// cosign.key and cosign.pub.
func GenerateKey(password []byte) (private, public []byte, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, nil, err
	}
	sealed, err := encrypted.Encrypt(der, password)
	if err != nil {
		return nil, nil, err
	}
	pub, err := publicPEM(&k.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: sigstorePrivateKeyPEM, Bytes: sealed}), pub, nil
}

func publicPEM(k *ecdsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePublicKey reads a PEM "PUBLIC KEY" (cosign.pub).
func ParsePublicKey(pemBytes []byte) (crypto.PublicKey, error) {
	p, rest := pem.Decode(pemBytes)
	if p == nil || p.Type != "PUBLIC KEY" || strings.TrimSpace(string(rest)) != "" {
		return nil, errors.New("not a PEM public key: expected one block -----BEGIN PUBLIC KEY----- (cosign.pub, or `cosign public-key --key cosign.key`)")
	}
	k, err := x509.ParsePKIXPublicKey(p.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not a PEM public key: %w", err)
	}
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("an ECDSA public key on another curve than P-256")
		}
	default:
		return nil, fmt.Errorf("a %T public key; fleetgen signs and checks ECDSA P-256 keys (cosign's default)", k)
	}
	return k, nil
}

// Payload is the simple-signing payload cosign signs for the manifest
// digest ("sha256:...") of an artifact in repository (no tag).
func Payload(repository, digest string) []byte {
	type identity struct {
		DockerReference string `json:"docker-reference"`
	}
	type image struct {
		DockerManifestDigest string `json:"docker-manifest-digest"`
	}
	type critical struct {
		Identity identity `json:"identity"`
		Image    image    `json:"image"`
		Type     string   `json:"type"`
	}
	b, _ := json.Marshal(struct {
		Critical critical       `json:"critical"`
		Optional map[string]any `json:"optional"`
	}{Critical: critical{Identity: identity{repository}, Image: image{digest}, Type: payloadType}})
	return b
}

// Sign returns the base64 signature of payload, as the annotation holds it.
func (s *Signer) Sign(payload []byte) (string, error) {
	h := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, h[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// KeyID names the signer's key: the SHA-256 of its public PEM, hex.
func (s *Signer) KeyID() string {
	sum := sha256.Sum256(s.PublicPEM)
	return hex.EncodeToString(sum[:])
}

// Public is the signer's public key.
func (s *Signer) Public() crypto.PublicKey { return &s.key.PublicKey }

// Verify checks a base64 signature of payload with pub.
func Verify(pub crypto.PublicKey, payload []byte, b64 string) bool {
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return false
	}
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return false
	}
	h := sha256.Sum256(payload)
	return ecdsa.VerifyASN1(k, h[:], sig)
}

// SignatureTag is the tag cosign stores the signatures of digest under:
// "sha256:abc..." -> "sha256-abc....sig".
func SignatureTag(digest string) string {
	return strings.Replace(digest, ":", "-", 1) + SignatureTagSuffix
}
