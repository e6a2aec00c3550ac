// Package merge holds the text merging behind fleetgen's regeneration: a
// three-way line merge (Merge3) that keeps the user's hand edits while
// taking the generator's new output, and the unified diff (Unified) printed
// by `fleetgen diff`.
//
// Merge3 behaves like `git merge-file -p --diff3 OURS BASE THEIRS`: for the
// same inputs it finds the same conflicts and, for a clean merge, produces
// the same bytes. Its line diff follows git's default (Myers) algorithm,
// including the way git picks among equally short diffs, so that ambiguous
// inputs (repeated or blank lines) merge the way git would merge them.
//
// A line is a run of bytes up to and including '\n'; the last line of a file
// may lack it. Nothing else is special: "\r\n" line ends are kept as they
// are (a line differing only in its line end is a different line), and
// binary content is merged as lines too.
package merge

import "bytes"

// Labels name the three inputs in conflict markers. Empty fields default to
// "ours", "base" and "theirs".
type Labels struct{ Ours, Base, Theirs string }

// Range is a run of Count lines starting at line Start (1-based). An empty
// range (Count == 0) lies just before line Start.
type Range struct{ Start, Count int }

// Conflict is one conflicting hunk of a merge.
type Conflict struct {
	// Ours, Base and Theirs are the conflicting lines in each input.
	Ours, Base, Theirs Range
	// Line is the 1-based line of the hunk's "<<<<<<<" marker in
	// Result.Merged.
	Line int
}

// Result is the outcome of a three-way line merge.
type Result struct {
	// Merged is the merged text. When Conflicts > 0 it holds git-style
	// conflict markers for each conflicting hunk:
	//
	//	<<<<<<< ours
	//	(lines of ours)
	//	||||||| base
	//	(lines of base)
	//	=======
	//	(lines of theirs)
	//	>>>>>>> theirs
	//
	// with the labels given to Merge3. A marker line ends in "\r\n" when
	// the surrounding lines do.
	Merged []byte
	// Conflicts is the number of conflicting hunks (len(Hunks)).
	Conflicts int
	// Hunks describes the conflicting hunks in order.
	Hunks []Conflict
}

// Clean reports whether the merge had no conflict.
func (r Result) Clean() bool { return r.Conflicts == 0 }

// Merge3 merges the changes from base to ours and from base to theirs. A
// change made on one side only is taken; the same change made on both sides
// is taken once; changes that overlap or touch each other (including two
// insertions at the same place) conflict.
//
// If ours equals base the result is theirs, if theirs equals base or equals
// ours the result is ours, without conflict.
func Merge3(base, ours, theirs []byte, labels Labels) Result {
	if bytes.Equal(base, ours) {
		return Result{Merged: bytes.Clone(theirs)}
	}
	if bytes.Equal(base, theirs) || bytes.Equal(ours, theirs) {
		return Result{Merged: bytes.Clone(ours)}
	}
	if labels.Ours == "" {
		labels.Ours = "ours"
	}
	if labels.Base == "" {
		labels.Base = "base"
	}
	if labels.Theirs == "" {
		labels.Theirs = "theirs"
	}

	b, o, hs1 := diffLines(base, ours)
	_, t, hs2 := diffLines(base, theirs)
	m := &merger{base: b.lines, ours: o.lines, theirs: t.lines}
	m.regions(hs1, hs2)
	return m.output(labels)
}

const (
	conflict = iota
	takeOurs
	takeTheirs
)

// region is a stretch of the merge where at least one side changed base:
// base lines [i0, i0+n0) became ours lines [i1, i1+n1) and theirs lines
// [i2, i2+n2).
type region struct {
	mode       int
	i0, i1, i2 int
	n0, n1, n2 int
}

type merger struct {
	base, ours, theirs [][]byte
	rs                 []region
}

// add appends a region, folding it into the previous one when they overlap
// or touch in ours or in theirs (the result conflicts unless both were taken
// from the same side).
func (m *merger) add(r region) {
	if n := len(m.rs); n > 0 {
		last := &m.rs[n-1]
		if r.i1 <= last.i1+last.n1 || r.i2 <= last.i2+last.n2 {
			if r.mode != last.mode {
				last.mode = conflict
			}
			last.n0 = r.i0 + r.n0 - last.i0
			last.n1 = r.i1 + r.n1 - last.i1
			last.n2 = r.i2 + r.n2 - last.i2
			return
		}
	}
	m.rs = append(m.rs, r)
}

// regions walks the hunks of base->ours (hs1) and base->theirs (hs2) in
// step. A hunk that ends before the other side's next hunk starts is taken
// from its side; hunks that overlap or touch conflict unless they are the
// very same change.
func (m *merger) regions(hs1, hs2 []hunk) {
	p, q := 0, 0
	for p < len(hs1) && q < len(hs2) {
		x, y := hs1[p], hs2[q]
		if x.a+x.na < y.a {
			m.add(region{mode: takeOurs, i0: x.a, n0: x.na, i1: x.b, n1: x.nb, i2: y.b - y.a + x.a, n2: x.na})
			p++
			continue
		}
		if y.a+y.na < x.a {
			m.add(region{mode: takeTheirs, i0: y.a, n0: y.na, i1: x.b - x.a + y.a, n1: y.na, i2: y.b, n2: y.nb})
			q++
			continue
		}
		if x.a != y.a || x.na != y.na || x.nb != y.nb ||
			!equalLines(m.ours[x.b:x.b+x.nb], m.theirs[y.b:y.b+y.nb]) {
			// Cover both hunks: extend each side by the base lines
			// that only the other hunk spans.
			r := region{mode: conflict, i0: x.a, i1: x.b, i2: y.b}
			if d := x.a - y.a; d > 0 {
				r.i0 -= d
				r.i1 -= d
			} else {
				r.i2 += d
			}
			r.n0 = x.a + x.na - r.i0
			r.n1 = x.b + x.nb - r.i1
			r.n2 = y.b + y.nb - r.i2
			if d := (x.a + x.na) - (y.a + y.na); d < 0 {
				r.n0 -= d
				r.n1 -= d
			} else {
				r.n2 += d
			}
			m.add(r)
		}
		e1, e2 := x.a+x.na, y.a+y.na
		if e1 >= e2 {
			q++
		}
		if e2 >= e1 {
			p++
		}
	}
	for ; p < len(hs1); p++ {
		x := hs1[p]
		m.add(region{mode: takeOurs, i0: x.a, n0: x.na, i1: x.b, n1: x.nb, i2: x.a + len(m.theirs) - len(m.base), n2: x.na})
	}
	for ; q < len(hs2); q++ {
		y := hs2[q]
		m.add(region{mode: takeTheirs, i0: y.a, n0: y.na, i1: y.a + len(m.ours) - len(m.base), n1: y.na, i2: y.b, n2: y.nb})
	}
}

func equalLines(a, b [][]byte) bool {
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// output renders the merge: ours outside the regions, each region from the
// side it was taken from, conflicts between markers.
func (m *merger) output(labels Labels) Result {
	var res Result
	var out bytes.Buffer
	lines, counted := 0, 0 // lines in out[:counted]
	i := 0                 // next line of ours to copy
	for _, r := range m.rs {
		switch r.mode {
		case conflict:
			writeLines(&out, m.ours[i:r.i1], false, false)
			lines += bytes.Count(out.Bytes()[counted:], []byte{'\n'})
			counted = out.Len()
			cr := m.needsCR(r)
			writeMarker(&out, '<', labels.Ours, cr)
			writeLines(&out, m.ours[r.i1:r.i1+r.n1], true, cr)
			writeMarker(&out, '|', labels.Base, cr)
			writeLines(&out, m.base[r.i0:r.i0+r.n0], true, cr)
			writeMarker(&out, '=', "", cr)
			writeLines(&out, m.theirs[r.i2:r.i2+r.n2], true, cr)
			writeMarker(&out, '>', labels.Theirs, cr)
			res.Hunks = append(res.Hunks, Conflict{
				Ours:   Range{r.i1 + 1, r.n1},
				Base:   Range{r.i0 + 1, r.n0},
				Theirs: Range{r.i2 + 1, r.n2},
				Line:   lines + 1,
			})
		case takeOurs:
			writeLines(&out, m.ours[i:r.i1+r.n1], false, false)
		case takeTheirs:
			// The unchanged lines before the region are the same on
			// both sides; take them from theirs along with it.
			writeLines(&out, m.theirs[r.i2-r.i1+i:r.i2+r.n2], false, false)
		}
		i = r.i1 + r.n1
	}
	writeLines(&out, m.ours[i:], false, false)
	res.Merged = out.Bytes()
	res.Conflicts = len(res.Hunks)
	return res
}

// writeLines writes lines; with eol it ends an unterminated last line with
// "\n", or "\r\n" if cr.
func writeLines(out *bytes.Buffer, lines [][]byte, eol, cr bool) {
	for _, l := range lines {
		out.Write(l)
	}
	if eol && len(lines) > 0 {
		if l := lines[len(lines)-1]; len(l) == 0 || l[len(l)-1] != '\n' {
			if cr {
				out.WriteByte('\r')
			}
			out.WriteByte('\n')
		}
	}
}

func writeMarker(out *bytes.Buffer, c byte, label string, cr bool) {
	for range 7 {
		out.WriteByte(c)
	}
	if label != "" {
		out.WriteByte(' ')
		out.WriteString(label)
	}
	if cr {
		out.WriteByte('\r')
	}
	out.WriteByte('\n')
}

// needsCR decides, as git does, whether the markers of conflict r end in
// "\r\n": when the line before the conflict (or the first line) in ours and
// in theirs, and the first line of base, all end in "\r\n" or tell nothing.
func (m *merger) needsCR(r region) bool {
	v := crlfAt(m.ours, max(r.i1-1, 0))
	if v != 0 {
		v = crlfAt(m.theirs, max(r.i2-1, 0))
	}
	if v != 0 {
		v = crlfAt(m.base, 0)
	}
	return v > 0
}

// crlfAt reports whether line i ends in "\r\n" (1) or in a bare "\n" (0).
// For a last line without '\n' it looks at the line before; -1 when there
// is nothing to look at.
func crlfAt(lines [][]byte, i int) int {
	crlf := func(l []byte) int {
		if len(l) > 1 && l[len(l)-2] == '\r' {
			return 1
		}
		return 0
	}
	switch {
	case i < len(lines)-1:
		return crlf(lines[i])
	case len(lines) == 0:
		return -1
	case len(lines[i]) > 0 && lines[i][len(lines[i])-1] == '\n':
		return crlf(lines[i])
	case i == 0:
		return -1
	default:
		return crlf(lines[i-1])
	}
}
