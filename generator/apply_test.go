package generator

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetgen/fleetgen/generator/gitrepo"
	"github.com/fleetgen/fleetgen/generator/tree"
)

// A failing ApplyOptions.Check (it runs while Apply reads) stops the run
// before anything is written, and its error is the one reported even when
// the repository also had something to refuse.
func TestFailingCheckWritesNothing(t *testing.T) {
	res := planExample(t, "offshore-platforms")
	author := gitrepo.Author{Name: "Test", Email: "test@example.com"}
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	broken := errors.New("the planned repository does not validate")
	failing := func(*Result) error { time.Sleep(20 * time.Millisecond); return broken }

	dir := filepath.Join(t.TempDir(), "fleet")
	if _, err := Apply(res, ApplyOptions{Dir: dir, Message: "m", Author: author, When: when, Check: failing}); !errors.Is(err, broken) {
		t.Fatalf("generate with a failing check: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failing check left %s behind (%v)", dir, err)
	}

	if _, err := Apply(res, ApplyOptions{Dir: dir, Message: "m", Author: author, When: when, Check: func(*Result) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	repo, err := gitrepo.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	head, _, _ := repo.HeadCommit()
	// An uncommitted edit (which Apply refuses) and a failing check: the
	// check's error wins, and nothing moves.
	edited := filepath.Join(dir, "README.md")
	if err := os.WriteFile(edited, []byte("hand edit\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	region := res.Spec.Spec.Regions[0].Name
	if _, err := Apply(res, ApplyOptions{Dir: dir, Regions: []string{region}, Message: "m", Author: author, When: when, Check: failing}); !errors.Is(err, broken) {
		t.Fatalf("regen with a failing check over an edited file: %v", err)
	}
	if h, _, _ := repo.HeadCommit(); h != head {
		t.Errorf("HEAD moved from %s to %s", head, h)
	}
	if _, err := os.Stat(filepath.Join(dir, ".git", "fleetgen-pending.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a journal was written: %v", err)
	}
	if b, _ := os.ReadFile(edited); string(b) != "hand edit\n" {
		t.Errorf("the hand edit became %q", b)
	}
	// ApplyPlanned reads while planning: a plan that fails is reported
	// before the repository's refusal, and the check never runs.
	refused := errors.New("nothing fits")
	ran := false
	_, err = ApplyPlanned(ApplyOptions{Dir: dir, Message: "m", Author: author, When: when, Check: func(*Result) error { ran = true; return nil }},
		func() (*Result, error) { return nil, refused })
	if !errors.Is(err, refused) || ran {
		t.Errorf("a failing plan over an edited repository: %v (check ran: %v)", err, ran)
	}
	// Without a plan or check error, the repository's refusal, when the
	// run would write over an edited file (README.md, which it would not
	// write, is left alone).
	var gen int
	for gen = range res.Tree.Files {
		if res.Tree.Files[gen].Owner == tree.Generated {
			break
		}
	}
	p := res.Tree.Files[gen].Path
	if err := os.WriteFile(filepath.Join(dir, p), []byte("hand edit\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	changed := *res
	changed.Tree = tree.Tree{Files: append([]tree.File(nil), res.Tree.Files...)}
	changed.Tree.Files[gen].Content = append([]byte("# changed spec\n"), res.Tree.Files[gen].Content...)
	_, err = ApplyPlanned(ApplyOptions{Dir: dir, Message: "m", Author: author, When: when, Check: func(*Result) error { return nil }},
		func() (*Result, error) { return &changed, nil })
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "uncommitted") {
		t.Errorf("an edited %s was not refused: %v", p, err)
	}
}
