package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetgen/fleetgen/generator/design"
)

const designTestdata = "../../generator/design/testdata/"

func TestDesignAttachCommitsWithHashesAndCheckFindsContradictions(t *testing.T) {
	dir := newRepo(t)
	out := mustFleetgen(t, append([]string{"design", "attach", designTestdata + "consistent.es.md", "--dir", dir}, testAuthor...)...)
	if !strings.Contains(out, "committed") {
		t.Fatalf("attach: %q", out)
	}
	doc := readFile(t, filepath.Join(dir, "docs/design/architecture.md"))
	meta, found, err := design.ReadFrontMatter([]byte(doc))
	if err != nil || !found {
		t.Fatalf("front matter: found=%v err=%v", found, err)
	}
	spec, _ := os.ReadFile(filepath.Join(dir, "fleet.yaml"))
	if want := sha256Hex(spec); meta.SpecSHA256 != want {
		t.Errorf("spec hash %s, want %s", meta.SpecSHA256, want)
	}
	// The prompt hash is that of the with-scaffold Pro prompt in the spec's language.
	prompt := mustFleetgen(t, "prompt", "--dir", dir, "--with-scaffold")
	sum := sha256.Sum256([]byte(prompt))
	if want := hex.EncodeToString(sum[:]); meta.PromptSHA256 != want {
		t.Errorf("prompt hash %s, want %s", meta.PromptSHA256, want)
	}
	if meta.GeneratorVersion == "" || meta.AttachedFrom != "consistent.es.md" {
		t.Errorf("meta = %+v", meta)
	}
	if s := git(t, dir, "status", "--porcelain"); s != "" {
		t.Errorf("not clean after attach:\n%s", s)
	}
	if msg := git(t, dir, "log", "-1", "--format=%s"); !strings.Contains(msg, "attach design document") {
		t.Errorf("last commit: %q", msg)
	}
	got := mustFleetgen(t, "design", "check", "--dir", dir)
	if !strings.Contains(got, "4 of 4") {
		t.Errorf("check of the consistent document: %q", got)
	}

	// A contradictory answer replaces it in a new commit; the old one stays in history.
	first := git(t, dir, "rev-parse", "HEAD")
	mustFleetgen(t, append([]string{"design", "attach", designTestdata + "contradictory.en.md", "--dir", dir}, testAuthor...)...)
	if git(t, dir, "rev-parse", "HEAD~1") != first {
		t.Error("re-attach did not make a new commit on top of the first")
	}
	if old := git(t, dir, "show", first+":docs/design/architecture.md"); !strings.Contains(old, "fleetgen_spec_sha256") {
		t.Error("the first document is not in history")
	}
	// Without a decisions block, the heuristics warn: exit 0, and 1 with --strict.
	stdout, _, code := fleetgen(t, "design", "check", "--dir", dir)
	if code != 0 {
		t.Fatalf("check of a document with warnings only exited %d", code)
	}
	_, stderr, code := fleetgen(t, "design", "check", "--dir", dir, "--strict")
	if code != 1 {
		t.Fatalf("check --strict of a contradictory document exited %d", code)
	}
	for _, rule := range []string{"etcd-on-small-node", "service-mesh", "full-kubernetes", "other-distribution", "other-gitops", "push-deployment", "missing-section:resilience"} {
		if !strings.Contains(stdout, rule) {
			t.Errorf("check output lacks %s:\n%s", rule, stdout)
		}
	}
	if !strings.Contains(stderr, "--strict fails on warnings") {
		t.Errorf("stderr: %q", stderr)
	}
	js, _, _ := fleetgen(t, "design", "check", "--dir", dir, "--output", "json")
	if !strings.Contains(js, `"rule": "service-mesh"`) || !strings.Contains(js, `"line":`) {
		t.Errorf("json output: %s", js)
	}
}

func TestDesignRejectsBadDocumentsAndWritesNothing(t *testing.T) {
	dir := newRepo(t)
	head := git(t, dir, "rev-parse", "HEAD")
	tmp := t.TempDir()
	cases := map[string][]byte{
		"empty.md":    []byte("  \n\n"),
		"binary.md":   {0x89, 'P', 'N', 'G', 0, 0, 1},
		"noheads.md":  []byte("just some text without any heading\n"),
		"huge.md":     []byte("# big\n" + strings.Repeat("x", 2<<20)),
		"missing.md":  nil,
		"folder.md/x": []byte("# a\n"),
	}
	for name, b := range cases {
		p := filepath.Join(tmp, name)
		if b != nil {
			writeFile(t, p, string(b))
		}
		if name == "folder.md/x" {
			p = filepath.Dir(p)
		}
		_, errs, code := fleetgen(t, append([]string{"design", "attach", p, "--dir", dir}, testAuthor...)...)
		if code == 0 || !strings.HasPrefix(errs, "fleetgen: ") {
			t.Errorf("%s: exit %d, stderr %q", name, code, errs)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "docs/design/architecture.md")); err == nil {
		t.Error("a bad document was written")
	}
	if git(t, dir, "rev-parse", "HEAD") != head {
		t.Error("a bad document was committed")
	}
	_, errs, code := fleetgen(t, "design", "check", designTestdata+"consistent.en.md", "--dir", t.TempDir())
	if code == 0 || !strings.Contains(errs, "not a fleetgen repository") {
		t.Errorf("check without fleet.yaml: exit %d, %q", code, errs)
	}
}
