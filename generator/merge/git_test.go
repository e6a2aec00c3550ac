package merge

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// This file compares Merge3 with `git merge-file -p --diff3` and Unified
// with `git apply` / `patch`, over the table of merge cases and over
// random inputs from a fixed seed.

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

var (
	yamlVocab = []string{
		"apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: app", "  namespace: flux-system",
		"  labels:", "    app: web", "spec:", "  interval: 10m", "  replicas: 2", "  - name: a",
		"    image: nginx:1.25", "", "---", "data:", "  key: value", "    - port: 80", "  path: ./apps",
	}
	tinyVocab = []string{"a", "b", "c", "", "}"}
)

// doc is a text as lines without their '\n', plus whether the last line
// has one. A '\r' ending a line makes it a CRLF line.
type doc struct {
	lines []string
	final bool
}

func parseDoc(b []byte) doc {
	if len(b) == 0 {
		return doc{final: true}
	}
	s := string(b)
	final := strings.HasSuffix(s, "\n")
	s = strings.TrimSuffix(s, "\n")
	return doc{lines: strings.Split(s, "\n"), final: final}
}

func (d doc) bytes() []byte {
	if len(d.lines) == 0 {
		return nil
	}
	s := strings.Join(d.lines, "\n")
	if d.final {
		s += "\n"
	}
	return []byte(s)
}

// randomText returns about 20 lines drawn from a small vocabulary, so that
// lines repeat, sometimes with CRLF line ends or no final newline.
func randomText(r *rand.Rand) []byte {
	vocab := yamlVocab
	if r.IntN(3) == 0 {
		vocab = tinyVocab
	}
	d := doc{final: r.IntN(10) != 0}
	crlf := r.IntN(10) == 0
	for n := 15 + r.IntN(11); n > 0; n-- {
		l := vocab[r.IntN(len(vocab))]
		if crlf {
			l += "\r"
		}
		d.lines = append(d.lines, l)
	}
	return d.bytes()
}

func randomLine(r *rand.Rand, crlf bool) string {
	var l string
	switch r.IntN(3) {
	case 0:
		l = fmt.Sprintf("  key%d: v%d", r.IntN(50), r.IntN(5))
	case 1:
		l = tinyVocab[r.IntN(len(tinyVocab))]
	default:
		l = yamlVocab[r.IntN(len(yamlVocab))]
	}
	if crlf {
		l += "\r"
	}
	return l
}

// mutate applies 1 to 3 small random edits to a text.
func mutate(r *rand.Rand, b []byte) []byte {
	d := parseDoc(b)
	lines := append([]string(nil), d.lines...)
	crlf := len(lines) > 0 && strings.HasSuffix(lines[0], "\r")
	for n := 1 + r.IntN(3); n > 0; n-- {
		at := r.IntN(len(lines) + 1)
		switch op := r.IntN(10); {
		case op < 3 && at < len(lines): // change a line
			lines[at] = randomLine(r, crlf)
		case op < 5: // insert lines
			var ins []string
			for k := 1 + r.IntN(3); k > 0; k-- {
				ins = append(ins, randomLine(r, crlf))
			}
			lines = append(lines[:at], append(ins, lines[at:]...)...)
		case op < 7 && at < len(lines): // delete lines
			end := min(len(lines), at+1+r.IntN(3))
			lines = append(lines[:at], lines[end:]...)
		case op == 7: // append at the end
			lines = append(lines, randomLine(r, crlf))
		case op == 8: // toggle the final newline
			d.final = !d.final
		case at+1 < len(lines): // swap two lines
			lines[at], lines[at+1] = lines[at+1], lines[at]
		}
	}
	d.lines = lines
	return d.bytes()
}

// randomCase returns a base and two edited versions of it; sometimes one
// side includes the other's edits, or both are equal.
func randomCase(r *rand.Rand) (base, ours, theirs []byte) {
	base = randomText(r)
	if r.IntN(20) == 0 {
		base = nil
	}
	ours = mutate(r, base)
	switch r.IntN(10) {
	case 0:
		theirs = mutate(r, ours)
	case 1:
		theirs, ours = ours, mutate(r, ours)
	case 2:
		theirs = bytes.Clone(ours)
	default:
		theirs = mutate(r, base)
	}
	return base, ours, theirs
}

// bigCase returns a long text with many edits on each side, to exercise
// the cost limits and shortcuts of the diff on large inputs. Lines come
// from a vocabulary of a few hundred, so that most have matches on the
// other side. The edits are either scattered, or (blocks) rewrite 5 lines
// out of every 35, leaving long untouched runs. With split, ours only edits the
// first half and theirs the second one, so the merge is clean.
func bigCase(r *rand.Rand, lines int, split, blocks bool) (base, ours, theirs []byte) {
	word := func() string { return fmt.Sprintf("  item%d: %d", r.IntN(300), r.IntN(2)) }
	var d doc
	d.final = true
	for range lines + r.IntN(lines/2) {
		d.lines = append(d.lines, word())
	}
	base = d.bytes()
	edits := func(from, to int) []byte {
		e := doc{final: true}
		for i, l := range d.lines {
			op := r.IntN(8)
			if blocks {
				op = -1
				if i%35 >= 30 {
					op = 0
				}
			}
			if i < from || i >= to {
				op = -1
			}
			switch op {
			case 0:
				e.lines = append(e.lines, word())
			case 1:
			case 2:
				e.lines = append(e.lines, l, word())
			default:
				e.lines = append(e.lines, l)
			}
		}
		return e.bytes()
	}
	n := len(d.lines)
	if split {
		return base, edits(0, n/2-30), edits(n/2+30, n)
	}
	return base, edits(0, n), edits(0, n)
}

// gitRunner runs git in a scratch directory, ignoring user configuration.
type gitRunner struct {
	dir string
	env []string
}

func newGitRunner(t *testing.T) *gitRunner {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not on PATH")
	}
	dir := t.TempDir()
	env := append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull, "HOME="+dir,
		"GIT_CEILING_DIRECTORIES="+filepath.Dir(dir), "LC_ALL=C")
	return &gitRunner{dir: dir, env: env}
}

func (g *gitRunner) write(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(g.dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// run runs git with args in the scratch directory and returns its output
// and exit code.
func (g *gitRunner) run(t *testing.T, args ...string) ([]byte, int) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = g.dir
	cmd.Env = g.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out, exit.ExitCode()
	} else if err != nil {
		t.Fatalf("git %v: %v: %s", args, err, stderr.Bytes())
	}
	return out, 0
}

// mergeFile returns the output of `git merge-file -p --diff3` and the
// number of conflicts it reports.
func (g *gitRunner) mergeFile(t *testing.T, base, ours, theirs []byte) ([]byte, int) {
	t.Helper()
	g.write(t, "base", base)
	g.write(t, "ours", ours)
	g.write(t, "theirs", theirs)
	out, code := g.run(t, "merge-file", "-p", "--diff3", "-L", "ours", "-L", "base", "-L", "theirs", "ours", "base", "theirs")
	if code < 0 || code > 127 {
		t.Fatalf("git merge-file failed (exit %d)", code)
	}
	return out, code
}

// compare merges with both Merge3 and git and reports any difference. The
// conflict counts must agree; so must the bytes, markers included.
func (g *gitRunner) compare(t *testing.T, name string, base, ours, theirs []byte) (conflict bool) {
	t.Helper()
	want, wantConflicts := g.mergeFile(t, base, ours, theirs)
	got := Merge3(base, ours, theirs, Labels{})
	switch {
	case (got.Conflicts > 0) != (wantConflicts > 0):
		t.Errorf("%s: conflict disagreement: Merge3 %d conflicts, git %d\nbase:   %q\nours:   %q\ntheirs: %q\nMerge3: %q\ngit:    %q",
			name, got.Conflicts, wantConflicts, base, ours, theirs, got.Merged, want)
	case !bytes.Equal(got.Merged, want):
		t.Errorf("%s: output differs (conflicts %d)\nbase:   %q\nours:   %q\ntheirs: %q\nMerge3: %q\ngit:    %q",
			name, got.Conflicts, base, ours, theirs, got.Merged, want)
	case got.Conflicts != wantConflicts:
		t.Errorf("%s: Merge3 has %d conflicts, git %d", name, got.Conflicts, wantConflicts)
	}
	return wantConflicts > 0
}

// randomCount is the number of random cases, MERGE3_RANDOM_CASES or 600.
func randomCount(t *testing.T) int {
	if s := os.Getenv("MERGE3_RANDOM_CASES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("MERGE3_RANDOM_CASES: %v", err)
		}
		return n
	}
	return 600
}

func TestMerge3MatchesGitCases(t *testing.T) {
	g := newGitRunner(t)
	for _, c := range mergeCases(t) {
		g.compare(t, c.name, []byte(c.base), []byte(c.ours), []byte(c.theirs))
	}
}

func TestMerge3MatchesGitRandom(t *testing.T) {
	g := newGitRunner(t)
	r := newRand(20240601)
	n := randomCount(t)
	conflicts := 0
	for i := 0; i < n; i++ {
		base, ours, theirs := randomCase(r)
		if g.compare(t, fmt.Sprintf("random case %d", i), base, ours, theirs) {
			conflicts++
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	t.Logf("%d random cases agree with git merge-file (%d with conflicts, %d clean)", n, conflicts, n-conflicts)
}

func TestMerge3MatchesGitLarge(t *testing.T) {
	g := newGitRunner(t)
	r := newRand(99)
	type large struct{ lines, n int }
	sizes := []large{{3000, 8}, {40000, 2}}
	if testing.Short() {
		sizes = sizes[:1]
	}
	for _, size := range sizes {
		for i := range size.n {
			split := i%2 == 0
			base, ours, theirs := bigCase(r, size.lines, split, i%4 >= 2 || size.lines > 10000)
			got := Merge3(base, ours, theirs, Labels{})
			want, wantConflicts := g.mergeFile(t, base, ours, theirs)
			// git's exit status, the number of conflicts, stops at 127.
			if min(got.Conflicts, 127) != wantConflicts || !bytes.Equal(got.Merged, want) {
				t.Errorf("large case %d/%d: Merge3 %d conflicts, git %d; outputs equal: %v",
					size.lines, i, got.Conflicts, wantConflicts, bytes.Equal(got.Merged, want))
			}
			if split && !got.Clean() {
				t.Errorf("large case %d/%d: edits on separate halves conflict", size.lines, i)
			}
		}
	}
}

// TestMerge3MatchesGitCorpus runs the fuzz seed corpus (and any crasher
// saved there) through git as well. git refuses binary files, so inputs
// with a NUL byte are skipped.
func TestMerge3MatchesGitCorpus(t *testing.T) {
	g := newGitRunner(t)
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzMerge3", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var in [][]byte
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n")[1:] {
			s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(l, "[]byte("), ")"))
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			in = append(in, []byte(s))
		}
		if len(in) != 3 {
			t.Fatalf("%s: %d inputs, want 3", file, len(in))
		}
		if bytes.IndexByte(bytes.Join(in, nil), 0) >= 0 {
			continue
		}
		g.compare(t, file, in[0], in[1], in[2])
	}
}
