package design

import (
	"bytes"
	"strings"
	"testing"
)

var meta = Meta{
	SpecSHA256:       "3f2a9c0d5e7b41f8a6c2d9e0b1a4c7f3e5d8b2a1c4f7e0d3b6a9c2f5e8d1b4a7",
	PromptSHA256:     "9b1d4e7a0c3f6b9e2d5a8c1f4b7e0a3d6c9f2b5e8a1d4c7f0b3e6a9d2c5f8b1e",
	GeneratorVersion: "0.4.0",
	AttachedFrom:     "answers/claude-2026-03-01.md",
}

const metaYAML = "---\n" +
	"fleetgen_spec_sha256: 3f2a9c0d5e7b41f8a6c2d9e0b1a4c7f3e5d8b2a1c4f7e0d3b6a9c2f5e8d1b4a7\n" +
	"fleetgen_prompt_sha256: 9b1d4e7a0c3f6b9e2d5a8c1f4b7e0a3d6c9f2b5e8a1d4c7f0b3e6a9d2c5f8b1e\n" +
	"fleetgen_version: 0.4.0\n" +
	"source: answers/claude-2026-03-01.md\n" +
	"---\n"

func TestWithFrontMatter(t *testing.T) {
	body := "# Design\n\nText.\n"
	got := string(WithFrontMatter([]byte(body), meta))
	if got != metaYAML+body {
		t.Fatalf("got:\n%s\nwant:\n%s", got, metaYAML+body)
	}

	// Round trip.
	m, found, err := ReadFrontMatter([]byte(got))
	if err != nil || !found || m != meta {
		t.Fatalf("ReadFrontMatter = %+v, %v, %v; want %+v", m, found, err, meta)
	}
	if string(StripFrontMatter([]byte(got))) != body {
		t.Errorf("StripFrontMatter changed the body")
	}

	// Replacing: fleetgen's own, or another tool's front matter.
	other := Meta{SpecSHA256: "aa", PromptSHA256: "bb", GeneratorVersion: "dev", AttachedFrom: "x.md"}
	if again := WithFrontMatter([]byte(got), other); !bytes.Equal(again, WithFrontMatter([]byte(body), other)) {
		t.Errorf("replacing the front matter:\n%s", again)
	}
	blog := "---\nlayout: post\ntitle: \"Kubernetes en el Edge\"\n---\n" + body
	if again := WithFrontMatter([]byte(blog), meta); string(again) != metaYAML+body {
		t.Errorf("replacing a blog front matter:\n%s", again)
	}
	// Idempotent.
	if again := WithFrontMatter([]byte(got), meta); string(again) != got {
		t.Errorf("not idempotent:\n%s", again)
	}
}

func TestWithFrontMatterValues(t *testing.T) {
	for _, m := range []Meta{
		{},
		{GeneratorVersion: "1.0", AttachedFrom: "true"}, // would read as a float and a bool
		{GeneratorVersion: "v0.4.0-3-gabc123 (dirty)", AttachedFrom: "C:\\Users\\ana\\diseño #2: final.md"},
		{AttachedFrom: "two\nlines", GeneratorVersion: " spaces "}, // odd, still round trips
		{SpecSHA256: "---", PromptSHA256: "...", AttachedFrom: "- [x]"},
		{AttachedFrom: strings.Repeat("very/long/path/", 40) + "design.md"},
		{AttachedFrom: "/home/ana/dise\xf1o.md"}, // not UTF-8: written as !!binary
	} {
		doc := WithFrontMatter([]byte("# D\n"), m)
		got, found, err := ReadFrontMatter(doc)
		if err != nil || !found || got != m {
			t.Errorf("round trip of %+v: got %+v, %v, %v\n%s", m, got, found, err, doc)
		}
		if !bytes.HasSuffix(doc, []byte("\n---\n# D\n")) {
			t.Errorf("body not kept:\n%s", doc)
		}
	}
}

func TestWithFrontMatterCRLFAndBOM(t *testing.T) {
	body := "# Design\r\n\r\nText.\r\n"
	got := WithFrontMatter([]byte("\uFEFF"+body), meta)
	want := strings.ReplaceAll(metaYAML, "\n", "\r\n") + body
	if string(got) != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if m, found, err := ReadFrontMatter(got); err != nil || !found || m != meta {
		t.Errorf("ReadFrontMatter = %+v, %v, %v", m, found, err)
	}
	// Check sees the design below it, with the file's line numbers.
	rep := check(t, WithFrontMatter([]byte(wrap("Usaremos Istio.")), meta), offshoreFacts)
	if len(rep.Warnings) != 1 || rep.Warnings[0].Line != 4+6 {
		t.Errorf("findings after WithFrontMatter: %+v", rep.Warnings)
	}
}

func TestReadFrontMatter(t *testing.T) {
	for _, c := range []struct {
		name, doc string
		want      Meta
		found     bool
		err       string
	}{
		{name: "none", doc: "# Design\n"},
		{name: "thematic break later", doc: "# Design\n---\nfleetgen_version: x\n---\n"},
		{name: "another tool's", doc: "---\ntitle: Blog post\nsource: web\n---\n# D\n"},
		{name: "empty", doc: "---\n---\n# D\n"},
		{name: "partial", doc: "---\nfleetgen_version: 0.1.0\n---\n", want: Meta{GeneratorVersion: "0.1.0"}, found: true},
		{name: "unquoted number", doc: "---\nfleetgen_version: 1.10\nfleetgen_spec_sha256: 012345\n---\n",
			want: Meta{GeneratorVersion: "1.10", SpecSHA256: "012345"}, found: true},
		{name: "null", doc: "---\nfleetgen_version: ~\nsource:\n---\n", found: true},
		{name: "closed by dots", doc: "---\nfleetgen_version: a\n...\n", want: Meta{GeneratorVersion: "a"}, found: true},
		{name: "unclosed", doc: "---\nfleetgen_version: a\n# Design\n", err: "never closed"},
		{name: "not a mapping", doc: "---\n- a\n- b\n---\n", err: "front matter line 2: expected a YAML mapping"},
		{name: "bad YAML", doc: "---\nfleetgen_version: [\n---\n", err: "front matter: yaml:"},
		{name: "not a string", doc: "---\nsource: x\nfleetgen_version: {a: 1}\n---\n", err: "front matter line 3: fleetgen_version must be a string"},
		{name: "duplicate", doc: "---\nfleetgen_version: a\nfleetgen_version: b\n---\n", err: `front matter line 3: duplicate key "fleetgen_version"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, found, err := ReadFrontMatter([]byte(c.doc))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || found != c.found || m != c.want {
				t.Errorf("got %+v, %v, %v; want %+v, %v", m, found, err, c.want, c.found)
			}
		})
	}
}

func FuzzFrontMatter(f *testing.F) {
	f.Add("# D\n", "abc", "v1", "a.md")
	f.Add("---\nx: 1\n---\nbody", "", "1.0", "x\ny")
	f.Add("---\r\n---\r\n# D\r\n", "---", "'", "\"")
	f.Fuzz(func(t *testing.T, doc, spec, version, source string) {
		m := Meta{SpecSHA256: spec, PromptSHA256: spec + "p", GeneratorVersion: version, AttachedFrom: source}
		out := WithFrontMatter([]byte(doc), m)
		got, found, err := ReadFrontMatter(out)
		if err != nil || !found || got != m {
			t.Fatalf("round trip of %+v: got %+v, %v, %v\n%q", m, got, found, err, out)
		}
		if again := WithFrontMatter(out, m); !bytes.Equal(again, out) {
			t.Fatalf("not idempotent:\n%q\n%q", out, again)
		}
	})
}
