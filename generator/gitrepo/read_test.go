package gitrepo

import (
	"testing"
)

// CommitTreeIDs (each tree read once for all paths) gives what walking
// each path from the root gives: folders, files, absent paths, and paths
// through a file.
func TestCommitTreeIDsAgreesWithSubtree(t *testing.T) {
	r, _ := commitFiles(t, sampleFiles())
	ch, _, err := r.headTree()
	if err != nil {
		t.Fatal(err)
	}
	paths := []string{"clusters", "clusters/prod-00", "clusters/prod-07/apps", "clusters/prod-07/apps/values.yaml",
		"clusters/prod-99", "a", "a/x", "a-b", "a0", "a.b", "foo.yaml", "foo.yaml/x", "foo", "foo/bar.yaml",
		"deep/1/2/3/4/5/6/leaf.yaml", "deep/1/2/x", "scripts/lib", "README.md", "", "nope/nope"}
	ids, err := r.CommitTreeIDs(ch, paths)
	if err != nil {
		t.Fatal(err)
	}
	th, err := r.commitTree(ch)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, p := range paths {
		want, _, ok, err := r.subtree(th, p)
		if err != nil {
			t.Fatal(err)
		}
		got, has := ids[p]
		if has != ok || got != want {
			t.Errorf("%q: CommitTreeIDs %s %v, subtree %s %v", p, got, has, want, ok)
		}
		if ok {
			found++
		}
	}
	if found < 14 {
		t.Errorf("only %d of the paths found: the test does not test much", found)
	}
}
