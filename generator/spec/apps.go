package spec

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

var (
	chartNameRe = lazyRegexp(`^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$`)
	// exactVerRe is an exact SemVer 2 version (a leading v is tolerated,
	// as Helm does): no range, no wildcard.
	exactVerRe = lazyRegexp(`^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
	// pinnedTagRe is a release tag, optionally under a path prefix as
	// monorepos tag them (api/v0.21.2); commitRe a full commit id.
	pinnedTagRe = lazyRegexp(`^([A-Za-z0-9._-]+/)*v?\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]+)?$`)
	commitRe    = lazyRegexp(`^[0-9a-f]{40}$`)
)

// ChartSourceKinds are the chart sources fleetgen renders, by URL scheme.
var ChartSourceKinds = []string{"https://", "http://", "oci://"}

// chart checks spec.apps[i].chart.
func (v *validator) chart(p string, a *App) {
	c := a.Chart
	f := p + ".chart"
	switch repo := c.Repository; {
	case repo == "":
		v.add(f+".repository", "is required: an HTTP(S) Helm repository (https://charts.example.com) or an OCI repository (oci://ghcr.io/org/charts)")
	default:
		if err := CheckChartRepository(repo); err != nil {
			v.add(f+".repository", "%v", err)
		}
	}
	switch {
	case c.Name == "":
		v.add(f+".name", "is required: the chart's name in the repository")
	case !chartNameRe().MatchString(c.Name) || len(c.Name) > 63:
		v.add(f+".name", "%q is not a chart name (lower-case letters, digits, '-', '_' and '.')", short(c.Name))
	}
	switch {
	case c.Version == "":
		v.add(f+".version", "is required: pin the chart's exact version (e.g. 1.4.2), so that every cluster runs the same chart and a new release reaches them only through a commit")
	case !exactVerRe().MatchString(c.Version):
		v.add(f+".version", "%q is not an exact chart version such as 1.4.2: a range or wildcard installs whatever is newest when each cluster reconciles, so the fleet drifts apart", short(c.Version))
	}
	checkValueKeys(v, f+".values", c.Values)
}

// checkValueKeys refuses values a HelmRelease cannot carry (keys that are
// not text, which YAML allows and JSON does not).
func checkValueKeys(v *validator, field string, m map[string]any) {
	var walk func(field string, x any) bool
	walk = func(field string, x any) bool {
		switch t := x.(type) {
		case map[string]any:
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if !walk(field+"."+k, t[k]) {
					return false
				}
			}
		case map[any]any:
			v.add(field, "has a key that is not text: Helm values are JSON objects, keyed by strings (quote the key)")
			return false
		case []any:
			for i, e := range t {
				if !walk(fmt.Sprintf("%s[%d]", field, i), e) {
					return false
				}
			}
		}
		return true
	}
	walk(field, map[string]any(m))
}

// CheckChartRepository accepts the chart sources fleetgen renders: an
// HTTP(S) Helm repository (Flux HelmRepository; K3s HelmChart repo) or an
// OCI repository (Flux OCIRepository; K3s HelmChart chart: oci://...).
func CheckChartRepository(raw string) error {
	shown := redact(raw)
	scheme, _, ok := strings.Cut(raw, "://")
	if !ok {
		return fmt.Errorf("%q has no scheme: give an HTTP(S) Helm repository (https://...) or an OCI repository (oci://...)", shown)
	}
	switch scheme + "://" {
	case "https://", "http://", "oci://":
	default:
		return fmt.Errorf("%q: %s:// is not a chart source fleetgen knows; it renders %s (a chart in git is a remote Kustomize base's job, or put the chart in an OCI registry)", shown, scheme, strings.Join(ChartSourceKinds, ", "))
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not a URL with a host", shown)
	}
	if u.User != nil {
		return fmt.Errorf("%q carries credentials: fleetgen renders public chart sources only (a pull Secret is not generated yet)", shown)
	}
	if u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(raw, " \t\n") {
		return fmt.Errorf("%q must not have a query, fragment or white space", shown)
	}
	if scheme == "oci" {
		if u.Path == "" || u.Path == "/" {
			return fmt.Errorf("%q: give the repository path that holds the chart, e.g. oci://ghcr.io/org/charts", shown)
		}
		last := u.Path[strings.LastIndex(u.Path, "/")+1:]
		if strings.ContainsAny(last, ":@") {
			return fmt.Errorf("%q must not carry a tag or digest: the version goes in chart.version", shown)
		}
	}
	return nil
}

// RemoteBase is a parsed remote Kustomize base URL.
type RemoteBase struct {
	RepoURL string // the git repository, as Flux's GitRepository takes it
	Path    string // the base's folder in it, "./" for the top
	Tag     string // set when ref is a release tag
	Commit  string // set when ref is a full commit id
}

// ParseRemoteBase reads a kustomize remote base URL pinned with ?ref=:
// https://github.com/org/repo//deploy/base?ref=v1.2.0 (the "//" separates
// the repository from the folder; without it the base is the repository's
// top). ref must be a release tag or a full commit id: a branch (or any
// other name) moves under the fleet.
func ParseRemoteBase(raw string) (RemoteBase, error) {
	var rb RemoteBase
	shown := redact(raw)
	if raw == "" {
		return rb, fmt.Errorf("is required: a git URL pinned with ?ref=, e.g. https://github.com/org/repo//deploy/base?ref=v1.2.0")
	}
	if !strings.Contains(raw, "://") {
		return rb, fmt.Errorf("%q has no scheme: write https://host/org/repo//path?ref=v1.2.0 or ssh://git@host/org/repo//path?ref=v1.2.0", shown)
	}
	base, query, _ := strings.Cut(raw, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return rb, fmt.Errorf("%q: its query does not parse", shown)
	}
	for k := range q {
		if k != "ref" {
			return rb, fmt.Errorf("%q: only ?ref= is read (not %q)", shown, k)
		}
	}
	refs := q["ref"]
	switch {
	case len(refs) == 0 || refs[0] == "":
		return rb, fmt.Errorf("%q is not pinned: add ?ref=<release tag or full commit id>, e.g. ?ref=v1.2.0", shown)
	case len(refs) > 1:
		return rb, fmt.Errorf("%q gives ref twice", shown)
	case commitRe().MatchString(refs[0]):
		rb.Commit = refs[0]
	case pinnedTagRe().MatchString(refs[0]):
		rb.Tag = refs[0]
	default:
		return rb, fmt.Errorf("ref %q is floating or not a release: a branch such as main moves under the fleet; pin a release tag (v1.2.0) or a full 40-character commit id", short(refs[0]))
	}
	scheme, rest, _ := strings.Cut(base, "://")
	repo, sub, hasSub := strings.Cut(rest, "//")
	if err := CheckGitURL(scheme + "://" + repo); err != nil {
		return rb, err
	}
	rb.RepoURL = scheme + "://" + strings.TrimSuffix(repo, "/")
	if !strings.Contains(strings.TrimPrefix(repo, strings.SplitN(repo, "/", 2)[0]), "/") {
		return rb, fmt.Errorf("%q names no repository after its host", shown)
	}
	rb.Path = "./"
	if hasSub {
		sub = strings.Trim(sub, "/")
		for _, seg := range strings.Split(sub, "/") {
			if seg == ".." || seg == "." || seg == "" {
				return rb, fmt.Errorf("%q: the folder after // must be a plain relative path", shown)
			}
		}
		rb.Path = "./" + sub
	}
	return rb, nil
}

func (v *validator) remoteBase(field, raw string) {
	if _, err := ParseRemoteBase(raw); err != nil {
		v.add(field, "%v", err)
	}
}

// regionValues checks regions[].values: each key is a chart app.
func (v *validator) regionValues(p string, r *Region, apps []App) {
	names := make([]string, 0, len(r.Values))
	for k := range r.Values {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		f := p + ".values." + name
		var app *App
		for i := range apps {
			if apps[i].Name == name {
				app = &apps[i]
			}
		}
		switch {
		case app == nil:
			v.add(f, "no app %q in spec.apps", name)
		case app.Chart == nil:
			v.add(f, "app %q is not a chart: only chart apps take Helm values", name)
		default:
			checkValueKeys(v, f, r.Values[name])
		}
	}
}
