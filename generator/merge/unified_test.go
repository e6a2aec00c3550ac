package merge

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestUnifiedEqual(t *testing.T) {
	for _, s := range []string{"", "a\n", "a", deployment} {
		if got := Unified("x.yaml", []byte(s), []byte(s)); got != "" {
			t.Errorf("Unified(%q, %q) = %q, want \"\"", s, s, got)
		}
	}
	if got := Unified("x.yaml", nil, []byte{}); got != "" {
		t.Errorf("Unified(nil, empty) = %q, want \"\"", got)
	}
}

func TestUnifiedGolden(t *testing.T) {
	old := []byte(deployment)
	new := []byte(edit(t, edit(t, deployment, "replicas: 2", "replicas: 3"), "            - containerPort: 9898\n", ""))
	want := `--- a/apps/podinfo.yaml
+++ b/apps/podinfo.yaml
@@ -6,7 +6,7 @@ metadata:
   labels:
     app: podinfo
 spec:
-  replicas: 2
+  replicas: 3
   selector:
     matchLabels:
       app: podinfo
@@ -19,4 +19,3 @@ spec:
         - name: podinfo
           image: ghcr.io/stefanprodan/podinfo:6.5.0
           ports:
-            - containerPort: 9898
`
	// git adds the nearest unindented line after "@@" as a hint; Unified
	// does not.
	want = strings.ReplaceAll(want, " @@ metadata:\n", " @@\n")
	want = strings.ReplaceAll(want, " @@ spec:\n", " @@\n")
	if got := Unified("apps/podinfo.yaml", old, new); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}

	got := Unified("x", []byte("a\nb"), []byte("a\nc\n"))
	want = "--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	got = Unified("x", nil, []byte("a\n"))
	want = "--- a/x\n+++ b/x\n@@ -0,0 +1 @@\n+a\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// unifiedPairs returns the old/new pairs the apply tests run over: the
// merge cases and random texts.
func unifiedPairs(t *testing.T) [][2][]byte {
	var pairs [][2][]byte
	for _, c := range mergeCases(t) {
		pairs = append(pairs, [2][]byte{[]byte(c.base), []byte(c.ours)}, [2][]byte{[]byte(c.ours), []byte(c.theirs)})
	}
	r := newRand(42)
	for range 300 {
		old := randomText(r)
		new := mutate(r, old)
		switch r.IntN(10) {
		case 0:
			new = randomText(r)
		case 1:
			old = nil
		case 2:
			new = nil
		case 3:
			new = mutate(r, mutate(r, new))
		}
		pairs = append(pairs, [2][]byte{old, new})
	}
	return pairs
}

// applyWith writes old to a scratch file, applies the diff with the given
// command and returns the file's new content.
func applyWith(t *testing.T, dir string, env []string, diff string, old []byte, name string, args ...string) []byte {
	t.Helper()
	file := filepath.Join(dir, "manifests", "app.yaml")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, old, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin = strings.NewReader(diff)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s\ndiff:\n%s", name, args, err, out, diff)
	}
	got, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // an emptied file may be removed
	} else if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestUnifiedGitApply(t *testing.T) {
	g := newGitRunner(t)
	for i, p := range unifiedPairs(t) {
		old, new := p[0], p[1]
		diff := Unified("manifests/app.yaml", old, new)
		if diff == "" {
			if !bytes.Equal(old, new) {
				t.Fatalf("pair %d: empty diff for %q -> %q", i, old, new)
			}
			continue
		}
		if got := applyWith(t, g.dir, g.env, diff, old, "git", "apply", "--whitespace=nowarn", "-"); !bytes.Equal(got, new) {
			t.Fatalf("pair %d: git apply gives %q, want %q\ndiff:\n%s", i, got, new, diff)
		}
	}
}

func TestUnifiedPatch(t *testing.T) {
	if _, err := exec.LookPath("patch"); err != nil {
		t.Skip("patch not on PATH")
	}
	dir := t.TempDir()
	for i, p := range unifiedPairs(t) {
		old, new := p[0], p[1]
		diff := Unified("manifests/app.yaml", old, new)
		if diff == "" {
			continue
		}
		if got := applyWith(t, dir, os.Environ(), diff, old, "patch", "-p1", "-s", "-t", "--no-backup-if-mismatch"); !bytes.Equal(got, new) {
			t.Fatalf("pair %d: patch gives %q, want %q\ndiff:\n%s", i, got, new, diff)
		}
	}
}

// TestUnifiedMatchesGitDiff checks that the hunks are those of
// `git diff --no-index --no-indent-heuristic`, apart from the hint git
// prints after each hunk header.
func TestUnifiedMatchesGitDiff(t *testing.T) {
	g := newGitRunner(t)
	for i, p := range unifiedPairs(t) {
		old, new := p[0], p[1]
		g.write(t, "old", old)
		g.write(t, "new", new)
		out, code := g.run(t, "diff", "--no-index", "--no-indent-heuristic", "--no-color", "--no-ext-diff", "-U3", "old", "new")
		if code > 1 {
			t.Fatalf("git diff failed (exit %d)", code)
		}
		want := gitHunks(string(out))
		got := gitHunks(Unified("x", old, new))
		if got != want {
			t.Fatalf("pair %d: old %q new %q\nUnified hunks:\n%s\ngit diff hunks:\n%s", i, old, new, got, want)
		}
	}
}

// gitHunks drops what comes before the first hunk and the text after the
// closing "@@" of hunk headers.
func gitHunks(diff string) string {
	i := strings.Index(diff, "\n@@ ")
	if i < 0 {
		return ""
	}
	lines := strings.SplitAfter(diff[i+1:], "\n")
	for j, l := range lines {
		if strings.HasPrefix(l, "@@ ") {
			if k := strings.Index(l[3:], " @@"); k >= 0 {
				lines[j] = l[:3+k+3] + "\n"
			}
		}
	}
	return strings.Join(lines, "")
}
