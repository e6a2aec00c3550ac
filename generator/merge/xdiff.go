package merge

import "bytes"

// This file holds the line diff engine shared by Merge3 and Unified.
//
// It is a Go re-implementation of the algorithm used by git's default
// ("myers") diff, so that Merge3 makes the same choices as
// `git merge-file` wherever a diff is ambiguous (repeated lines, blank
// lines, closing braces, ...). The stages are:
//
//  1. split both inputs into lines (a line ends with and includes '\n';
//     the last one may lack it) and give equal lines the same class;
//  2. drop the common prefix and suffix, then set aside lines that cannot
//     take part in a match (no occurrence in the other file, or a run of
//     frequent lines among such lines) — they are changed by definition;
//  3. Myers' O(ND) divide and conquer on what is left, with git's cost
//     heuristics for large inputs;
//  4. slide each group of changed lines as far down as it goes, then back
//     up to line up with a change on the other side if one was passed;
//  5. collect the groups into a list of hunks.

// splitLines cuts b into lines, each including its trailing '\n'. The last
// line lacks the '\n' when b does not end with one. Empty input has no lines.
func splitLines(b []byte) [][]byte {
	if len(b) == 0 {
		return nil
	}
	lines := make([][]byte, 0, bytes.Count(b, []byte{'\n'})+1)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			lines = append(lines, b)
			break
		}
		lines = append(lines, b[:i+1:i+1])
		b = b[i+1:]
	}
	return lines
}

// side is one input of a two-way diff.
type side struct {
	lines [][]byte
	class []int  // class[i]: equal lines have equal classes
	chg   []bool // chg[i+1] reports whether line i is changed; chg[0] and chg[len] are sentinels
	// ref maps the positions of the lines that take part in the Myers
	// search to line numbers; refClass holds their classes.
	ref      []int
	refClass []int
}

func (s *side) n() int                   { return len(s.lines) }
func (s *side) changed(i int) bool       { return s.chg[i+1] }
func (s *side) setChanged(i int, v bool) { s.chg[i+1] = v }

// hunk is one change of a two-way diff: lines [a, a+na) of the old side
// were replaced by lines [b, b+nb) of the new side.
type hunk struct {
	a, b   int
	na, nb int
}

// diffLines diffs old against new and returns the sides (lines, classes and
// changed flags) together with the hunks in order.
func diffLines(old, new []byte) (*side, *side, []hunk) {
	a := &side{lines: splitLines(old)}
	b := &side{lines: splitLines(new)}
	classify(a, b)
	a.chg = make([]bool, a.n()+2)
	b.chg = make([]bool, b.n()+2)
	reduce(a, b)
	m := &myers{a: a, b: b}
	m.run()
	compact(a, b)
	compact(b, a)
	return a, b, script(a, b)
}

func classify(a, b *side) {
	ids := make(map[string]int, a.n()+b.n())
	for _, s := range []*side{a, b} {
		s.class = make([]int, s.n())
		for i, l := range s.lines {
			id, ok := ids[string(l)]
			if !ok {
				id = len(ids)
				ids[string(l)] = id
			}
			s.class[i] = id
		}
	}
}

// isqrtish is the rough square root (a power of two) git uses for its limits.
func isqrtish(n int) int {
	r := 1
	for ; n > 0; n >>= 2 {
		r <<= 1
	}
	return r
}

const (
	maxEqLimit   = 1024 // cap on the "frequent line" threshold
	simscanWin   = 100  // how far a run of discardable lines is scanned
	kpdisRun     = 4
	maxCostMin   = 256 // minimum edit cost before giving up on optimality
	heurMinCost  = 256 // edit cost above which good snakes are taken early
	snakeCnt     = 20  // length of a "good" snake
	kHeur        = 4
	lineMaxValue = 1 << 60
)

// line match kinds used while reducing the problem.
const (
	noMatch   = 0
	oneMatch  = 1
	manyMatch = 2
)

// reduce trims the common prefix and suffix and marks the lines that
// cannot match as changed; the rest go into ref/refClass.
func reduce(a, b *side) {
	lim := min(a.n(), b.n())
	start := 0
	for start < lim && a.class[start] == b.class[start] {
		start++
	}
	suffix := 0
	for suffix < lim-start && a.class[a.n()-1-suffix] == b.class[b.n()-1-suffix] {
		suffix++
	}
	aEnd, bEnd := a.n()-suffix, b.n()-suffix // exclusive

	countA := make(map[int]int)
	countB := make(map[int]int)
	for _, c := range a.class {
		countA[c]++
	}
	for _, c := range b.class {
		countB[c]++
	}
	keep(a, start, aEnd, countB)
	keep(b, start, bEnd, countA)
}

// keep fills s.ref with the lines of s[start:end] worth matching, given how
// often each class occurs in the other file, and marks the others changed.
func keep(s *side, start, end int, other map[int]int) {
	limit := min(isqrtish(s.n()), maxEqLimit)
	kind := make([]int8, s.n())
	for i := start; i < end; i++ {
		switch n := other[s.class[i]]; {
		case n == 0:
			kind[i] = noMatch
		case n >= limit:
			kind[i] = manyMatch
		default:
			kind[i] = oneMatch
		}
	}
	for i := start; i < end; i++ {
		if kind[i] == oneMatch || (kind[i] == manyMatch && !discardable(kind, i, start, end-1)) {
			s.ref = append(s.ref, i)
			s.refClass = append(s.refClass, s.class[i])
		} else {
			s.setChanged(i, true)
		}
	}
}

// discardable reports whether the frequent line i sits in a run made mostly
// of lines without any match (within [lo, hi]); such lines are not worth
// matching.
func discardable(kind []int8, i, lo, hi int) bool {
	lo = max(lo, i-simscanWin)
	hi = min(hi, i+simscanWin)
	none, many := 0, 1
	for j := i - 1; j >= lo; j-- {
		if kind[j] == noMatch {
			none++
		} else if kind[j] == manyMatch {
			many++
		} else {
			break
		}
	}
	if none == 0 {
		return false
	}
	noneAfter, manyAfter := 0, 1
	for j := i + 1; j <= hi; j++ {
		if kind[j] == noMatch {
			noneAfter++
		} else if kind[j] == manyMatch {
			manyAfter++
		} else {
			break
		}
	}
	if noneAfter == 0 {
		return false
	}
	none += noneAfter
	many += manyAfter
	return many*kpdisRun < many+none
}

// myers is the state of the divide and conquer search over a.refClass and
// b.refClass.
type myers struct {
	a, b    *side
	x, y    []int // the two sequences of classes
	fwd     []int // furthest reaching x on each diagonal, forward search
	bwd     []int // same for the backward search
	off     int   // index of diagonal 0 in fwd and bwd
	maxCost int
}

func (m *myers) run() {
	m.x, m.y = m.a.refClass, m.b.refClass
	nd := len(m.x) + len(m.y) + 3
	m.fwd = make([]int, nd)
	m.bwd = make([]int, nd)
	m.off = len(m.y) + 1
	m.maxCost = max(isqrtish(nd), maxCostMin)
	m.compare(0, len(m.x), 0, len(m.y), false)
}

// compare marks the changed lines between x[lo1:hi1] and y[lo2:hi2].
func (m *myers) compare(lo1, hi1, lo2, hi2 int, minimal bool) {
	for lo1 < hi1 && lo2 < hi2 && m.x[lo1] == m.y[lo2] {
		lo1++
		lo2++
	}
	for lo1 < hi1 && lo2 < hi2 && m.x[hi1-1] == m.y[hi2-1] {
		hi1--
		hi2--
	}
	switch {
	case lo1 == hi1:
		for ; lo2 < hi2; lo2++ {
			m.b.setChanged(m.b.ref[lo2], true)
		}
	case lo2 == hi2:
		for ; lo1 < hi1; lo1++ {
			m.a.setChanged(m.a.ref[lo1], true)
		}
	default:
		sp := m.split(lo1, hi1, lo2, hi2, minimal)
		m.compare(lo1, sp.x, lo2, sp.y, sp.minLo)
		m.compare(sp.x, hi1, sp.y, hi2, sp.minHi)
	}
}

type splitPoint struct {
	x, y         int
	minLo, minHi bool // whether each half must still be diffed minimally
}

// split finds where an (almost) optimal edit path between x[lo1:hi1] and
// y[lo2:hi2] crosses its middle diagonal, searching forward from the top
// left corner and backward from the bottom right one at the same time
// (diagonal k holds the points with i-j == k). Past a cost threshold it
// settles for a long common run or the furthest point reached.
func (m *myers) split(lo1, hi1, lo2, hi2 int, minimal bool) splitPoint {
	x, y := m.x, m.y
	o := m.off
	f, b := m.fwd, m.bwd
	kmin, kmax := lo1-hi2, hi1-lo2
	fmid, bmid := lo1-lo2, hi1-hi2
	odd := (fmid-bmid)&1 != 0
	fmin, fmax := fmid, fmid
	bmin, bmax := bmid, bmid

	f[o+fmid] = lo1
	b[o+bmid] = hi1

	for cost := 1; ; cost++ {
		gotSnake := false

		// Grow the forward range of diagonals by one on each end, or
		// shrink it where it would leave the box.
		if fmin > kmin {
			fmin--
			f[o+fmin-1] = -1
		} else {
			fmin++
		}
		if fmax < kmax {
			fmax++
			f[o+fmax+1] = -1
		} else {
			fmax--
		}
		for k := fmax; k >= fmin; k -= 2 {
			var i int
			if f[o+k-1] >= f[o+k+1] {
				i = f[o+k-1] + 1
			} else {
				i = f[o+k+1]
			}
			start := i
			j := i - k
			for i < hi1 && j < hi2 && x[i] == y[j] {
				i++
				j++
			}
			if i-start > snakeCnt {
				gotSnake = true
			}
			f[o+k] = i
			if odd && bmin <= k && k <= bmax && b[o+k] <= i {
				return splitPoint{i, j, true, true}
			}
		}

		if bmin > kmin {
			bmin--
			b[o+bmin-1] = lineMaxValue
		} else {
			bmin++
		}
		if bmax < kmax {
			bmax++
			b[o+bmax+1] = lineMaxValue
		} else {
			bmax--
		}
		for k := bmax; k >= bmin; k -= 2 {
			var i int
			if b[o+k-1] < b[o+k+1] {
				i = b[o+k-1]
			} else {
				i = b[o+k+1] - 1
			}
			start := i
			j := i - k
			for i > lo1 && j > lo2 && x[i-1] == y[j-1] {
				i--
				j--
			}
			if start-i > snakeCnt {
				gotSnake = true
			}
			b[o+k] = i
			if !odd && fmin <= k && k <= fmax && i <= f[o+k] {
				return splitPoint{i, j, true, true}
			}
		}

		if minimal {
			continue
		}

		// Expensive input: accept a point that is far along and ends
		// a long run of common lines.
		if gotSnake && cost > heurMinCost {
			best := 0
			var sp splitPoint
			for k := fmax; k >= fmin; k -= 2 {
				i := f[o+k]
				j := i - k
				v := (i - lo1) + (j - lo2) - abs(k-fmid)
				if v > kHeur*cost && v > best &&
					lo1+snakeCnt <= i && i < hi1 && lo2+snakeCnt <= j && j < hi2 {
					for n := 1; x[i-n] == y[j-n]; n++ {
						if n == snakeCnt {
							best = v
							sp = splitPoint{i, j, true, false}
							break
						}
					}
				}
			}
			if best > 0 {
				return sp
			}
			for k := bmax; k >= bmin; k -= 2 {
				i := b[o+k]
				j := i - k
				v := (hi1 - i) + (hi2 - j) - abs(k-bmid)
				if v > kHeur*cost && v > best &&
					lo1 < i && i <= hi1-snakeCnt && lo2 < j && j <= hi2-snakeCnt {
					for n := 0; x[i+n] == y[j+n]; n++ {
						if n == snakeCnt-1 {
							best = v
							sp = splitPoint{i, j, false, true}
							break
						}
					}
				}
			}
			if best > 0 {
				return sp
			}
		}

		// Enough: take the furthest point reached by either search.
		if cost >= m.maxCost {
			fbest, fbestX := -1, -1
			for k := fmax; k >= fmin; k -= 2 {
				i := min(f[o+k], hi1)
				j := i - k
				if hi2 < j {
					i = hi2 + k
					j = hi2
				}
				if fbest < i+j {
					fbest = i + j
					fbestX = i
				}
			}
			bbest, bbestX := lineMaxValue, lineMaxValue
			for k := bmax; k >= bmin; k -= 2 {
				i := max(lo1, b[o+k])
				j := i - k
				if j < lo2 {
					i = lo2 + k
					j = lo2
				}
				if i+j < bbest {
					bbest = i + j
					bbestX = i
				}
			}
			if (hi1+hi2)-bbest < fbest-(lo1+lo2) {
				return splitPoint{fbestX, fbest - fbestX, true, false}
			}
			return splitPoint{bbestX, bbest - bbestX, false, true}
		}
	}
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// group is a run [start, end) of changed lines of one side; an empty group
// (start == end) sits just before line start.
type group struct{ start, end int }

func (s *side) firstGroup() group {
	g := group{}
	for s.changed(g.end) {
		g.end++
	}
	return g
}

// nextGroup moves g to the following group; false at the end of the file.
func (s *side) nextGroup(g *group) bool {
	if g.end == s.n() {
		return false
	}
	g.start = g.end + 1
	g.end = g.start
	for s.changed(g.end) {
		g.end++
	}
	return true
}

// prevGroup moves g to the preceding group; false at the start of the file.
func (s *side) prevGroup(g *group) bool {
	if g.start == 0 {
		return false
	}
	g.end = g.start - 1
	g.start = g.end
	for s.changed(g.start - 1) {
		g.start--
	}
	return true
}

// slideDown shifts g one line down if its first line equals the line after
// it, absorbing any group it runs into.
func (s *side) slideDown(g *group) bool {
	if g.end >= s.n() || s.class[g.start] != s.class[g.end] {
		return false
	}
	s.setChanged(g.start, false)
	g.start++
	s.setChanged(g.end, true)
	g.end++
	for s.changed(g.end) {
		g.end++
	}
	return true
}

// slideUp shifts g one line up if its last line equals the line before it,
// absorbing any group it runs into.
func (s *side) slideUp(g *group) bool {
	if g.start == 0 || s.class[g.start-1] != s.class[g.end-1] {
		return false
	}
	g.start--
	s.setChanged(g.start, true)
	g.end--
	s.setChanged(g.end, false)
	for s.changed(g.start - 1) {
		g.start--
	}
	return true
}

// compact slides the groups of changed lines of s (keeping the groups of
// o, the other side, in step): first up and down as far as possible,
// merging groups that meet, then, if on the way down the group passed a
// position facing a change in o, back up to the last such position.
func compact(s, o *side) {
	g := s.firstGroup()
	og := o.firstGroup()
	for {
		if g.end != g.start {
			var size, earliestEnd int
			endMatchingOther := -1
			for {
				size = g.end - g.start
				endMatchingOther = -1
				for s.slideUp(&g) {
					mustStep(o.prevGroup(&og))
				}
				earliestEnd = g.end
				if og.end > og.start {
					endMatchingOther = g.end
				}
				for s.slideDown(&g) {
					mustStep(o.nextGroup(&og))
					if og.end > og.start {
						endMatchingOther = g.end
					}
				}
				if size == g.end-g.start {
					break
				}
			}
			if g.end != earliestEnd && endMatchingOther != -1 {
				for og.end == og.start {
					mustStep(s.slideUp(&g))
					mustStep(o.prevGroup(&og))
				}
			}
		}
		if !s.nextGroup(&g) {
			break
		}
		mustStep(o.nextGroup(&og))
	}
}

func mustStep(ok bool) {
	if !ok {
		panic("merge: internal error: diff groups out of step")
	}
}

// script turns the changed flags of both sides into hunks.
func script(a, b *side) []hunk {
	var hs []hunk
	for i, j := a.n(), b.n(); i >= 0 || j >= 0; i, j = i-1, j-1 {
		if (i > 0 && a.changed(i-1)) || (j > 0 && b.changed(j-1)) {
			ei, ej := i, j
			for i > 0 && a.changed(i-1) {
				i--
			}
			for j > 0 && b.changed(j-1) {
				j--
			}
			hs = append(hs, hunk{a: i, b: j, na: ei - i, nb: ej - j})
		}
	}
	for l, r := 0, len(hs)-1; l < r; l, r = l+1, r-1 {
		hs[l], hs[r] = hs[r], hs[l]
	}
	return hs
}
