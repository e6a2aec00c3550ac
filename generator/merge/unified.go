package merge

import (
	"strconv"
	"strings"
)

// contextLines is the number of unchanged lines shown around each change.
const contextLines = 3

// Unified returns a unified diff turning old into new, in git's style: a
// "--- a/path" and "+++ b/path" header, then hunks with 3 lines of context
// (changes up to 6 unchanged lines apart share a hunk). A last line without
// '\n' is followed by "\ No newline at end of file". The result can be
// applied with `git apply` or `patch -p1`. Unified returns "" when old and
// new are equal.
func Unified(path string, old, new []byte) string {
	if string(old) == string(new) {
		return ""
	}
	a, b, hs := diffLines(old, new)
	if len(hs) == 0 {
		return ""
	}
	var sb strings.Builder
	sb.WriteString("--- a/" + path + "\n")
	sb.WriteString("+++ b/" + path + "\n")
	for len(hs) > 0 {
		// Gather the changes that share a hunk.
		n := 1
		for n < len(hs) && hs[n].a-(hs[n-1].a+hs[n-1].na) <= 2*contextLines {
			n++
		}
		group := hs[:n]
		hs = hs[n:]
		first, last := group[0], group[n-1]
		lead := min(contextLines, first.a, first.b)
		trail := min(contextLines, a.n()-(last.a+last.na), b.n()-(last.b+last.nb))
		s1, s2 := first.a-lead, first.b-lead
		e1, e2 := last.a+last.na+trail, last.b+last.nb+trail

		sb.WriteString("@@ -")
		writeRange(&sb, s1, e1-s1)
		sb.WriteString(" +")
		writeRange(&sb, s2, e2-s2)
		sb.WriteString(" @@\n")

		i := s1
		for _, h := range group {
			writeDiffLines(&sb, ' ', a.lines[i:h.a])
			writeDiffLines(&sb, '-', a.lines[h.a:h.a+h.na])
			writeDiffLines(&sb, '+', b.lines[h.b:h.b+h.nb])
			i = h.a + h.na
		}
		writeDiffLines(&sb, ' ', a.lines[i:e1])
	}
	return sb.String()
}

// writeRange writes a hunk range for lines [start, start+count) (0-based):
// "l,n" with l 1-based, ",n" left out when n is 1, and l the line before the
// range when n is 0.
func writeRange(sb *strings.Builder, start, count int) {
	if count == 0 {
		sb.WriteString(strconv.Itoa(start))
	} else {
		sb.WriteString(strconv.Itoa(start + 1))
	}
	if count != 1 {
		sb.WriteString("," + strconv.Itoa(count))
	}
}

func writeDiffLines(sb *strings.Builder, prefix byte, lines [][]byte) {
	for _, l := range lines {
		sb.WriteByte(prefix)
		sb.Write(l)
		if len(l) == 0 || l[len(l)-1] != '\n' {
			sb.WriteString("\n\\ No newline at end of file\n")
		}
	}
}
