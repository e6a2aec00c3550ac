package design

import (
	"regexp"
	"strings"
	"sync"
)

// document is a design document cut into headings and units (sentences,
// list items, table rows, code lines) of tokens.
type document struct {
	lines     []string // the file's lines without terminators; lines[i] is line i+1
	bodyStart int      // index of the first line after the front matter
	headings  []heading
	units     []*unit
	sections  map[string]int
	// skip marks the lines of the decisions block: read exactly, not as prose.
	skip map[int]bool
}

type heading struct {
	line, level int
	toks        []token // words of the heading, numbering ("2.1.") removed
	reject      bool    // a section listing rejected options ("Alternativas descartadas")
}

// unit is a sentence, or a list item, table row or code line without
// sentence punctuation.
type unit struct {
	toks     []token
	ann      []cue
	question bool
	heading  bool
	task     bool // the heading starts one of the four tasks
	table3   bool // a row of a table with three or more columns: a comparison
	reject   bool // inside a section of rejected options
	block    int  // index of the Markdown block (paragraph, list item, row…)
}

type blockKind uint8

const (
	bPara blockKind = iota
	bList
	bHeading
	bTable
	bCode
)

type block struct {
	kind  blockKind
	level int      // heading level
	lines []int    // line indexes
	texts []string // text of each line without Markdown markers
	cols  int      // columns of the table a row belongs to
}

var (
	reFence     = lazyRegexp("^ {0,3}(`{3,}|~{3,})")
	reATX       = lazyRegexp(`^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$`)
	reATXClose  = lazyRegexp(`(?:^|[ \t]+)#+$`)
	reSetext    = lazyRegexp(`^ {0,3}(=+|-+)[ \t]*$`)
	reHR        = lazyRegexp(`^ {0,3}(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$`)
	reQuote     = lazyRegexp(`^ {0,3}>[ \t]?`)
	reList      = lazyRegexp(`^[ \t]*(?:[-*+]|\d{1,9}[.)])(?:[ \t]+|$)`)
	reTableDel  = lazyRegexp(`^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$`)
	reNumbering = lazyRegexp(`^(?:\d+(?:\.\d+)*[.)]?|[IVX]+\.)[ \t]+`)
)

// splitLines splits doc into lines without "\n" or "\r\n".
func splitLines(doc string) []string {
	lines := strings.Split(doc, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

// frontMatterEnd returns the number of lines taken by a YAML front matter
// block ("---" on the first line, closed by "---" or "..."), 0 if none.
// closed is false when the first line opens a block that is never closed.
func frontMatterEnd(lines []string) (n int, closed bool) {
	if len(lines) == 0 || strings.TrimRight(strings.TrimPrefix(lines[0], "\uFEFF"), " \t") != "---" {
		return 0, true
	}
	for i := 1; i < len(lines); i++ {
		if t := strings.TrimRight(lines[i], " \t"); t == "---" || t == "..." {
			return i + 1, true
		}
	}
	return 0, false
}

// parse cuts the document (valid UTF-8) into blocks, headings and units.
func parse(doc string) *document {
	d := &document{lines: splitLines(doc)}
	d.bodyStart, _ = frontMatterEnd(d.lines)
	d.skip = map[int]bool{}
	for _, b := range fencedBlocks(d.lines, d.bodyStart) {
		if firstKey(b.body) == DecisionsKey {
			for k := range b.body {
				d.skip[b.start+1+k] = true
			}
		}
	}
	blocks := d.blocks()

	// Headings and task sections first: a heading that starts a task never
	// marks a section of rejected options.
	for _, b := range blocks {
		if b.kind == bHeading {
			text := strings.Join(b.texts, " ")
			text = reNumbering().ReplaceAllString(strings.TrimSpace(text), "")
			d.headings = append(d.headings, heading{line: b.lines[0] + 1, level: b.level, toks: words(text)})
		}
	}
	d.sections = findSections(d.headings)
	starts := map[int]bool{}
	for _, l := range d.sections {
		starts[l] = true
	}
	for i := range d.headings {
		h := &d.headings[i]
		h.reject = !starts[h.line] && rejectHeadings.in(h.toks)
	}

	// Units, with the context of the enclosing headings.
	var stack []heading
	hi := 0
	for bi, b := range blocks {
		ctx := unit{block: bi}
		if b.kind == bHeading {
			h := d.headings[hi]
			hi++
			for len(stack) > 0 && stack[len(stack)-1].level >= h.level {
				stack = stack[:len(stack)-1]
			}
			stack = append(stack, h)
			ctx.heading = true
			ctx.task = starts[h.line]
		}
		for _, h := range stack {
			ctx.reject = ctx.reject || h.reject
		}
		ctx.table3 = b.kind == bTable && b.cols >= 3
		ub := &unitBuilder{ctx: ctx}
		pipe := tWord // not a token
		if b.kind == bTable {
			pipe = tColon // "| GitOps | Argo CD |" reads "GitOps: Argo CD"
			if b.cols >= 3 {
				pipe = tClause // cells of a comparison are apart
			}
		}
		for k, text := range b.texts {
			if b.kind == bHeading && k == 0 {
				text = reNumbering().ReplaceAllString(strings.TrimSpace(text), "")
			}
			if b.kind == bTable {
				text = markEmptyCells(text)
			}
			tokenize(text, b.lines[k]+1, pipe, ub)
		}
		ub.endSentence()
		d.units = append(d.units, ub.units...)
	}
	return d
}

// blocks cuts the body into Markdown blocks.
func (d *document) blocks() []block {
	var bs []block
	open := -1 // paragraph or list item taking continuation lines
	inFence, fenceMark := false, ""
	tableCols, lastTableLine := 0, -2
	for i := d.bodyStart; i < len(d.lines); i++ {
		raw := d.lines[i]
		if inFence {
			t := strings.TrimSpace(raw)
			if strings.HasPrefix(t, fenceMark) && strings.Trim(t, fenceMark[:1]) == "" && len(raw)-len(strings.TrimLeft(raw, " ")) < 4 {
				inFence = false
				continue
			}
			if !d.skip[i] {
				bs = append(bs, block{kind: bCode, lines: []int{i}, texts: []string{raw}})
			}
			continue
		}
		if m := reFence().FindStringSubmatch(raw); m != nil {
			inFence, fenceMark, open = true, m[1], -1
			continue
		}
		if strings.TrimSpace(raw) == "" {
			open = -1
			continue
		}
		if m := reATX().FindStringSubmatch(raw); m != nil {
			text := reATXClose().ReplaceAllString(m[2], "")
			bs = append(bs, block{kind: bHeading, level: len(m[1]), lines: []int{i}, texts: []string{text}})
			open = -1
			continue
		}
		if m := reSetext().FindStringSubmatch(raw); m != nil && open >= 0 && bs[open].kind == bPara {
			bs[open].kind, bs[open].level = bHeading, 1
			if m[1][0] == '-' {
				bs[open].level = 2
			}
			open = -1
			continue
		}
		if reHR().MatchString(raw) {
			open = -1
			continue
		}
		text := raw
		for reQuote().MatchString(text) {
			text = reQuote().ReplaceAllString(text, "")
		}
		if strings.TrimSpace(text) == "" {
			open = -1
			continue
		}
		if t := strings.TrimSpace(text); strings.HasPrefix(t, "|") {
			if reTableDel().MatchString(t) {
				lastTableLine = i
				continue
			}
			if lastTableLine != i-1 {
				tableCols = countCells(t)
			}
			lastTableLine = i
			bs = append(bs, block{kind: bTable, lines: []int{i}, texts: []string{text}, cols: tableCols})
			open = -1
			continue
		}
		if loc := reList().FindStringIndex(text); loc != nil {
			bs = append(bs, block{kind: bList, lines: []int{i}, texts: []string{text[loc[1]:]}})
			open = len(bs) - 1
			continue
		}
		if open >= 0 {
			bs[open].lines = append(bs[open].lines, i)
			bs[open].texts = append(bs[open].texts, text)
			continue
		}
		bs = append(bs, block{kind: bPara, lines: []int{i}, texts: []string{text}})
		open = len(bs) - 1
	}
	return bs
}

// markEmptyCells writes "none" in the cells of a table row that say nothing
// but "-", "—", "N/A": "| Service mesh | — |" rejects the service mesh.
func markEmptyCells(row string) string {
	cells := strings.Split(row, "|")
	for i, c := range cells {
		switch strings.ToLower(strings.Trim(strings.TrimSpace(c), "*_`")) {
		case "-", "—", "–", "n/a", "n/d", "x":
			cells[i] = " none "
		}
	}
	return strings.Join(cells, "|")
}

// countCells counts the cells of a table row "| a | b |".
func countCells(row string) int {
	row = strings.TrimSpace(row)
	row = strings.TrimPrefix(row, "|")
	row = strings.TrimSuffix(row, "|")
	return strings.Count(row, "|") + 1
}

// unitBuilder collects the tokens of a block into sentence units.
type unitBuilder struct {
	ctx   unit
	cur   *unit
	units []*unit
}

// maxUnit caps the tokens of a unit: a "sentence" without punctuation
// (a huge table row, a generated list of words) is cut, which keeps the
// work per unit bounded. Real sentences are far shorter.
const maxUnit = 300

func (b *unitBuilder) add(t token) {
	if b.cur != nil && len(b.cur.toks) >= maxUnit {
		b.endSentence()
	}
	if b.cur == nil {
		u := b.ctx
		b.cur = &u
	}
	b.cur.toks = append(b.cur.toks, t)
}

func (b *unitBuilder) question() {
	if b.cur == nil {
		u := b.ctx
		b.cur = &u
	}
	b.cur.question = true
}

func (b *unitBuilder) endSentence() {
	if b.cur != nil && len(b.cur.toks) > 0 {
		b.cur.ann = annotate(b.cur.toks)
		b.units = append(b.units, b.cur)
	}
	b.cur = nil
}

// findSections maps each task to the line of the first heading naming it.
// The document title (the only level-1 heading, first of several) is used
// only when no other heading names the task.
func findSections(hs []heading) map[string]int {
	sec := map[string]int{}
	title := -1
	if len(hs) > 1 && hs[0].level == 1 {
		title = 0
		for _, h := range hs[1:] {
			if h.level == 1 {
				title = -1
				break
			}
		}
	}
	for _, task := range Tasks() {
		sec[task] = 0
		m := taskHeadings[task]
		for i, h := range hs {
			if i != title && m.in(h.toks) {
				sec[task] = h.line
				break
			}
		}
		if sec[task] == 0 && title >= 0 && m.in(hs[title].toks) {
			sec[task] = hs[title].line
		}
	}
	return sec
}

// lazyRegexp compiles expr on first use: every fleetgen command links this
// package, and compiling its expressions at start-up cost each run time.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
