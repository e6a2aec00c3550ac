package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
	sigyaml "sigs.k8s.io/yaml"
)

// kube is a small Kubernetes API client over HTTPS (no client-go): discovery,
// server-side apply, get, list, merge patches. Objects are plain maps.
type kube struct {
	base string
	hc   *http.Client

	mu        sync.Mutex
	resources map[string]apiResource // "group/version/Kind" -> resource
}

type apiResource struct {
	name       string
	namespaced bool
}

type obj = map[string]any

// statusError is a non-2xx answer of the API server.
type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.code, strings.TrimSpace(e.body))
}

func isNotFound(err error) bool {
	var se *statusError
	return errors.As(err, &se) && se.code == http.StatusNotFound
}

func (k *kube) do(ctx context.Context, method, path, contentType string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, k.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, &statusError{resp.StatusCode, string(b)}
	}
	return b, nil
}

// resource maps apiVersion and kind to the resource name, asking the
// server's discovery (not cached while unknown: CRDs arrive during the test).
func (k *kube) resource(ctx context.Context, apiVersion, kind string) (apiResource, error) {
	key := apiVersion + "/" + kind
	k.mu.Lock()
	r, ok := k.resources[key]
	k.mu.Unlock()
	if ok {
		return r, nil
	}
	path := "/apis/" + apiVersion
	if !strings.Contains(apiVersion, "/") {
		path = "/api/" + apiVersion
	}
	b, err := k.do(ctx, http.MethodGet, path, "", nil)
	if err != nil {
		return r, fmt.Errorf("discovery of %s: %w", apiVersion, err)
	}
	var list struct {
		Resources []struct {
			Name       string `json:"name"`
			Kind       string `json:"kind"`
			Namespaced bool   `json:"namespaced"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		return r, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.resources == nil {
		k.resources = map[string]apiResource{}
	}
	for _, res := range list.Resources {
		if !strings.Contains(res.Name, "/") {
			k.resources[apiVersion+"/"+res.Kind] = apiResource{res.Name, res.Namespaced}
		}
	}
	r, ok = k.resources[key]
	if !ok {
		return r, fmt.Errorf("the server has no %s %s", apiVersion, kind)
	}
	return r, nil
}

// path is the URL path of a collection (name == "") or an object.
func (k *kube) path(ctx context.Context, apiVersion, kind, namespace, name string) (string, error) {
	r, err := k.resource(ctx, apiVersion, kind)
	if err != nil {
		return "", err
	}
	p := "/apis/" + apiVersion
	if !strings.Contains(apiVersion, "/") {
		p = "/api/" + apiVersion
	}
	if r.namespaced && namespace != "" {
		p += "/namespaces/" + namespace
	}
	p += "/" + r.name
	if name != "" {
		p += "/" + name
	}
	return p, nil
}

// apply is a server-side apply of one object (force: take over conflicting fields).
func (k *kube) apply(ctx context.Context, o obj, manager string) error {
	apiVersion, kind := str(o, "apiVersion"), str(o, "kind")
	ns, name := str(o, "metadata", "namespace"), str(o, "metadata", "name")
	p, err := k.path(ctx, apiVersion, kind, ns, name)
	if err != nil {
		return err
	}
	body, err := json.Marshal(o)
	if err != nil {
		return err
	}
	q := url.Values{"fieldManager": {manager}, "force": {"true"}}
	_, err = k.do(ctx, http.MethodPatch, p+"?"+q.Encode(), "application/apply-patch+yaml", body)
	if err != nil {
		return fmt.Errorf("apply %s %s/%s: %w", kind, ns, name, err)
	}
	return nil
}

func (k *kube) get(ctx context.Context, apiVersion, kind, namespace, name string) (obj, error) {
	p, err := k.path(ctx, apiVersion, kind, namespace, name)
	if err != nil {
		return nil, err
	}
	b, err := k.do(ctx, http.MethodGet, p, "", nil)
	if err != nil {
		return nil, err
	}
	var o obj
	return o, json.Unmarshal(b, &o)
}

// list lists objects (namespace "": every namespace).
func (k *kube) list(ctx context.Context, apiVersion, kind, namespace string) ([]obj, error) {
	p, err := k.path(ctx, apiVersion, kind, namespace, "")
	if err != nil {
		return nil, err
	}
	b, err := k.do(ctx, http.MethodGet, p, "", nil)
	if err != nil {
		return nil, err
	}
	var l struct {
		Items []obj `json:"items"`
	}
	return l.Items, json.Unmarshal(b, &l)
}

// mergePatch patches an object or, with subresource "status", its status.
func (k *kube) mergePatch(ctx context.Context, apiVersion, kind, namespace, name, subresource string, patch any) error {
	p, err := k.path(ctx, apiVersion, kind, namespace, name)
	if err != nil {
		return err
	}
	if subresource != "" {
		p += "/" + subresource
	}
	body, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	_, err = k.do(ctx, http.MethodPatch, p, "application/merge-patch+json", body)
	return err
}

// requestReconcile does what `flux reconcile` does: it sets the
// reconcile.fluxcd.io/requestedAt annotation.
func (k *kube) requestReconcile(ctx context.Context, apiVersion, kind, namespace, name string) error {
	return k.mergePatch(ctx, apiVersion, kind, namespace, name, "", obj{"metadata": obj{"annotations": obj{
		"reconcile.fluxcd.io/requestedAt": time.Now().Format(time.RFC3339Nano)}}})
}

// decodeManifests reads the objects of a multi-document YAML file (List
// kinds flattened), skipping empty documents, as K3s's deploy controller does.
func decodeManifests(data []byte) ([]obj, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []obj
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		doc, err := yaml.Marshal(&n)
		if err != nil {
			return nil, err
		}
		j, err := sigyaml.YAMLToJSON(doc)
		if err != nil {
			return nil, err
		}
		if string(j) == "null" {
			continue
		}
		var o obj
		if err := json.Unmarshal(j, &o); err != nil {
			return nil, err
		}
		if len(o) == 0 {
			continue
		}
		if strings.HasSuffix(str(o, "kind"), "List") {
			if items, ok := o["items"].([]any); ok {
				for _, it := range items {
					if m, ok := it.(obj); ok {
						out = append(out, m)
					}
				}
				continue
			}
		}
		out = append(out, o)
	}
}

// str reads a string at a path of map keys ("" when absent).
func str(o obj, path ...string) string {
	s, _ := field(o, path...).(string)
	return s
}

// field reads a value at a path of map keys (nil when absent).
func field(o obj, path ...string) any {
	var cur any = o
	for _, p := range path {
		m, ok := cur.(obj)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

// condition returns the condition of type typ in status.conditions.
func condition(o obj, typ string) obj {
	cs, _ := field(o, "status", "conditions").([]any)
	for _, c := range cs {
		if m, ok := c.(obj); ok && m["type"] == typ {
			return m
		}
	}
	return nil
}
