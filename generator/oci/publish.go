package oci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/fleetgen/fleetgen/generator/sign"
)

// PublishOptions say where and how to push.
type PublishOptions struct {
	// Repository is pushed to (each artifact a tag of it).
	Repository name.Repository
	// Fleet is metadata.name: a tag whose manifest does not carry it in
	// FleetAnnotation was not made by this fleet's publish and is never
	// overwritten.
	Fleet string
	// Keychain resolves credentials (authn.DefaultKeychain: the docker
	// config, credential helpers); nil means anonymous.
	Keychain authn.Keychain
	// Transport, when set, replaces the default HTTP transport (tests).
	Transport http.RoundTripper
	// Timeout bounds the work on one artifact (its HEAD, and its push);
	// 0 means DefaultTimeout.
	Timeout time.Duration
	// Jobs is the number of artifacts handled at once; 0 means 8.
	Jobs int
	// DryRun checks the registry but pushes nothing.
	DryRun bool
	// Signer, when set, signs every artifact (pushed or unchanged) that
	// does not already carry a valid signature by its key, in cosign's
	// format (the sha256-<hex>.sig tag). Load it before Publish: a bad key
	// must stop the run before anything is pushed.
	Signer *sign.Signer
	// FindUnsigned, without a Signer, marks the artifacts whose signature
	// tag does not exist (Unsigned): what a keyless `cosign sign` in CI
	// still has to sign. A rerun lists those still unsigned.
	FindUnsigned bool
}

// DefaultTimeout bounds each artifact's requests: a registry that does not
// answer fails the run in bounded time.
const DefaultTimeout = 30 * time.Second

// Action is what publish did with one artifact.
type Action string

const (
	Pushed    Action = "pushed"
	Unchanged Action = "unchanged"
	WouldPush Action = "would push"
)

// Outcome is one artifact's result.
type Outcome struct {
	Tag    string
	Action Action
	// Digest is the manifest digest the tag points at now (would, for a
	// dry run); Size the bytes a cluster downloads for it (manifest and
	// layer).
	Digest v1.Hash
	Size   int64
	// Previous is the digest the tag pointed at before (zero: none).
	Previous v1.Hash
	// Signature is what was done about its cosign signature ("" when
	// publish does not sign).
	Signature SigAction
}

// SigAction is what publish did about one artifact's signature.
type SigAction string

const (
	Signed        SigAction = "signed"
	AlreadySigned SigAction = "already signed"
	WouldSign     SigAction = "would sign"
	// Unsigned: no signature tag (FindUnsigned); HasSignature: one exists
	// (not checked: keyless signatures need Sigstore to verify).
	Unsigned     SigAction = "unsigned"
	HasSignature SigAction = "has a signature"
)

// Report lists the outcomes sorted by tag. After a failure it holds what
// was done before it.
type Report struct {
	Outcomes []Outcome
}

// Count returns how many artifacts got action a, and their layer bytes.
func (r *Report) Count(a Action) (n int, bytes int64) {
	for _, o := range r.Outcomes {
		if o.Action == a {
			n++
			bytes += o.Size
		}
	}
	return n, bytes
}

// CollisionError: the tag exists and fleetgen (for this fleet and unit)
// did not make what it points at.
type CollisionError struct {
	Ref   string
	Found string // who made it, as far as the manifest says
}

func (e *CollisionError) Error() string {
	return fmt.Sprintf("%s already exists and was not made by fleetgen publish for this artifact (%s); it is left as it is: choose another spec.delivery.repository, or delete that tag if it is really stale", e.Ref, e.Found)
}

// Publish pushes the artifact of every unit whose tag does not already
// hold its content. For each it first reads the tag's manifest: a tag made
// by someone else is refused (CollisionError); one whose content
// annotation equals the unit's key is unchanged, without building the
// artifact; otherwise build makes it and it is pushed unless the tag
// already points at its digest. On the first error Publish stops starting
// new work, waits for the units in flight and returns the report of what
// was done with the error. Rerunning converges: what was pushed is then
// unchanged.
func Publish(ctx context.Context, units []Unit, build func(Unit) (*Artifact, error), o PublishOptions) (*Report, error) {
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = 8
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	tr := o.Transport
	if tr == nil {
		tr = boundedTransport(timeout)
	}
	kc := o.Keychain
	if kc == nil {
		kc = authn.NewMultiKeychain() // anonymous
	}
	// One retry for a transient failure, no long backoff: a dead
	// registry must fail the run within about the timeout.
	base := []remote.Option{remote.WithTransport(tr), remote.WithAuthFromKeychain(kc),
		remote.WithRetryBackoff(remote.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Steps: 2}),
		remote.WithUserAgent("fleetgen-publish")}
	// The puller reuses the registry's token across artifacts.
	puller, err := remote.NewPuller(base...)
	if err != nil {
		return nil, err
	}
	pusher, err := remote.NewPusher(base...)
	if err != nil {
		return nil, err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	outcomes := make([]Outcome, len(units))
	done := make([]bool, len(units))
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	next := make(chan int)
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out, err := publishOne(ctx, units[i], build, o, puller, pusher, timeout)
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
						cancel()
					}
				} else {
					outcomes[i], done[i] = out, true
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for i := range units {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	rep := &Report{}
	for i := range units {
		if done[i] {
			rep.Outcomes = append(rep.Outcomes, outcomes[i])
		}
	}
	sort.Slice(rep.Outcomes, func(i, j int) bool { return rep.Outcomes[i].Tag < rep.Outcomes[j].Tag })
	if firstErr == nil && ctx.Err() != nil && len(rep.Outcomes) < len(units) {
		firstErr = ctx.Err()
	}
	return rep, firstErr
}

func publishOne(ctx context.Context, u Unit, build func(Unit) (*Artifact, error), o PublishOptions, puller *remote.Puller, pusher *remote.Pusher, timeout time.Duration) (Outcome, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ref := o.Repository.Tag(u.Tag)
	out := Outcome{Tag: u.Tag}
	// One GET gives the digest and the annotations (HEAD would give the
	// digest only, and the content key is what spares a build).
	d, err := puller.Get(ctx, ref)
	switch {
	case err == nil:
		out.Previous = d.Digest
		m, perr := v1.ParseManifest(bytes.NewReader(d.Manifest))
		if perr != nil || m.Annotations[FleetAnnotation] != o.Fleet || m.Annotations[ArtifactAnnotation] != u.ID {
			return out, &CollisionError{Ref: ref.String(), Found: foundBy(m, perr)}
		}
		if m.Annotations[ContentAnnotation] == u.Key {
			out.Action, out.Digest, out.Size = Unchanged, d.Digest, int64(len(d.Manifest))
			for _, l := range m.Layers {
				out.Size += l.Size
			}
			return signOne(ctx, out, o, puller, pusher, timeout)
		}
	case isNotFound(err):
	default:
		return out, registryError("check "+ref.String(), err, timeout)
	}
	a, err := build(u)
	if err != nil {
		return out, err
	}
	out.Digest, out.Size = a.Digest, int64(len(a.Layer))+a.ManifestSize
	if a.Digest == out.Previous {
		out.Action = Unchanged
		return signOne(ctx, out, o, puller, pusher, timeout)
	}
	if o.DryRun {
		out.Action = WouldPush
		if o.Signer != nil {
			out.Signature = WouldSign
		}
		return out, nil
	}
	if err := pusher.Push(ctx, ref, a.Image); err != nil {
		return out, registryError("push "+ref.String(), err, timeout)
	}
	out.Action = Pushed
	return signOne(ctx, out, o, puller, pusher, timeout)
}

// signOne makes sure the artifact out.Digest carries a valid signature by
// o.Signer's key in cosign's format: the signature tag
// sha256-<hex>.sig holds one layer per signature (the simple-signing
// payload, its signature in an annotation). A tag that already holds a
// layer with this payload and a signature that the key verifies is left
// alone (no re-signing at every run: ECDSA signatures differ each time).
// Otherwise the new layer is appended to what the tag holds, as cosign
// sign does, so signatures by other keys (a rotation) are kept.
func signOne(ctx context.Context, out Outcome, o PublishOptions, puller *remote.Puller, pusher *remote.Pusher, timeout time.Duration) (Outcome, error) {
	if o.Signer == nil {
		if !o.FindUnsigned {
			return out, nil
		}
		ref := o.Repository.Tag(sign.SignatureTag(out.Digest.String()))
		switch _, err := puller.Get(ctx, ref); {
		case err == nil:
			out.Signature = HasSignature
		case isNotFound(err):
			out.Signature = Unsigned
		default:
			return out, registryError("check "+ref.String(), err, timeout)
		}
		return out, nil
	}
	payload := sign.Payload(o.Repository.Name(), out.Digest.String())
	payloadDigest, _, _ := v1.SHA256(bytes.NewReader(payload))
	ref := o.Repository.Tag(sign.SignatureTag(out.Digest.String()))
	var base v1.Image = mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON), types.OCIManifestSchema1)
	d, err := puller.Get(ctx, ref)
	switch {
	case err == nil:
		m, perr := v1.ParseManifest(bytes.NewReader(d.Manifest))
		if perr != nil {
			return out, fmt.Errorf("%s is not a cosign signature manifest: %w", ref, perr)
		}
		for _, l := range m.Layers {
			if l.Digest == payloadDigest && sign.Verify(o.Signer.Public(), payload, l.Annotations[sign.SignatureAnnotation]) {
				out.Signature = AlreadySigned
				return out, nil
			}
		}
		if base, err = d.Image(); err != nil {
			return out, registryError("read "+ref.String(), err, timeout)
		}
	case isNotFound(err):
	default:
		return out, registryError("check "+ref.String(), err, timeout)
	}
	if o.DryRun {
		out.Signature = WouldSign
		return out, nil
	}
	sig, err := o.Signer.Sign(payload)
	if err != nil {
		return out, fmt.Errorf("sign %s: %w", out.Digest, err)
	}
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:       static.NewLayer(payload, sign.SimpleSigningMedia),
		Annotations: map[string]string{sign.SignatureAnnotation: sig},
	})
	if err != nil {
		return out, err
	}
	if err := pusher.Push(ctx, ref, img); err != nil {
		return out, registryError("push signature "+ref.String(), err, timeout)
	}
	out.Signature = Signed
	return out, nil
}

// foundBy says who made a manifest, as far as it tells.
func foundBy(m *v1.Manifest, err error) string {
	switch {
	case err != nil || m == nil:
		return "not an OCI image manifest"
	case m.Annotations[FleetAnnotation] == "":
		return "no " + FleetAnnotation + " annotation, config media type " + string(m.Config.MediaType)
	}
	return fmt.Sprintf("made by fleetgen for fleet %q, artifact %q", m.Annotations[FleetAnnotation], m.Annotations[ArtifactAnnotation])
}

func isNotFound(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode == http.StatusNotFound
	}
	return false
}

// registryError says plainly what went wrong talking to the registry.
func registryError(what string, err error, timeout time.Duration) error {
	var te *transport.Error
	switch {
	case errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden):
		return fmt.Errorf("%s: the registry refused (HTTP %d): log in with `docker login` (publish reads the docker config and its credential helpers): %w", what, te.StatusCode, err)
	case errors.As(err, &te):
		return fmt.Errorf("%s: the registry answered HTTP %d: %w", what, te.StatusCode, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: no answer within %s (registry unreachable or too slow; --timeout sets the limit)", what, timeout)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%s: no answer within %s (registry unreachable or too slow; --timeout sets the limit): %w", what, timeout, err)
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return fmt.Errorf("%s: cannot reach the registry: %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// boundedTransport is the default transport with every wait bounded.
func boundedTransport(timeout time.Duration) http.RoundTripper {
	t := remote.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: min(timeout, 10*time.Second), KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = min(timeout, 10*time.Second)
	t.ResponseHeaderTimeout = timeout
	t.MaxIdleConnsPerHost = 16
	return t
}
