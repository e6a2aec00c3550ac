package design

import (
	"fmt"
	"strings"
	"testing"
)

// offshoreExample is the plan of the built-in offshore-platforms example:
// three regions of single 2 GB ARM64 nodes on SQLite, delivered from git.
var offshoreExample = Facts{
	Distribution: "k3s", GitOps: "flux", Delivery: "git",
	Regions: []RegionFacts{
		{Name: "north-sea", Nodes: 1, MemoryMi: 2048, Datastore: "sqlite"},
		{Name: "gulf-of-mexico", Nodes: 1, MemoryMi: 2048, Datastore: "sqlite"},
		{Name: "campos-basin", Nodes: 1, MemoryMi: 2048, Datastore: "sqlite"},
	},
}

// The realistic answers (as an assistant writes them for the offshore
// example) compare K3s, K0s and MicroK8s in a table, reject etcd, K0s,
// MicroK8s, Argo CD, kubeadm and service meshes in prose and in a verdict
// table ("descartamos", "en lugar de", "no recomendamos", "we rule it out",
// "rather than", ❌), and end with a decisions block that matches the plan.
// Two sentences contradict the plan, and only they are reported: a full
// three-member etcd cluster on the 2 GB single nodes (line 59) and an
// inbound port 6443 opened on every platform (line 66).
func TestRealisticAnswers(t *testing.T) {
	for _, name := range []string{"realistic.es.md", "realistic.en.md"} {
		t.Run(name, func(t *testing.T) {
			doc := readDoc(t, name)
			rep, err := Check(doc, offshoreExample)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Errors) != 0 || rep.Decisions == nil {
				t.Errorf("the decisions block matches the plan, got errors %v", errs(rep))
			}
			var got []string
			for _, w := range rep.Warnings {
				got = append(got, fmt.Sprintf("%d %s", w.Line, w.Rule))
			}
			want := []string{"59 " + RuleEtcdOnSmallNode, "66 " + RulePushDeployment}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("warnings:\n got %q\nwant %q\n%s", got, want, text(t, rep, name))
			}
			lines := strings.Split(string(doc), "\n")
			for _, s := range []string{"etcd", "6443"} {
				found := false
				for _, w := range rep.Warnings {
					found = found || strings.Contains(lines[w.Line-1], s)
				}
				if !found {
					t.Errorf("no warning on the line with %q", s)
				}
			}
			if !strings.Contains(rep.Warnings[0].Message, `regions "north-sea" (1 node of 2048 MiB), "gulf-of-mexico" (1 node of 2048 MiB) and "campos-basin" (1 node of 2048 MiB) are too small`) {
				t.Errorf("etcd message: %s", rep.Warnings[0].Message)
			}
			if rep.Sections[TaskDistribution] == 0 || rep.Sections[TaskNodeSecurity] == 0 || rep.Sections[TaskResilience] == 0 || rep.Sections[TaskFleetManagement] == 0 {
				t.Errorf("sections: %v", rep.Sections)
			}

			// Without the two sentences, nothing is left to report.
			var kept []string
			for i, l := range lines {
				if i+1 != 59 && i+1 != 66 {
					kept = append(kept, l)
				}
			}
			clean, err := Check([]byte(strings.Join(kept, "\n")), offshoreExample)
			if err != nil || !clean.OK() {
				t.Errorf("without the two contradictions: %v\n%s", err, text(t, clean, name))
			}

			// Against a k0s + Argo CD fleet the same answer is the contradiction:
			// exactly in the block, and in the prose ("Recomendamos K3s").
			k0s := offshoreExample
			k0s.Distribution, k0s.GitOps = "k0s", "argocd"
			rep, err = Check(doc, k0s)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(errs(rep)); !strings.Contains(got, "decision-mismatch  distribution want=k0s got=k3s") ||
				!strings.Contains(got, "decision-mismatch  gitops want=argocd got=flux") || len(rep.Errors) != 2 {
				t.Errorf("k0s/argocd fleet: errors %s", got)
			}
			rules := map[string]bool{}
			for _, w := range rep.Warnings {
				rules[w.Rule] = true
			}
			if !rules[RuleOtherDistribution] || !rules[RuleOtherGitOps] {
				t.Errorf("k0s/argocd fleet: warnings %v", rep.Warnings)
			}
		})
	}
}
