package design

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the .golden files of testdata")

// offshoreFacts: 2 GB single-board nodes offshore, and a larger onshore hub
// that could run etcd.
var offshoreFacts = Facts{
	Distribution: "k3s",
	GitOps:       "flux",
	Regions: []RegionFacts{
		{Name: "north-sea", Nodes: 2, MemoryMi: 2048, Datastore: "sqlite"},
		{Name: "onshore-hub", Nodes: 3, MemoryMi: 8192, Datastore: "etcd"},
	},
}

func readDoc(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// check runs Check for the heuristic tests: these documents have no
// decisions block, and the warning saying so (tested in decisions_test.go)
// is dropped.
func check(t testing.TB, doc []byte, f Facts) Report {
	t.Helper()
	rep, err := Check(doc, f)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return withoutMissingBlock(rep)
}

func withoutMissingBlock(rep Report) Report {
	ws := []Finding{}
	for _, w := range rep.Warnings {
		if w.Rule != RuleDecisionsMissing {
			ws = append(ws, w)
		}
	}
	rep.Warnings = ws
	return rep
}

func text(t testing.TB, rep Report, name string) string {
	t.Helper()
	var b strings.Builder
	if err := rep.WriteText(&b, name); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// lineRules lists the findings as "LINE RULE".
func lineRules(rep Report) []string {
	var out []string
	for _, f := range rep.Warnings {
		out = append(out, fmt.Sprintf("%d %s", f.Line, f.Rule))
	}
	return out
}

func TestConsistentDesigns(t *testing.T) {
	for _, c := range []struct {
		name     string
		sections map[string]int
	}{
		{"consistent.es.md", map[string]int{TaskDistribution: 5, TaskFleetManagement: 34, TaskResilience: 57, TaskNodeSecurity: 69}},
		// With a front matter of 3 lines: line numbers are the file's.
		{"consistent.en.md", map[string]int{TaskDistribution: 9, TaskFleetManagement: 35, TaskResilience: 55, TaskNodeSecurity: 65}},
		// Other styles of answer: tables, "Why not etcd?", "Service Mesh?", emoji.
		{"consistent2.en.md", map[string]int{TaskDistribution: 9, TaskFleetManagement: 38, TaskResilience: 75, TaskNodeSecurity: 97}},
		{"consistent2.es.md", map[string]int{TaskDistribution: 7, TaskFleetManagement: 24, TaskResilience: 48, TaskNodeSecurity: 56}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := check(t, readDoc(t, c.name), offshoreFacts)
			if !rep.OK() {
				t.Errorf("want no finding, got:\n%s", text(t, rep, c.name))
			}
			if fmt.Sprint(rep.Sections) != fmt.Sprint(c.sections) {
				t.Errorf("sections = %v, want %v", rep.Sections, c.sections)
			}
			want := c.name + ": no contradiction with the plan found; no decisions block; 4 of 4 task sections present\n"
			if got := text(t, rep, c.name); got != want {
				t.Errorf("text = %q, want %q", got, want)
			}
		})
	}
}

// The contradictory designs trigger every rule, on the lines written below,
// and nothing on their negated mentions ("no recomendamos k0s", "sin
// ArgoCD Image Updater", "we do not use MicroK8s", "Flux was ... discarded",
// "Sin Linkerd ni Consul Connect").
var contradictory = map[string][]string{
	"contradictory.es.md": {
		"0 missing-section:resilience",
		"5 other-distribution", // ## 1. Distribución recomendada: MicroK8s
		"8 etcd-on-small-node", // activamos etcd embebido con `--cluster-init`
		"9 full-kubernetes",    // desplegaremos Kubernetes estándar con kubeadm
		"13 other-gitops",      // Elegimos Argo CD como motor GitOps
		"14 push-deployment",   // El pipeline de CI ejecuta `kubectl apply` contra cada clúster
		"20 service-mesh",      // Instalaremos Istio
		"22 push-deployment",   // Abrimos el puerto 6443 del API server a Internet
	},
	"contradictory.en.md": {
		"0 missing-section:resilience",
		"7 other-distribution", // We recommend k0s
		"8 etcd-on-small-node", // enable embedded etcd with `--cluster-init`
		"9 full-kubernetes",    // will run vanilla Kubernetes installed with kubeadm
		"13 other-gitops",      // GitOps: Argo CD
		"14 push-deployment",   // A central Jenkins pipeline runs `kubectl apply` against every cluster
		"20 service-mesh",      // Deploy Istio
		"22 push-deployment",   // The API server (port 6443) is exposed to the internet
	},
	// Contradictions in a more natural wording.
	"contradictory2.en.md": {
		"3 other-distribution",  // ## 1. Distribution: MicroK8s
		"7 other-gitops",        // ## 2. Fleet Management with Argo CD
		"9 push-deployment",     // a central hub ... holds every cluster's credentials
		"10 service-mesh",       // A service mesh (Istio ambient mode) provides mTLS
		"14 etcd-on-small-node", // three K3s servers with embedded etcd
		"18 push-deployment",    // The Kubernetes API ... is published on a public IP
	},
	"contradictory2.es.md": {
		"5 other-distribution", // Nos quedamos con k0s
		"6 etcd-on-small-node", // tres servidores con etcd embebido
		"8 other-gitops",       // ## 2. Gestión de flota con Rancher Fleet
		"10 push-deployment",   // les envía los cambios con un modelo push
		"11 service-mesh",      // se despliega Linkerd
		"15 push-deployment",   // Si se cae el enlace, ... reaplica los manifiestos por SSH con Ansible
		"19 push-deployment",   // Se abre el puerto 6443 en el firewall
	},
}

func TestContradictoryDesigns(t *testing.T) {
	for name, want := range contradictory {
		t.Run(name, func(t *testing.T) {
			doc := readDoc(t, name)
			rep := check(t, doc, offshoreFacts)
			if got := lineRules(rep); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("findings:\n got %q\nwant %q\n%s", got, want, text(t, rep, name))
			}
			if rep.OK() {
				t.Error("OK() = true")
			}
			lines := strings.Split(string(doc), "\n")
			for _, f := range rep.Warnings {
				if f.Line == 0 {
					continue
				}
				if f.Excerpt == "" || !strings.HasPrefix(strings.Join(strings.Fields(lines[f.Line-1]), " "), strings.TrimSuffix(f.Excerpt, "…")) {
					t.Errorf("line %d: excerpt %q is not the line %q", f.Line, f.Excerpt, lines[f.Line-1])
				}
			}
			for _, f := range rep.Warnings {
				if f.Rule == RuleEtcdOnSmallNode && (!strings.Contains(f.Message, `region "north-sea" (2 nodes of 2048 MiB)`) || strings.Contains(f.Message, "onshore-hub")) {
					t.Errorf("etcd message does not name only the small region: %s", f.Message)
				}
			}
			golden := filepath.Join("testdata", strings.TrimSuffix(name, ".md")+".golden")
			got := text(t, rep, name)
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if b, err := os.ReadFile(golden); err != nil || string(b) != got {
				t.Errorf("text output differs from %s (go test -update to rewrite):\n%s", golden, got)
			}
		})
	}
}

func TestReportJSON(t *testing.T) {
	rep := check(t, readDoc(t, "contradictory.en.md"), offshoreFacts)
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		`"sections":{"distribution":5,"fleet-management":11,"node-security":18,"resilience":0}`,
		`{"line":0,"rule":"missing-section:resilience","message":`,
		`{"line":7,"rule":"other-distribution","message":"The document chooses k0s as the Kubernetes distribution, but the fleet uses K3s.","excerpt":"We recommend k0s`,
	} {
		if !bytes.Contains(b, []byte(s)) {
			t.Errorf("JSON lacks %s:\n%s", s, b)
		}
	}
	empty := check(t, readDoc(t, "consistent.es.md"), offshoreFacts)
	if b, _ := json.Marshal(empty); !bytes.Contains(b, []byte(`"warnings":[]`)) {
		t.Errorf("no findings must marshal as [], got %s", b)
	}
}

// A front matter is skipped, whatever it says, and line numbers stay those
// of the file.
func TestFrontMatterSkipped(t *testing.T) {
	doc := readDoc(t, "contradictory.en.md")
	fm := "---\n" +
		"title: We recommend Istio and kubectl apply from CI to every cluster\n" +
		"# Distribution: MicroK8s (a YAML comment, not a heading)\n" +
		"tags: [etcd, argocd]\n" +
		"---\n"
	base := check(t, doc, offshoreFacts)
	rep := check(t, append([]byte(fm), doc...), offshoreFacts)
	if len(rep.Warnings) != len(base.Warnings) {
		t.Fatalf("front matter changed the findings:\n%s", text(t, rep, "fm.md"))
	}
	for i, f := range rep.Warnings {
		want := base.Warnings[i].Line
		if want > 0 {
			want += 5
		}
		if f.Line != want || f.Rule != base.Warnings[i].Rule {
			t.Errorf("finding %d: line %d %s, want line %d %s", i, f.Line, f.Rule, want, base.Warnings[i].Rule)
		}
	}
	if rep.Sections[TaskDistribution] != 10 {
		t.Errorf("distribution heading at %d, want 10", rep.Sections[TaskDistribution])
	}

	// "..." also closes a front matter, and a BOM and CRLF line endings are fine.
	crlf := "\uFEFF---\r\ntitle: x\r\n...\r\n" + strings.ReplaceAll(string(doc), "\n", "\r\n")
	rep = check(t, []byte(crlf), offshoreFacts)
	if len(rep.Warnings) != len(base.Warnings) || rep.Warnings[1].Line != base.Warnings[1].Line+3 {
		t.Errorf("BOM + CRLF + '...':\n%s", text(t, rep, "crlf.md"))
	}

	// A front matter never closed is not one: "---" is a thematic break.
	open := "---\ntitle: draft\n\n" + string(doc)
	rep = check(t, []byte(open), offshoreFacts)
	if rep.Warnings[1].Line != base.Warnings[1].Line+3 {
		t.Errorf("unclosed front matter:\n%s", text(t, rep, "open.md"))
	}
}

func TestBadInputs(t *testing.T) {
	big := "# Title\n\n" + strings.Repeat("Texto de relleno sin más.\n", MaxSize/20)
	for _, c := range []struct {
		name string
		doc  string
		err  error
		msg  string
	}{
		{"empty", "", ErrEmpty, "empty"},
		{"whitespace", " \n\t\r\n  \n", ErrEmpty, "white space"},
		{"bom only", "\uFEFF\n", ErrEmpty, "white space"},
		{"front matter only", "---\nsource: x\n---\n\n", ErrEmpty, "only a front matter"},
		{"NUL", "# Title\n\x00\x01binary", ErrBinary, "NUL byte at offset 8"},
		{"invalid UTF-8", "# Título\n\xff\xfe", ErrBinary, "invalid UTF-8 at offset 10"},
		{"latin-1", "# Dise\xf1o\n", ErrBinary, "invalid UTF-8"},
		{"too large", big, ErrTooLarge, "the limit is 1048576 (1 MiB)"},
		{"no heading", "Recomendamos K3s.\n\n- Flux\n- SQLite\n", ErrNoHeading, "no Markdown heading"},
		{"hashtag", "#K3s #Flux\n", ErrNoHeading, "no Markdown heading"},
		{"heading only in code", "```sh\n# comment\n```\n", ErrNoHeading, "no Markdown heading"},
		{"heading only in front matter", "---\n# x\n---\ntext\n", ErrNoHeading, "no Markdown heading"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep, err := Check([]byte(c.doc), offshoreFacts)
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not say %q", err, c.msg)
			}
			if rep.Warnings != nil || rep.Sections != nil {
				t.Errorf("report must be empty on error: %+v", rep)
			}
		})
	}
	// Exactly MaxSize is accepted.
	doc := "# Title\n" + strings.Repeat("x", MaxSize-len("# Title\n"))
	if _, err := Check([]byte(doc), offshoreFacts); err != nil {
		t.Errorf("a document of MaxSize bytes: %v", err)
	}
}

func TestSections(t *testing.T) {
	for _, c := range []struct {
		name, doc string
		want      map[string]int
	}{
		{"english", "# Design\n## Distribution choice\n## GitOps strategy\n## Handling outages\n## Hardening\n",
			map[string]int{TaskDistribution: 2, TaskFleetManagement: 3, TaskResilience: 4, TaskNodeSecurity: 5}},
		{"spanish", "# Diseño\n## K3s vs K0s\n## Gestión de flota\n## Cortes de red y modo offline\n## Cifrado y Secure Boot\n",
			map[string]int{TaskDistribution: 2, TaskFleetManagement: 3, TaskResilience: 4, TaskNodeSecurity: 5}},
		{"accents and case", "# DISEÑO\n## DISTRIBUCIÓN\n## FLOTA\n## RESILIENCIA\n## SEGURIDAD\n",
			map[string]int{TaskDistribution: 2, TaskFleetManagement: 3, TaskResilience: 4, TaskNodeSecurity: 5}},
		{"setext", "Distribución\n============\n\nFlux y overlays\n---------------\n",
			map[string]int{TaskDistribution: 1, TaskFleetManagement: 4, TaskResilience: 0, TaskNodeSecurity: 0}},
		// The title names K3s and Flux; the sections that follow are preferred.
		{"title", "# K3s + Flux offline edge design\n## 1. Distribution\n## 2. Fleet\n## Security\n",
			map[string]int{TaskDistribution: 2, TaskFleetManagement: 3, TaskResilience: 1, TaskNodeSecurity: 4}},
		{"code fence", "# Design\n```yaml\n# Security settings\n## Distribution\n```\n~~~\n# Fleet\n~~~\n",
			map[string]int{TaskDistribution: 0, TaskFleetManagement: 0, TaskResilience: 0, TaskNodeSecurity: 0}},
		{"numbered and closing hashes", "# T\n### 3.1. Resilience ###\n#### IV. Zero-Trust\n",
			map[string]int{TaskDistribution: 0, TaskFleetManagement: 0, TaskResilience: 2, TaskNodeSecurity: 3}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := check(t, []byte(c.doc), Facts{})
			if fmt.Sprint(rep.Sections) != fmt.Sprint(c.want) {
				t.Errorf("sections = %v, want %v", rep.Sections, c.want)
			}
			var missing []string
			for _, task := range Tasks() {
				if c.want[task] == 0 {
					missing = append(missing, "0 "+RuleMissingSection+":"+task)
				}
			}
			if got := lineRules(rep); fmt.Sprint(got) != fmt.Sprint(missing) {
				t.Errorf("findings = %v, want %v", got, missing)
			}
		})
	}
}

// A section listing rejected options is not read as recommendations, up to
// the next heading of the same level.
func TestRejectedSection(t *testing.T) {
	doc := wrap("") + "### Alternativas descartadas\n\n- Istio: mTLS entre servicios.\n- Argo CD con ApplicationSets.\n\n" +
		"### Why not MicroK8s\n\nMicroK8s is the recommended distribution of Canonical.\n\n" +
		"## 5. Extras\n\nUsaremos Istio.\n"
	rep := check(t, []byte(doc), offshoreFacts)
	if got := lineRules(rep); fmt.Sprint(got) != "[22 service-mesh]" {
		t.Errorf("got %v, want only the Istio after the rejected sections\n%s", got, text(t, rep, "doc.md"))
	}
}

func TestFacts(t *testing.T) {
	etcd := []byte(wrap("Recomendamos etcd embebido con --cluster-init."))
	big := Facts{Distribution: "k3s", GitOps: "flux", Regions: []RegionFacts{{Name: "hub", Nodes: 3, MemoryMi: 8192, Datastore: "etcd"}}}
	if rep := check(t, etcd, big); !rep.OK() {
		t.Errorf("etcd on 3 nodes of 8 GiB is fine:\n%s", text(t, rep, "doc.md"))
	}
	for _, c := range []struct {
		regions []RegionFacts
		msg     string
	}{
		{[]RegionFacts{{Name: "a", Nodes: 1, MemoryMi: 8192}}, `region "a" (1 node of 8192 MiB) is too small`},
		{[]RegionFacts{{Name: "a", Nodes: 3, MemoryMi: 2048, Datastore: "sqlite"}}, `region "a" (3 nodes of 2048 MiB) is too small for it (etcd needs 3 servers and more memory); keep the embedded SQLite datastore the plan uses.`},
		{[]RegionFacts{{Name: "a", Nodes: 2}, {Name: "b", MemoryMi: 1024}, {Name: "c", Nodes: 5, MemoryMi: 16384}},
			`regions "a" (2 nodes) and "b" (1024 MiB per node) are too small for it (etcd needs 3 servers and more memory); keep the embedded SQLite datastore.`},
		{[]RegionFacts{{Name: "a", Nodes: 1}, {Name: "b", Nodes: 1}, {Name: "c", Nodes: 1}, {Name: "d", Nodes: 1}, {Name: "e", Nodes: 1}},
			`regions "a" (1 node), "b" (1 node), "c" (1 node) and 2 more are too small`},
	} {
		rep := check(t, etcd, Facts{Regions: c.regions})
		if len(rep.Warnings) != 1 || rep.Warnings[0].Line != 4 || !strings.Contains(rep.Warnings[0].Message, c.msg) {
			t.Errorf("%v: got\n%s\nwant a message with %s", c.regions, text(t, rep, "doc.md"), c.msg)
		}
	}

	// The fleet's own tools are the expected ones.
	k0s := Facts{Distribution: "k0s", GitOps: "Argo CD"}
	for _, c := range []struct {
		text string
		f    Facts
		want string
	}{
		{"Recomendamos k0s.", k0s, "[]"},
		{"Recomendamos K3s.", k0s, "[4 other-distribution]"},
		{"Elegimos Argo CD.", k0s, "[]"},
		{"Elegimos Flux.", k0s, "[4 other-gitops]"},
		{"Elegimos Flux.", Facts{GitOps: "fluxcd"}, "[]"},
		{"Elegimos Flux.", Facts{GitOps: "argo-cd"}, "[4 other-gitops]"},
		{"Recomendamos Canonical Kubernetes.", Facts{Distribution: "Canonical Kubernetes"}, "[]"},
		{"Recomendamos K3s.", Facts{Distribution: "Canonical Kubernetes"}, "[4 other-distribution]"},
		// Without facts, only the rules that need none apply.
		{"Recomendamos MicroK8s, etcd y Argo CD.", Facts{}, "[]"},
		{"Recomendamos MicroK8s con Istio.", Facts{}, "[4 service-mesh]"},
	} {
		rep := check(t, []byte(wrap(c.text)), c.f)
		if got := fmt.Sprint(lineRules(rep)); got != c.want {
			t.Errorf("%q with %+v: got %s, want %s", c.text, c.f, got, c.want)
		}
	}
	rep := check(t, []byte(wrap("Elegimos Flux.")), k0s)
	if m := rep.Warnings[0].Message; m != "The document chooses Flux for GitOps, but the fleet uses Argo CD." {
		t.Errorf("message: %s", m)
	}
}

// Lists, quotes, tables and code: findings land on the line of the match,
// also inside a paragraph wrapped over several lines.
func TestLineNumbers(t *testing.T) {
	doc := "# Design\n\n## 1. Distribution\n\n" +
		"K3s is light and runs well on ARM64 nodes with\n" + // 5
		"little memory, and for HA we recommend embedded\n" + // 6
		"etcd on every site.\n" + // 7
		"\n> Quote: we will deploy Linkerd everywhere.\n" + // 9
		"\n| Component | Choice |\n|---|---|\n| GitOps | Argo CD |\n" + // 13
		"\n```bash\nhelm --kube-context edge-0001 upgrade --install app ./chart  # run by the central CI\n```\n" + // 16
		"\n## 2. Fleet\n## 3. Outages\n## 4. Security\n"
	rep := check(t, []byte(doc), offshoreFacts)
	want := "[7 etcd-on-small-node 9 service-mesh 13 other-gitops 16 push-deployment]"
	if got := fmt.Sprint(lineRules(rep)); got != want {
		t.Errorf("got %s, want %s\n%s", got, want, text(t, rep, "doc.md"))
	}
}
