package design

import (
	"fmt"
	"strings"
)

// Rule ids (Finding.Rule). Missing sections are RuleMissingSection+":"+task.
const (
	RuleEtcdOnSmallNode   = "etcd-on-small-node"
	RuleServiceMesh       = "service-mesh"
	RuleFullKubernetes    = "full-kubernetes"
	RuleOtherDistribution = "other-distribution"
	RuleOtherGitOps       = "other-gitops"
	RulePushDeployment    = "push-deployment"
	RuleMissingSection    = "missing-section"
)

// Distances, in counted words (fillers such as "el", "the", "y" and the
// rule's own words are not counted).
const (
	window                 = 6  // between a cue and a match
	postWindow             = 12 // between a match and a rejection predicate after it
	condWindow             = 4  // between a match and a condition after it
	expectedNear           = 2  // "ArgoCD o Flux": the expected tool this close after a match
	choiceNegationDistance = 3  // "no recomendamos", "we do not recommend"
	needsNegationDistance  = 4  // "nunca se publica en Internet"
)

// mode says when a non-negated mention is reported.
type mode uint8

const (
	// mention: any mention that is not rejected, conditional, a comparison,
	// a question or an explanation of its cost (heavy components).
	mention mode = iota
	// choice: only a mention chosen explicitly ("we recommend k0s",
	// "Distribución: MicroK8s").
	choice
)

type item struct {
	name  string
	pats  *matcher
	needs *matcher // when set, the unit must also contain one of these, not negated
}

type rule struct {
	id       string
	mode     mode
	items    []item
	all      *matcher // every pattern of items, to mark the rule's own words
	expected *matcher // choice mode: the fleet's own tool ("k3s", "flux")
	category *matcher // choice mode: "Distribución:", "GitOps:"
	hedges   *matcher // extra explanations for this rule ("kine" for etcd)
	// noCond: a condition does not excuse a match ("si se cae el enlace,
	// se reaplican los manifiestos por SSH" still pushes).
	noCond  bool
	message func(it item) string
}

func newRule(r rule) *rule {
	var all []pattern
	for _, it := range r.items {
		all = append(all, it.pats.pats...)
	}
	r.all = newMatcherOf(all)
	return &r
}

// tool is an entry of the catalogs the choice rules know.
type tool struct {
	name  string   // as written in messages
	keys  []string // Facts values naming it, lower case without spaces or dashes
	specs []string // patterns of its mentions
}

var distributions = []tool{
	{"K3s", []string{"k3s"}, []string{"k3s"}},
	{"k0s", []string{"k0s"}, []string{"k0s"}},
	{"MicroK8s", []string{"microk8s"}, []string{"microk8s", "micro k8s"}},
	{"KubeEdge", []string{"kubeedge"}, []string{"kubeedge"}},
	{"MicroShift", []string{"microshift"}, []string{"microshift"}},
	{"Talos", []string{"talos", "taloslinux"}, []string{"talos"}},
}

var gitopsTools = []tool{
	{"Flux", []string{"flux", "fluxcd", "flux2", "fluxv2"}, []string{"flux", "fluxcd", "flux cd"}},
	{"Argo CD", []string{"argocd", "argo"}, []string{"argocd", "argo cd", "argo !rollouts|workflows|events"}},
	{"Rancher Fleet", []string{"rancherfleet", "fleet"}, []string{"rancher fleet"}},
	{"Jenkins X", []string{"jenkinsx"}, []string{"jenkins x", "jenkinsx"}},
	{"Spinnaker", []string{"spinnaker"}, []string{"spinnaker"}},
}

// toolFor returns the catalog entry named by a Facts value ("k3s", "Flux",
// "argo-cd"); an unknown value becomes an entry of its own.
func toolFor(cat []tool, v string) (t tool, known bool) {
	key := strings.NewReplacer("-", "", " ", "", "_", "").Replace(strings.ToLower(strings.TrimSpace(v)))
	for _, t := range cat {
		for _, k := range t.keys {
			if k == key {
				return t, true
			}
		}
	}
	// A literal pattern of the value's words.
	var ws []string
	for _, tok := range words(v) {
		if tok.kind == tWord {
			ws = append(ws, tok.w)
		}
	}
	t = tool{name: strings.TrimSpace(v)}
	if len(ws) > 0 {
		t.specs = []string{strings.Join(ws, " ")}
	}
	return t, false
}

var fullKubernetes = []item{
	{name: "kubeadm", pats: newMatcher("kubeadm")},
	{name: "Kubespray", pats: newMatcher("kubespray")},
	{name: "kops", pats: newMatcher("kops")},
	{name: "vanilla Kubernetes", pats: newMatcher("vanilla kubernetes|k8s", "kubernetes|k8s vanilla")},
	{name: "full Kubernetes", pats: newMatcher("full kubernetes|k8s", "full blown kubernetes|k8s",
		"kubernetes|k8s completo|completa|complete", "full control plane",
		"plano de control completo")},
	{name: "standard Kubernetes", pats: newMatcher("standard kubernetes|k8s", "kubernetes|k8s estandar",
		"traditional kubernetes|k8s", "kubernetes|k8s tradicional")},
	{name: "OpenShift", pats: newMatcher("openshift", "okd")},
	{name: "RKE2", pats: newMatcher("rke2", "rke")},
}

var serviceMeshes = []item{
	{name: "Istio", pats: newMatcher("istio", "istiod")},
	{name: "Linkerd", pats: newMatcher("linkerd*")},
	{name: "Consul Connect", pats: newMatcher("consul connect")},
	{name: "Kuma", pats: newMatcher("kuma")},
	{name: "Cilium service mesh", pats: newMatcher("cilium service mesh*", "cilium mesh")},
	{name: "Traefik Mesh", pats: newMatcher("traefik mesh")},
	{name: "a service mesh", pats: newMatcher("service mesh*", "servicemesh*", "malla* de servicio*",
		"mesh de servicio*", "open service mesh")},
}

var (
	pushWord    = "push|pushes|pushed|pushing"
	edgeTargets = "cluster*|edge|node*|nodo*|dispositivo*|device*|site*|sitio*|plataforma*|platform*"
	centralCues = newMatcher("ci", "pipeline*", "jenkins", "github actions", "gitlab*", "central*",
		"remot*", "each", "every", "cada", "todos", "todas", "all", "kubeconfig*", "context",
		"ssh", "ansible", pushWord, "bastion*")
	manifestCues = newMatcher("manifest*", "manifiesto*", "kubectl", "helm", "chart*", "apply",
		"aplica", "aplican", "aplicar", "aplicamos", "aplicando", pushWord, "empuj*", "yaml")
	exposureCues = newMatcher("internet", "public*", "publico", "publica", "expos*", "expon*",
		"expuest*", "0 0 0 0", "nat")
	edgeCues = newMatcher(edgeTargets)
)

var pushItems = []item{
	{name: "kubectl apply from a central pipeline", pats: newMatcher("kubectl ~4 apply|create|rollout",
		"helm ~4 upgrade|install"), needs: centralCues},
	{name: "a push-based deployment model", pats: newMatcher(
		"push based", "push model*", "push mode", "push deploy*", "push approach", "push architecture",
		"push strategy", "push style", "push pipeline*", pushWord+" ~5 "+edgeTargets,
		"modelo* push", "modelo* de push", "modelo* basado* en push", "modo push", "enfoque push",
		"enfoque de push", "enfoque basado en push", "arquitectura push", "arquitectura de push",
		"estrategia push", "estrategia de push", "despliegue* push", "despliegue* en push",
		"despliegue* de tipo push", "basad* en push", "tipo push", "empuj*")},
	{name: "a central hub holding every cluster's credentials", pats: newMatcher(
		"hub|central* ~6 credential*|credencial*|kubeconfig*"), needs: edgeCues},
	{name: "Ansible/SSH pushing manifests", pats: newMatcher("ansible", "ssh"), needs: manifestCues},
	{name: "inbound ports opened on the edge nodes", pats: newMatcher(
		"inbound ~2 port*|connection*|access|ssh|https|tunnel*|rule*",
		"port*|puerto*|conexion*|connection*|acceso* ~2 entrante*", "puerto* de entrada",
		"conexion* de entrada", "abr* ~2 puerto*", "puerto* ~2 abiert*",
		"open|opens|opened|opening ~2 port|ports", "port|ports ~2 open|opened")},
	{name: "the Kubernetes API server exposed", pats: newMatcher("6443", "api server", "apiserver",
		"kube apiserver", "api de kubernetes", "kubernetes api"), needs: exposureCues},
}

// buildRules returns the rules that apply to f.
func buildRules(f Facts) []*rule {
	dist, distKnown := toolFor(distributions, f.Distribution)
	git, gitKnown := toolFor(gitopsTools, f.GitOps)
	hasDist := len(dist.specs) > 0
	hasGit := len(git.specs) > 0
	var rules []*rule

	// etcd on small nodes.
	if small := smallRegions(f.Regions); len(small) > 0 {
		desc := describeRegions(small)
		keep := "keep the embedded SQLite datastore"
		allSQLite := true
		for _, r := range small {
			allSQLite = allSQLite && strings.EqualFold(r.Datastore, "sqlite")
		}
		if allSQLite {
			keep = "keep the embedded SQLite datastore the plan uses"
		}
		// "K0s usa etcd por defecto": etcd attributed to another distribution.
		hedges := compileAll("kine", "etcd api", "api de etcd", "api etcd", "etcd compatible", "shim",
			"default", "defecto", "upstream")
		for _, t := range distributions {
			if !distKnown || t.name != dist.name {
				hedges = append(hedges, compileAll(t.specs...)...)
			}
		}
		for _, it := range fullKubernetes {
			hedges = append(hedges, it.pats.pats...)
		}
		rules = append(rules, newRule(rule{
			id:   RuleEtcdOnSmallNode,
			mode: mention,
			items: []item{
				{name: "etcd", pats: newMatcher("etcd", "etcd3", "etcdctl")},
				{name: "embedded etcd (--cluster-init)", pats: newMatcher("cluster init")},
			},
			hedges: newMatcherOf(hedges),
			message: func(it item) string {
				return fmt.Sprintf("The document recommends %s, but %s too small for it (etcd needs 3 servers and more memory); %s.", it.name, desc, keep)
			},
		}))
	}

	rules = append(rules, newRule(rule{
		id:    RuleServiceMesh,
		mode:  mention,
		items: serviceMeshes,
		message: func(it item) string {
			if it.name == "a service mesh" {
				return "The document recommends a service mesh, which is too heavy for these edge nodes."
			}
			return fmt.Sprintf("The document recommends %s, a service mesh too heavy for these edge nodes.", it.name)
		},
	}))

	light := "a lightweight distribution such as K3s"
	if hasDist {
		light = "the lightweight " + dist.name + " the fleet uses"
	}
	rules = append(rules, newRule(rule{
		id:    RuleFullKubernetes,
		mode:  mention,
		items: fullKubernetes,
		message: func(it item) string {
			return fmt.Sprintf("The document recommends %s, a full Kubernetes control plane, for the edge nodes instead of %s.", it.name, light)
		},
	}))

	if hasDist {
		rules = append(rules, newRule(rule{
			id:       RuleOtherDistribution,
			mode:     choice,
			items:    others(distributions, dist, distKnown),
			expected: newMatcher(dist.specs...),
			category: newMatcher("distribucion* :", "distribution* :", "distro* :", "distribucion* de kubernetes :", "kubernetes distribution :"),
			message: func(it item) string {
				return fmt.Sprintf("The document chooses %s as the Kubernetes distribution, but the fleet uses %s.", it.name, dist.name)
			},
		}))
	}

	if hasGit {
		rules = append(rules, newRule(rule{
			id:       RuleOtherGitOps,
			mode:     choice,
			items:    others(gitopsTools, git, gitKnown),
			expected: newMatcher(git.specs...),
			category: newMatcher("gitops :", "gitops engine|tool|controller|agent :", "motor|herramienta|controlador|agente gitops :",
				"cd :", "fleet management :", "gestion de flota :"),
			message: func(it item) string {
				return fmt.Sprintf("The document chooses %s for GitOps, but the fleet uses %s.", it.name, git.name)
			},
		}))
	}

	agent := "the GitOps agent"
	if hasGit {
		agent = git.name
	}
	rules = append(rules, newRule(rule{
		id:     RulePushDeployment,
		mode:   mention,
		items:  pushItems,
		noCond: true,
		message: func(it item) string {
			return fmt.Sprintf("The document pushes to the edge clusters (%s), but the fleet is pull-based: %s on each cluster pulls from Git and no inbound port is opened.", it.name, agent)
		},
	}))
	return rules
}

// others returns the catalog's tools other than the fleet's own.
func others(cat []tool, own tool, known bool) []item {
	var out []item
	for _, t := range cat {
		if !known || t.name != own.name {
			out = append(out, item{name: t.name, pats: newMatcher(t.specs...)})
		}
	}
	return out
}

// smallRegions returns the regions too small for etcd: fewer than 3 nodes or
// at most 2048 MiB of memory per node.
func smallRegions(rs []RegionFacts) []RegionFacts {
	var out []RegionFacts
	for _, r := range rs {
		if (r.Nodes > 0 && r.Nodes < 3) || (r.MemoryMi > 0 && r.MemoryMi <= 2048) {
			out = append(out, r)
		}
	}
	return out
}

// describeRegions: `region "a" (2 nodes of 2048 MiB) is` or
// `regions "a" (...) and "b" (...) are`, at most three named.
func describeRegions(rs []RegionFacts) string {
	const max = 3
	var parts []string
	for i, r := range rs {
		if i == max {
			parts = append(parts, fmt.Sprintf("%d more", len(rs)-max))
			break
		}
		var d []string
		if r.Nodes > 0 {
			n := fmt.Sprintf("%d nodes", r.Nodes)
			if r.Nodes == 1 {
				n = "1 node"
			}
			if r.MemoryMi > 0 {
				n += fmt.Sprintf(" of %d MiB", r.MemoryMi)
			}
			d = append(d, n)
		} else if r.MemoryMi > 0 {
			d = append(d, fmt.Sprintf("%d MiB per node", r.MemoryMi))
		}
		parts = append(parts, fmt.Sprintf("%q (%s)", r.Name, strings.Join(d, ", ")))
	}
	if len(rs) == 1 {
		return "region " + parts[0] + " is"
	}
	list := strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
	return "regions " + list + " are"
}

// stance of a mention.
type stance uint8

const (
	neutral stance = iota
	negated
	conditional
	affirmed
)

// scan result of one direction.
type hit uint8

const (
	hitNone hit = iota
	hitNeg
	hitNegWord
	hitPost
	hitChoice
	hitExpected
	hitCond
)

// classify reads the cues around the match toks[s:e] of u. own marks the
// rule's own words (skipped: "ni Istio ni Linkerd"), exp the expected tool.
func classify(u *unit, s, e int, own, exp []bool, category []bool) stance {
	toks, ann := u.toks, u.ann
	stop := func(j int) bool { return toks[j].kind == tClause || ann[j]&cBoundary != 0 }

	// Backward: the nearest cue wins.
	back, bpos, count := hitNone, -1, 0
	for j := s - 1; j >= 0 && count < window; j-- {
		if stop(j) {
			break
		}
		if toks[j].kind == tColon {
			continue
		}
		a := ann[j]
		switch {
		case exp[j]:
			back = hitExpected
		case own[j]:
			continue
		case a&cNeg != 0:
			back = hitNeg
		case a&cChoice != 0 || category[j]:
			back, bpos = hitChoice, j
		}
		if back != hitNone {
			break
		}
		if !filler[toks[j].w] {
			count++
		}
	}
	if back == hitChoice {
		switch {
		case negatedBefore(u, bpos):
			back = hitNeg
		case expectedBefore(u, bpos, exp):
			back = hitExpected // "Flux was chosen over Argo CD"
		case cueBefore(u, bpos, cModal, choiceNegationDistance):
			back = hitNone // "K3s can run with embedded etcd"
		}
	}

	// Forward: the nearest cue within window wins, except that a rejection
	// predicate ("is too heavy", "queda descartado", "does not scale")
	// counts up to postWindow words away, past "but"/"pero".
	fwd, count, near := hitNone, 0, true
scan:
	for j := e; j < len(toks) && count < postWindow; j++ {
		t, a := toks[j], ann[j]
		switch {
		case t.kind == tClause:
			break scan
		case t.kind == tColon || own[j]:
			continue
		case a&cPost != 0:
			fwd = hitPost
			break scan
		case a&cBoundary != 0:
			near = false
			continue
		case a&cCondFwd != 0 && count < condWindow:
			fwd = hitCond
			break scan
		case exp[j]:
			if near && count < expectedNear {
				fwd = hitExpected
				break scan
			}
			near = false
		case !near || count >= window:
			near = false
		case a&cNegWord != 0:
			fwd = hitNegWord
			break scan
		case a&cPostChoice != 0:
			fwd = hitChoice
			break scan
		case a&cCondFwd != 0:
			near = false
		}
		if !filler[t.w] {
			count++
		}
	}

	// A condition anywhere before the match in its clause.
	condBefore := false
	for j := s - 1; j >= 0; j-- {
		if stop(j) {
			break
		}
		if ann[j]&cCond != 0 {
			condBefore = true
			break
		}
	}

	switch {
	case back == hitNeg || fwd == hitPost:
		return negated
	case condBefore || fwd == hitCond:
		return conditional
	case back == hitExpected || fwd == hitExpected:
		return neutral // "K3s o k0s", "con ArgoCD o Flux": not a choice of this one
	case back == hitChoice:
		return affirmed
	case fwd == hitNegWord:
		return negated
	case fwd == hitChoice:
		return affirmed
	}
	return neutral
}

// negatedBefore reports whether a negation precedes the word at j ("no
// recomendamos", "we do not use", "avoid using", "nunca se expone").
func negatedBefore(u *unit, j int) bool { return cueBefore(u, j, cNeg, choiceNegationDistance) }

// cueBefore reports whether c marks one of the max words before j.
func cueBefore(u *unit, j int, c cue, max int) bool {
	count := 0
	for k := j - 1; k >= 0 && count < max; k-- {
		if u.toks[k].kind == tClause || u.ann[k]&cBoundary != 0 {
			return false
		}
		if u.toks[k].kind == tColon {
			continue
		}
		if u.ann[k]&c != 0 {
			return true
		}
		if !filler[u.toks[k].w] {
			count++
		}
	}
	return false
}

// expectedBefore reports whether the expected tool comes right before the
// choice word at j: the choice is about it.
func expectedBefore(u *unit, j int, exp []bool) bool {
	count := 0
	for k := j - 1; k >= 0 && count < choiceNegationDistance; k-- {
		if u.toks[k].kind == tClause || u.ann[k]&cBoundary != 0 {
			return false
		}
		if exp[k] {
			return true
		}
		if u.toks[k].kind != tColon && !filler[u.toks[k].w] {
			count++
		}
	}
	return false
}

// hasCue reports whether some token of u carries c.
func (u *unit) hasCue(c cue) bool {
	for _, a := range u.ann {
		if a&c != 0 {
			return true
		}
	}
	return false
}

// clause returns the bounds of the clause of u around token i: between
// ';', sentence ends and words such as "pero", "but", "porque".
func clause(u *unit, i int) (lo, hi int) {
	stop := func(j int) bool { return u.toks[j].kind == tClause || u.ann[j]&cBoundary != 0 }
	lo, hi = i, i
	for lo > 0 && !stop(lo-1) {
		lo--
	}
	for hi < len(u.toks) && !stop(hi) {
		hi++
	}
	return lo, hi
}

// needsMet reports whether the clause toks[lo:hi] contains m's patterns and
// none of them is negated ("nunca se expone a Internet" does not count).
func needsMet(u *unit, m *matcher, lo, hi int) bool {
	spans := m.spans(u.toks[lo:hi])
	for _, sp := range spans {
		if cueBefore(u, lo+sp[0], cNeg, needsNegationDistance) {
			return false
		}
	}
	return len(spans) > 0
}

// mark returns, for each token of u, whether it is inside a match of m.
func mark(u *unit, m *matcher) []bool {
	out := make([]bool, len(u.toks))
	if m == nil {
		return out
	}
	for _, sp := range m.spans(u.toks) {
		for j := sp[0]; j < sp[1]; j++ {
			out[j] = true
		}
	}
	return out
}

// verdict is how one match of a rule reads.
type verdict struct {
	it        item
	tok       token // first token of the match
	st        stance
	explained bool // the unit explains or compares rather than recommends
}

// verdicts returns the matches of r in u, leftmost first.
func (r *rule) verdicts(u *unit) []verdict {
	var out []verdict
	own := mark(u, r.all)
	exp := mark(u, r.expected)
	cat := mark(u, r.category)
	explained := u.explains(r)
	type needKey struct {
		m  *matcher
		lo int
	}
	needs := map[needKey]bool{}
	for i := 0; i < len(u.toks); i++ {
		best, bestEnd := -1, 0
		for k, it := range r.items {
			if end, ok := it.pats.longestAt(u.toks, i); ok && end > bestEnd {
				best, bestEnd = k, end
			}
		}
		if best < 0 {
			continue
		}
		it := r.items[best]
		s, e := i, bestEnd
		i = e - 1
		if exp[s] {
			continue
		}
		if it.needs != nil {
			lo, hi := clause(u, s)
			met, ok := needs[needKey{it.needs, lo}]
			if !ok {
				met = needsMet(u, it.needs, lo, hi)
				needs[needKey{it.needs, lo}] = met
			}
			if !met {
				continue
			}
		}
		st := classify(u, s, e, own, exp, cat)
		if st == conditional && r.noCond {
			st = neutral
		}
		if st == neutral && r.mode == choice && u.task && !u.question && !u.hasCue(cCompare) && !anyTrue(exp) {
			st = affirmed // "## 2. Fleet management with Argo CD"
		}
		out = append(out, verdict{it: it, tok: u.toks[s], st: st, explained: explained})
	}
	return out
}

func anyTrue(bs []bool) bool {
	for _, b := range bs {
		if b {
			return true
		}
	}
	return false
}

// findings returns, for each unit of one block, the match of r to report,
// if any. A mention-mode match is reported when it is affirmed, or neutral
// in a unit that does not explain it and in a block where no other mention
// of the same item is rejected, conditional or explained ("SQLite over etcd:
// running etcd is wasteful. etcd is designed for consensus…").
func (r *rule) findings(block []*unit) []verdict {
	if len(block) == 0 || block[0].reject {
		return nil
	}
	all := make([][]verdict, len(block))
	explainedItems := map[string]bool{}
	for k, u := range block {
		all[k] = r.verdicts(u)
		for _, v := range all[k] {
			if v.st == negated || v.st == conditional || (v.st == neutral && v.explained) {
				explainedItems[v.it.name] = true
			}
		}
	}
	var out []verdict
	for _, vs := range all {
		for _, v := range vs {
			if v.st == affirmed || (v.st == neutral && r.mode == mention && !v.explained && !explainedItems[v.it.name]) {
				out = append(out, v)
				break
			}
		}
	}
	return out
}

// explains reports whether u reads as an explanation or comparison rather
// than a recommendation: a question, a comparison table row, comparison
// words, or words about cost ("requiere", "heavy") or the rule's hedges.
func (u *unit) explains(r *rule) bool {
	if u.question || u.table3 || u.hasCue(cHedge|cCompare) {
		return true
	}
	return r.hedges != nil && r.hedges.in(u.toks)
}
