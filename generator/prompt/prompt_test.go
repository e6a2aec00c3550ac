package prompt

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// sample is the seed's own example values (kubernetes-edge-prompt.md).
var sample = Context{
	Environment: "Plataformas petrolíferas marinas",
	Hardware:    "Nodos ARM64 con 2GB de RAM y almacenamiento eMMC",
	Challenge:   "Conectividad intermitente, ancho de banda extremadamente bajo, riesgo de robo físico",
	Scale:       "5,000 clústeres distribuidos globalmente",
	DeviceType:  "servidores de fábrica 4GB RAM",
	Problem:     "cortes de red diarios",
}

// sampleFacts is a realistic 10-fact scaffold list (about as long as the
// caller's facts are expected to get).
var sampleFacts = []string{
	"Distribución: K3s v1.33 con datastore SQLite embebido (sin etcd), un nodo servidor por clúster, Traefik y ServiceLB desactivados.",
	"GitOps: Flux v2 en modo pull; cada clúster tiene clusters/<nombre>/flux-system con GitRepository y Kustomization (intervalo 10m, reintento 2m).",
	"Plantillas: infrastructure/base con los componentes comunes y overlays por región en infrastructure/overlays/<región> (Kustomize).",
	"Inventario: 3 regiones (eu-north, us-gulf, apac-south) y 5,000 clústeres generados desde fleet.yaml; un directorio por clúster.",
	"Secretos: cifrados con SOPS + age; una clave age por región, las claves públicas están en .sops.yaml.",
	"Actualizaciones: system-upgrade-controller con Plans por canal (stable/candidate) y ventanas de mantenimiento por región.",
	"Resiliencia: Flux tolera cortes largos; las imágenes se precargan en /var/lib/rancher/k3s/agent/images para arrancar sin red.",
	"Seguridad: NetworkPolicies deny-all por defecto en cada namespace de aplicación; Pod Security Admission en nivel restricted.",
	"Observabilidad: no hay stack de monitorización todavía; solo node-exporter como DaemonSet sin almacenamiento remoto.",
	"CI: un workflow valida con kustomize build y kubeconform todos los overlays en cada pull request.",
}

func render(t *testing.T, o Options) string {
	t.Helper()
	out, err := Render(o)
	if err != nil {
		t.Fatalf("Render(%s/%s): %v", o.Tier, o.Lang, err)
	}
	return out
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func splitLines(s string) []string { return strings.Split(strings.TrimSuffix(s, "\n"), "\n") }

func nonBlank(ls []string) []string {
	var out []string
	for _, l := range ls {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// topLevel returns the non-blank lines that start at column 0, i.e. the
// prompt's own lines without any continuation line of a value.
func topLevel(s string) []string {
	var out []string
	for _, l := range nonBlank(splitLines(s)) {
		if l[0] != ' ' && l[0] != '\t' {
			out = append(out, l)
		}
	}
	return out
}

func hasLine(s, line string) bool {
	for _, l := range splitLines(s) {
		if l == line {
			return true
		}
	}
	return false
}

func combos() []Options {
	var out []Options
	for _, tier := range Tiers() {
		for _, lang := range Langs() {
			out = append(out, Options{Tier: tier, Lang: lang})
		}
	}
	return out
}

// labels are the line prefixes of the value-bearing lines per language.
var labels = map[Lang]struct {
	env, hw, challenge, scale string
	taskFmt                   string // Basic task sentence around DeviceType/Problem
}{
	Spanish: {"- Entorno: ", "- Hardware: ", "- Desafío principal: ", "- Escala: ",
		"**Tarea:** Diseña una arquitectura base de Kubernetes para %s que sufren de %s. Recomienda la distribución ideal (K3s/K0s) y el método de despliegue."},
	English: {"- Environment: ", "- Hardware: ", "- Main challenge: ", "- Scale: ",
		"**Task:** Design a baseline Kubernetes architecture for %s that suffer from %s. Recommend the ideal distribution (K3s/K0s) and the deployment method."},
}

func TestTiersAndLangs(t *testing.T) {
	if got := fmt.Sprint(Tiers()); got != "[basic pro]" {
		t.Errorf("Tiers() = %s", got)
	}
	if got := fmt.Sprint(Langs()); got != "[es en]" {
		t.Errorf("Langs() = %s", got)
	}
	for _, o := range combos() {
		if _, err := Render(o); err != nil {
			t.Errorf("Render(%s/%s): %v", o.Tier, o.Lang, err)
		}
	}
}

func TestUnknownTierOrLang(t *testing.T) {
	cases := []struct {
		o    Options
		want []string
	}{
		{Options{Tier: "expert", Lang: Spanish}, []string{`"expert"`, "tier", "basic, pro"}},
		{Options{Tier: "", Lang: English}, []string{`""`, "tier", "basic, pro"}},
		{Options{Tier: "Pro", Lang: English}, []string{`"Pro"`, "basic, pro"}},
		{Options{Tier: Pro, Lang: "fr"}, []string{`"fr"`, "language", "es, en"}},
		{Options{Tier: Basic, Lang: ""}, []string{`""`, "language", "es, en"}},
	}
	for _, c := range cases {
		out, err := Render(c.o)
		if err == nil {
			t.Errorf("Render(%q/%q) = nil error, output %d bytes", c.o.Tier, c.o.Lang, len(out))
			continue
		}
		if out != "" {
			t.Errorf("Render(%q/%q) returned output with an error", c.o.Tier, c.o.Lang)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Render(%q/%q) error %q does not mention %s", c.o.Tier, c.o.Lang, err, w)
			}
		}
	}
}

// With no values the Spanish prompts are the seed's prompt text itself
// (blockquote markers removed), placeholders included.
func TestEmptyContextReproducesSeed(t *testing.T) {
	pro := render(t, Options{Tier: Pro, Lang: Spanish})
	if want := readTestdata(t, "seed_pro.es.txt"); pro != want {
		t.Errorf("pro/es with empty context differs from the seed:\n--- got\n%s\n--- want\n%s", pro, want)
	}
	// The seed's Basic prompt has Rol and Tarea on adjacent lines; the
	// template separates them with a blank line, otherwise identical.
	basic := render(t, Options{Tier: Basic, Lang: Spanish})
	got, want := nonBlank(splitLines(basic)), nonBlank(splitLines(readTestdata(t, "seed_basic.es.txt")))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("basic/es with empty context differs from the seed:\n--- got\n%s\n--- want\n%s", basic, strings.Join(want, "\n"))
	}
	// Whitespace-only values count as empty.
	blank := Context{Environment: " \n\t", Hardware: "\r\n", Challenge: "  ", Scale: "\n\n", DeviceType: "\t", Problem: " "}
	if got := render(t, Options{Tier: Pro, Lang: Spanish, Context: blank}); got != pro {
		t.Errorf("whitespace-only values should render the placeholders:\n%s", got)
	}
	if got := render(t, Options{Tier: Basic, Lang: Spanish, Context: blank}); got != basic {
		t.Errorf("whitespace-only values should render the placeholders:\n%s", got)
	}
}

func TestEmptyContextEnglishPlaceholders(t *testing.T) {
	pro := render(t, Options{Tier: Pro, Lang: English})
	for _, l := range []string{
		"- Environment: `[E.g.: Offshore oil platforms / Logistics truck fleet]`",
		"- Hardware: `[E.g.: ARM64 nodes with 2GB of RAM and eMMC storage]`",
		"- Main challenge: `[E.g.: Intermittent connectivity, extremely low bandwidth, risk of physical theft]`",
		"- Scale: `[E.g.: 5,000 clusters distributed globally]`",
	} {
		if !hasLine(pro, l) {
			t.Errorf("pro/en with empty context lacks placeholder line %q:\n%s", l, pro)
		}
	}
	basic := render(t, Options{Tier: Basic, Lang: English})
	want := fmt.Sprintf(labels[English].taskFmt, "`[Device type, e.g.: factory servers with 4GB RAM]`", "`[Problem, e.g.: daily network outages]`")
	if !hasLine(basic, want) {
		t.Errorf("basic/en with empty context lacks %q:\n%s", want, basic)
	}
	// One value given, the others keep their placeholders.
	partial := render(t, Options{Tier: Pro, Lang: English, Context: Context{Hardware: "Raspberry Pi 5"}})
	if !hasLine(partial, "- Hardware: Raspberry Pi 5") || !hasLine(partial, "- Scale: `[E.g.: 5,000 clusters distributed globally]`") {
		t.Errorf("partial context rendered wrongly:\n%s", partial)
	}
}

func TestValuesLandInPlace(t *testing.T) {
	c := Context{
		Environment: "VAL-ENVIRONMENT", Hardware: "VAL-HARDWARE", Challenge: "VAL-CHALLENGE",
		Scale: "VAL-SCALE", DeviceType: "VAL-DEVICE", Problem: "VAL-PROBLEM",
	}
	for _, o := range combos() {
		o.Context = c
		out := render(t, o)
		lb := labels[o.Lang]
		if o.Tier == Pro {
			for _, l := range []string{lb.env + c.Environment, lb.hw + c.Hardware, lb.challenge + c.Challenge, lb.scale + c.Scale} {
				if !hasLine(out, l) {
					t.Errorf("%s/%s: missing line %q:\n%s", o.Tier, o.Lang, l, out)
				}
			}
			for _, v := range []string{c.DeviceType, c.Problem} {
				if strings.Contains(out, v) {
					t.Errorf("%s/%s: Basic-only value %q rendered in the Pro prompt", o.Tier, o.Lang, v)
				}
			}
		} else {
			if l := fmt.Sprintf(lb.taskFmt, c.DeviceType, c.Problem); !hasLine(out, l) {
				t.Errorf("%s/%s: missing task sentence %q:\n%s", o.Tier, o.Lang, l, out)
			}
			for _, v := range []string{c.Environment, c.Hardware, c.Challenge, c.Scale} {
				if strings.Contains(out, v) {
					t.Errorf("%s/%s: Pro-only value %q rendered in the Basic prompt", o.Tier, o.Lang, v)
				}
			}
		}
		// Each value exactly once, and no placeholder left behind.
		for _, v := range []string{c.Environment, c.Hardware, c.Challenge, c.Scale, c.DeviceType, c.Problem} {
			if n := strings.Count(out, v); n > 1 {
				t.Errorf("%s/%s: value %q appears %d times", o.Tier, o.Lang, v, n)
			}
		}
		if strings.Contains(out, "[Ej:") || strings.Contains(out, "[E.g.:") || strings.Contains(out, "e.g.: ") || strings.Contains(out, "ej: ") {
			t.Errorf("%s/%s: placeholder left although every value is set:\n%s", o.Tier, o.Lang, out)
		}
	}
}

// The seed's fixed sentences, copied from kubernetes-edge-prompt.md
// ("Versión Pro"); they must survive word for word.
var seedProES = []string{
	"**Rol (Role):** Eres un Arquitecto de Infraestructura Cloud/Edge y experto en Kubernetes (CKA/CKS). Tienes amplia experiencia desplegando miles de clústeres en entornos hostiles.",
	"**Contexto (Context):**",
	"**Tarea (Task):**",
	"1. Recomienda la distribución de Kubernetes más adecuada (K3s, K0s, MicroK8s) y justifica tu elección (ej. SQLite/Dqlite vs etcd, soporte de WebAssembly).",
	"2. Diseña la estrategia de **Fleet Management** utilizando un enfoque GitOps (Pull-based con ArgoCD o Flux). Explica cómo gestionar las plantillas (Base) y las variaciones regionales (Overlays).",
	"3. Detalla cómo manejar la resiliencia ante cortes de red prolongados y la sincronización del estado una vez restaurada la conexión.",
	"4. Establece políticas de seguridad a nivel de nodo (Secure Boot, cifrado de disco, acceso Zero-Trust).",
	"**Restricciones (Constraints):**",
	"- La respuesta debe ser estructurada y utilizar formato Markdown.",
	"- Prioriza soluciones de código abierto probadas en producción para 2026.",
	"**Advertencia (Warning):**",
	"- No recomiendes componentes pesados como un etcd completo o Service Meshes complejas a menos que sea estrictamente necesario. Si una herramienta consume demasiados recursos para el hardware especificado, descártala y sugiere una alternativa más ligera.",
}

func TestSpanishProKeepsSeedWording(t *testing.T) {
	out := render(t, Options{Tier: Pro, Lang: Spanish, Context: sample})
	// In order, each as a whole line.
	ls := splitLines(out)
	i := 0
	for _, want := range seedProES {
		for i < len(ls) && ls[i] != want {
			i++
		}
		if i == len(ls) {
			t.Errorf("pro/es lacks seed line (in order) %q:\n%s", want, out)
			return
		}
	}
	// The seed's own example values fill the context bullets.
	for _, l := range []string{
		"- Entorno: Plataformas petrolíferas marinas",
		"- Hardware: Nodos ARM64 con 2GB de RAM y almacenamiento eMMC",
		"- Desafío principal: Conectividad intermitente, ancho de banda extremadamente bajo, riesgo de robo físico",
		"- Escala: 5,000 clústeres distribuidos globalmente",
	} {
		if !hasLine(out, l) {
			t.Errorf("pro/es lacks %q", l)
		}
	}
	basic := render(t, Options{Tier: Basic, Lang: Spanish, Context: sample})
	for _, l := range []string{
		"**Rol:** Eres un Ingeniero DevOps Senior experto en Kubernetes y Edge Computing.",
		"**Tarea:** Diseña una arquitectura base de Kubernetes para servidores de fábrica 4GB RAM que sufren de cortes de red diarios. Recomienda la distribución ideal (K3s/K0s) y el método de despliegue.",
	} {
		if !hasLine(basic, l) {
			t.Errorf("basic/es lacks %q:\n%s", l, basic)
		}
	}
}

var (
	headingRE = regexp.MustCompile(`^\*\*[^*]+:\*\*`)
	numberRE  = regexp.MustCompile(`^(\d+)\. `)
)

// shape describes a prompt's structure: one token per top-level line.
// H = bold section label, B = bullet, N<k> = numbered item k, P = text.
func shape(s string) []string {
	var out []string
	for _, l := range topLevel(s) {
		switch {
		case headingRE.MatchString(l):
			out = append(out, "H")
		case strings.HasPrefix(l, "- "):
			out = append(out, "B")
		case numberRE.MatchString(l):
			out = append(out, "N"+numberRE.FindStringSubmatch(l)[1])
		default:
			out = append(out, "P")
		}
	}
	return out
}

func TestEnglishHasSameStructure(t *testing.T) {
	wantShape := map[Tier]string{
		// Role, Context + 4 bullets, Task + 1..4, Constraints + 2, Warning + 1.
		Pro: "H H B B B B H N1 N2 N3 N4 H B B H B",
		// Role, Task.
		Basic: "H H",
	}
	for _, tier := range Tiers() {
		for _, c := range []Context{{}, sample} {
			es := render(t, Options{Tier: tier, Lang: Spanish, Context: c})
			en := render(t, Options{Tier: tier, Lang: English, Context: c})
			if got := strings.Join(shape(es), " "); got != wantShape[tier] {
				t.Errorf("%s/es shape = %s, want %s", tier, got, wantShape[tier])
			}
			if got := strings.Join(shape(en), " "); got != wantShape[tier] {
				t.Errorf("%s/en shape = %s, want %s", tier, got, wantShape[tier])
			}
			// Same blank-line layout too.
			if a, b := len(splitLines(es)), len(splitLines(en)); a != b {
				t.Errorf("%s: es has %d lines, en has %d", tier, a, b)
			}
		}
	}
	en := render(t, Options{Tier: Pro, Lang: English, Context: sample})
	for _, l := range []string{"**Context:**", "**Task:**", "**Constraints:**", "**Warning:**"} {
		if !hasLine(en, l) {
			t.Errorf("pro/en lacks heading %q", l)
		}
	}
	if !strings.HasPrefix(en, "**Role:** ") {
		t.Errorf("pro/en does not start with the Role line:\n%s", en)
	}
}

// Every rendered prompt ends in exactly one newline, has no trailing
// whitespace and no runs of blank lines.
func checkTidy(t *testing.T, name, out string) {
	t.Helper()
	if !strings.HasSuffix(out, "\n") || strings.HasSuffix(out, "\n\n") {
		t.Errorf("%s: output must end in exactly one newline", name)
	}
	if strings.Contains(out, "\n\n\n") {
		t.Errorf("%s: output has consecutive blank lines", name)
	}
	if strings.HasPrefix(out, "\n") {
		t.Errorf("%s: output starts with a blank line", name)
	}
	for i, l := range splitLines(out) {
		if strings.TrimRight(l, " \t") != l {
			t.Errorf("%s: line %d has trailing whitespace: %q", name, i+1, l)
		}
	}
}

// checkNoTemplateSyntax is for outputs whose values contain no "{{".
func checkNoTemplateSyntax(t *testing.T, name, out string) {
	t.Helper()
	if strings.Contains(out, "{{") || strings.Contains(out, "}}") || strings.Contains(out, "*/") {
		t.Errorf("%s: template syntax leaked into the output", name)
	}
}

func TestHostileValues(t *testing.T) {
	hostile := Context{
		Environment: "Plataformas `marinas` con ```yaml\nsegunda línea\n\n\n- falso bullet\n# falso título\n```\n{{ .Context }}",
		Hardware:    "{{ .Context }} {{template \"pro.es.md\" .}} {{.Hardware}}",
		Challenge:   "$HOME ${PATH} $(rm -rf /) `uname -a` \\n %s %v",
		Scale:       "[Ej: 5,000 clústeres] **negrita** <b>html</b> | tabla |",
		DeviceType:  "servidores ``` de\nfábrica\n\n1. uno\n- dos\n```",
		Problem:     "{{ .Problem }} y $HOME\r\ncon `backticks`",
	}
	markers := Context{
		Environment: "M-ENV", Hardware: "M-HW", Challenge: "M-CH", Scale: "M-SC",
		DeviceType: "M-DEV", Problem: "M-PROB",
	}
	firstLine := func(s string) string { return strings.SplitN(s, "\n", 2)[0] }
	for _, o := range combos() {
		name := fmt.Sprintf("%s/%s", o.Tier, o.Lang)
		o.Context = hostile
		out := render(t, o)
		checkTidy(t, name, out)

		// Not executed: the template names and field references appear
		// literally and the prompt is not duplicated.
		if n := strings.Count(out, "**Ro"); n != 1 {
			t.Errorf("%s: role line appears %d times", name, n)
		}

		// The template only substitutes: the output equals a marker render
		// with each marker replaced by its laid-out value.
		o.Context = markers
		marked := render(t, o)
		want, wantTop := marked, marked
		for _, r := range []struct {
			marker, value string
			layout        func(string) string
		}{
			{markers.Environment, hostile.Environment, layoutBlock}, {markers.Hardware, hostile.Hardware, layoutBlock},
			{markers.Challenge, hostile.Challenge, layoutBlock}, {markers.Scale, hostile.Scale, layoutBlock},
			{markers.DeviceType, hostile.DeviceType, layoutInline}, {markers.Problem, hostile.Problem, layoutInline},
		} {
			want = strings.ReplaceAll(want, r.marker, r.layout(r.value))
			wantTop = strings.ReplaceAll(wantTop, r.marker, firstLine(r.value))
		}
		if out != want {
			t.Errorf("%s: output is not the plain substitution of the values:\n--- got\n%s\n--- want\n%s", name, out, want)
		}

		// The prompt's own lines stay where they were: every continuation
		// line of a value is indented, no other line moved or changed.
		got := topLevel(out)
		if o.Tier == Pro {
			if exp := topLevel(wantTop); strings.Join(got, "\n") != strings.Join(exp, "\n") {
				t.Errorf("%s: top-level lines changed by hostile values:\n--- got\n%s\n--- want\n%s", name, strings.Join(got, "\n"), strings.Join(exp, "\n"))
			}
		} else {
			// Basic: Role line, then the Task sentence whose first line ends
			// with the first line of DeviceType; the rest is indented.
			exp := topLevel(wantTop)
			task := strings.SplitAfter(exp[1], firstLine(hostile.DeviceType))[0]
			if len(got) != 2 || got[0] != exp[0] || got[1] != task {
				t.Errorf("%s: top-level lines changed by hostile values:\n%s", name, strings.Join(got, "\n"))
			}
		}

		if o.Tier == Pro {
			for _, l := range []string{
				labels[o.Lang].env + "Plataformas `marinas` con ```yaml",
				"  segunda línea",
				"  - falso bullet",
				"  # falso título",
				"  ```",
				"  {{ .Context }}",
				labels[o.Lang].hw + hostile.Hardware,
				labels[o.Lang].challenge + hostile.Challenge,
				labels[o.Lang].scale + hostile.Scale,
			} {
				if !hasLine(out, l) {
					t.Errorf("%s: missing literal line %q:\n%s", name, l, out)
				}
			}
			// Runs of blank lines inside a value collapse to one; the
			// blank line stays inside the bullet (next line indented).
			if !strings.Contains(out, "\n  segunda línea\n\n  - falso bullet\n") {
				t.Errorf("%s: blank lines inside the Environment value not laid out as expected:\n%s", name, out)
			}
		} else {
			// The Task sentence stays one paragraph: no blank line between
			// its start and its end, continuation lines indented by 4.
			start := strings.Index(out, "servidores ``` de\n")
			end := strings.Index(out, "con `backticks`.")
			if start < 0 || end < 0 || end < start {
				t.Fatalf("%s: task sentence not found:\n%s", name, out)
			}
			if strings.Contains(out[start:end], "\n\n") {
				t.Errorf("%s: blank line inside the Task sentence:\n%s", name, out)
			}
			for _, l := range []string{"    fábrica", "    1. uno", "    - dos"} {
				if !hasLine(out, l) {
					t.Errorf("%s: missing continuation line %q:\n%s", name, l, out)
				}
			}
			if !strings.Contains(out, "{{ .Problem }} y $HOME\n    con `backticks`. Re") {
				t.Errorf("%s: Problem value not literal (CRLF must become an indented line):\n%s", name, out)
			}
		}
	}
}

func TestLayoutHelpers(t *testing.T) {
	cases := []struct{ in, block, inline string }{
		{"", "", ""},
		{"  one  ", "one", "one"},
		{"a\r\nb\rc", "a\n  b\n  c", "a\n    b\n    c"},
		{"a\n\n\n\nb", "a\n\n  b", "a\n    b"},
		{"a \t\n  b\t", "a\n    b", "a\n      b"},
		{"\n\nfirst\nsecond\n\n", "first\n  second", "first\n    second"},
	}
	for _, c := range cases {
		if got := layoutBlock(c.in); got != c.block {
			t.Errorf("layoutBlock(%q) = %q, want %q", c.in, got, c.block)
		}
		if got := layoutInline(c.in); got != c.inline {
			t.Errorf("layoutInline(%q) = %q, want %q", c.in, got, c.inline)
		}
	}
}

func TestScaffoldSection(t *testing.T) {
	heading := map[Lang]string{Spanish: "**Lo que el repositorio ya contiene:**", English: "**What the repository already contains:**"}
	closing := map[Lang]string{Spanish: "en lugar de empezar desde cero", English: "rather than starting from scratch"}
	warning := map[Lang]string{Spanish: "**Advertencia (Warning):**", English: "**Warning:**"}
	for _, lang := range Langs() {
		plain := render(t, Options{Tier: Pro, Lang: lang, Context: sample})
		out := render(t, Options{Tier: Pro, Lang: lang, Context: sample, Scaffold: sampleFacts})
		name := "pro/" + string(lang) + "+scaffold"
		checkTidy(t, name, out)
		if !strings.HasPrefix(out, plain+"\n") {
			t.Fatalf("%s: the scaffold section must be appended after the unchanged Pro prompt and a blank line", name)
		}
		section := strings.TrimPrefix(out, plain+"\n")
		ls := splitLines(section)
		if ls[0] != heading[lang] {
			t.Errorf("%s: section starts with %q, want %q", name, ls[0], heading[lang])
		}
		for _, f := range sampleFacts {
			if !hasLine(section, "- "+f) {
				t.Errorf("%s: fact missing as a bullet: %q", name, f)
			}
		}
		if got := strings.Count(section, "\n- "); got != len(sampleFacts) {
			t.Errorf("%s: %d bullets in the section, want %d", name, got, len(sampleFacts))
		}
		last := ls[len(ls)-1]
		if !strings.Contains(last, closing[lang]) || !strings.Contains(last, "(1–4)") {
			t.Errorf("%s: closing instruction missing: %q", name, last)
		}
		if strings.Index(out, heading[lang]) < strings.Index(out, warning[lang]) {
			t.Errorf("%s: section is not after the Warning", name)
		}
		if n := strings.Count(out, heading[lang]); n != 1 {
			t.Errorf("%s: heading appears %d times", name, n)
		}

		// Size: short enough to paste into a chat assistant.
		const limit = 6000
		t.Logf("%s with %d facts: %d bytes (Pro alone: %d bytes)", name, len(sampleFacts), len(out), len(plain))
		if len(sampleFacts) != 10 || len(out) >= limit {
			t.Errorf("%s: %d facts render to %d bytes, want 10 facts under %d bytes", name, len(sampleFacts), len(out), limit)
		}

		// Blank facts are skipped; only blank facts means no section.
		if got := render(t, Options{Tier: Pro, Lang: lang, Context: sample, Scaffold: []string{"", " \n "}}); got != plain {
			t.Errorf("%s: blank facts must not add a section:\n%s", name, got)
		}
		// Hostile, multi-line facts stay literal and inside their bullet.
		odd := []string{"", "flux-system con `{{ .Facts }}` y $HOME", "dos líneas\n- no es un bullet nuevo"}
		got := render(t, Options{Tier: Pro, Lang: lang, Context: sample, Scaffold: odd})
		checkTidy(t, name+"/odd", got)
		if !hasLine(got, "- flux-system con `{{ .Facts }}` y $HOME") || !hasLine(got, "- dos líneas") || !hasLine(got, "  - no es un bullet nuevo") {
			t.Errorf("%s: odd facts not literal:\n%s", name, got)
		}
		if n, want := strings.Count(got, "\n- "), strings.Count(plain, "\n- ")+2; n != want {
			t.Errorf("%s: odd facts produced %d top-level bullets in total, want %d", name, n, want)
		}
	}
	// The Basic prompt ignores the scaffold facts.
	for _, lang := range Langs() {
		plain := render(t, Options{Tier: Basic, Lang: lang, Context: sample})
		if got := render(t, Options{Tier: Basic, Lang: lang, Context: sample, Scaffold: sampleFacts}); got != plain {
			t.Errorf("basic/%s: scaffold facts must be ignored:\n%s", lang, got)
		}
	}
}

func TestGolden(t *testing.T) {
	cases := map[string]Options{}
	for _, o := range combos() {
		o.Context = sample
		cases[fmt.Sprintf("%s.%s.golden", o.Tier, o.Lang)] = o
	}
	for _, lang := range Langs() {
		cases[fmt.Sprintf("pro-scaffold.%s.golden", lang)] = Options{Tier: Pro, Lang: lang, Context: sample, Scaffold: sampleFacts}
		cases[fmt.Sprintf("pro-decisions.%s.golden", lang)] = Options{Tier: Pro, Lang: lang, Context: sampleRegions, Scaffold: sampleFacts}
	}
	for name, o := range cases {
		out := render(t, o)
		checkTidy(t, name, out)
		checkNoTemplateSyntax(t, name, out)
		t.Logf("%s: %d bytes", name, len(out))
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if out != string(want) {
			t.Errorf("%s differs from the golden file (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, out, want)
		}
	}
}

// sampleRegions is sample with the fleet's regions: the Pro prompt then asks
// for the decisions block that `fleetgen design check` reads.
var sampleRegions = func() Context {
	c := sample
	c.Regions = []string{"north-sea", "gulf-of-mexico", "campos-basin"}
	return c
}()

func TestDecisionsBlockRequested(t *testing.T) {
	for _, lang := range Langs() {
		out := render(t, Options{Tier: Pro, Lang: lang, Context: sampleRegions})
		checkTidy(t, string(lang), out)
		checkNoTemplateSyntax(t, string(lang), out)
		// Role, Context + 4, Task + 1..4, Constraints + 3 (the last one asks for the block), Warning + 1.
		if got := strings.Join(shape(out), " "); got != "H H B B B B H N1 N2 N3 N4 H B B B H B" {
			t.Errorf("%s shape = %s", lang, got)
		}
		block := "  ```yaml\n  fleetgen-decisions:\n    distribution: k3s | k0s | microk8s\n    gitops: flux | argocd\n    regions:\n" +
			"      north-sea: {datastore: sqlite | etcd | dqlite, delivery: git | oci}\n" +
			"      gulf-of-mexico: {datastore: sqlite | etcd | dqlite, delivery: git | oci}\n" +
			"      campos-basin: {datastore: sqlite | etcd | dqlite, delivery: git | oci}\n  ```\n"
		if !strings.Contains(out, block) {
			t.Errorf("%s: the decisions block template is not there:\n%s", lang, out)
		}
		// The rest is the prompt without regions, line for line.
		plain := render(t, Options{Tier: Pro, Lang: lang, Context: sample})
		if got := strings.Replace(out, out[strings.Index(out, "- "+map[Lang]string{Spanish: "Termina", English: "End"}[lang]):strings.Index(out, block)+len(block)], "", 1); got != plain {
			t.Errorf("%s: the block changed more than its bullet:\n%s", lang, got)
		}
	}
	// The Basic prompt never asks for it.
	if out := render(t, Options{Tier: Basic, Lang: Spanish, Context: sampleRegions}); strings.Contains(out, "fleetgen-decisions") {
		t.Errorf("basic: %s", out)
	}
}
