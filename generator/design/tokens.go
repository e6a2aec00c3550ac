package design

import (
	"strings"
	"unicode"
)

// tokKind is the kind of a token of a unit.
type tokKind uint8

const (
	tWord   tokKind = iota // a word: lower case, accents folded ("clústeres" -> "clusteres")
	tClause                // ';', or a cell separator in a comparison table: ends the window of a cue
	tColon                 // ':', or a cell separator in a two-column table: "GitOps: Argo CD"
)

type token struct {
	w    string
	kind tokKind
	line int // 1-based line of the file
}

// Symbols the tokenizer turns into words so that cue lists can name them.
const (
	symNo  = "✗" // ❌ ✗ ✘ 🚫 ⛔
	symYes = "✓" // ✅ ✔ ✓ ☑
)

// fold lower-cases r and removes the accents of Spanish and other Latin letters.
func fold(r rune) rune {
	r = unicode.ToLower(r)
	switch r {
	case 'á', 'à', 'ä', 'â', 'ã', 'å':
		return 'a'
	case 'é', 'è', 'ë', 'ê':
		return 'e'
	case 'í', 'ì', 'ï', 'î':
		return 'i'
	case 'ó', 'ò', 'ö', 'ô', 'õ':
		return 'o'
	case 'ú', 'ù', 'ü', 'û':
		return 'u'
	case 'ñ':
		return 'n'
	case 'ç':
		return 'c'
	}
	return r
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// abbreviations whose trailing '.' does not end a sentence ("K3s vs. k0s").
var abbreviations = map[string]bool{
	"vs": true, "ej": true, "eg": true, "ie": true, "cf": true, "aprox": true,
	"approx": true, "incl": true, "fig": true, "pag": true, "resp": true,
}

// sink receives the tokens of a block and the sentence ends found in it.
type sink interface {
	add(t token)
	endSentence()
	question()
}

// tokenize splits one line of text into tokens. pipe is the kind of token a
// '|' becomes in a table row; tWord means it is a plain separator.
func tokenize(s string, line int, pipe tokKind, out sink) {
	rs := []rune(s)
	var word []rune
	last := "" // the last word emitted on this line
	flush := func() bool {
		if len(word) == 0 {
			return false
		}
		last = string(word)
		out.add(token{w: last, kind: tWord, line: line})
		word = word[:0]
		return true
	}
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case isWordRune(r):
			word = append(word, fold(r))
		case unicode.Is(unicode.Mn, r):
			// A combining accent (decomposed text): "e\u0301" reads as "e".
		case (r == '\'' || r == '’') && len(word) > 0 && i+1 < len(rs) && (rs[i+1] == 't' || rs[i+1] == 'T') &&
			(i+2 == len(rs) || !isWordRune(rs[i+2])):
			// don't, won't, isn't: the stem, then "not".
			flush()
			out.add(token{w: "not", kind: tWord, line: line})
			last = "not"
			i++
		case r == '.' || r == '!' || r == '?' || r == '…':
			had := flush()
			if r == '?' {
				out.question()
			}
			if i+1 < len(rs) && !sentenceFollower(rs[i+1]) {
				continue // "k3s.io", "1.5", "e.g.,"
			}
			if r == '.' && had && (len([]rune(last)) == 1 || abbreviations[last]) {
				continue
			}
			out.endSentence()
		case r == '¿':
			flush()
			out.question()
		case r == ';':
			flush()
			out.add(token{kind: tClause, line: line})
		case r == ':':
			flush()
			out.add(token{kind: tColon, line: line})
		case r == '|' && pipe != tWord:
			flush()
			out.add(token{kind: pipe, line: line})
		case r == '❌' || r == '✗' || r == '✘' || r == '🚫' || r == '⛔':
			flush()
			out.add(token{w: symNo, kind: tWord, line: line})
		case r == '✅' || r == '✔' || r == '✓' || r == '☑':
			flush()
			out.add(token{w: symYes, kind: tWord, line: line})
		default:
			flush()
		}
	}
	flush()
}

// sentenceFollower reports whether r, right after '.', '!' or '?', lets the
// punctuation end a sentence: white space or closing Markdown/quotes.
func sentenceFollower(r rune) bool {
	return unicode.IsSpace(r) || strings.ContainsRune(")]*_`\"'»”’", r)
}

// ---- patterns ----

// elem is one element of a pattern.
type elem struct {
	words    []string // alternatives matched exactly
	prefixes []string // alternatives written with a trailing '*'
	not      bool     // zero-width: the current token must not match
	colon    bool     // matches a tColon token
	gap      int      // skips up to gap tokens (words or colons) lazily before the next element
	anyEnd   bool     // zero-width: end of the unit or a clause boundary
}

// pattern is a sequence of elements, written as a space-separated spec:
// "en lugar de", "recomend*", "zero !trust", "gitops :", "kubectl ~3 apply",
// "push* ~5 cluster*|edge", "no $".
type pattern []elem

func compile(spec string) pattern {
	var p pattern
	for _, f := range strings.Fields(spec) {
		switch {
		case f == ":":
			p = append(p, elem{colon: true})
		case f == "$":
			p = append(p, elem{anyEnd: true})
		case f[0] == '~':
			n := 0
			for _, c := range f[1:] {
				n = n*10 + int(c-'0')
			}
			p = append(p, elem{gap: n})
		case f[0] == '!':
			e := alternatives(f[1:])
			e.not = true
			p = append(p, e)
		default:
			p = append(p, alternatives(f))
		}
	}
	return p
}

func alternatives(f string) elem {
	var e elem
	for _, a := range strings.Split(f, "|") {
		if w, ok := strings.CutSuffix(a, "*"); ok {
			e.prefixes = append(e.prefixes, w)
		} else {
			e.words = append(e.words, a)
		}
	}
	return e
}

func compileAll(specs ...string) []pattern {
	ps := make([]pattern, len(specs))
	for i, s := range specs {
		ps[i] = compile(s)
	}
	return ps
}

func (e elem) matchWord(w string) bool {
	for _, a := range e.words {
		if w == a {
			return true
		}
	}
	for _, a := range e.prefixes {
		if strings.HasPrefix(w, a) {
			return true
		}
	}
	return false
}

// plain reports whether e matches one word (not a colon, gap or assertion).
func (e elem) plain() bool { return !e.not && !e.colon && e.gap == 0 && !e.anyEnd }

// matchAt matches p at toks[i:] and returns the end of the match.
func (p pattern) matchAt(toks []token, i int) (int, bool) {
	return matchFrom(p, toks, i)
}

func matchFrom(p pattern, toks []token, i int) (int, bool) {
	for k := 0; k < len(p); k++ {
		e := p[k]
		switch {
		case e.gap > 0:
			// Lazy: try the rest of the pattern after skipping 0..gap tokens.
			rest := p[k+1:]
			for skip := 0; skip <= e.gap && i+skip <= len(toks); skip++ {
				if skip > 0 && toks[i+skip-1].kind == tClause {
					break
				}
				if end, ok := matchFrom(rest, toks, i+skip); ok {
					return end, true
				}
			}
			return 0, false
		case e.anyEnd:
			if i < len(toks) && toks[i].kind != tClause {
				return 0, false
			}
		case e.not:
			if i < len(toks) && toks[i].kind == tWord && e.matchWord(toks[i].w) {
				return 0, false
			}
		case e.colon:
			if i >= len(toks) || toks[i].kind != tColon {
				return 0, false
			}
			i++
		default:
			if i >= len(toks) || toks[i].kind != tWord || !e.matchWord(toks[i].w) {
				return 0, false
			}
			i++
		}
	}
	return i, true
}

// matcher finds the patterns of a set in a token list. Patterns are indexed
// by their first element.
type matcher struct {
	pats     []pattern
	byWord   map[string][]int
	byPrefix []prefixIndex
	other    []int // patterns starting with an assertion, a colon or a gap
}

type prefixIndex struct {
	prefix string
	pat    int
}

func newMatcher(specs ...string) *matcher { return newMatcherOf(compileAll(specs...)) }

func newMatcherOf(pats []pattern) *matcher {
	m := &matcher{pats: pats, byWord: map[string][]int{}}
	for i, p := range pats {
		if len(p) == 0 || !p[0].plain() {
			m.other = append(m.other, i)
			continue
		}
		for _, w := range p[0].words {
			m.byWord[w] = append(m.byWord[w], i)
		}
		for _, pre := range p[0].prefixes {
			m.byPrefix = append(m.byPrefix, prefixIndex{pre, i})
		}
	}
	return m
}

// longestAt returns the end of the longest pattern matching at i.
func (m *matcher) longestAt(toks []token, i int) (int, bool) {
	if m == nil || toks[i].kind != tWord {
		return 0, false
	}
	best, found := 0, false
	try := func(k int) {
		if end, ok := m.pats[k].matchAt(toks, i); ok && end > i && end > best {
			best, found = end, true
		}
	}
	w := toks[i].w
	for _, k := range m.byWord[w] {
		try(k)
	}
	for _, pi := range m.byPrefix {
		if strings.HasPrefix(w, pi.prefix) {
			try(pi.pat)
		}
	}
	for _, k := range m.other {
		try(k)
	}
	return best, found
}

// spans returns the non-overlapping, leftmost-longest matches in toks.
func (m *matcher) spans(toks []token) [][2]int {
	var out [][2]int
	for i := 0; i < len(toks); i++ {
		if end, ok := m.longestAt(toks, i); ok {
			out = append(out, [2]int{i, end})
			i = end - 1
		}
	}
	return out
}

// any reports whether some pattern matches somewhere in toks.
func (m *matcher) in(toks []token) bool {
	for i := range toks {
		if _, ok := m.longestAt(toks, i); ok {
			return true
		}
	}
	return false
}

// words returns the words of a text as the tokenizer sees them.
func words(s string) []token {
	var c collector
	tokenize(s, 0, tWord, &c)
	return c.toks
}

type collector struct{ toks []token }

func (c *collector) add(t token)  { c.toks = append(c.toks, t) }
func (c *collector) endSentence() { c.toks = append(c.toks, token{kind: tClause}) }
func (c *collector) question()    {}
