package check

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/provider"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// API groups of the Flux objects the checks read.
const (
	fluxKustomizeGroup = "kustomize.toolkit.fluxcd.io"
	fluxSourceGroup    = "source.toolkit.fluxcd.io"
	fluxOperatorGroup  = "fluxcd.controlplane.io"
)

// unit is the rendered content of one directory: a kustomization built by
// kustomize, or a plain directory of manifests as Flux would generate a
// kustomization for it.
type unit struct {
	dir   string
	kfile string // the kustomization file; "" for a plain directory
	err   error
	objs  []*object

	rendered []byte // only with Options.KeepRendered

	varsDone bool
	vars     []varUse // ${VAR} uses without a default, sorted by name
}

// object is one rendered Kubernetes object, decoded as far as the checks need.
type object struct {
	apiVersion, kind, namespace, name string
	vars                              []string // ${VAR} uses without a default (see scanVars)

	ks        *kustomizev1.Kustomization // a Flux Kustomization
	sync      *fluxInstanceSync          // a FluxInstance with spec.sync
	decodeErr error                      // a Flux object that does not decode
	keys      []string                   // data keys of a ConfigMap or Secret
	via       string                     // for an object a controller creates: what from
}

// fluxInstanceSync is the part of a Flux Operator FluxInstance the checks
// read (the operator's API module is not a dependency).
type fluxInstanceSync struct {
	Kind string `json:"kind"`
	URL  string `json:"url"`
	Ref  string `json:"ref"`
	Path string `json:"path"`
}

func group(apiVersion string) string {
	if i := strings.IndexByte(apiVersion, '/'); i >= 0 {
		return apiVersion[:i]
	}
	return ""
}

func (o *object) is(grp, kind string) bool {
	return o.kind == kind && group(o.apiVersion) == grp
}

func (o *object) id() string {
	return o.kind + " " + qualify(o.namespace, o.name)
}

type units struct {
	r        *repo
	built    map[string]*unit // kustomization directories
	implicit map[string]*unit // plain directories a Flux Kustomization points at

	// For the kustomizations buildAll left out (Options.Only): built when
	// a check needs them.
	kdirs         map[string]string // every kustomization directory: its file
	fsys          filesys.FileSystem
	keep, serial  bool
	defaultSchema string
	f             *findings
}

// openapiRE finds kustomizations that set their own OpenAPI schema, which
// kustomize keeps in process-global state.
var openapiRE = regexp.MustCompile(`(?m)^openapi:`)

// buildAll builds every kustomization directory (check 1). Builds run in
// parallel: kustomize's only process-global state is the OpenAPI schema,
// parsed once under kyaml's lock and then only read. A kustomization with
// an `openapi:` field would replace that schema, so when the repository has
// one every build runs alone and the schema is reset after it.
func buildAll(r *repo, opts Options, f *findings) *units {
	kdirs := r.kustomizationDirs()
	dirs := make([]string, 0, len(kdirs))
	us := &units{r: r, built: make(map[string]*unit, len(kdirs)), implicit: map[string]*unit{}, kdirs: kdirs, keep: opts.KeepRendered, f: f}
	for d, kfile := range kdirs {
		if openapiRE.Match(r.build[kfile]) {
			us.serial = true
		}
		if opts.Only == nil || under(d, opts.Only) {
			dirs = append(dirs, d)
		}
	}
	sort.Strings(dirs)
	fsys, err := r.memFS()
	if err != nil {
		f.errorf(".", 0, "cannot load the repository for kustomize: %v", err)
		return us
	}
	us.fsys = fsys
	results := make([]*unit, len(dirs))
	workers := opts.workers()
	if us.serial {
		workers = 1
		us.defaultSchema = openapi.GetSchemaVersion()
	}
	parallel(len(dirs), workers, func(i int) {
		results[i] = us.build(dirs[i])
	})
	for _, u := range results {
		us.record(u)
	}
	return us
}

// build builds one kustomization directory, leaving kustomize's OpenAPI
// schema as it found it when a kustomization of the repository sets one.
func (us *units) build(dir string) *unit {
	u := build(us.fsys, dir, us.kdirs[dir], us.keep)
	if us.serial && openapi.GetSchemaVersion() != us.defaultSchema {
		openapi.ResetOpenAPI()
	}
	return u
}

func (us *units) record(u *unit) {
	us.built[u.dir] = u
	if u.err != nil {
		us.f.errorf(u.kfile, 0, "kustomize build %s: %s", u.dir, relMsg(u.err.Error()))
	}
}

// get returns the build of kustomization directory dir, building it now if
// buildAll left it out; ok is false when dir has no kustomization file.
func (us *units) get(dir string) (*unit, bool) {
	if u, ok := us.built[dir]; ok {
		return u, true
	}
	if _, ok := us.kdirs[dir]; !ok || us.fsys == nil {
		return nil, false
	}
	u := us.build(dir)
	us.record(u)
	return u, true
}

// under reports whether dir is one of folders or inside one.
func under(dir string, folders []string) bool {
	for _, f := range folders {
		if dir == f || strings.HasPrefix(dir, f+"/") {
			return true
		}
	}
	return false
}

func build(fsys filesys.FileSystem, dir, kfile string, keep bool) *unit {
	u := &unit{dir: dir, kfile: kfile}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(fsys, "/"+strings.TrimPrefix(dir, "."))
	if err != nil {
		u.err = err
		return u
	}
	if keep {
		if u.rendered, err = m.AsYaml(); err != nil {
			u.err = err
			return u
		}
	}
	u.objs = toObjects(m.Resources())
	return u
}

func toObjects(rs []*resource.Resource) []*object {
	objs := make([]*object, 0, len(rs))
	for _, res := range rs {
		o := &object{
			apiVersion: res.GetApiVersion(),
			kind:       res.GetKind(),
			namespace:  res.GetNamespace(),
			name:       res.GetName(),
		}
		// Only what the checks read is kept: the rendered trees of a
		// 5,000-cluster repository would otherwise stay in memory until
		// the Flux checks are done.
		if res.GetAnnotations(substituteAnnotation)[substituteAnnotation] != "disabled" &&
			res.GetLabels(substituteAnnotation)[substituteAnnotation] != "disabled" {
			o.vars = nodeVars(res.YNode(), nil)
		}
		switch {
		case o.is(fluxKustomizeGroup, "Kustomization"):
			o.ks = &kustomizev1.Kustomization{}
			o.decodeErr = decode(res, o.ks)
		case o.is(fluxOperatorGroup, "FluxInstance"):
			if sync, err := res.Pipe(kyaml.Lookup("spec", "sync")); err == nil && sync != nil {
				o.sync = &fluxInstanceSync{
					Kind: scalar(sync, "kind"),
					URL:  scalar(sync, "url"),
					Ref:  scalar(sync, "ref"),
					Path: scalar(sync, "path"),
				}
			}
		case o.apiVersion == "v1" && (o.kind == "ConfigMap" || o.kind == "Secret"):
			for _, field := range []string{"data", "stringData"} {
				if n, err := res.Pipe(kyaml.Lookup(field)); err == nil && n != nil && n.YNode().Kind == kyaml.MappingNode {
					c := n.YNode().Content
					for i := 0; i+1 < len(c); i += 2 {
						o.keys = append(o.keys, c[i].Value)
					}
				}
			}
		}
		objs = append(objs, o)
	}
	return objs
}

// decode converts a rendered object into a typed API struct.
func decode(res *resource.Resource, into any) error {
	m, err := res.Map()
	if err != nil {
		return err
	}
	return runtime.DefaultUnstructuredConverter.FromUnstructured(m, into)
}

// scalar returns the string value of a field of a mapping node, "" if absent.
func scalar(n *kyaml.RNode, field string) string {
	f := n.Field(field)
	if f == nil || f.Value == nil {
		return ""
	}
	return f.Value.YNode().Value
}

// at returns the rendered content of dir (clean, relative): its kustomize
// build, or for a plain directory what Flux renders there (every manifest
// below it, a subdirectory with a kustomization file standing for its build).
// ok is false when dir is not a directory of the repository.
func (us *units) at(dir string) (*unit, bool) {
	if u, ok := us.get(dir); ok {
		return u, true
	}
	if u, ok := us.implicit[dir]; ok {
		return u, true
	}
	if !us.r.isDir(dir) {
		return nil, false
	}
	u := &unit{dir: dir}
	us.implicit[dir] = u
	rf := provider.NewDepProvider().GetResourceFactory()
	included := map[string]bool{} // subdirectories rendered by their kustomization
	for _, p := range us.r.filesUnder(dir) {
		sub := ""
		for d := path.Dir(p); d != dir && d != "."; d = path.Dir(d) {
			if _, ok := us.kdirs[d]; ok {
				sub = d // keep the topmost
			}
		}
		if sub != "" {
			if !included[sub] {
				included[sub] = true
				b, _ := us.get(sub)
				if b.err != nil && u.err == nil {
					u.err = fmt.Errorf("%s does not build", b.kfile)
				}
				u.objs = append(u.objs, b.objs...)
			}
			continue
		}
		if !isYAMLFile(p) || us.r.isHelmTemplate(p) {
			continue
		}
		nodes, err := kio.FromBytes(us.r.files[p])
		if err != nil {
			if u.err == nil {
				u.err = fmt.Errorf("%s: %v", p, err)
			}
			continue
		}
		kept := nodes[:0]
		for _, n := range nodes {
			if n.GetKind() != "" && n.GetApiVersion() != "" {
				kept = append(kept, n)
			}
		}
		rs, err := rf.ResourcesFromRNodes(kept)
		if err != nil {
			if u.err == nil {
				u.err = fmt.Errorf("%s: %v", p, err)
			}
			continue
		}
		u.objs = append(u.objs, toObjects(rs)...)
	}
	return u, true
}
