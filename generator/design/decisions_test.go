package design

import (
	"fmt"
	"strings"
	"testing"
)

// offshorePlan: the offshore example's shape, a small region on SQLite and a
// larger one on etcd, delivered from git.
var offshorePlan = Facts{
	Distribution: "k3s", GitOps: "flux", Delivery: "git",
	Regions: []RegionFacts{
		{Name: "north-sea", Nodes: 1, MemoryMi: 2048, Datastore: "sqlite"},
		{Name: "onshore-hub", Nodes: 3, MemoryMi: 8192, Datastore: "etcd"},
	},
}

// withBlock is a short design document (four task sections, nothing the
// heuristics flag) ending with the decisions block yml; the block's first
// YAML line is line 12.
func withBlock(yml string) string {
	return "# Design\n\n## 1. Distribution\n\nK3s.\n\n## 2. Fleet management\n\n## 3. Resilience\n\n```yaml\n" + yml + "```\n\n## 4. Node security\n"
}

const goodBlock = `fleetgen-decisions:
  distribution: k3s
  gitops: flux
  delivery: git
  regions:
    north-sea: {datastore: sqlite}
    onshore-hub:
      datastore: etcd
`

// errs lists the errors as "LINE RULE REGION FIELD want=W got=G".
func errs(rep Report) []string {
	var out []string
	for _, e := range rep.Errors {
		out = append(out, fmt.Sprintf("%d %s %s %s want=%s got=%s", e.Line, e.Rule, e.Region, e.Field, e.Want, e.Got))
	}
	return out
}

func TestDecisionsMatch(t *testing.T) {
	rep, err := Check([]byte(withBlock(goodBlock)), offshorePlan)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("a matching block: %v %v\n%s", errs(rep), rep.Warnings, text(t, rep, "doc.md"))
	}
	if rep.Decisions == nil || rep.Decisions.Line != 12 || rep.Decisions.Fleet[FieldDistribution].Value != "k3s" ||
		rep.Decisions.Regions["onshore-hub"].Values[FieldDatastore] != (DecisionValue{Value: "etcd", Line: 19}) {
		t.Errorf("decisions read: %+v", rep.Decisions)
	}
	if got := text(t, rep, "doc.md"); got != "doc.md: no contradiction with the plan found; decisions block matches the plan; 4 of 4 task sections present\n" {
		t.Errorf("text: %q", got)
	}
	// Spellings an assistant uses, per-region values over fleet-wide ones,
	// and "~~~yml" fences are the same block.
	alt := "~~~yml\n# what we chose\nfleetgen-decisions:\n  distribution: K3s\n  gitops: FluxCD\n  datastore: etcd\n  delivery: Git\n  regions:\n    north-sea: {datastore: SQLite}\n~~~\n"
	rep, err = Check([]byte(strings.Replace(withBlock(""), "```yaml\n```\n", alt, 1)), offshorePlan)
	if err != nil || len(rep.Errors) != 0 || rep.Decisions == nil {
		t.Errorf("alternative spellings: %v %v", err, errs(rep))
	}
	// The fleet's own choices are the expected ones: a k0s + Argo CD block
	// passes against a k0s + Argo CD fleet, and fails against K3s + Flux.
	k0s := offshorePlan
	k0s.Distribution, k0s.GitOps = "k0s", "Argo CD"
	k0sBlock := strings.Replace(strings.Replace(goodBlock, "k3s", "k0s", 1), "flux", "argocd", 1)
	if rep, _ := Check([]byte(withBlock(k0sBlock)), k0s); len(rep.Errors) != 0 {
		t.Errorf("k0s block against a k0s fleet: %v", errs(rep))
	}
	rep, _ = Check([]byte(withBlock(k0sBlock)), offshorePlan)
	want := []string{
		"13 decision-mismatch  distribution want=k3s got=k0s",
		"14 decision-mismatch  gitops want=flux got=argocd",
	}
	if fmt.Sprint(errs(rep)) != fmt.Sprint(want) {
		t.Errorf("k0s block against the K3s fleet:\n got %q\nwant %q", errs(rep), want)
	}
}

func TestDecisionsMismatch(t *testing.T) {
	for _, c := range []struct {
		name, block string
		want        []string
		msg         string
	}{
		{"distribution", strings.Replace(goodBlock, "distribution: k3s", "distribution: microk8s", 1),
			[]string{"13 decision-mismatch  distribution want=k3s got=microk8s"},
			"distribution is microk8s in the decisions block (fleet-wide), but the plan uses k3s in every region."},
		{"gitops", strings.Replace(goodBlock, "gitops: flux", "gitops: Argo CD", 1),
			[]string{"14 decision-mismatch  gitops want=flux got=argocd"}, "gitops is argocd"},
		{"delivery", strings.Replace(goodBlock, "delivery: git", "delivery: oci", 1),
			[]string{"15 decision-mismatch  delivery want=git got=oci"}, "delivery is oci"},
		{"region datastore", strings.Replace(goodBlock, "{datastore: sqlite}", "{datastore: etcd}", 1),
			[]string{"17 decision-mismatch north-sea datastore want=sqlite got=etcd"},
			`region "north-sea": datastore is etcd in the decisions block, but the plan uses sqlite (1 node of 2048 MiB per cluster).`},
		// A fleet-wide value wrong for one region only names that region.
		{"fleet-wide datastore", "fleetgen-decisions:\n  distribution: k3s\n  gitops: flux\n  delivery: git\n  datastore: etcd\n",
			[]string{"16 decision-mismatch north-sea datastore want=sqlite got=etcd"},
			`region "north-sea": datastore is etcd in the decisions block (fleet-wide), but the plan uses sqlite`},
		{"region override wins", strings.Replace(goodBlock, "{datastore: sqlite}", "{datastore: sqlite, delivery: oci}", 1),
			[]string{"17 decision-mismatch north-sea delivery want=git got=oci"}, `region "north-sea": delivery is oci`},
		{"unknown region", goodBlock + "    south-pole: {datastore: sqlite}\n",
			[]string{"20 decision-mismatch south-pole regions want= got="},
			`region "south-pole" is not in the plan (its regions: north-sea, onshore-hub).`},
		{"missing value", strings.Replace(goodBlock, "      datastore: etcd\n", "      delivery: git\n", 1),
			[]string{"12 decisions-malformed onshore-hub datastore want=etcd got="},
			`region "onshore-hub" has no datastore (neither regions.onshore-hub.datastore nor a fleet-wide datastore); the plan uses etcd.`},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep, err := Check([]byte(withBlock(c.block)), offshorePlan)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(errs(rep)) != fmt.Sprint(c.want) {
				t.Fatalf("errors:\n got %q\nwant %q", errs(rep), c.want)
			}
			if !strings.Contains(rep.Errors[0].Message, c.msg) {
				t.Errorf("message %q lacks %q", rep.Errors[0].Message, c.msg)
			}
			if len(rep.Warnings) != 0 {
				t.Errorf("the block is read exactly, not by the heuristics: %v", rep.Warnings)
			}
		})
	}
}

func TestDecisionsMalformedOrAbsent(t *testing.T) {
	for _, c := range []struct{ name, doc, want, msg string }{
		{"bad yaml", withBlock("fleetgen-decisions:\n  distribution: [k3s\n"), "decisions-malformed", "not valid YAML"},
		{"unknown key", withBlock(strings.Replace(goodBlock, "gitops:", "engine:", 1)), "14 decisions-malformed",
			`fleetgen-decisions: unknown key "engine" (known: distribution, gitops, datastore, delivery, regions)`},
		{"unknown value", withBlock(strings.Replace(goodBlock, "k3s", "rke2", 1)), "13 decisions-malformed",
			`fleetgen-decisions.distribution: "rke2" is not one of k3s, k0s, microk8s`},
		{"region not a mapping", withBlock(strings.Replace(goodBlock, "{datastore: sqlite}", "sqlite", 1)), "17 decisions-malformed",
			"regions.north-sea must be a mapping"},
		{"list value", withBlock(strings.Replace(goodBlock, "delivery: git", "delivery: [git, oci]", 1)), "15 decisions-malformed",
			"fleetgen-decisions.delivery must be one of git, oci"},
		{"twice", withBlock(goodBlock) + "\n```yaml\n" + goodBlock + "```\n", "24 decisions-malformed", "2 decisions blocks (lines 11, 24)"},
		{"not fenced", "# Design\n\nfleetgen-decisions:\n  distribution: k3s\n", "3 decisions-malformed", "is not inside a fenced code block"},
		{"not yaml", strings.Replace(withBlock(goodBlock), "```yaml", "```json", 1), "11 decisions-malformed", `fenced as "json"`},
		{"extra top key", withBlock(goodBlock + "notes: x\n"), "20 decisions-malformed", `unexpected key "notes"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep, err := Check([]byte(c.doc), offshorePlan)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Errors) == 0 {
				t.Fatalf("no error for a malformed block\n%s", text(t, rep, "doc.md"))
			}
			e := rep.Errors[0]
			if got := fmt.Sprintf("%d %s", e.Line, e.Rule); !strings.HasSuffix(got, c.want) {
				t.Errorf("error at %q, want %q: %s", got, c.want, e.Message)
			}
			if !strings.Contains(e.Message, c.msg) {
				t.Errorf("message %q lacks %q", e.Message, c.msg)
			}
			if rep.Decisions != nil {
				t.Errorf("a malformed block is not reported as read: %+v", rep.Decisions)
			}
		})
	}

	// Absent: one warning, no error; the heuristics still run.
	rep, err := Check([]byte(wrap("Usaremos Istio.")), offshorePlan)
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, w := range rep.Warnings {
		rules = append(rules, fmt.Sprintf("%d %s", w.Line, w.Rule))
	}
	if len(rep.Errors) != 0 || fmt.Sprint(rules) != "[0 decisions-missing 4 service-mesh]" {
		t.Errorf("absent block: errors %v, warnings %v", errs(rep), rules)
	}
	if got := text(t, rep, "doc.md"); !strings.Contains(got, "doc.md: warning: decisions-missing: No decisions block") ||
		!strings.HasSuffix(got, "doc.md: 0 errors, 2 warnings; no decisions block; 4 of 4 task sections present\n") {
		t.Errorf("text:\n%s", got)
	}
}
