package merge

import (
	"bytes"
	"strings"
	"testing"
)

// deployment is a typical generated manifest used as the base of the cases.
const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
  namespace: apps
  labels:
    app: podinfo
spec:
  replicas: 2
  selector:
    matchLabels:
      app: podinfo
  template:
    metadata:
      labels:
        app: podinfo
    spec:
      containers:
        - name: podinfo
          image: ghcr.io/stefanprodan/podinfo:6.5.0
          ports:
            - containerPort: 9898
`

// edit returns s with every old replaced by new, failing the test when old
// does not occur exactly once.
func edit(t testing.TB, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("edit: %q occurs %d times", old, n)
	}
	return strings.Replace(s, old, new, 1)
}

type mergeCase struct {
	name               string
	base, ours, theirs string
	// want is the expected merged text of a clean merge; for a conflict it
	// is the expected text with markers when not empty.
	want      string
	conflicts int
}

func mergeCases(t testing.TB) []mergeCase {
	d := deployment
	newImage := edit(t, d, "podinfo:6.5.0", "podinfo:6.6.1")
	annotated := edit(t, d, "  namespace: apps\n", "  namespace: apps\n  annotations:\n    owner: team-web\n")
	noPorts := edit(t, d, "          ports:\n            - containerPort: 9898\n", "")
	crlf := func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }
	return []mergeCase{
		{
			name: "user adds lines, generator changes a value elsewhere",
			base: d, ours: annotated, theirs: newImage,
			want: edit(t, annotated, "podinfo:6.5.0", "podinfo:6.6.1"),
		},
		{
			name: "user edits the value the generator changes",
			base: d,
			ours: edit(t, d, "replicas: 2", "replicas: 3"), theirs: edit(t, d, "replicas: 2", "replicas: 4"),
			want: edit(t, d, "  replicas: 2\n",
				"<<<<<<< ours\n  replicas: 3\n||||||| base\n  replicas: 2\n=======\n  replicas: 4\n>>>>>>> theirs\n"),
			conflicts: 1,
		},
		{
			name: "user deletes a block the generator did not touch",
			base: d, ours: noPorts, theirs: edit(t, d, "replicas: 2", "replicas: 5"),
			want: edit(t, noPorts, "replicas: 2", "replicas: 5"),
		},
		{
			name: "generator deletes a block the user did not touch",
			base: d, ours: edit(t, d, "replicas: 2", "replicas: 5"), theirs: noPorts,
			want: edit(t, noPorts, "replicas: 2", "replicas: 5"),
		},
		{
			name: "both append different lines at the end",
			base: d,
			ours: d + "      nodeSelector:\n        disk: ssd\n", theirs: d + "          resources: {}\n",
			want: d + "<<<<<<< ours\n      nodeSelector:\n        disk: ssd\n||||||| base\n=======\n" +
				"          resources: {}\n>>>>>>> theirs\n",
			conflicts: 1,
		},
		{
			name: "both append the same line at the end",
			base: d, ours: d + "          resources: {}\n", theirs: d + "          resources: {}\n",
			want: d + "          resources: {}\n",
		},
		{
			name: "both make the same change, user one more elsewhere",
			base: d, ours: edit(t, newImage, "replicas: 2", "replicas: 3"), theirs: newImage,
			want: edit(t, newImage, "replicas: 2", "replicas: 3"),
		},
		{
			name: "user edits the line next to the generator's change",
			base: d,
			ours: edit(t, d, "kind: Deployment", "kind: StatefulSet"), theirs: edit(t, d, "apiVersion: apps/v1", "apiVersion: apps/v2"),
			conflicts: 1,
		},
		{
			name: "generator deletes a line the user edited",
			base: d,
			ours: edit(t, d, "  namespace: apps", "  namespace: web"), theirs: edit(t, d, "  namespace: apps\n", ""),
			conflicts: 1,
		},
		{
			name: "both delete the same block",
			base: d, ours: noPorts, theirs: noPorts,
			want: noPorts,
		},
		{
			name: "empty base, same new file on both sides",
			base: "", ours: d, theirs: d,
			want: d,
		},
		{
			name: "empty base, different new files",
			base: "", ours: "a: 1\nb: 2\n", theirs: "a: 1\nb: 3\n",
			want:      "<<<<<<< ours\na: 1\nb: 2\n||||||| base\n=======\na: 1\nb: 3\n>>>>>>> theirs\n",
			conflicts: 1,
		},
		{
			name: "empty base, only the generator has content",
			base: "", ours: "", theirs: d,
			want: d,
		},
		{
			name: "user empties the file the generator did not change",
			base: d, ours: "", theirs: d,
			want: "",
		},
		{
			name: "no trailing newline, changes apart",
			base: "a: 1\nb: 2\nc: 3\nd: 4\ne: 5", ours: "a: 10\nb: 2\nc: 3\nd: 4\ne: 5", theirs: "a: 1\nb: 2\nc: 3\nd: 4\ne: 50",
			want: "a: 10\nb: 2\nc: 3\nd: 4\ne: 50",
		},
		{
			name: "no trailing newline, conflict on the last line",
			base: "a: 1\nb: 2", ours: "a: 1\nb: 3", theirs: "a: 1\nb: 4",
			want:      "a: 1\n<<<<<<< ours\nb: 3\n||||||| base\nb: 2\n=======\nb: 4\n>>>>>>> theirs\n",
			conflicts: 1,
		},
		{
			name: "generator adds the missing trailing newline, user edits the top",
			base: "a: 1\nb: 2\nc: 3\nd: 4\ne: 5", ours: "a: 10\nb: 2\nc: 3\nd: 4\ne: 5", theirs: "a: 1\nb: 2\nc: 3\nd: 4\ne: 5\n",
			want: "a: 10\nb: 2\nc: 3\nd: 4\ne: 5\n",
		},
		{
			name: "CRLF, changes apart",
			base: crlf(d), ours: crlf(annotated), theirs: crlf(newImage),
			want: crlf(edit(t, annotated, "podinfo:6.5.0", "podinfo:6.6.1")),
		},
		{
			name: "CRLF, conflict markers end in CRLF",
			base: crlf(d),
			ours: crlf(edit(t, d, "replicas: 2", "replicas: 3")), theirs: crlf(edit(t, d, "replicas: 2", "replicas: 4")),
			want: crlf(edit(t, d, "  replicas: 2\n",
				"<<<<<<< ours\n  replicas: 3\n||||||| base\n  replicas: 2\n=======\n  replicas: 4\n>>>>>>> theirs\n")),
			conflicts: 1,
		},
		{
			name:      "two separate conflicts",
			base:      d,
			ours:      edit(t, edit(t, d, "replicas: 2", "replicas: 3"), "6.5.0", "6.5.1"),
			theirs:    edit(t, edit(t, d, "replicas: 2", "replicas: 4"), "6.5.0", "6.5.2"),
			conflicts: 2,
		},
	}
}

func TestMerge3Cases(t *testing.T) {
	for _, c := range mergeCases(t) {
		t.Run(c.name, func(t *testing.T) {
			r := Merge3([]byte(c.base), []byte(c.ours), []byte(c.theirs), Labels{})
			if r.Conflicts != c.conflicts || len(r.Hunks) != c.conflicts || r.Clean() != (c.conflicts == 0) {
				t.Fatalf("conflicts = %d (hunks %d), want %d\n%s", r.Conflicts, len(r.Hunks), c.conflicts, r.Merged)
			}
			if (c.want != "" || c.conflicts == 0) && string(r.Merged) != c.want {
				t.Errorf("merged:\n%s\nwant:\n%s", r.Merged, c.want)
			}
			checkHunks(t, r)
		})
	}
}

// checkHunks checks that each Conflict points at its marker in Merged and
// at the lines of ours that the marker section holds.
func checkHunks(t *testing.T, r Result) {
	t.Helper()
	lines := strings.SplitAfter(string(r.Merged), "\n")
	for _, h := range r.Hunks {
		if h.Line < 1 || h.Line > len(lines) || !strings.HasPrefix(lines[h.Line-1], "<<<<<<<") {
			t.Errorf("hunk %+v: line %d is not a <<<<<<< marker", h, h.Line)
			continue
		}
		if h.Ours.Start < 1 || h.Base.Start < 1 || h.Theirs.Start < 1 {
			t.Errorf("hunk %+v: ranges must be 1-based", h)
		}
		if h.Line+h.Ours.Count >= len(lines) || !strings.HasPrefix(lines[h.Line+h.Ours.Count], "|||||||") {
			t.Errorf("hunk %+v: ours section is not %d lines long", h, h.Ours.Count)
		}
	}
}

func TestMerge3Hunks(t *testing.T) {
	base := "a\nb\nc\nd\ne\nf\ng\nh\n"
	ours := "a\nB\nc\nd\ne\nf\nG\nh\n"
	theirs := "a\nb2\nc\nd\ne\nf\nh\n"
	r := Merge3([]byte(base), []byte(ours), []byte(theirs), Labels{Ours: "mine", Base: "old", Theirs: "new"})
	want := []Conflict{
		{Ours: Range{2, 1}, Base: Range{2, 1}, Theirs: Range{2, 1}, Line: 2},
		{Ours: Range{7, 1}, Base: Range{7, 1}, Theirs: Range{7, 0}, Line: 13},
	}
	if len(r.Hunks) != len(want) {
		t.Fatalf("hunks = %+v, want %+v\n%s", r.Hunks, want, r.Merged)
	}
	for i := range want {
		if r.Hunks[i] != want[i] {
			t.Errorf("hunk %d = %+v, want %+v", i, r.Hunks[i], want[i])
		}
	}
	wantText := "a\n<<<<<<< mine\nB\n||||||| old\nb\n=======\nb2\n>>>>>>> new\nc\nd\ne\nf\n" +
		"<<<<<<< mine\nG\n||||||| old\ng\n=======\n>>>>>>> new\nh\n"
	if string(r.Merged) != wantText {
		t.Errorf("merged:\n%s\nwant:\n%s", r.Merged, wantText)
	}
	checkHunks(t, r)
}

func TestMerge3Trivial(t *testing.T) {
	texts := []string{"", "a\n", "a\nb\n", "a\nb", deployment}
	for _, x := range texts {
		for _, y := range texts {
			// ours == base: theirs.
			if r := Merge3([]byte(x), []byte(x), []byte(y), Labels{}); !r.Clean() || string(r.Merged) != y {
				t.Errorf("base=ours=%q theirs=%q: got %q, %d conflicts", x, y, r.Merged, r.Conflicts)
			}
			// theirs == base: ours.
			if r := Merge3([]byte(x), []byte(y), []byte(x), Labels{}); !r.Clean() || string(r.Merged) != y {
				t.Errorf("base=theirs=%q ours=%q: got %q, %d conflicts", x, y, r.Merged, r.Conflicts)
			}
			// ours == theirs: ours.
			if r := Merge3([]byte(x), []byte(y), []byte(y), Labels{}); !r.Clean() || string(r.Merged) != y {
				t.Errorf("base=%q ours=theirs=%q: got %q, %d conflicts", x, y, r.Merged, r.Conflicts)
			}
		}
	}
}

func TestMerge3DoesNotAlias(t *testing.T) {
	base, ours, theirs := []byte("a\n"), []byte("a\n"), []byte("b\n")
	r := Merge3(base, ours, theirs, Labels{})
	r.Merged[0] = 'x'
	if !bytes.Equal(theirs, []byte("b\n")) {
		t.Fatal("Merged aliases an input")
	}
}

func TestSplitLines(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"\n", []string{"\n"}},
		{"a", []string{"a"}},
		{"a\nb", []string{"a\n", "b"}},
		{"a\r\nb\r\n", []string{"a\r\n", "b\r\n"}},
		{"\n\n", []string{"\n", "\n"}},
	}
	for _, tt := range tests {
		got := splitLines([]byte(tt.in))
		if len(got) != len(tt.want) {
			t.Errorf("splitLines(%q) = %q, want %q", tt.in, got, tt.want)
			continue
		}
		for i := range got {
			if string(got[i]) != tt.want[i] {
				t.Errorf("splitLines(%q) = %q, want %q", tt.in, got, tt.want)
				break
			}
		}
	}
}

// TestDiffHunksApply checks on random inputs that the hunks of diffLines
// turn old into new and are in order.
func TestDiffHunksApply(t *testing.T) {
	r := newRand(7)
	for n := 0; n < 3000; n++ {
		old, new := randomText(r), randomText(r)
		if r.IntN(3) > 0 {
			new = mutate(r, old)
		}
		a, b, hs := diffLines(old, new)
		var out [][]byte
		i := 0
		for _, h := range hs {
			if h.a < i || h.na+h.nb == 0 {
				t.Fatalf("bad hunks %+v for %q -> %q", hs, old, new)
			}
			out = append(out, a.lines[i:h.a]...)
			out = append(out, b.lines[h.b:h.b+h.nb]...)
			i = h.a + h.na
		}
		out = append(out, a.lines[i:]...)
		if got := bytes.Join(out, nil); !bytes.Equal(got, new) {
			t.Fatalf("applying hunks to %q gives %q, want %q", old, got, new)
		}
	}
}
