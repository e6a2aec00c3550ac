package check

import (
	"fmt"
	"path"
	"sort"
	"strings"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"go.yaml.in/yaml/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fluxSystem is the name and namespace of the objects `flux bootstrap` and a
// FluxInstance's sync create.
const fluxSystem = "flux-system"

var sourceKinds = map[string]bool{"GitRepository": true, "OCIRepository": true, "Bucket": true, "ExternalArtifact": true}

// member is an object as applied on one cluster: the rendered object, the
// unit that rendered it and its namespace on the cluster.
type member struct {
	o  *object
	u  *unit
	ns string
	// decl is the file and line that declare it, found lazily.
	declDone bool
	decl     doc
}

// cluster is everything one cluster root applies: the root directory and,
// transitively, the paths its Flux Kustomizations sync from this repository.
type cluster struct {
	root    string
	r       *repo
	us      *units
	ix      docIndex
	f       *findings
	sh      *sharedFindings
	objs    map[string]*member // "kind/namespace/name"
	kss     []*member          // Flux Kustomizations, in discovery order
	visited map[string]bool    // units added
	self    map[string]bool    // source keys that stand for this repository
}

func key(kind, ns, name string) string { return kind + "/" + ns + "/" + name }

// checkFlux runs check 2 on every cluster root and returns their number.
func checkFlux(r *repo, ix docIndex, us *units, f *findings) int {
	sh := &sharedFindings{checked: map[doc]int{}, lastRoot: map[doc]string{}, found: map[sharedKey][]string{}}
	roots := clusterRoots(r, us)
	for _, dir := range roots {
		c := &cluster{root: dir, r: r, us: us, ix: ix, f: f, sh: sh,
			objs: map[string]*member{}, visited: map[string]bool{}, self: map[string]bool{}}
		c.check()
	}
	sh.flush(f)
	return len(roots)
}

// clusterRoots finds the directories a cluster syncs first: outermost
// kustomization directories whose build holds Flux Kustomizations or a
// FluxInstance, and that no other such directory reaches, by a Flux path or
// by a kustomize resource (the bootstrap's flux-system Kustomization points
// at its own cluster directory, which does not count).
func clusterRoots(r *repo, us *units) []string {
	var cands []string
	isCand := map[string]bool{}
	for dir, u := range us.built {
		if u.err != nil {
			continue
		}
		for _, o := range u.objs {
			if o.ks != nil || o.sync != nil {
				cands = append(cands, dir)
				isCand[dir] = true
				break
			}
		}
	}
	sort.Strings(cands)
	var outer []string
	for _, dir := range cands {
		nested := false
		for d := dir; d != "." && !nested; {
			d = path.Dir(d)
			nested = isCand[d]
		}
		if !nested {
			outer = append(outer, dir)
		}
	}
	// Edges: the directories a kustomization includes, and the paths of
	// the Flux objects its build holds. A kustomization left unbuilt
	// (Options.Only) and reached by an include needs no build: its objects
	// are in the build of what includes it. One reached by a Flux path is
	// built.
	type edge struct {
		to      string
		viaFlux bool
	}
	edges := map[string][]edge{}
	next := func(dir string, viaFlux bool) []edge {
		if e, ok := edges[dir]; ok {
			return e
		}
		var e []edge
		u, built := us.built[dir]
		if !built && viaFlux {
			u, built = us.get(dir)
		}
		if !built {
			if kfile, ok := us.kdirs[dir]; ok {
				for _, t := range r.includes(&unit{dir: dir, kfile: kfile}) {
					e = append(e, edge{t, false})
				}
				return e // not memoized: a Flux path may reach it later
			}
		}
		if built {
			for _, t := range r.includes(u) {
				e = append(e, edge{t, false})
			}
			for _, o := range u.objs {
				p := ""
				switch {
				case o.ks != nil:
					p = o.ks.Spec.Path
				case o.sync != nil:
					p = o.sync.Path
				default:
					continue
				}
				if t, ok := cleanFluxPath(p); ok {
					e = append(e, edge{t, true})
				}
			}
		}
		edges[dir] = e
		return e
	}
	reached := map[string]bool{}
	for _, x := range outer {
		seen := map[string]bool{x: true}
		queue := []edge{{x, false}}
		for len(queue) > 0 {
			d := queue[0]
			queue = queue[1:]
			for _, t := range next(d.to, d.viaFlux) {
				if !seen[t.to] {
					seen[t.to] = true
					reached[t.to] = true
					queue = append(queue, t)
				}
			}
		}
	}
	var roots []string
	for _, dir := range outer {
		if !reached[dir] {
			roots = append(roots, dir)
		}
	}
	return roots
}

// includes lists the local directories a kustomization includes as
// resources or components.
func (r *repo) includes(u *unit) []string {
	var k struct {
		Resources  []string `yaml:"resources"`
		Components []string `yaml:"components"`
		Bases      []string `yaml:"bases"`
	}
	if yaml.Unmarshal(r.build[u.kfile], &k) != nil {
		return nil
	}
	var out []string
	for _, list := range [][]string{k.Resources, k.Components, k.Bases} {
		for _, e := range list {
			if strings.Contains(e, "://") || strings.HasPrefix(e, "/") {
				continue
			}
			if p := path.Join(u.dir, e); r.isDir(p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// sharedFindings gathers what is found about objects outside a cluster's own
// directory (a region overlay or a base shared by many clusters): reported
// once, naming the clusters only when not all of those checking it agree.
type sharedFindings struct {
	checked  map[doc]int    // number of clusters that checked a declaration
	lastRoot map[doc]string // to count each cluster once
	found    map[sharedKey][]string
	order    []sharedKey
}

type sharedKey struct {
	d    doc
	warn bool
	msg  string
}

func (sh *sharedFindings) flush(f *findings) {
	for _, k := range sh.order {
		msg := k.msg
		if cs := sh.found[k]; len(cs) < sh.checked[k.d] {
			msg += " (in cluster " + cs[0]
			if len(cs) > 1 {
				msg += fmt.Sprintf(" and %d more", len(cs)-1)
			}
			msg += ")"
		}
		if k.warn {
			f.warnf(k.d.file, k.d.line, "%s", msg)
		} else {
			f.errorf(k.d.file, k.d.line, "%s", msg)
		}
	}
}

// cleanFluxPath turns a Kustomization's spec.path (relative to the source
// root, "./" optional) into a clean repository path; ok is false when it
// leaves the root.
func cleanFluxPath(p string) (string, bool) {
	c := path.Clean(strings.TrimLeft(p, "/"))
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", false
	}
	return c, true
}

func (c *cluster) add(u *unit, targetNS string) {
	c.visited[u.dir] = true
	for _, o := range u.objs {
		ns := o.namespace
		if targetNS != "" {
			ns = targetNS
		}
		m := &member{o: o, u: u, ns: ns}
		k := key(o.kind, ns, o.name)
		if o.ks != nil {
			if prev, dup := c.objs[k]; dup && prev.o.ks != nil {
				d := c.declOf(m)
				c.report(d, false, "Kustomization %s is also defined in %s", qualify(ns, o.name), c.declOf(prev).file)
			}
			c.kss = append(c.kss, m)
		}
		c.objs[k] = m
		if o.sync != nil {
			// The Flux Operator creates a source and a Kustomization, both
			// named flux-system in the instance's namespace.
			ins := ns
			if ins == "" {
				ins = fluxSystem
			}
			src := &object{apiVersion: fluxSourceGroup + "/v1", kind: o.sync.Kind, namespace: ins, name: fluxSystem}
			c.objs[key(src.kind, ins, fluxSystem)] = &member{o: src, u: u, ns: ins}
			ks := &object{apiVersion: fluxKustomizeGroup + "/v1", kind: "Kustomization", namespace: ins, name: fluxSystem,
				via: "FluxInstance " + qualify(o.namespace, o.name) + " spec.sync",
				ks: &kustomizev1.Kustomization{
					ObjectMeta: metav1.ObjectMeta{Name: fluxSystem, Namespace: ins},
					Spec: kustomizev1.KustomizationSpec{
						Path:      o.sync.Path,
						SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: o.sync.Kind, Name: fluxSystem},
					},
				}}
			im := &member{o: ks, u: u, ns: ins, declDone: true, decl: c.declOf(m)}
			c.objs[key("Kustomization", ins, fluxSystem)] = im
			c.kss = append(c.kss, im)
			c.self[key(o.sync.Kind, ins, fluxSystem)] = true
		}
	}
}

// declOf finds the file and line declaring a member, falling back to the
// kustomization file of the unit that rendered it.
func (c *cluster) declOf(m *member) doc {
	if m.declDone {
		return m.decl
	}
	m.declDone = true
	if d, ok := c.ix.locate(m.u.dir, m.o.kind, m.o.namespace, m.o.name); ok {
		m.decl = d
	} else if m.u.kfile != "" {
		m.decl = doc{file: m.u.kfile}
	} else {
		m.decl = doc{file: m.u.dir}
	}
	return m.decl
}

// outside reports whether a declaration lies outside the cluster root.
func (c *cluster) outside(d doc) bool {
	return c.root != "." && !strings.HasPrefix(d.file, c.root+"/")
}

// report records a finding about the object declared at d.
func (c *cluster) report(d doc, warn bool, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if !c.outside(d) {
		if warn {
			c.f.warnf(d.file, d.line, "%s", msg)
		} else {
			c.f.errorf(d.file, d.line, "%s", msg)
		}
		return
	}
	k := sharedKey{d: d, warn: warn, msg: msg}
	cs, ok := c.sh.found[k]
	if !ok {
		c.sh.order = append(c.sh.order, k)
	}
	if len(cs) == 0 || cs[len(cs)-1] != c.root {
		c.sh.found[k] = append(cs, c.root)
	}
}

func sourceKey(m *member) string {
	ref := m.o.ks.Spec.SourceRef
	ns := ref.Namespace
	if ns == "" {
		ns = m.ns
	}
	return key(ref.Kind, ns, ref.Name)
}

func (c *cluster) check() {
	c.add(c.us.built[c.root], "")
	// This repository is the source the root is synced from: any source the
	// root's own Kustomization uses, and the conventional flux-system ones.
	for _, m := range c.kss {
		if p, ok := cleanFluxPath(m.o.ks.Spec.Path); ok && p == c.root {
			c.self[sourceKey(m)] = true
		}
	}
	for k := range sourceKinds {
		c.self[key(k, fluxSystem, fluxSystem)] = true
	}
	// Follow the paths synced from this repository (the list grows).
	for i := 0; i < len(c.kss); i++ {
		m := c.kss[i]
		if m.o.decodeErr != nil || !c.self[sourceKey(m)] {
			continue
		}
		p, ok := cleanFluxPath(m.o.ks.Spec.Path)
		if !ok || c.visited[p] {
			continue
		}
		if u, ok := c.us.at(p); ok && u.err == nil {
			c.add(u, m.o.ks.Spec.TargetNamespace)
		}
	}
	for _, m := range c.kss {
		c.checkKustomization(m)
	}
	c.checkCycles()
}

func (c *cluster) checkKustomization(m *member) {
	d := c.declOf(m)
	if c.outside(d) && c.sh.lastRoot[d] != c.root {
		c.sh.lastRoot[d] = c.root
		c.sh.checked[d]++
	}
	name := "Kustomization " + qualify(m.ns, m.o.name)
	if m.o.via != "" {
		name += " (from " + m.o.via + ")"
	}
	if m.o.decodeErr != nil {
		c.report(d, false, "%s: invalid: %v", name, m.o.decodeErr)
		return
	}
	spec := m.o.ks.Spec

	// sourceRef
	ref := spec.SourceRef
	sk := sourceKey(m)
	if src, ok := c.objs[sk]; !ok || (group(src.o.apiVersion) != fluxSourceGroup) || !sourceKinds[ref.Kind] {
		c.report(d, false, "%s: sourceRef %s %s not found in the cluster", name, ref.Kind, qualify(nsOr(ref.Namespace, m.ns), ref.Name))
	}

	// dependsOn
	for _, dep := range spec.DependsOn {
		ns := nsOr(dep.Namespace, m.ns)
		if t, ok := c.objs[key("Kustomization", ns, dep.Name)]; !ok || t.o.ks == nil {
			c.report(d, false, "%s: dependsOn %s: no such Kustomization in the cluster", name, qualify(ns, dep.Name))
		}
	}

	// postBuild.substituteFrom
	provided := map[string]bool{}
	unknown := false // an optional source is missing: its variables are unknown
	if pb := spec.PostBuild; pb != nil {
		for k := range pb.Substitute {
			provided[k] = true
		}
		for _, sf := range pb.SubstituteFrom {
			t, ok := c.objs[key(sf.Kind, m.ns, sf.Name)]
			if !ok || t.o.apiVersion != "v1" {
				if sf.Optional {
					unknown = true
					continue
				}
				c.report(d, false, "%s: postBuild.substituteFrom %s %s not found in the cluster", name, sf.Kind, qualify(m.ns, sf.Name))
				unknown = true // reported once here, not once per variable
				continue
			}
			for _, k := range t.o.keys {
				provided[k] = true
			}
		}
	}

	// spec.path, only for sources that are this repository
	if !c.self[sk] {
		return
	}
	p, ok := cleanFluxPath(spec.Path)
	if !ok {
		c.report(d, false, "%s: spec.path %q leaves the repository", name, spec.Path)
		return
	}
	u, ok := c.us.at(p)
	if !ok {
		if _, isFile := c.r.files[p]; isFile {
			c.report(d, false, "%s: spec.path %q is a file, not a directory", name, spec.Path)
		} else {
			c.report(d, false, "%s: spec.path %q: no such directory in the repository", name, spec.Path)
		}
		return
	}
	if u.err != nil {
		where := u.kfile
		if where == "" {
			where = relMsg(u.err.Error())
		}
		c.report(d, false, "%s: spec.path %q does not build (see %s)", name, spec.Path, where)
		return
	}
	if spec.PostBuild == nil {
		return // Flux substitutes nothing
	}
	for _, v := range u.usedVars() {
		if provided[v.name] {
			continue
		}
		msg := "%s: ${%s} used in %s (%s) is not provided by postBuild.substitute or substituteFrom"
		if unknown {
			c.report(d, true, msg+" (unless a missing substituteFrom source provides it)", name, v.name, p, v.object)
		} else {
			c.report(d, false, msg, name, v.name, p, v.object)
		}
	}
}

func nsOr(ns, def string) string {
	if ns != "" {
		return ns
	}
	return def
}

// checkCycles reports each dependsOn cycle once, at the first declaring file.
func (c *cluster) checkCycles() {
	const (
		white = iota
		grey
		black
	)
	color := map[*member]int{}
	var stack []*member
	seen := map[string]bool{}
	var visit func(m *member)
	visit = func(m *member) {
		color[m] = grey
		stack = append(stack, m)
		if m.o.ks != nil && m.o.decodeErr == nil {
			for _, dep := range m.o.ks.Spec.DependsOn {
				t, ok := c.objs[key("Kustomization", nsOr(dep.Namespace, m.ns), dep.Name)]
				if !ok || t.o.ks == nil {
					continue
				}
				switch color[t] {
				case white:
					visit(t)
				case grey:
					i := len(stack) - 1
					for stack[i] != t {
						i--
					}
					c.reportCycle(stack[i:], seen)
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[m] = black
	}
	for _, m := range c.kss {
		if color[m] == white {
			visit(m)
		}
	}
}

func (c *cluster) reportCycle(cyc []*member, seen map[string]bool) {
	names := make([]string, len(cyc))
	for i, m := range cyc {
		names[i] = qualify(m.ns, m.o.name)
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	id := strings.Join(sorted, ",")
	if seen[id] {
		return
	}
	seen[id] = true
	// Report at the first declaring file, the cycle starting there.
	first := 0
	for i := range cyc {
		if c.declOf(cyc[i]).file < c.declOf(cyc[first]).file {
			first = i
		}
	}
	chain := append(append([]string(nil), names[first:]...), names[:first]...)
	chain = append(chain, chain[0])
	d := c.declOf(cyc[first])
	c.report(d, false, "Kustomization %s: dependsOn cycle: %s", names[first], strings.Join(chain, " -> "))
}
