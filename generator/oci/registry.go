package oci

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// registryClient talks to one repository with one authenticated
// transport: go-containerregistry's puller for reads, plain requests for
// the pushes (so that each costs what it must and no more).
type registryClient struct {
	o        PublishOptions
	client   *http.Client
	puller   *remote.Puller
	pusher   *remote.Pusher // signatures (artifacts go through push)
	base     string         // scheme://host/v2/<repository>
	requests atomic.Int64

	configs sync.Map // config digest -> func() error, once a run
}

// countingTransport counts the requests that reach the registry.
type countingTransport struct {
	inner http.RoundTripper
	n     *atomic.Int64
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.inner.RoundTrip(r)
}

// limitTransport lets at most cap(slots) requests wait for their answer
// at once, whatever goroutines send them.
type limitTransport struct {
	inner http.RoundTripper
	slots chan struct{}
}

func (l limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	select {
	case l.slots <- struct{}{}:
	case <-r.Context().Done():
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, r.Context().Err()
	}
	defer func() { <-l.slots }()
	return l.inner.RoundTrip(r)
}

func newRegistryClient(ctx context.Context, o PublishOptions, timeout time.Duration, inFlight int) (*registryClient, error) {
	c := &registryClient{o: o}
	tr := o.Transport
	if tr == nil {
		tr = boundedTransport(timeout)
	}
	tr = countingTransport{inner: tr, n: &c.requests}
	tr = limitTransport{inner: tr, slots: make(chan struct{}, max(inFlight, 1))}
	// One retry for a transient failure, no long backoff: a dead registry
	// must fail the run within about the timeout.
	tr = transport.NewRetry(tr, transport.WithRetryBackoff(transport.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Steps: 2}))
	tr = transport.NewUserAgent(tr, "fleetgen-publish")
	kc := o.Keychain
	if kc == nil {
		kc = authn.NewMultiKeychain() // anonymous
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	what := "reach " + o.Repository.String()
	auth, err := authn.Resolve(pctx, kc, o.Repository)
	if err != nil {
		return nil, fmt.Errorf("%s: credentials: %w", what, err)
	}
	scope := o.Repository.Scope(transport.PushScope)
	if o.DryRun {
		scope = o.Repository.Scope(transport.PullScope)
	}
	// The handshake (ping, token) once for the run; the token is reused
	// by every request.
	tr, err = transport.NewWithContext(pctx, o.Repository.Registry, auth, tr, []string{scope})
	if err != nil {
		return nil, registryError(what, err, timeout)
	}
	c.client = &http.Client{Transport: tr}
	c.puller, err = remote.NewPuller(remote.WithTransport(tr))
	if err != nil {
		return nil, err
	}
	if c.pusher, err = remote.NewPusher(remote.WithTransport(tr)); err != nil {
		return nil, err
	}
	c.base = fmt.Sprintf("%s://%s/v2/%s", o.Repository.Scheme(), o.Repository.RegistryStr(), o.Repository.RepositoryStr())
	return c, nil
}

// tagPage is the number of tags asked for per tags/list request.
const tagPage = 1000

// listTags returns the repository's tags (none when it does not exist).
// It pages through the list (distribution spec: n and last, or the Link
// header): it follows a Link header, and a registry may also stop at n
// without one (go-containerregistry's does), so a full page without a
// Link is followed by a request for the tags after its last one. A page
// shorter than n without a Link is the end. A tag missing here would be
// pushed without checking who made it: the list must be whole.
func (c *registryClient) listTags(ctx context.Context) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	what := "list the tags of " + c.o.Repository.String()
	tags := map[string]bool{}
	next, last := "", ""
	for {
		u := next
		if u == "" {
			u = c.base + "/tags/list?n=" + fmt.Sprint(tagPage)
			if last != "" {
				u += "&last=" + url.QueryEscape(last)
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		resp, err := c.client.Do(req)
		if err != nil {
			return nil, registryError(what, err, c.timeout())
		}
		var page struct {
			Tags []string `json:"tags"`
		}
		err = transport.CheckError(resp, http.StatusOK)
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&page)
		}
		resp.Body.Close()
		if isNotFound(err) && last == "" && next == "" {
			return tags, nil // no repository yet
		}
		if err != nil {
			return nil, registryError(what, err, c.timeout())
		}
		progress := false
		for _, t := range page.Tags {
			if !tags[t] {
				tags[t], progress = true, true
			}
			if t > last {
				last = t
			}
		}
		next = nextLink(resp, req.URL)
		if !progress || (next == "" && len(page.Tags) < tagPage) {
			return tags, nil
		}
	}
}

// nextLink is the Link header's rel="next" URL, resolved against from;
// "" when there is none or it points at another host.
func nextLink(resp *http.Response, from *url.URL) string {
	for _, l := range resp.Header.Values("Link") {
		for _, part := range strings.Split(l, ",") {
			part = strings.TrimSpace(part)
			if !strings.Contains(part, `rel="next"`) || !strings.HasPrefix(part, "<") {
				continue
			}
			end := strings.Index(part, ">")
			if end < 0 {
				continue
			}
			u, err := from.Parse(part[1:end])
			if err != nil || u.Host != from.Host {
				return ""
			}
			return u.String()
		}
	}
	return ""
}

func (c *registryClient) timeout() time.Duration {
	if c.o.Timeout > 0 {
		return c.o.Timeout
	}
	return DefaultTimeout
}

func (c *registryClient) do(ctx context.Context, method, u string, body []byte, contentType string, want ...int) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = int64(len(body))
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, want...); err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	return resp, nil
}

// uploadBlob uploads b in one request where the registry allows it (POST
// with the digest: the distribution spec's monolithic upload), else with
// the POST that opens an upload and the PUT that closes it.
func (c *registryClient) uploadBlob(ctx context.Context, digest string, b []byte) error {
	u := c.base + "/blobs/uploads/?digest=" + url.QueryEscape(digest)
	resp, err := c.do(ctx, http.MethodPost, u, b, "application/octet-stream", http.StatusCreated, http.StatusAccepted)
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusCreated {
		return nil
	}
	// 202: the registry opened an upload session and ignored the bytes.
	loc, err := resp.Location()
	if err != nil {
		return fmt.Errorf("blob upload: the registry gave no Location: %w", err)
	}
	q := loc.Query()
	q.Set("digest", digest)
	loc.RawQuery = q.Encode()
	_, err = c.do(ctx, http.MethodPut, loc.String(), b, "application/octet-stream", http.StatusCreated)
	return err
}

// ensureConfig makes sure a config blob is in the repository: one HEAD,
// and an upload if missing, once a run per digest (every artifact has the
// same empty config).
func (c *registryClient) ensureConfig(ctx context.Context, digest string, b []byte) error {
	once, _ := c.configs.LoadOrStore(digest, sync.OnceValue(func() error {
		if _, err := c.do(ctx, http.MethodHead, c.base+"/blobs/"+digest, nil, "", http.StatusOK); err == nil {
			return nil
		}
		return c.uploadBlob(ctx, digest, b)
	}))
	return once.(func() error)()
}

// push uploads a's config (once a run) and layer, then its manifest
// under tag.
func (c *registryClient) push(ctx context.Context, tag string, a *Artifact) error {
	cfg, err := a.Image.RawConfigFile()
	if err != nil {
		return err
	}
	cfgDigest, err := a.Image.ConfigName()
	if err != nil {
		return err
	}
	if err := c.ensureConfig(ctx, cfgDigest.String(), cfg); err != nil {
		return err
	}
	sum := sha256.Sum256(a.Layer)
	if err := c.uploadBlob(ctx, "sha256:"+hex.EncodeToString(sum[:]), a.Layer); err != nil {
		return err
	}
	m, err := a.Image.RawManifest()
	if err != nil {
		return err
	}
	mt, err := a.Image.MediaType()
	if err != nil {
		return err
	}
	_, err = c.do(ctx, http.MethodPut, c.base+"/manifests/"+tag, m, string(mt), http.StatusCreated, http.StatusOK)
	return err
}
