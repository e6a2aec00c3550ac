package design

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// FuzzCheck: Check never panics, fails only with its four errors, and
// reports lines and sections inside the document, sorted, the same way twice;
// errors are the decisions block's only.
func FuzzCheck(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.md"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(wrap("No recomendamos etcd; usamos Istio.")))
	f.Add([]byte("---\n---\n# x\n```\n"))
	f.Add([]byte(withBlock(goodBlock)))
	f.Add([]byte(withBlock("fleetgen-decisions: &a\n  regions: {x: *a}\n")))
	f.Fuzz(func(t *testing.T, doc []byte) {
		rep, err := Check(doc, offshoreFacts)
		if err != nil {
			if !errors.Is(err, ErrEmpty) && !errors.Is(err, ErrBinary) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrNoHeading) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		lines := len(splitLines(string(doc)))
		if len(rep.Sections) != 4 {
			t.Fatalf("sections = %v", rep.Sections)
		}
		for _, task := range Tasks() {
			if l, ok := rep.Sections[task]; !ok || l < 0 || l > lines {
				t.Fatalf("section %s at line %d of %d", task, l, lines)
			}
		}
		if !sort.SliceIsSorted(rep.Warnings, func(i, j int) bool { return rep.Warnings[i].Line < rep.Warnings[j].Line }) {
			t.Fatalf("findings not sorted: %+v", rep.Warnings)
		}
		for _, fd := range rep.Warnings {
			if fd.Line < 0 || fd.Line > lines || fd.Message == "" {
				t.Fatalf("finding outside the document (%d lines): %+v", lines, fd)
			}
			if (fd.Line == 0) != (strings.HasPrefix(fd.Rule, RuleMissingSection+":") || fd.Rule == RuleDecisionsMissing) {
				t.Fatalf("line and rule disagree: %+v", fd)
			}
			if fd.Line > 0 && fd.Excerpt == "" {
				t.Fatalf("no excerpt: %+v", fd)
			}
		}
		for _, fd := range rep.Errors {
			if fd.Line < 1 || fd.Line > lines || fd.Message == "" || !strings.HasPrefix(fd.Rule, "decision") {
				t.Fatalf("error outside the document (%d lines): %+v", lines, fd)
			}
		}
		if rep.Decisions != nil && (rep.Decisions.Line < 1 || rep.Decisions.Line > lines) {
			t.Fatalf("decisions block at line %d of %d", rep.Decisions.Line, lines)
		}
		again, _ := Check(doc, offshoreFacts)
		if !reflect.DeepEqual(rep, again) {
			t.Fatalf("not deterministic")
		}
	})
}
