package tree

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckPathAccepts(t *testing.T) {
	for _, p := range []string{
		"a",
		"README.md",
		".gitignore",
		".sops.yaml",
		"clusters/north/n-0001/kustomization.yaml",
		"apps/base/.gitkeep",
		"a/..b/c",   // "..b" is a name, not a parent
		"a/b../c",   // same
		"a/.github", // not .git
		"a/.gitx/y",
		"x.git/y",
		"a b/c d.yaml",
	} {
		if err := CheckPath(p); err != nil {
			t.Errorf("CheckPath(%q) = %v, want accepted", p, err)
		}
	}
}

func TestCheckPathRefuses(t *testing.T) {
	for _, p := range []string{
		"",
		".",
		"..",
		"../x",
		"a/../../x",
		"a/../b",
		"a/..",
		"./a",
		"a/./b",
		"a/.",
		"/etc/passwd",
		"/",
		"//a",
		"a//b",
		"a/",
		"a\\b",
		"..\\x",
		"C:\\x",
		"a\x00b",
		".git",
		".git/config",
		".git/hooks/pre-commit",
		"a/.git/config",
		"a/.git",
		".GIT/config",
		"a/.Git/HEAD",
	} {
		if err := CheckPath(p); err == nil {
			t.Errorf("CheckPath(%q) accepted, want refused", p)
		}
	}
}

func FuzzCheckPath(f *testing.F) {
	for _, s := range []string{"a", "a/b", "../a", "a/../b", "/a", ".git/x", "a/.GIT", "a//b", "a\\b", "..a/b..", ".", "a/./b", "clusters/r/c/kustomization.yaml"} {
		f.Add(s)
	}
	root := filepath.FromSlash("/srv/fleet-repo")
	f.Fuzz(func(t *testing.T, p string) {
		if CheckPath(p) != nil {
			return
		}
		joined := filepath.Join(root, filepath.FromSlash(p))
		if !strings.HasPrefix(joined, root+string(filepath.Separator)) {
			t.Fatalf("accepted %q joins to %q, outside %q", p, joined, root)
		}
		rel, err := filepath.Rel(root, joined)
		if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			t.Fatalf("accepted %q: Rel(root, join) = %q, %v", p, rel, err)
		}
		// Clean form: the path on disk is exactly the path that was checked.
		if filepath.ToSlash(rel) != p {
			t.Fatalf("accepted %q lands at %q", p, filepath.ToSlash(rel))
		}
		for _, seg := range strings.Split(filepath.ToSlash(rel), "/") {
			if strings.EqualFold(seg, ".git") {
				t.Fatalf("accepted %q has a .git segment", p)
			}
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("accepted %q has segment %q", p, seg)
			}
		}
		if strings.ContainsAny(p, "\\\x00") {
			t.Fatalf("accepted %q with a backslash or NUL", p)
		}
	})
}

func TestFinishSortsAndDefaultsMode(t *testing.T) {
	var tr Tree
	tr.Add(File{Path: "b/x.yaml", Content: []byte("b")})
	tr.Add(File{Path: "a.sh", Content: []byte("a"), Mode: ModeScript})
	tr.Add(File{Path: "a/z.yaml", Owner: Seeded})
	if err := tr.Finish(); err != nil {
		t.Fatal(err)
	}
	want := []string{"a.sh", "a/z.yaml", "b/x.yaml"}
	if got := tr.Paths(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("Paths = %v, want %v", got, want)
	}
	if f, ok := tr.Get("b/x.yaml"); !ok || f.Mode != ModeFile || string(f.Content) != "b" {
		t.Errorf("Get(b/x.yaml) = %+v, %v; want mode %o", f, ok, ModeFile)
	}
	if f, ok := tr.Get("a.sh"); !ok || f.Mode != ModeScript {
		t.Errorf("Get(a.sh) = %+v, %v; want mode %o", f, ok, ModeScript)
	}
	if f, _ := tr.Get("a/z.yaml"); f.Owner != Seeded {
		t.Errorf("owner of a/z.yaml = %v, want seeded", f.Owner)
	}
	for _, p := range []string{"a", "b", "a/z", "c", ""} {
		if _, ok := tr.Get(p); ok {
			t.Errorf("Get(%q) found a file", p)
		}
	}
}

func TestFinishRefuses(t *testing.T) {
	for name, paths := range map[string][]string{
		"duplicate":  {"a/b", "c", "a/b"},
		"traversal":  {"a", "../b"},
		"absolute":   {"/etc/x"},
		"git":        {"ok", ".git/hooks/post-checkout"},
		"git-nested": {"a/.git/config"},
		"empty":      {""},
		"unclean":    {"a//b"},
	} {
		t.Run(name, func(t *testing.T) {
			var tr Tree
			for _, p := range paths {
				tr.Add(File{Path: p})
			}
			if err := tr.Finish(); err == nil {
				t.Fatalf("Finish accepted %q", paths)
			}
		})
	}
}

func TestOwnerString(t *testing.T) {
	for o, want := range map[Owner]string{Generated: "generated", Seeded: "seeded", Owner(7): "Owner(7)"} {
		if got := o.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(o), got, want)
		}
	}
}
