package design

import (
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The decisions block is the machine-readable summary the Pro prompt asks the
// assistant to end its answer with: a fenced YAML block whose only key is
// DecisionsKey. Check reads it and compares it exactly with the plan; the
// prose heuristics only warn.
//
//	```yaml
//	fleetgen-decisions:
//	  distribution: k3s      # k3s | k0s | microk8s
//	  gitops: flux           # flux | argocd
//	  regions:
//	    north-sea: {datastore: sqlite, delivery: git}   # sqlite | etcd | dqlite; git | oci
//	```
//
// Any of the four fields may be given fleet-wide (under DecisionsKey) or per
// region (under regions.<name>); a region's own value wins.
const DecisionsKey = "fleetgen-decisions"

// Rule ids of the decisions block (Finding.Rule).
const (
	RuleDecisionMismatch = "decision-mismatch"   // error: the block says otherwise than the plan
	RuleDecisionsInvalid = "decisions-malformed" // error: the block cannot be read, or lacks a value
	RuleDecisionsMissing = "decisions-missing"   // warning: no block; only the heuristics ran
)

// decisionFieldRegions is the key of the per-region values.
const decisionFieldRegions = "regions"

// Decision fields, in the order they are checked and reported.
const (
	FieldDistribution = "distribution"
	FieldGitOps       = "gitops"
	FieldDatastore    = "datastore"
	FieldDelivery     = "delivery"
)

// DecisionFields returns the fields of the block in order.
func DecisionFields() []string {
	return []string{FieldDistribution, FieldGitOps, FieldDatastore, FieldDelivery}
}

// decisionValues are the values each field accepts, as written in the
// prompt; aliases maps other spellings (lower case, without spaces, dashes
// or underscores) to them.
var decisionValues = map[string][]string{
	FieldDistribution: {"k3s", "k0s", "microk8s"},
	FieldGitOps:       {"flux", "argocd"},
	FieldDatastore:    {"sqlite", "etcd", "dqlite"},
	FieldDelivery:     {"git", "oci"},
}

var decisionAliases = map[string]string{
	"fluxcd": "flux", "flux2": "flux", "fluxv2": "flux", "argo": "argocd",
}

// Decisions is the block as read: fleet-wide values and per-region ones,
// each with its line in the file.
type Decisions struct {
	Line    int                        `json:"line"` // line of the "fleetgen-decisions:" key
	Fleet   map[string]DecisionValue   `json:"fleet"`
	Regions map[string]RegionDecisions `json:"regions"`
	order   []string                   // region names in the order written
}

// RegionDecisions are the values given for one region.
type RegionDecisions struct {
	Line   int                      `json:"line"`
	Values map[string]DecisionValue `json:"values"`
}

// DecisionValue is one value of the block and its line.
type DecisionValue struct {
	Value string `json:"value"`
	Line  int    `json:"line"`
}

// effective returns the value of field for region r: the region's own, else
// the fleet-wide one.
func (d *Decisions) effective(region, field string) (DecisionValue, bool, bool) {
	if rd, ok := d.Regions[region]; ok {
		if v, ok := rd.Values[field]; ok {
			return v, true, false
		}
	}
	v, ok := d.Fleet[field]
	return v, ok, ok
}

var (
	reFenceOpen = lazyRegexp("^ {0,3}(`{3,}|~{3,})[ \t]*([^ \t`]*)")
	reYAMLError = lazyRegexp(`^yaml: line (\d+): (.*)$`)
)

// fencedBlock is a fenced code block of the document.
type fencedBlock struct {
	start int // 0-based index of the opening fence line
	info  string
	body  []string
}

// fencedBlocks returns the fenced code blocks after the front matter.
func fencedBlocks(lines []string, from int) []fencedBlock {
	var out []fencedBlock
	for i := from; i < len(lines); i++ {
		m := reFenceOpen().FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		b := fencedBlock{start: i, info: strings.ToLower(m[2])}
		mark := m[1]
		j := i + 1
		for ; j < len(lines); j++ {
			t := strings.TrimSpace(lines[j])
			if strings.HasPrefix(t, mark) && strings.Trim(t, mark[:1]) == "" {
				break
			}
			b.body = append(b.body, lines[j])
		}
		out = append(out, b)
		i = j
	}
	return out
}

// findDecisions locates the decisions block. It returns nil and no finding
// when the document has none; a finding when it has a broken one.
func findDecisions(lines []string, from int) (*Decisions, []Finding) {
	var found []fencedBlock
	inFence := map[int]bool{}
	for _, b := range fencedBlocks(lines, from) {
		for k := range b.body {
			inFence[b.start+1+k] = true
		}
		if firstKey(b.body) == DecisionsKey {
			found = append(found, b)
		}
	}
	if len(found) == 0 {
		// A block written without its fence is reported, not ignored.
		for i := from; i < len(lines); i++ {
			if !inFence[i] && strings.HasPrefix(strings.TrimSpace(lines[i]), DecisionsKey+":") {
				return nil, []Finding{malformed(i+1, fmt.Sprintf("%q is not inside a fenced code block; write the block as ```yaml ... ```", DecisionsKey+":"), lines[i])}
			}
		}
		return nil, nil
	}
	if len(found) > 1 {
		var at []string
		for _, b := range found {
			at = append(at, fmt.Sprint(b.start+1))
		}
		return nil, []Finding{malformed(found[1].start+1, fmt.Sprintf("%d decisions blocks (lines %s); keep one, at the end of the answer", len(found), strings.Join(at, ", ")), lines[found[1].start])}
	}
	b := found[0]
	if b.info != "" && b.info != "yaml" && b.info != "yml" {
		return nil, []Finding{malformed(b.start+1, fmt.Sprintf("the decisions block is fenced as %q; it must be YAML (```yaml)", b.info), lines[b.start])}
	}
	return parseDecisions(b.body, b.start+2)
}

// firstKey returns the key of the first line of body that is not blank or a
// comment, "" if that line is not "key:".
func firstKey(body []string) string {
	for _, l := range body {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		k, _, ok := strings.Cut(t, ":")
		if !ok {
			return ""
		}
		return strings.Trim(strings.TrimSpace(k), `"'`)
	}
	return ""
}

func malformed(line int, msg, src string) Finding {
	return Finding{Line: line, Rule: RuleDecisionsInvalid, Message: "decisions block: " + msg + ".", Excerpt: excerpt(src)}
}

// parseDecisions reads the YAML body of the block; first is the file line of
// body[0].
func parseDecisions(body []string, first int) (*Decisions, []Finding) {
	src := strings.Join(body, "\n")
	at := func(n *yaml.Node) int { return first + n.Line - 1 }
	text := func(line int) string {
		if i := line - first; i >= 0 && i < len(body) {
			return body[i]
		}
		return ""
	}
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(src), &root); err != nil {
		line, msg := first, err.Error()
		if m := reYAMLError().FindStringSubmatch(msg); m != nil {
			var n int
			fmt.Sscan(m[1], &n)
			line, msg = first+n-1, m[2]
		}
		return nil, []Finding{malformed(line, "not valid YAML: "+strings.TrimPrefix(msg, "yaml: "), text(line))}
	}
	var errs []Finding
	bad := func(n *yaml.Node, format string, args ...any) {
		errs = append(errs, malformed(at(n), fmt.Sprintf(format, args...), text(at(n))))
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if doc.Kind != yaml.MappingNode {
		bad(doc, "expected a mapping with the single key %q", DecisionsKey)
		return nil, errs
	}
	d := &Decisions{Fleet: map[string]DecisionValue{}, Regions: map[string]RegionDecisions{}}
	var top *yaml.Node
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], doc.Content[i+1]
		if k.Value != DecisionsKey {
			bad(k, "unexpected key %q beside %q", k.Value, DecisionsKey)
			continue
		}
		d.Line, top = at(k), v
	}
	if top == nil {
		return nil, errs
	}
	if top.Kind != yaml.MappingNode {
		bad(top, "%q must hold a mapping (distribution, gitops, datastore, delivery, regions)", DecisionsKey)
		return nil, errs
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		if seen[k.Value] {
			bad(k, "%s is given twice", k.Value)
			continue
		}
		seen[k.Value] = true
		if k.Value == decisionFieldRegions {
			d.readRegions(v, at, bad)
			continue
		}
		if dv, ok := readValue(DecisionsKey, k, v, at, bad); ok {
			d.Fleet[k.Value] = dv
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return d, nil
}

type badFunc func(n *yaml.Node, format string, args ...any)

func (d *Decisions) readRegions(v *yaml.Node, at func(*yaml.Node) int, bad badFunc) {
	if v.Kind != yaml.MappingNode {
		bad(v, "regions must map each region's name to its decisions, e.g. \"north-sea: {datastore: sqlite, delivery: git}\"")
		return
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		rk, rv := v.Content[i], v.Content[i+1]
		name := rk.Value
		if _, dup := d.Regions[name]; dup {
			bad(rk, "region %q is given twice", name)
			continue
		}
		rd := RegionDecisions{Line: at(rk), Values: map[string]DecisionValue{}}
		if rv.Kind != yaml.MappingNode {
			bad(rv, "regions.%s must be a mapping of distribution, gitops, datastore, delivery", name)
			continue
		}
		for j := 0; j+1 < len(rv.Content); j += 2 {
			fk, fv := rv.Content[j], rv.Content[j+1]
			if _, dup := rd.Values[fk.Value]; dup {
				bad(fk, "regions.%s.%s is given twice", name, fk.Value)
				continue
			}
			if dv, ok := readValue("regions."+name, fk, fv, at, bad); ok {
				rd.Values[fk.Value] = dv
			}
		}
		d.Regions[name] = rd
		d.order = append(d.order, name)
	}
}

// readValue checks one "field: value" pair.
func readValue(parent string, k, v *yaml.Node, at func(*yaml.Node) int, bad badFunc) (DecisionValue, bool) {
	allowed, known := decisionValues[k.Value]
	if !known {
		keys := DecisionFields()
		if parent == DecisionsKey {
			keys = append(keys, decisionFieldRegions)
		}
		bad(k, "%s: unknown key %q (known: %s)", parent, k.Value, strings.Join(keys, ", "))
		return DecisionValue{}, false
	}
	if v.Kind != yaml.ScalarNode || strings.TrimSpace(v.Value) == "" {
		bad(v, "%s.%s must be one of %s", parent, k.Value, strings.Join(allowed, ", "))
		return DecisionValue{}, false
	}
	val := normValue(v.Value)
	for _, a := range allowed {
		if a == val {
			return DecisionValue{Value: val, Line: at(v)}, true
		}
	}
	bad(v, "%s.%s: %q is not one of %s", parent, k.Value, v.Value, strings.Join(allowed, ", "))
	return DecisionValue{}, false
}

// normValue: "Argo CD" -> "argocd", "K3s" -> "k3s", "FluxCD" -> "flux".
func normValue(s string) string {
	s = strings.NewReplacer(" ", "", "-", "", "_", "").Replace(strings.ToLower(strings.TrimSpace(s)))
	if a, ok := decisionAliases[s]; ok {
		return a
	}
	return s
}

// planValue returns what the plan says for field in region r; "" when the
// facts do not say.
func planValue(f Facts, r RegionFacts, field string) string {
	pick := func(region, fleet string) string {
		if region != "" {
			return normValue(region)
		}
		return normValue(fleet)
	}
	switch field {
	case FieldDistribution:
		return pick(r.Distribution, f.Distribution)
	case FieldGitOps:
		return pick(r.GitOps, f.GitOps)
	case FieldDatastore:
		return normValue(r.Datastore)
	case FieldDelivery:
		return pick(r.Delivery, f.Delivery)
	}
	return ""
}

// verifyDecisions compares the block with the plan, exactly: every region of
// the plan must have a value for every field (its own or the fleet-wide
// one), equal to the plan's; a region the plan does not have is an error.
// A fleet-wide value that contradicts the plan in every region is one error
// on the fleet-wide line; otherwise each region is reported on its own.
func verifyDecisions(d *Decisions, f Facts, lines []string) []Finding {
	var errs []Finding
	src := func(line int) string {
		if line >= 1 && line <= len(lines) {
			return excerpt(lines[line-1])
		}
		return ""
	}
	planned := map[string]bool{}
	var names []string
	for _, r := range f.Regions {
		planned[r.Name] = true
		names = append(names, r.Name)
	}
	for _, name := range d.order {
		if !planned[name] {
			rd := d.Regions[name]
			errs = append(errs, Finding{Line: rd.Line, Rule: RuleDecisionMismatch, Region: name, Field: decisionFieldRegions,
				Message: fmt.Sprintf("decisions block: region %q is not in the plan (its regions: %s).", name, strings.Join(names, ", ")),
				Excerpt: src(rd.Line)})
		}
	}
	for _, field := range DecisionFields() {
		type miss struct {
			r    RegionFacts
			want string
			got  DecisionValue
		}
		var fleetWide []miss
		fleetWideRegions := 0
		for _, r := range f.Regions {
			want := planValue(f, r, field)
			if want == "" {
				continue
			}
			got, ok, inherited := d.effective(r.Name, field)
			if !ok {
				errs = append(errs, Finding{Line: d.Line, Rule: RuleDecisionsInvalid, Region: r.Name, Field: field, Want: want,
					Message: fmt.Sprintf("decisions block: region %q has no %s (neither regions.%s.%s nor a fleet-wide %s); the plan uses %s.", r.Name, field, r.Name, field, field, want),
					Excerpt: src(d.Line)})
				continue
			}
			if inherited {
				fleetWideRegions++
			}
			if got.Value == want {
				continue
			}
			if inherited {
				fleetWide = append(fleetWide, miss{r, want, got})
				continue
			}
			errs = append(errs, Finding{Line: got.Line, Rule: RuleDecisionMismatch, Region: r.Name, Field: field, Want: want, Got: got.Value,
				Message: fmt.Sprintf("region %q: %s is %s in the decisions block, but the plan uses %s%s.", r.Name, field, got.Value, want, why(r, field)),
				Excerpt: src(got.Line)})
		}
		if len(fleetWide) == 0 {
			continue
		}
		same := len(fleetWide) == fleetWideRegions
		for _, m := range fleetWide[1:] {
			same = same && m.want == fleetWide[0].want
		}
		if same && len(fleetWide) > 1 {
			m := fleetWide[0]
			errs = append(errs, Finding{Line: m.got.Line, Rule: RuleDecisionMismatch, Field: field, Want: m.want, Got: m.got.Value,
				Message: fmt.Sprintf("%s is %s in the decisions block (fleet-wide), but the plan uses %s in every region.", field, m.got.Value, m.want),
				Excerpt: src(m.got.Line)})
			continue
		}
		for _, m := range fleetWide {
			errs = append(errs, Finding{Line: m.got.Line, Rule: RuleDecisionMismatch, Region: m.r.Name, Field: field, Want: m.want, Got: m.got.Value,
				Message: fmt.Sprintf("region %q: %s is %s in the decisions block (fleet-wide), but the plan uses %s%s.", m.r.Name, field, m.got.Value, m.want, why(m.r, field)),
				Excerpt: src(m.got.Line)})
		}
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	return errs
}

// why explains a datastore decision from the region's hardware.
func why(r RegionFacts, field string) string {
	if field != FieldDatastore {
		return ""
	}
	switch {
	case r.Nodes > 0 && r.MemoryMi > 0:
		n := "nodes"
		if r.Nodes == 1 {
			n = "node"
		}
		return fmt.Sprintf(" (%d %s of %d MiB per cluster)", r.Nodes, n, r.MemoryMi)
	case r.Nodes > 0:
		return fmt.Sprintf(" (%d nodes per cluster)", r.Nodes)
	}
	return ""
}
