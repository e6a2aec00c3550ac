package check

import (
	"regexp"
	"sort"
	"strings"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// substituteAnnotation on an object (annotation or label) with the value
// "disabled" makes Flux skip its variable substitution.
const substituteAnnotation = "kustomize.toolkit.fluxcd.io/substitute"

// varNameRE is the variable name syntax Flux accepts.
var varNameRE = regexp.MustCompile(`^[_[:alpha:]][_[:alpha:][:digit:]]*$`)

// varUse is a variable that must be provided, and the first object using it.
type varUse struct {
	name   string
	object string // "Kind namespace/name"
}

// usedVars lists the ${VAR} the rendered unit needs (those without a
// default), computed once per unit. Not safe for concurrent use.
func (u *unit) usedVars() []varUse {
	if u.varsDone {
		return u.vars
	}
	u.varsDone = true
	seen := map[string]bool{}
	for _, o := range u.objs {
		for _, name := range o.vars {
			if !seen[name] {
				seen[name] = true
				u.vars = append(u.vars, varUse{name: name, object: o.id()})
			}
		}
	}
	sort.Slice(u.vars, func(i, j int) bool { return u.vars[i].name < u.vars[j].name })
	return u.vars
}

// nodeVars appends the ${VAR} uses of every key and scalar value under n
// (see scanVars). Flux runs envsubst over the object's YAML text; scanning
// the scalars finds the same names without serializing every object again
// (which was a third of checking a one-region regeneration).
func nodeVars(n *kyaml.Node, out []string) []string {
	if n == nil {
		return out
	}
	if n.Kind == kyaml.ScalarNode {
		return append(out, scanVars(n.Value)...)
	}
	for _, c := range n.Content {
		out = nodeVars(c, out)
	}
	return out
}

// scanVars returns, in order of appearance, the names of the ${VAR}
// expressions in s that Flux's envsubst would need a value for: "$${...}" is
// an escaped literal, and ${VAR:=x}, ${VAR:-x}, ${VAR=x}, ${VAR-x} carry a
// default. Other operators (${VAR:2}, ${VAR/a/b}, ${VAR^}...) need VAR.
func scanVars(s string) []string {
	var out []string
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			continue
		}
		switch s[i+1] {
		case '$':
			i++ // "$$" is a literal "$"
			continue
		case '{':
		default:
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			break
		}
		expr := s[i+2 : i+2+end]
		i += 2 + end
		n := 0
		for n < len(expr) && (expr[n] == '_' || isAlnum(expr[n])) {
			n++
		}
		name, op := expr[:n], expr[n:]
		if !varNameRE.MatchString(name) {
			continue
		}
		if strings.HasPrefix(op, ":=") || strings.HasPrefix(op, ":-") ||
			strings.HasPrefix(op, "=") || strings.HasPrefix(op, "-") {
			continue
		}
		out = append(out, name)
	}
	return out
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// ScanVars is scanVars for the planner: the ${VAR}s in s that Flux needs a
// value for (no default, not escaped).
func ScanVars(s string) []string { return scanVars(s) }
