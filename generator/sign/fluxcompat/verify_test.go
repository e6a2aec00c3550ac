package fluxcompat

import (
	"context"
	"crypto"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	coptions "github.com/sigstore/cosign/v3/cmd/cosign/cli/options"
	"github.com/sigstore/cosign/v3/pkg/cosign"
	cosignoci "github.com/sigstore/cosign/v3/pkg/oci"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/fleetgen/fleetgen/generator/oci"
	"github.com/fleetgen/fleetgen/generator/sign"
)

// verify is source-controller's CosignVerifier for a public key
// (internal/oci/cosign/cosign.go, NewCosignVerifier then Verify): no
// Rekor, no Fulcio, no TUF root — nothing but the registry and the key.
// source-controller first looks for cosign v3 bundles (referrers); with
// none it falls back to exactly this call.
func verify(ctx context.Context, t *testing.T, ref name.Reference, publicKey []byte) error {
	t.Helper()
	return verifyWith(ctx, t, ref, publicKey, nil)
}

// verifyWith is verify with a ClaimVerifier (cosign verify, the CLI, sets
// cosign.SimpleClaimVerifier: the payload must name the digest).
func verifyWith(ctx context.Context, t *testing.T, ref name.Reference, publicKey []byte, claims func(sig cosignoci.Signature, imageDigest v1.Hash, annotations map[string]interface{}) error) error {
	t.Helper()
	checkOpts := &cosign.CheckOpts{NewBundleFormat: true, ClaimVerifier: claims}
	ro := coptions.RegistryOptions{}
	co, err := ro.ClientOpts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkOpts.RegistryClientOpts = co
	checkOpts.Offline = true
	checkOpts.IgnoreTlog = true
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(publicKey)
	if err != nil {
		t.Fatal(err)
	}
	if checkOpts.SigVerifier, err = signature.LoadVerifier(pub, crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	opts := *checkOpts
	if bundles, _, err := cosign.GetBundles(ctx, ref, opts.RegistryClientOpts); len(bundles) != 0 && err == nil {
		t.Fatalf("fleetgen writes no v3 bundles, found %d", len(bundles))
	}
	opts.NewBundleFormat = false
	sigs, _, err := cosign.VerifyImageSignatures(ctx, ref, &opts)
	if err == nil && len(sigs) == 0 {
		t.Fatal("no error and no signature")
	}
	return err
}

func publish(t *testing.T, repo name.Repository, signer *sign.Signer, files ...oci.File) *oci.Report {
	t.Helper()
	u := oci.Unit{Tag: "ship-1", Region: "atlantic", ID: "cluster/atlantic/ship-1", Clusters: []string{"ship-1"}, Files: files}
	u.Key = oci.ContentKey(files)
	rep, err := oci.Publish(context.Background(), []oci.Unit{u}, func(u oci.Unit) (*oci.Artifact, error) {
		return oci.Build(u, "cargo", "test")
	}, oci.PublishOptions{Repository: repo, Fleet: "cargo", Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestCosignVerifiesFleetgenSignatures(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://") + "/cargo-fleet")
	if err != nil {
		t.Fatal(err)
	}
	priv, pub, err := sign.GenerateKey([]byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := sign.LoadKey(priv, []byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	// A key made by cosign's own code (cosign generate-key-pair) loads too.
	kb, err := cosign.GenerateKeyPair(func(bool) ([]byte, error) { return []byte("pw"), nil })
	if err != nil {
		t.Fatal(err)
	}
	cosignSigner, err := sign.LoadKey(kb.PrivateBytes, []byte("pw"))
	if err != nil {
		t.Fatalf("a cosign generate-key-pair key: %v", err)
	}
	if string(cosignSigner.PublicPEM) != string(kb.PublicBytes) {
		t.Errorf("public key %s, cosign says %s", cosignSigner.PublicPEM, kb.PublicBytes)
	}

	files := []oci.File{{Path: "clusters/atlantic/ship-1/kustomization.yaml", Content: []byte("resources: []\n")}}
	rep := publish(t, repo, signer, files...)
	if got := rep.Outcomes[0].Signature; got != oci.Signed {
		t.Fatalf("first publish: signature %q", got)
	}
	tag := repo.Tag("ship-1")
	// What source-controller does for a tag: it resolves the digest and
	// verifies that.
	desc, err := remote.Head(tag)
	if err != nil {
		t.Fatal(err)
	}
	dig := repo.Digest(desc.Digest.String())
	if err := verify(ctx, t, dig, pub); err != nil {
		t.Fatalf("cosign rejects fleetgen's signature: %v", err)
	}

	t.Run("wrong key rejected", func(t *testing.T) {
		if err := verify(ctx, t, dig, kb.PublicBytes); err == nil {
			t.Fatal("verified with another key")
		}
	})

	t.Run("key rotation: both signatures kept", func(t *testing.T) {
		rep := publish(t, repo, cosignSigner, files...)
		if got := rep.Outcomes[0].Signature; got != oci.Signed {
			t.Fatalf("signature %q", got)
		}
		for _, k := range [][]byte{pub, kb.PublicBytes} {
			if err := verify(ctx, t, dig, k); err != nil {
				t.Errorf("after a second key signed: %v", err)
			}
		}
	})

	t.Run("unchanged artifact not re-signed", func(t *testing.T) {
		before, _ := remote.Head(repo.Tag(sign.SignatureTag(desc.Digest.String())))
		rep := publish(t, repo, signer, files...)
		if o := rep.Outcomes[0]; o.Action != oci.Unchanged || o.Signature != oci.AlreadySigned {
			t.Fatalf("rerun: %s, %s", o.Action, o.Signature)
		}
		after, _ := remote.Head(repo.Tag(sign.SignatureTag(desc.Digest.String())))
		if before.Digest != after.Digest {
			t.Error("the signature tag moved")
		}
	})

	t.Run("tampered artifact rejected", func(t *testing.T) {
		// Someone with push rights replaces the tag's content; the old
		// signatures stay beside it under the old digest, the new digest
		// has none.
		img, err := remote.Image(tag)
		if err != nil {
			t.Fatal(err)
		}
		evil, err := mutate.Append(img, mutate.Addendum{Layer: static.NewLayer([]byte("evil"), "application/vnd.cncf.flux.content.v1.tar+gzip")})
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(tag, evil); err != nil {
			t.Fatal(err)
		}
		d, _ := evil.Digest()
		if err := verify(ctx, t, repo.Digest(d.String()), pub); err == nil {
			t.Fatal("a tampered artifact verified")
		}
		// And copying the valid signature onto the tampered digest does
		// not help: the payload names the original digest.
		sigImg, err := remote.Image(repo.Tag(sign.SignatureTag(desc.Digest.String())))
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(repo.Tag(sign.SignatureTag(d.String())), sigImg); err != nil {
			t.Fatal(err)
		}
		// cosign verify (the CLI) checks the payload's digest with
		// SimpleClaimVerifier and rejects it; source-controller v1.9's
		// verifier sets no ClaimVerifier, so it accepts a signature made
		// for another digest of the same repository (an upstream gap,
		// written in the README). This assertion fails the day
		// source-controller starts checking the claim.
		if err := verifyWith(ctx, t, repo.Digest(d.String()), pub, cosign.SimpleClaimVerifier); err == nil {
			t.Fatal("cosign's claim check accepted a signature of another digest")
		}
		if err := verify(ctx, t, repo.Digest(d.String()), pub); err != nil {
			t.Logf("source-controller's path now rejects a copied signature: %v", err)
		} else {
			t.Log("source-controller's path (no ClaimVerifier) accepts a signature copied from another digest")
		}
	})

	t.Run("tampered signature rejected", func(t *testing.T) {
		files := []oci.File{{Path: "clusters/atlantic/ship-1/kustomization.yaml", Content: []byte("resources: [x.yaml]\n")}}
		// Publish without signing, then attach a payload for this digest
		// signed over other bytes.
		rep := publish(t, repo, nil, files...)
		d := rep.Outcomes[0].Digest
		payload := sign.Payload(repo.Name(), d.String())
		sig, _ := signer.Sign(append([]byte(nil), []byte("other")...))
		img, err := mutate.Append(mutate.MediaType(emptyImage(t), "application/vnd.oci.image.manifest.v1+json"), mutate.Addendum{
			Layer: static.NewLayer(payload, sign.SimpleSigningMedia), Annotations: map[string]string{sign.SignatureAnnotation: sig},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(repo.Tag(sign.SignatureTag(d.String())), img); err != nil {
			t.Fatal(err)
		}
		if err := verify(ctx, t, repo.Digest(d.String()), pub); err == nil {
			t.Fatal("a bad signature verified")
		}
		// fleetgen sees it is not valid and signs again.
		rep = publish(t, repo, signer, files...)
		if got := rep.Outcomes[0].Signature; got != oci.Signed {
			t.Fatalf("signature %q", got)
		}
		if err := verify(ctx, t, repo.Digest(d.String()), pub); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("signature tag is cosign's", func(t *testing.T) {
		want, err := ociremote.SignatureTag(dig)
		if err != nil {
			t.Fatal(err)
		}
		if got := repo.Tag(sign.SignatureTag(desc.Digest.String())); got.String() != want.String() {
			t.Errorf("fleetgen writes %s, cosign reads %s", got, want)
		}
	})
}

func emptyImage(t *testing.T) v1.Image {
	t.Helper()
	return mutate.ConfigMediaType(empty.Image, "application/vnd.oci.image.config.v1+json")
}
