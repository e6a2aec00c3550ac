package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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

// checkJSON is the documented JSON of `design check -o json`.
type checkJSON struct {
	Errors    []design.Finding `json:"errors"`
	Warnings  []design.Finding `json:"warnings"`
	Sections  map[string]int   `json:"sections"`
	Decisions *struct {
		Line  int `json:"line"`
		Fleet map[string]struct {
			Value string `json:"value"`
			Line  int    `json:"line"`
		} `json:"fleet"`
	} `json:"decisions"`
}

func TestDesignCheckErrorsWarningsStrictJSON(t *testing.T) {
	dir := newRepo(t) // the offshore example: 3 regions of single 2 GB nodes on SQLite, git delivery
	tmp := t.TempDir()
	realistic := readFile(t, designTestdata+"realistic.es.md")
	lines := strings.Split(realistic, "\n")
	clean := strings.Join(append(append([]string{}, lines[:58]...), append(lines[59:65], lines[66:]...)...), "\n")
	docs := map[string]string{
		"realistic.md": realistic, // block matches; warnings on line 59 (etcd) and 66 (port 6443)
		"clean.md":     clean,     // the same without those two sentences
		"argocd.md":    strings.Replace(clean, "  gitops: flux\n", "  gitops: argocd\n", 1),
		"regional.md":  strings.Replace(clean, "  datastore: sqlite\n", "  datastore: sqlite\n  regions:\n    campos-basin: {datastore: etcd}\n", 1),
		"malformed.md": strings.Replace(clean, "  gitops: flux\n", "  gitops flux\n", 1),
		"noblock.md":   clean[:strings.Index(clean, "## Decisiones")],
	}
	for name, doc := range docs {
		writeFile(t, filepath.Join(tmp, name), doc)
	}
	for _, c := range []struct {
		doc            string
		code, strict   int
		stdout, stderr string
	}{
		{"clean.md", 0, 0, "no contradiction with the plan found; decisions block matches the plan; 4 of 4 task sections present", ""},
		{"realistic.md", 0, 1, ":59: warning: etcd-on-small-node:", "2 warning(s), and --strict fails on warnings"},
		{"noblock.md", 0, 1, ": warning: decisions-missing: No decisions block", "1 warning(s), and --strict fails on warnings"},
		{"argocd.md", 1, 1, ": error: decision-mismatch: gitops is argocd in the decisions block (fleet-wide), but the plan uses flux in every region.", "1 error(s) against the plan"},
		{"regional.md", 1, 1, `: error: decision-mismatch: region "campos-basin": datastore is etcd in the decisions block, but the plan uses sqlite (1 node of 2048 MiB per cluster).`, "1 error(s) against the plan"},
		{"malformed.md", 1, 1, ": error: decisions-malformed: decisions block: not valid YAML", "1 error(s) against the plan"},
	} {
		file := filepath.Join(tmp, c.doc)
		for _, strict := range []bool{false, true} {
			args := []string{"design", "check", file, "--dir", dir}
			want := c.code
			if strict {
				args, want = append(args, "--strict"), c.strict
			}
			out, errs, code := fleetgen(t, args...)
			if code != want {
				t.Errorf("%s strict=%v: exit %d, want %d\n%s%s", c.doc, strict, code, want, out, errs)
			}
			if !strings.Contains(out, c.stdout) {
				t.Errorf("%s: stdout lacks %q:\n%s", c.doc, c.stdout, out)
			}
			if want != 0 && !strings.Contains(errs, c.stderr) {
				t.Errorf("%s strict=%v: stderr %q lacks %q", c.doc, strict, errs, c.stderr)
			}
		}
	}

	// JSON: errors and warnings apart, the decisions block as read.
	js, _, code := fleetgen(t, "design", "check", filepath.Join(tmp, "realistic.md"), "--dir", dir, "-o", "json")
	var r checkJSON
	if err := json.Unmarshal([]byte(js), &r); err != nil || code != 0 {
		t.Fatalf("json (exit %d): %v\n%s", code, err, js)
	}
	if len(r.Errors) != 0 || len(r.Warnings) != 2 || r.Warnings[0].Line != 59 || r.Warnings[1].Line != 66 ||
		r.Warnings[1].Rule != design.RulePushDeployment || r.Decisions == nil || r.Decisions.Fleet["datastore"].Value != "sqlite" ||
		r.Sections["node-security"] == 0 {
		t.Errorf("json of the realistic answer: %+v\n%s", r, js)
	}
	js, _, code = fleetgen(t, "design", "check", filepath.Join(tmp, "regional.md"), "--dir", dir, "-o", "json")
	r = checkJSON{}
	if err := json.Unmarshal([]byte(js), &r); err != nil || code != 1 {
		t.Fatalf("json (exit %d): %v\n%s", code, err, js)
	}
	if len(r.Errors) != 1 || r.Errors[0].Region != "campos-basin" || r.Errors[0].Field != "datastore" ||
		r.Errors[0].Want != "sqlite" || r.Errors[0].Got != "etcd" || len(r.Warnings) != 0 {
		t.Errorf("json of a regional mismatch: %+v", r)
	}
}
