package oci

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
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
	Artifact *Artifact
	Action   Action
	// Previous is the digest the tag pointed at before (zero: none).
	Previous v1.Hash
}

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
			bytes += int64(len(o.Artifact.Layer)) + o.Artifact.ManifestSize
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

// Publish pushes every artifact whose tag does not already point at its
// digest. For each it first asks the registry for the tag's digest (a
// manifest HEAD, falling back to GET); an equal digest is skipped, a tag
// made by someone else is refused (CollisionError). On the first error it
// stops starting new work, waits for the artifacts in flight and returns
// the report of what was done with the error. Rerunning converges: what
// was pushed is then unchanged.
func Publish(ctx context.Context, arts []*Artifact, o PublishOptions) (*Report, error) {
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
	outcomes := make([]Outcome, len(arts))
	done := make([]bool, len(arts))
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
				out, err := publishOne(ctx, arts[i], o, puller, pusher, timeout)
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
	for i := range arts {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	rep := &Report{}
	for i := range arts {
		if done[i] {
			rep.Outcomes = append(rep.Outcomes, outcomes[i])
		}
	}
	sort.Slice(rep.Outcomes, func(i, j int) bool { return rep.Outcomes[i].Artifact.Tag < rep.Outcomes[j].Artifact.Tag })
	if firstErr == nil && ctx.Err() != nil && len(rep.Outcomes) < len(arts) {
		firstErr = ctx.Err()
	}
	return rep, firstErr
}

func publishOne(ctx context.Context, a *Artifact, o PublishOptions, puller *remote.Puller, pusher *remote.Pusher, timeout time.Duration) (Outcome, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ref := o.Repository.Tag(a.Tag)
	out := Outcome{Artifact: a}
	desc, err := puller.Head(ctx, ref)
	if err != nil && !isNotFound(err) {
		// Some registries answer HEAD badly: ask with GET, as
		// source-controller does.
		var gerr error
		var d *remote.Descriptor
		d, gerr = puller.Get(ctx, ref)
		if gerr == nil {
			desc, err = &d.Descriptor, nil
		} else if isNotFound(gerr) {
			err = gerr
		}
	}
	switch {
	case err == nil && desc.Digest == a.Digest:
		out.Action = Unchanged
		out.Previous = desc.Digest
		return out, nil
	case err == nil:
		out.Previous = desc.Digest
		if err := checkOwner(ctx, puller, ref, a, o.Fleet); err != nil {
			return out, err
		}
	case isNotFound(err):
	default:
		return out, registryError("check "+ref.String(), err, timeout)
	}
	if o.DryRun {
		out.Action = WouldPush
		return out, nil
	}
	if err := pusher.Push(ctx, ref, a.Image); err != nil {
		return out, registryError("push "+ref.String(), err, timeout)
	}
	out.Action = Pushed
	return out, nil
}

// checkOwner refuses to overwrite a tag whose manifest fleetgen did not
// write for this fleet and this unit.
func checkOwner(ctx context.Context, puller *remote.Puller, ref name.Tag, a *Artifact, fleet string) error {
	d, err := puller.Get(ctx, ref)
	if err != nil {
		return fmt.Errorf("read %s to check who made it: %w", ref, err)
	}
	found := "not an OCI image manifest"
	if m, err := v1.ParseManifest(strings.NewReader(string(d.Manifest))); err == nil {
		f, u := m.Annotations[FleetAnnotation], m.Annotations[ArtifactAnnotation]
		if f == fleet && u == a.ID {
			return nil
		}
		switch {
		case f == "":
			found = "no " + FleetAnnotation + " annotation, media type " + string(m.Config.MediaType)
		default:
			found = fmt.Sprintf("made by fleetgen for fleet %q, artifact %q", f, u)
		}
	}
	return &CollisionError{Ref: ref.String(), Found: found}
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
