package generator

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/fleetgen/fleetgen/generator/design"
	"github.com/fleetgen/fleetgen/generator/prompt"
)

// decisionsTemplate returns the decisions block the Pro prompt asks for,
// unindented, with its fence.
func decisionsTemplate(t *testing.T, text string) string {
	t.Helper()
	m := regexp.MustCompile("(?s)\n  (```yaml\n.*?\n  ```)\n").FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no decisions block in the prompt:\n%s", text)
	}
	return strings.ReplaceAll(m[1], "\n  ", "\n") + "\n"
}

// The block the prompt asks for, filled as the plan decided, passes design
// check exactly for every example; left unfilled, or filled otherwise, it
// is an error naming the field.
func TestPromptDecisionsBlockRoundTrip(t *testing.T) {
	for _, name := range []string{"offshore-platforms", "smart-factory", "cargo-ships"} {
		t.Run(name, func(t *testing.T) {
			res := planExample(t, name)
			f := DesignFacts(res)
			for _, lang := range prompt.Langs() {
				text, err := RenderPrompt(res, prompt.Pro, lang, true)
				if err != nil {
					t.Fatal(err)
				}
				tmpl := decisionsTemplate(t, text)
				doc := "# D\n## 1. Distribution\n## 2. Fleet\n## 3. Resilience\n## 4. Security\n\n"

				rep, err := design.Check([]byte(doc+tmpl), f)
				if err != nil || len(rep.Errors) == 0 || rep.Errors[0].Rule != design.RuleDecisionsInvalid ||
					!strings.Contains(rep.Errors[0].Message, `"k3s | k0s | microk8s" is not one of k3s, k0s, microk8s`) {
					t.Errorf("%s: the unfilled template: %v %+v", lang, err, rep.Errors)
				}

				filled := strings.NewReplacer("k3s | k0s | microk8s", f.Distribution, "flux | argocd", f.GitOps,
					"git | oci", f.Delivery).Replace(tmpl)
				for _, r := range f.Regions {
					filled = strings.Replace(filled, r.Name+": {datastore: sqlite | etcd | dqlite", r.Name+": {datastore: "+r.Datastore, 1)
				}
				rep, err = design.Check([]byte(doc+filled), f)
				if err != nil || !rep.OK() || rep.Decisions == nil || len(rep.Decisions.Regions) != len(res.Decisions) {
					t.Errorf("%s: the block filled as planned: %v %+v %+v\n%s", lang, err, rep.Errors, rep.Warnings, filled)
				}

				other := map[string]string{"sqlite": "etcd", "etcd": "sqlite"}[f.Regions[0].Datastore]
				wrong := strings.Replace(filled, "datastore: "+f.Regions[0].Datastore, "datastore: "+other, 1)
				rep, _ = design.Check([]byte(doc+wrong), f)
				want := fmt.Sprintf("region %q: datastore is %s in the decisions block, but the plan uses %s", f.Regions[0].Name, other, f.Regions[0].Datastore)
				if len(rep.Errors) != 1 || rep.Errors[0].Region != f.Regions[0].Name || !strings.Contains(rep.Errors[0].Message, want) {
					t.Errorf("%s: a wrong datastore: %+v", lang, rep.Errors)
				}
			}
		})
	}
}

func TestDesignFacts(t *testing.T) {
	f := DesignFacts(planExample(t, "cargo-ships"))
	if f.Distribution != "k3s" || f.GitOps != "flux" || f.Delivery != "oci" || len(f.Regions) == 0 {
		t.Errorf("cargo-ships facts: %+v", f)
	}
	f = DesignFacts(planExample(t, "smart-factory"))
	if f.Delivery != "git" || f.Regions[0].Datastore != "etcd" || f.Regions[0].Nodes != 3 {
		t.Errorf("smart-factory facts: %+v", f)
	}
}
