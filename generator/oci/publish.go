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
	// Jobs is the number of requests in flight at most, and of
	// artifacts checked and built at once; 0 means 8.
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
	// Record is what an earlier publish to Repository left in the tags
	// (nil: nothing known, every existing tag is read).
	Record *Record
	// Verify checks every existing tag against the registry even when
	// Record says it holds the unit's content (a HEAD per tag).
	Verify bool
	// Conn, when set, is the handshake and tag list Connect started
	// for the same options (publish starts them while it reads git).
	Conn *Conn
	// Check, when set, must pass before a built artifact is pushed (or
	// reported as one a dry run would push): Source.CheckRegion. It runs
	// while other artifacts are built.
	Check func(Unit) error
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
	// signedBy is the KeyID of the signer whose valid signature the
	// artifact carries (kept in the publish record).
	signedBy string
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
	// Record is the publish record to keep for the next run.
	Record *Record
	// Requests is the number of HTTP requests made to the registry.
	Requests int64
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
// hold its content, with as few registry requests as it can:
//
//   - one tags/list for the repository says which tags exist: a unit whose
//     tag is missing is built and pushed without asking anything else;
//   - a tag that exists and that o.Record says holds the unit's content key
//     costs nothing (unless o.Verify): it is unchanged;
//   - any other existing tag is checked first: a HEAD, when the record
//     knows the digest it left there (the same digest: fleetgen made it),
//     else a GET of its manifest, whose annotations must say this fleet
//     and unit made it (a tag made by someone else is refused:
//     CollisionError) and whose content key spares the build when equal;
//   - a push is a monolithic upload of the layer (one POST carrying the
//     digest and the bytes; a registry that does not take it gets the
//     POST+PUT pair) and one manifest PUT; the config blob, the same
//     empty config for every artifact, is checked (and uploaded) once per
//     run.
//
// On the first error Publish stops starting new work, waits for the units
// in flight and returns the report of what was done with the error. The
// report's Record holds what the registry holds now as far as this run
// knows (o.Record updated); save it even after an error. Rerunning
// converges: what was pushed is then unchanged.
func Publish(ctx context.Context, units []Unit, build func(Unit) (*Artifact, error), o PublishOptions) (*Report, error) {
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = 8
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	rec := o.Record
	if rec == nil || rec.Repository != o.Repository.String() {
		rec = NewRecord(o.Repository)
	}
	out := &Report{Record: rec.clone()}
	conn := o.Conn
	if conn == nil || conn.repo != o.Repository.String() {
		conn = Connect(ctx, o)
	}
	reg, tags, err := conn.wait(ctx)
	if err != nil {
		if reg != nil {
			out.Requests = reg.requests.Load()
		}
		return out, err
	}

	// The first error stops the feeding and the building (stopCtx); the
	// artifacts already built are still pushed unless the error says the
	// registry or a region's check failed (netCtx): a tag someone else
	// made (CollisionError) does not make the others' pushes fail.
	stopCtx, stop := context.WithCancel(ctx)
	defer stop()
	netCtx, cancelNet := context.WithCancel(ctx)
	defer cancelNet()
	outcomes := make([]Outcome, len(units))
	done := make([]bool, len(units))
	var (
		mu       sync.Mutex
		firstErr error
	)
	finished := func(i int, res Outcome, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			stop()
			if _, collision := errors.AsType[*CollisionError](err); !collision {
				cancelNet()
			}
			return
		}
		outcomes[i], done[i] = res, true
		if res.Action != WouldPush {
			u := units[i]
			out.Record.Tags[u.Tag] = RecordEntry{Digest: res.Digest.String(), Key: u.Key, Size: res.Size, SignedBy: res.signedBy}
		}
	}
	// Two stages: jobs workers check the tags and build what changed,
	// jobs others push what was built, each after its region's check
	// (o.Check). A check (a kustomize build, tens of milliseconds) then
	// delays the pushes of its region, not the builds behind it. The
	// registry client lets at most jobs requests be in flight.
	type built struct {
		i     int
		out   Outcome
		a     *Artifact
		known RecordEntry
	}
	next := make(chan int)
	toPush := make(chan built, 128)
	checks := newRegionChecks(o.Check)
	var builders, pushers sync.WaitGroup
	// A region's check starts before a pusher needs it. Regions with a
	// tag missing from the registry (their artifacts are built, whatever
	// the record says) are checked in the background, in unit order, one
	// at a time: a full publish's checks then run beside the builds and
	// pushes instead of each stopping the pushes of its region until it
	// is done. Any other region's check starts when a builder first
	// decides to build one of its units.
	if o.Check != nil {
		var ahead []Unit
		seen := map[string]bool{}
		for _, u := range units {
			if !tags[u.Tag] && !seen[u.Region] {
				seen[u.Region] = true
				ahead = append(ahead, u)
			}
		}
		builders.Go(func() {
			for _, u := range ahead {
				if stopCtx.Err() != nil {
					return
				}
				checks.run(u)
			}
		})
	}
	for range jobs {
		builders.Add(1)
		go func() {
			defer builders.Done()
			for i := range next {
				u := units[i]
				known := rec.Tags[u.Tag]
				res, a, err := prepareOne(stopCtx, u, tags, known, build, o, reg, timeout, checks)
				if err != nil || a == nil {
					finished(i, res, err)
					continue
				}
				select {
				case toPush <- built{i: i, out: res, a: a, known: known}:
				case <-stopCtx.Done():
				}
			}
		}()
		pushers.Add(1)
		go func() {
			defer pushers.Done()
			for b := range toPush {
				if netCtx.Err() != nil {
					continue // drain
				}
				res, err := finishOne(netCtx, units[b.i], b.out, b.a, tags, b.known, o, reg, timeout, checks)
				finished(b.i, res, err)
			}
		}()
	}
feed:
	for i := range units {
		select {
		case next <- i:
		case <-stopCtx.Done():
			break feed
		}
	}
	close(next)
	builders.Wait()
	close(toPush)
	pushers.Wait()
	checks.bg.Wait()
	for i := range units {
		if done[i] {
			out.Outcomes = append(out.Outcomes, outcomes[i])
		}
	}
	sort.Slice(out.Outcomes, func(i, j int) bool { return out.Outcomes[i].Tag < out.Outcomes[j].Tag })
	out.Requests = reg.requests.Load()
	if firstErr == nil && ctx.Err() != nil && len(out.Outcomes) < len(units) {
		firstErr = ctx.Err()
	}
	return out, firstErr
}

// Conn is a registry handshake and tag list under way (Connect).
type Conn struct {
	repo string
	done chan struct{}
	reg  *registryClient
	tags map[string]bool
	err  error
}

// Connect starts, in the background, what Publish does first with the
// registry: the handshake (ping, token) and the tag list of
// o.Repository, so that they overlap reading the repository. Pass the
// result as PublishOptions.Conn with the same options.
func Connect(ctx context.Context, o PublishOptions) *Conn {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = 8
	}
	c := &Conn{repo: o.Repository.String(), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		if c.reg, c.err = newRegistryClient(ctx, o, timeout, jobs); c.err == nil {
			c.tags, c.err = c.reg.listTags(ctx)
		}
	}()
	return c
}

func (c *Conn) wait(ctx context.Context) (*registryClient, map[string]bool, error) {
	select {
	case <-c.done:
		return c.reg, c.tags, c.err
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}

// prepareOne decides whether u's tag already holds its content (from the
// record, a HEAD or a GET: then it is done, signed if asked, and the
// artifact is nil), else builds u's artifact for finishOne.
func prepareOne(ctx context.Context, u Unit, tags map[string]bool, known RecordEntry, build func(Unit) (*Artifact, error), o PublishOptions, reg *registryClient, timeout time.Duration, checks *regionChecks) (Outcome, *Artifact, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ref := o.Repository.Tag(u.Tag)
	out := Outcome{Tag: u.Tag}
	if tags[u.Tag] {
		if known.Key == u.Key && known.Digest != "" && !o.Verify {
			// The record says this run's content is there: no request.
			out.Action, out.Size = Unchanged, known.Size
			out.Digest, _ = v1.NewHash(known.Digest)
			out.Previous = out.Digest
			out, err := signOne(ctx, out, o, reg, tags, known, timeout)
			return out, nil, err
		}
		checked := false
		if known.Digest != "" {
			// A HEAD is enough when the tag still points where fleetgen
			// left it.
			d, err := reg.puller.Head(ctx, ref)
			switch {
			case err == nil && d.Digest.String() == known.Digest:
				checked = true
				out.Previous = d.Digest
				if known.Key == u.Key {
					out.Action, out.Digest, out.Size = Unchanged, d.Digest, known.Size
					out, err := signOne(ctx, out, o, reg, tags, known, timeout)
					return out, nil, err
				}
			case err == nil, isNotFound(err):
			default:
				return out, nil, registryError("check "+ref.String(), err, timeout)
			}
		}
		if !checked {
			// One GET gives the digest and the annotations (the content
			// key is what spares a build).
			d, err := reg.puller.Get(ctx, ref)
			switch {
			case err == nil:
				out.Previous = d.Digest
				m, perr := v1.ParseManifest(bytes.NewReader(d.Manifest))
				if perr != nil || m.Annotations[FleetAnnotation] != o.Fleet || m.Annotations[ArtifactAnnotation] != u.ID {
					return out, nil, &CollisionError{Ref: ref.String(), Found: foundBy(m, perr)}
				}
				if m.Annotations[ContentAnnotation] == u.Key {
					out.Action, out.Digest, out.Size = Unchanged, d.Digest, int64(len(d.Manifest))
					for _, l := range m.Layers {
						out.Size += l.Size
					}
					out, err := signOne(ctx, out, o, reg, tags, known, timeout)
					return out, nil, err
				}
			case isNotFound(err):
			default:
				return out, nil, registryError("check "+ref.String(), err, timeout)
			}
		}
	}
	checks.start(u)
	a, err := build(u)
	if err != nil {
		return out, nil, err
	}
	out.Digest, out.Size = a.Digest, int64(len(a.Layer))+a.ManifestSize
	return out, a, nil
}

// regionChecks runs PublishOptions.Check once per region, and lets it
// start before its result is needed.
type regionChecks struct {
	check func(Unit) error
	mu    sync.Mutex
	once  map[string]func() error
	bg    sync.WaitGroup // the checks started by start
}

func newRegionChecks(check func(Unit) error) *regionChecks {
	return &regionChecks{check: check, once: map[string]func() error{}}
}

func (c *regionChecks) get(u Unit) (f func() error, first bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.once[u.Region]
	if !ok {
		f = sync.OnceValue(func() error { return c.check(u) })
		c.once[u.Region] = f
	}
	return f, !ok
}

// run returns the check's result for u's region, running it if no one
// has yet (nil without a check).
func (c *regionChecks) run(u Unit) error {
	if c.check == nil {
		return nil
	}
	f, _ := c.get(u)
	return f()
}

// start starts u's region's check in the background if no one has yet.
func (c *regionChecks) start(u Unit) {
	if c.check == nil {
		return
	}
	if f, first := c.get(u); first {
		c.bg.Go(func() { f() })
	}
}

// finishOne runs u's region check (o.Check), then pushes a built artifact
// whose digest is not the tag's (a dry run says it would) and signs it.
func finishOne(ctx context.Context, u Unit, out Outcome, a *Artifact, tags map[string]bool, known RecordEntry, o PublishOptions, reg *registryClient, timeout time.Duration, checks *regionChecks) (Outcome, error) {
	if err := checks.run(u); err != nil {
		return out, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if a.Digest == out.Previous {
		out.Action = Unchanged
		return signOne(ctx, out, o, reg, tags, known, timeout)
	}
	if o.DryRun {
		out.Action = WouldPush
		if o.Signer != nil {
			out.Signature = WouldSign
		}
		return out, nil
	}
	if err := reg.push(ctx, u.Tag, a); err != nil {
		return out, registryError("push "+o.Repository.Tag(u.Tag).String(), err, timeout)
	}
	out.Action = Pushed
	return signOne(ctx, out, o, reg, tags, known, timeout)
}

// signOne makes sure the artifact out.Digest carries a valid signature by
// o.Signer's key in cosign's format: the signature tag
// sha256-<hex>.sig holds one layer per signature (the simple-signing
// payload, its signature in an annotation). A tag that already holds a
// layer with this payload and a signature that the key verifies is left
// alone (no re-signing at every run: ECDSA signatures differ each time).
// Otherwise the new layer is appended to what the tag holds, as cosign
// sign does, so signatures by other keys (a rotation) are kept.
func signOne(ctx context.Context, out Outcome, o PublishOptions, reg *registryClient, tags map[string]bool, known RecordEntry, timeout time.Duration) (Outcome, error) {
	sigTag := sign.SignatureTag(out.Digest.String())
	if o.Signer == nil {
		if !o.FindUnsigned {
			return out, nil
		}
		// The tag list is whole (listTags): no request per artifact.
		if tags[sigTag] {
			out.Signature = HasSignature
		} else {
			out.Signature = Unsigned
		}
		return out, nil
	}
	id := o.Signer.KeyID()
	if tags[sigTag] && known.SignedBy == id && known.Digest == out.Digest.String() && !o.Verify {
		// The record says this key signed this digest, and the signature
		// tag is still there: no request.
		out.Signature, out.signedBy = AlreadySigned, id
		return out, nil
	}
	payload := sign.Payload(o.Repository.Name(), out.Digest.String())
	payloadDigest, _, _ := v1.SHA256(bytes.NewReader(payload))
	ref := o.Repository.Tag(sigTag)
	var base v1.Image = mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON), types.OCIManifestSchema1)
	if tags[sigTag] {
		d, err := reg.puller.Get(ctx, ref)
		switch {
		case err == nil:
			m, perr := v1.ParseManifest(bytes.NewReader(d.Manifest))
			if perr != nil {
				return out, fmt.Errorf("%s is not a cosign signature manifest: %w", ref, perr)
			}
			for _, l := range m.Layers {
				if l.Digest == payloadDigest && sign.Verify(o.Signer.Public(), payload, l.Annotations[sign.SignatureAnnotation]) {
					out.Signature, out.signedBy = AlreadySigned, id
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
	if err := reg.pusher.Push(ctx, ref, img); err != nil {
		return out, registryError("push signature "+ref.String(), err, timeout)
	}
	out.Signature, out.signedBy = Signed, id
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
