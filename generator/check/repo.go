package check

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/fleetgen/fleetgen/generator/tree"
	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// repo is the repository being validated, read once into memory. Paths are
// slash-separated and relative to the root; the root directory is ".".
type repo struct {
	files map[string][]byte
	paths []string        // sorted
	dirs  map[string]bool // every directory holding a file, and its parents
	// build holds the contents kustomize sees; it differs from files only
	// where a missing gotk-components.yaml was left out of a kustomization.
	build   map[string][]byte
	patched bool
}

func newRepo(files map[string][]byte) *repo {
	r := &repo{files: files, build: files, dirs: map[string]bool{".": true}}
	r.paths = make([]string, 0, len(files))
	for p := range files {
		r.paths = append(r.paths, p)
		for d := path.Dir(p); !r.dirs[d]; d = path.Dir(d) {
			r.dirs[d] = true
		}
	}
	sort.Strings(r.paths)
	return r
}

func loadTree(t *tree.Tree) (*repo, error) {
	files := make(map[string][]byte, len(t.Files))
	for _, f := range t.Files {
		if err := tree.CheckPath(f.Path); err != nil {
			return nil, err
		}
		files[f.Path] = f.Content
	}
	return newRepo(files), nil
}

func loadDir(root string, workers int) (*repo, error) {
	root, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, err
	}
	var rels []string
	var links []bool // a symlink: read only if it points at a file
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" && p != root {
				return filepath.SkipDir
			}
			return nil
		}
		link := d.Type()&fs.ModeSymlink != 0
		if !d.Type().IsRegular() && !link {
			return nil // sockets, devices, ...
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rels = append(rels, filepath.ToSlash(rel))
		links = append(links, link)
		return nil
	})
	if err != nil {
		return nil, err
	}
	contents := make([][]byte, len(rels))
	errs := make([]error, len(rels))
	// Reads wait on the kernel more than on the CPU: use more goroutines.
	parallel(len(rels), max(4*workers, 16), func(i int) {
		p := filepath.Join(root, filepath.FromSlash(rels[i]))
		if links[i] {
			if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
				return // dangling, or a link to a directory: not a file of the repo
			}
		}
		contents[i], errs[i] = os.ReadFile(p)
		if errs[i] == nil && contents[i] == nil {
			contents[i] = []byte{}
		}
	})
	files := make(map[string][]byte, len(rels))
	for i, rel := range rels {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if contents[i] != nil {
			files[rel] = contents[i]
		}
	}
	return newRepo(files), nil
}

// parallel runs fn(0..n-1) on up to workers goroutines.
func parallel(n, workers int, fn func(i int)) {
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	next := make(chan int, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

// isKustomizationFile reports whether base is one of the names kustomize
// recognises.
func isKustomizationFile(base string) bool {
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		if base == n {
			return true
		}
	}
	return false
}

// kustomizationDirs lists the directories holding a kustomization file, with
// that file (the first recognised name when there are several: kustomize
// then reports the ambiguity itself).
func (r *repo) kustomizationDirs() map[string]string {
	out := map[string]string{}
	for _, p := range r.paths {
		if !isKustomizationFile(path.Base(p)) {
			continue
		}
		d := path.Dir(p)
		if _, ok := out[d]; !ok {
			out[d] = p
		}
	}
	return out
}

// isDir reports whether p (clean, relative) is a directory of the repo.
func (r *repo) isDir(p string) bool { return r.dirs[p] }

// filesUnder lists the files below dir (recursively), sorted.
func (r *repo) filesUnder(dir string) []string {
	if dir == "." {
		return r.paths
	}
	prefix := dir + "/"
	i := sort.SearchStrings(r.paths, prefix)
	j := i
	for j < len(r.paths) && strings.HasPrefix(r.paths[j], prefix) {
		j++
	}
	return r.paths[i:j]
}

// memFS builds kustomize's in-memory file system from the build contents.
// The result is only read from afterwards, which is safe from several
// goroutines (no file is Opened: kustomize reads with ReadFile).
func (r *repo) memFS() (filesys.FileSystem, error) {
	fsys := filesys.MakeFsInMemory()
	for _, p := range r.paths {
		if err := fsys.WriteFile("/"+p, r.build[p]); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	return fsys, nil
}

// GotkComponents is the file `flux bootstrap` writes and fleetgen leaves to
// the user (`flux install --export`).
const GotkComponents = "gotk-components.yaml"

// patchMissingGotkComponents leaves a missing gotk-components.yaml out of the
// kustomizations that list it, so that the rest of the flux-system directory
// still builds, and warns once for the whole repository.
func (r *repo) patchMissingGotkComponents(f *findings) {
	var missing []string
	for dir, kfile := range r.kustomizationDirs() {
		content := r.files[kfile]
		if !bytes.Contains(content, []byte(GotkComponents)) {
			continue
		}
		want := path.Join(dir, GotkComponents)
		if _, ok := r.files[want]; ok {
			continue
		}
		patched, ok := dropResource(content, GotkComponents)
		if !ok {
			continue
		}
		if !r.patched {
			r.build = make(map[string][]byte, len(r.files))
			for k, v := range r.files {
				r.build[k] = v
			}
			r.patched = true
		}
		r.build[kfile] = patched
		missing = append(missing, want)
	}
	if len(missing) == 0 {
		return
	}
	sort.Strings(missing)
	msg := fmt.Sprintf("%s is not committed (fleetgen does not generate it); built without it. Create it with: flux install --export > %s", GotkComponents, missing[0])
	if len(missing) > 1 {
		msg += fmt.Sprintf(" (and likewise in the %d other directories", len(missing)-1)
		if g := dirGlob(missing); g != "" {
			msg += fmt.Sprintf(": for d in %s; do flux install --export > \"$d/%s\"; done", g, GotkComponents)
		}
		msg += ")"
	}
	f.warnf(missing[0], 0, "%s", msg)
}

// dirGlob returns a shell glob matching the directories of files (one "*"
// per differing path segment), or "" when their depths differ.
func dirGlob(files []string) string {
	var segs []string
	for i, f := range files {
		s := strings.Split(path.Dir(f), "/")
		if i == 0 {
			segs = s
			continue
		}
		if len(s) != len(segs) {
			return ""
		}
		for j := range s {
			if s[j] != segs[j] {
				segs[j] = "*"
			}
		}
	}
	return strings.Join(segs, "/")
}

// dropResource removes the entry name from the top-level resources list of a
// kustomization file. It reports false when there is no such entry.
func dropResource(content []byte, name string) ([]byte, bool) {
	var doc yaml.Node
	if err := yaml.Unmarshal(content, &doc); err != nil || len(doc.Content) == 0 {
		return nil, false
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil, false
	}
	found := false
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != "resources" || m.Content[i+1].Kind != yaml.SequenceNode {
			continue
		}
		seq := m.Content[i+1]
		kept := seq.Content[:0]
		for _, it := range seq.Content {
			if it.Kind == yaml.ScalarNode && path.Clean(it.Value) == name {
				found = true
				continue
			}
			kept = append(kept, it)
		}
		seq.Content = kept
	}
	if !found {
		return nil, false
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, false
	}
	return out, true
}
