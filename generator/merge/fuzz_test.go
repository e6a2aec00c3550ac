package merge

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzMerge3 checks invariants of Merge3 (and of the diff under it) on
// arbitrary inputs. The seed corpus is in testdata/fuzz/FuzzMerge3; run
// with `go test -fuzz FuzzMerge3 ./generator/merge/`.
func FuzzMerge3(f *testing.F) {
	f.Add([]byte(deployment), []byte(strings.Replace(deployment, "replicas: 2", "replicas: 3", 1)),
		[]byte(strings.Replace(deployment, "6.5.0", "6.6.0", 1)))
	f.Fuzz(func(t *testing.T, base, ours, theirs []byte) {
		r := Merge3(base, ours, theirs, Labels{})
		if r.Conflicts != len(r.Hunks) || r.Clean() != (r.Conflicts == 0) {
			t.Fatalf("Conflicts = %d but %d hunks", r.Conflicts, len(r.Hunks))
		}
		if bytes.Equal(ours, theirs) && (!r.Clean() || !bytes.Equal(r.Merged, ours)) {
			t.Fatalf("ours == theirs: got %q (%d conflicts), want ours", r.Merged, r.Conflicts)
		}
		if bytes.Equal(base, ours) && (!r.Clean() || !bytes.Equal(r.Merged, theirs)) {
			t.Fatalf("base == ours: got %q (%d conflicts), want theirs", r.Merged, r.Conflicts)
		}
		if bytes.Equal(base, theirs) && (!r.Clean() || !bytes.Equal(r.Merged, ours)) {
			t.Fatalf("base == theirs: got %q (%d conflicts), want ours", r.Merged, r.Conflicts)
		}
		lines := bytes.SplitAfter(r.Merged, []byte{'\n'})
		for _, h := range r.Hunks {
			if h.Line < 1 || h.Line > len(lines) || !bytes.HasPrefix(lines[h.Line-1], []byte("<<<<<<< ours")) {
				t.Fatalf("hunk %+v does not point at a marker in %q", h, r.Merged)
			}
		}

		// The two-way diff must turn one side into the other.
		a, b, hs := diffLines(base, ours)
		var out []byte
		i := 0
		for _, h := range hs {
			out = append(out, bytes.Join(a.lines[i:h.a], nil)...)
			out = append(out, bytes.Join(b.lines[h.b:h.b+h.nb], nil)...)
			i = h.a + h.na
		}
		out = append(out, bytes.Join(a.lines[i:], nil)...)
		if !bytes.Equal(out, ours) {
			t.Fatalf("diff hunks turn %q into %q, want %q", base, out, ours)
		}
		if (Unified("f", base, ours) == "") != bytes.Equal(base, ours) {
			t.Fatalf("Unified(%q, %q) empty iff equal violated", base, ours)
		}
	})
}
