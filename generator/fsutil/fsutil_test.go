//go:build unix

package fsutil

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// withUmask runs the test body under umask mask, restoring the old one.
func withUmask(t *testing.T, mask int) {
	t.Helper()
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

// listAll is every entry under dir, relative, for "nothing else" checks.
func listAll(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustWrite(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestJoinRefusesEscapes(t *testing.T) {
	root := t.TempDir()
	for _, rel := range []string{"../x", "a/../../x", "..", "/etc/passwd", "/", "a/../b", "./a", "a//b", "", ".git/config", "a\\..\\..\\x", "a\x00b"} {
		if got, err := Join(root, rel); err == nil {
			t.Errorf("Join(root, %q) = %q, want refused", rel, got)
		}
		if err := WriteFileAtomic(root, rel, []byte("x"), 0o644); err == nil {
			t.Errorf("WriteFileAtomic(root, %q) succeeded, want refused", rel)
		}
		if err := Remove(root, rel); err == nil {
			t.Errorf("Remove(root, %q) succeeded, want refused", rel)
		}
	}
	if l := listAll(t, root); len(l) > 0 {
		t.Errorf("refused writes left %v", l)
	}
}

func TestJoinInside(t *testing.T) {
	root := t.TempDir()
	got, err := Join(root, "a/b/c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "a", "b", "c.yaml"); got != want {
		t.Fatalf("Join = %q, want %q", got, want)
	}
	// A root that does not exist yet: nothing on disk can point out.
	missing := filepath.Join(root, "not-yet")
	if got, err := Join(missing, "x/y"); err != nil || got != filepath.Join(missing, "x", "y") {
		t.Fatalf("Join(missing root) = %q, %v", got, err)
	}
}

// The symlink cases: a link inside the root that leads outside must be
// refused by Join and WriteFileAtomic, and nothing may appear outside.
func TestSymlinkOutOfRootRefused(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "repo")
	outside := filepath.Join(base, "outside")
	sibling := filepath.Join(base, "repo-evil") // shares root's prefix as a string
	for _, d := range []string{root, outside, sibling} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(t, filepath.Join(outside, "victim.txt"), "keep me\n")
	links := map[string]string{
		"out-dir":       outside,                                  // directory outside
		"out-rel":       "../outside",                             // relative, outside
		"out-file":      filepath.Join(outside, "victim.txt"),     // file outside
		"out-sibling":   sibling,                                  // /base/repo-evil is not inside /base/repo
		"out-dangling":  filepath.Join(outside, "does-not-exist"), // would be created outside by MkdirAll
		"out-root-link": "/",
	}
	if err := os.MkdirAll(filepath.Join(root, "clusters"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, "clusters", name)); err != nil {
			t.Fatal(err)
		}
	}
	for name := range links {
		for _, rel := range []string{"clusters/" + name + "/x.yaml", "clusters/" + name + "/deep/er/x.yaml"} {
			if got, err := Join(root, rel); err == nil {
				t.Errorf("Join(root, %q) = %q, want refused (symlink leads outside)", rel, got)
			}
			if err := WriteFileAtomic(root, rel, []byte("pwned\n"), 0o644); err == nil {
				t.Errorf("WriteFileAtomic(root, %q) succeeded through a symlink out of the root", rel)
			}
		}
	}
	// The link itself as the final component pointing at a file outside.
	if _, err := Join(root, "clusters/out-file"); err == nil {
		t.Errorf("Join accepted a final-component symlink to a file outside")
	}
	if err := WriteFileAtomic(root, "clusters/out-file", []byte("pwned\n"), 0o644); err == nil {
		t.Errorf("WriteFileAtomic accepted a final-component symlink to a file outside")
	}
	if err := Remove(root, "clusters/out-file/x"); err == nil {
		t.Errorf("Remove accepted a path through a symlink out of the root")
	}
	if b, err := os.ReadFile(filepath.Join(outside, "victim.txt")); err != nil || string(b) != "keep me\n" {
		t.Fatalf("file outside the root changed: %q, %v", b, err)
	}
	for _, d := range []string{outside, sibling} {
		for _, p := range listAll(t, d) {
			if p != "victim.txt" {
				t.Errorf("written outside the root: %s", filepath.Join(d, p))
			}
		}
	}
}

func TestSymlinkInsideRootAllowed(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "real", "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real/dir", filepath.Join(root, "alias")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(root, "alias/f.yaml", []byte("ok\n"), 0o644); err != nil {
		t.Fatalf("a symlink that stays inside the root was refused: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "real", "dir", "f.yaml")); err != nil || string(b) != "ok\n" {
		t.Fatalf("file not written through the inside link: %q, %v", b, err)
	}
	// A root that is itself reached through a symlink works too.
	linkRoot := filepath.Join(t.TempDir(), "link-to-root")
	if err := os.Symlink(root, linkRoot); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(linkRoot, "real/g.yaml", []byte("ok\n"), 0o644); err != nil {
		t.Fatalf("write under a symlinked root: %v", err)
	}
}

func TestWriteFileAtomicModesAndNoTemp(t *testing.T) {
	for _, mask := range []int{0o022, 0o077, 0o002} {
		t.Run(fmt.Sprintf("umask%03o", mask), func(t *testing.T) {
			withUmask(t, mask)
			root := filepath.Join(t.TempDir(), "repo")
			files := map[string]os.FileMode{
				"README.md":                     0o644,
				"bootstrap/north/provision.sh":  0o755,
				"clusters/north/n-0001/ks.yaml": 0o644,
				"clusters/north/n-0001/run.sh":  0o755,
			}
			for rel, mode := range files {
				if err := WriteFileAtomic(root, rel, []byte("content of "+rel+"\n"), mode); err != nil {
					t.Fatal(err)
				}
			}
			// Rewrite with the other mode: the mode follows the new write.
			if err := WriteFileAtomic(root, "README.md", []byte("v2\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := WriteFileAtomic(root, "README.md", []byte("v3\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			for rel, mode := range files {
				st, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel)))
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != mode {
					t.Errorf("%s: mode %o, want %o (file modes must not depend on the umask)", rel, st.Mode().Perm(), mode)
				}
			}
			if b, _ := os.ReadFile(filepath.Join(root, "README.md")); string(b) != "v3\n" {
				t.Errorf("README.md = %q after rewrite", b)
			}
			wantDir := os.FileMode(0o755) &^ os.FileMode(mask)
			for _, d := range []string{"", "bootstrap", "bootstrap/north", "clusters", "clusters/north", "clusters/north/n-0001"} {
				st, err := os.Stat(filepath.Join(root, filepath.FromSlash(d)))
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != wantDir {
					t.Errorf("folder %q: mode %o, want %o (0755 under umask %03o)", d, st.Mode().Perm(), wantDir, mask)
				}
			}
			for _, p := range listAll(t, root) {
				if strings.Contains(p, ".fleetgen-") || strings.HasSuffix(p, ".tmp") {
					t.Errorf("temporary file left behind: %s", p)
				}
			}
		})
	}
}

func TestWriteFileAtomicFailureLeavesNoTemp(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "a", "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(root, "a/dir", []byte("x"), 0o644); err == nil {
		t.Fatal("WriteFileAtomic over a folder succeeded")
	}
	mustWrite(t, filepath.Join(root, "file"), "x")
	if err := WriteFileAtomic(root, "file/under", []byte("x"), 0o644); err == nil {
		t.Fatal("WriteFileAtomic under a file succeeded")
	}
	// A folder that cannot be written to: the temp file cannot be created.
	if os.Geteuid() != 0 {
		ro := filepath.Join(root, "ro")
		if err := os.MkdirAll(ro, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(ro, 0o755) })
		if err := WriteFileAtomic(root, "ro/x", []byte("x"), 0o644); err == nil {
			t.Fatal("WriteFileAtomic into a read-only folder succeeded")
		}
	}
	for _, p := range listAll(t, root) {
		if strings.Contains(p, ".fleetgen-") {
			t.Errorf("temporary file left behind: %s", p)
		}
	}
}

func TestRemovePrunesEmptyParentsNotRoot(t *testing.T) {
	root := t.TempDir()
	mustWrite(t, filepath.Join(root, "clusters/north/n-0001/ks.yaml"), "x")
	mustWrite(t, filepath.Join(root, "clusters/north/n-0001/vars.yaml"), "x")
	mustWrite(t, filepath.Join(root, "clusters/north/n-0002/ks.yaml"), "x")

	if err := Remove(root, "clusters/north/n-0001/ks.yaml"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "clusters/north/n-0001/vars.yaml")); err != nil {
		t.Fatalf("sibling file removed: %v", err)
	}
	if err := Remove(root, "clusters/north/n-0001/vars.yaml"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "clusters/north/n-0001")); !os.IsNotExist(err) {
		t.Errorf("empty folder clusters/north/n-0001 kept (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(root, "clusters/north/n-0002/ks.yaml")); err != nil {
		t.Fatalf("other cluster removed: %v", err)
	}
	if err := Remove(root, "clusters/north/n-0002/ks.yaml"); err != nil {
		t.Fatal(err)
	}
	if l := listAll(t, root); len(l) != 0 {
		t.Errorf("after removing every file, left: %v", l)
	}
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		t.Fatalf("the root itself was removed: %v", err)
	}
	// Removing a missing file is not an error and touches nothing.
	if err := Remove(root, "gone/away.yaml"); err != nil {
		t.Errorf("Remove(missing) = %v", err)
	}
	if _, err := os.Stat(root); err != nil {
		t.Fatalf("root removed by Remove(missing): %v", err)
	}
	// A top-level file: the root stays even though it is now empty.
	mustWrite(t, filepath.Join(root, "README.md"), "x")
	if err := Remove(root, "README.md"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(root); err != nil {
		t.Fatalf("root removed with its last file: %v", err)
	}
}

// Remove with the root spelt differently from filepath.Clean's form (a
// trailing slash, a relative path, ".") must behave the same.
func TestRemoveRootSpellings(t *testing.T) {
	for _, spelling := range []string{"trailing-slash", "relative", "dot"} {
		t.Run(spelling, func(t *testing.T) {
			parent := t.TempDir()
			root := filepath.Join(parent, "repo")
			mustWrite(t, filepath.Join(root, "a/b/c.yaml"), "x")
			r := root
			switch spelling {
			case "trailing-slash":
				r = root + "/"
			case "relative":
				t.Chdir(parent)
				r = "repo"
			case "dot":
				t.Chdir(root)
				r = "."
			}
			if err := Remove(r, "a/b/c.yaml"); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(root, "a/b/c.yaml")); !os.IsNotExist(err) {
				t.Fatalf("file not removed: %v", err)
			}
			if _, err := os.Stat(root); err != nil {
				t.Fatalf("root removed: %v", err)
			}
			if l := listAll(t, root); len(l) != 0 {
				t.Errorf("empty folders left: %v", l)
			}
		})
	}
}
