package gitrepo

// Benchmarks on the fleet shape of shared/design/PERFORMANCE.md: 20,000 files
// of ~300 bytes in 5,000 folders. Run them with
//
//	go test -run xxx -bench . -benchtime 1x ./generator/gitrepo/
//
// (or bench/commit.sh). Setup (writing files, first commits) is outside the
// timer; each iteration of a commit benchmark gets a fresh repository or a
// fresh set of changed files.

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"

	"github.com/fleetgen/fleetgen/generator/tree"
)

const (
	benchFiles   = 20000
	benchFolders = 5000
)

// fleetFiles is benchFiles files of ~300 bytes, benchFiles/benchFolders per
// folder, in clusters/<region>/<cluster>/.
func fleetFiles() []tree.File {
	names := []string{"kustomization.yaml", "gotk-sync.yaml", "namespace.yaml", "values.yaml"}
	perDir := benchFiles / benchFolders
	files := make([]tree.File, 0, benchFiles)
	for d := 0; d < benchFolders; d++ {
		dir := fmt.Sprintf("clusters/region-%02d/cluster-%04d", d%50, d)
		for i := 0; i < perDir; i++ {
			name := names[i%len(names)]
			body := fmt.Sprintf("%sapiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: %s-%d\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./%s\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n",
				tree.GeneratedHeader, name, d, dir)
			body += strings.Repeat("#", max(0, 300-len(body)-1)) + "\n"
			files = append(files, tree.File{Path: dir + "/" + name, Content: []byte(body), Mode: tree.ModeFile})
		}
	}
	return files
}

// newFleetDir writes the fleet into a new directory (removed at cleanup).
func newFleetDir(b *testing.B, files []tree.File) string {
	dir, err := os.MkdirTemp("", "fleetbench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	writeFiles(b, dir, files)
	return dir
}

func gitShell(b *testing.B, dir, script string) {
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=b", "GIT_AUTHOR_EMAIL=b@example.com", "GIT_COMMITTER_NAME=b", "GIT_COMMITTER_EMAIL=b@example.com")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s: %v\n%s", script, err, out)
	}
}

func BenchmarkCommit20k(b *testing.B) {
	files := fleetFiles()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := newFleetDir(b, files)
		b.StartTimer()
		r, _, err := OpenOrInit(dir)
		if err != nil {
			b.Fatal(err)
		}
		if _, ok, err := r.Commit(CommitOptions{Write: files, Message: "x", Author: testAuthor, When: testWhen}); err != nil || !ok {
			b.Fatal(ok, err)
		}
		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
	}
}

func BenchmarkGitCLICommit20k(b *testing.B) {
	needGit(b)
	files := fleetFiles()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := newFleetDir(b, files)
		b.StartTimer()
		gitShell(b, dir, "git init -q -b main && git add -A && git commit -q -m x")
		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
	}
}

// changed40 rewrites 40 files spread over the fleet with content unique to
// round, returning them.
func changed40(b *testing.B, dir string, files []tree.File, round int) []tree.File {
	out := make([]tree.File, 0, 40)
	for k := 0; k < 40; k++ {
		f := files[(k*len(files))/40+round%97]
		f.Content = []byte(fmt.Sprintf("%s# round %d\n", f.Content, round))
		out = append(out, f)
	}
	writeFiles(b, dir, out)
	return out
}

func BenchmarkCommit40Changed(b *testing.B) {
	files := fleetFiles()
	dir := newFleetDir(b, files)
	r, _, err := OpenOrInit(dir)
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := r.Commit(CommitOptions{Write: files, Message: "x", Author: testAuthor, When: testWhen}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ch := changed40(b, dir, files, i)
		b.StartTimer()
		r, err := Open(dir) // as a fresh fleetgen run would
		if err != nil {
			b.Fatal(err)
		}
		if _, ok, err := r.Commit(CommitOptions{Write: ch, Message: "x", Author: testAuthor, When: testWhen.Add(time.Duration(i+1) * time.Second)}); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkCommit40ChangedAllListed is BenchmarkCommit40Changed with the
// whole tree passed in Write, as a caller that does not track what changed
// would: 20,000 stats and hashes, and every tree loaded to compare.
func BenchmarkCommit40ChangedAllListed(b *testing.B) {
	files := fleetFiles()
	dir := newFleetDir(b, files)
	r, _, err := OpenOrInit(dir)
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := r.Commit(CommitOptions{Write: files, Message: "x", Author: testAuthor, When: testWhen}); err != nil {
		b.Fatal(err)
	}
	pos := make(map[string]int, len(files))
	for i, f := range files {
		pos[f.Path] = i
	}
	all := slices.Clone(files) // what the worktree holds
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for _, f := range changed40(b, dir, files, i) {
			all[pos[f.Path]] = f
		}
		b.StartTimer()
		r, err := Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		if _, ok, err := r.Commit(CommitOptions{Write: all, Message: "x", Author: testAuthor, When: testWhen.Add(time.Duration(i+1) * time.Second)}); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkGitCLICommit40Changed(b *testing.B) {
	needGit(b)
	files := fleetFiles()
	dir := newFleetDir(b, files)
	gitShell(b, dir, "git init -q -b main && git add -A && git commit -q -m x")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		changed40(b, dir, files, i)
		b.StartTimer()
		gitShell(b, dir, "git add -A && git commit -q -m x")
	}
}

// committedFleet is a clean, committed 20k-file repository.
func committedFleet(b *testing.B) string {
	files := fleetFiles()
	dir := newFleetDir(b, files)
	r, _, err := OpenOrInit(dir)
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := r.Commit(CommitOptions{Write: files, Message: "x", Author: testAuthor, When: testWhen}); err != nil {
		b.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // let the files stop being as new as the index
	return dir
}

// BenchmarkDirtyAll20k: the dirty check of a run that would rewrite all
// 20,000 files of a clean repository (one region: 1,000 of them).
func BenchmarkDirtyAll20k(b *testing.B) {
	dir := committedFleet(b)
	files := fleetFiles()
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = f.Path
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		head, err := r.HeadFiles()
		if err != nil {
			b.Fatal(err)
		}
		d, err := r.Dirty(paths, head, nil)
		if err != nil || len(d) != 0 {
			b.Fatalf("Dirty = %d paths, %v", len(d), err)
		}
	}
}

func BenchmarkWorktreeStatus20k(b *testing.B) {
	dir := committedFleet(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := git.PlainOpen(dir)
		if err != nil {
			b.Fatal(err)
		}
		wt, err := r.Worktree()
		if err != nil {
			b.Fatal(err)
		}
		st, err := wt.Status()
		if err != nil || !st.IsClean() {
			b.Fatalf("Status clean=%v, %v", st.IsClean(), err)
		}
	}
}
