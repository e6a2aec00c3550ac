// Package design checks the design document an AI assistant returns for the
// "Kubernetes Edge Architect" prompt against the facts of the fleet's plan,
// and stamps the document with a front matter recording what it was
// generated from (`fleetgen design attach`).
//
// Check reads the document twice. Exactly: the decisions block the Pro
// prompt asks for at the end of the answer (see DecisionsKey) is compared
// with the plan, and each difference is an error naming the region and the
// field. Heuristically, as warnings: the prose.
//
// The prose reading is a heuristic reader, not a proof: it finds sentences, list items,
// table rows and code lines that recommend what the plan contradicts (etcd on
// small nodes, a service mesh, a full Kubernetes, another distribution or
// GitOps tool, pushing to the clusters) and the prompt's tasks that have no
// heading. It reads Spanish and English, ignores case and accents, and does
// not report a mention its sentence rejects ("no recomendamos etcd", "avoid a
// service mesh", "instead of ArgoCD"), makes conditional ("solo si", "if ever
// needed"; not for pushing), compares ("K3s vs k0s", comparison tables) or
// explains ("etcd requires three servers"), nor anything in a section of
// rejected options ("### Alternativas descartadas"). The choice rules (other
// distribution, other GitOps tool) need an explicit choice ("recomendamos
// k0s", "GitOps: Argo CD", a task heading "Fleet management with Argo CD").
package design

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"
)

// MaxSize is the largest document Check reads.
const MaxSize = 1 << 20

// Errors of Check, wrapped with details; test them with errors.Is.
var (
	ErrEmpty     = errors.New("design document is empty")
	ErrBinary    = errors.New("design document is not text")
	ErrTooLarge  = errors.New("design document is too large")
	ErrNoHeading = errors.New("design document has no Markdown heading")
)

// Facts the document is checked against, taken from the fleet's plan by the
// caller. Distribution and GitOps are the fleet's choices (e.g. "k3s",
// "flux"; "k0s", "argocd" are read the same way): the rules expect them and
// flag the others.
type Facts struct {
	Distribution string // "k3s"
	GitOps       string // "flux"
	Delivery     string // "git" | "oci"
	Regions      []RegionFacts
}

// RegionFacts describes one region of the plan. Distribution, GitOps and
// Delivery, when set, override the fleet's.
type RegionFacts struct {
	Name         string
	Nodes        int   // nodes per cluster
	MemoryMi     int64 // memory per node, MiB
	Datastore    string
	Distribution string `json:",omitempty"`
	GitOps       string `json:",omitempty"`
	Delivery     string `json:",omitempty"`
}

// Finding is one contradiction between the document and the plan. Findings
// of the decisions block name the region (empty: fleet-wide) and the field,
// with what the plan says (Want) and what the block says (Got).
type Finding struct {
	Line    int    `json:"line"` // 1-based line of the file; 0 for the whole document
	Rule    string `json:"rule"`
	Message string `json:"message"`
	Excerpt string `json:"excerpt,omitempty"`
	Region  string `json:"region,omitempty"`
	Field   string `json:"field,omitempty"`
	Want    string `json:"want,omitempty"`
	Got     string `json:"got,omitempty"`
}

// Report is the result of Check.
type Report struct {
	// Errors are exact: the decisions block contradicts the plan, or cannot
	// be read.
	Errors []Finding `json:"errors"`
	// Warnings are heuristic: the prose reads as recommending what the plan
	// contradicts, a task has no section, or the decisions block is absent.
	Warnings []Finding `json:"warnings"`
	// Sections maps each task (see Tasks) to the line of its heading, 0 if
	// the document has none.
	Sections map[string]int `json:"sections"`
	// Decisions is the decisions block as read; nil when absent or malformed.
	Decisions *Decisions `json:"decisions"`
}

// OK reports whether the document has neither error nor warning.
func (r Report) OK() bool { return len(r.Errors) == 0 && len(r.Warnings) == 0 }

// Check reads a design document (Markdown, Spanish or English, possibly with
// a YAML front matter, which is skipped; line numbers are those of the file)
// and reports what contradicts f. It returns an error, and nothing else, for
// an empty or binary document, one larger than MaxSize, or one without any
// Markdown heading.
func Check(doc []byte, f Facts) (Report, error) {
	if len(doc) > MaxSize {
		return Report{}, fmt.Errorf("%w: %d bytes, the limit is %d (1 MiB)", ErrTooLarge, len(doc), MaxSize)
	}
	if i := bytes.IndexByte(doc, 0); i >= 0 {
		return Report{}, fmt.Errorf("%w: NUL byte at offset %d; expected a Markdown file", ErrBinary, i)
	}
	if !utf8.Valid(doc) {
		return Report{}, fmt.Errorf("%w: invalid UTF-8 at offset %d; expected a Markdown file in UTF-8", ErrBinary, invalidUTF8(doc))
	}
	if len(bytes.TrimSpace(bytes.TrimPrefix(doc, []byte("\uFEFF")))) == 0 {
		return Report{}, fmt.Errorf("%w: nothing but white space", ErrEmpty)
	}
	d := parse(string(doc))
	if d.bodyStart > 0 && strings.TrimSpace(strings.Join(d.lines[d.bodyStart:], "\n")) == "" {
		return Report{}, fmt.Errorf("%w: only a front matter, no text after line %d", ErrEmpty, d.bodyStart)
	}
	if len(d.headings) == 0 {
		return Report{}, fmt.Errorf("%w (a line such as \"## 1. Distribution\"); it does not look like a design document", ErrNoHeading)
	}

	rep := Report{Errors: []Finding{}, Warnings: []Finding{}, Sections: d.sections}
	block, bad := findDecisions(d.lines, d.bodyStart)
	rep.Errors = append(rep.Errors, bad...)
	switch {
	case block != nil:
		rep.Decisions = block
		rep.Errors = append(rep.Errors, verifyDecisions(block, f, d.lines)...)
	case len(bad) == 0:
		rep.Warnings = append(rep.Warnings, Finding{Rule: RuleDecisionsMissing,
			Message: "No decisions block (```yaml fleetgen-decisions: ...```, which the Pro prompt asks for at the end of the answer): nothing was checked exactly, only the heuristics below ran."})
	}
	seen := map[string]bool{}
	for _, r := range buildRules(f) {
		for start := 0; start < len(d.units); {
			end := start + 1
			for end < len(d.units) && d.units[end].block == d.units[start].block {
				end++
			}
			for _, v := range r.findings(d.units[start:end]) {
				key := fmt.Sprintf("%s:%d", r.id, v.tok.line)
				if seen[key] {
					continue
				}
				seen[key] = true
				rep.Warnings = append(rep.Warnings, Finding{
					Line:    v.tok.line,
					Rule:    r.id,
					Message: r.message(v.it),
					Excerpt: excerpt(d.lines[v.tok.line-1]),
				})
			}
			start = end
		}
	}
	for i, task := range Tasks() {
		if d.sections[task] == 0 {
			rep.Warnings = append(rep.Warnings, Finding{
				Rule:    RuleMissingSection + ":" + task,
				Message: missingMessages[i],
			})
		}
	}
	// By line; document-level findings first, in task order.
	sort.SliceStable(rep.Warnings, func(i, j int) bool {
		a, b := rep.Warnings[i], rep.Warnings[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Line > 0 && a.Rule < b.Rule
	})
	return rep, nil
}

var missingMessages = []string{
	`No heading covers task 1, the choice of Kubernetes distribution (e.g. "## 1. Distribution: K3s").`,
	`No heading covers task 2, fleet management with GitOps (e.g. "## 2. Fleet management with Flux").`,
	`No heading covers task 3, resilience to network outages (e.g. "## 3. Resilience to network outages").`,
	`No heading covers task 4, node security (e.g. "## 4. Node security").`,
}

func invalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// excerpt is a line trimmed of white space, shortened to 120 characters.
func excerpt(line string) string {
	s := strings.Join(strings.Fields(strings.TrimPrefix(line, "\uFEFF")), " ")
	const max = 120
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max-1]) + "…"
	}
	return s
}

// WriteText writes the report for people: errors first, then warnings, one
// per line as "NAME:LINE: error|warning: RULE: MESSAGE" (no LINE for a
// document-level finding) followed by the excerpt, then a summary line.
func (r Report) WriteText(w io.Writer, name string) error {
	var b strings.Builder
	write := func(sev string, fs []Finding) {
		for _, f := range fs {
			if f.Line > 0 {
				fmt.Fprintf(&b, "%s:%d: %s: %s: %s\n", name, f.Line, sev, f.Rule, f.Message)
			} else {
				fmt.Fprintf(&b, "%s: %s: %s: %s\n", name, sev, f.Rule, f.Message)
			}
			if f.Excerpt != "" {
				fmt.Fprintf(&b, "\t%s\n", f.Excerpt)
			}
		}
	}
	write("error", r.Errors)
	write("warning", r.Warnings)
	found := 0
	for _, task := range Tasks() {
		if r.Sections[task] > 0 {
			found++
		}
	}
	block := "no decisions block"
	switch {
	case r.Decisions != nil && len(r.Errors) == 0:
		block = "decisions block matches the plan"
	case r.Decisions != nil:
		block = "decisions block read"
	case len(r.Errors) > 0:
		block = "decisions block malformed"
	}
	if r.OK() {
		fmt.Fprintf(&b, "%s: no contradiction with the plan found; %s; %d of 4 task sections present\n", name, block, found)
	} else {
		fmt.Fprintf(&b, "%s: %s, %s; %s; %d of 4 task sections present\n", name, plural(len(r.Errors), "error"), plural(len(r.Warnings), "warning"), block, found)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
