// Model-based test of what operators do to a fleet repository over years.
//
// Each sequence starts from a small fleet (one of four specs of 2–3 regions
// of 0–2 clusters plus an inventory file, generated once per run and
// copied), then applies random operator steps drawn from a PRNG seeded with
// the sequence's seed, with the real git CLI beside fleetgen (run in
// process through run(), as the other CLI tests do):
//
//   - hand edits committed with git: append a line to a generated file,
//     change a "key: value" line, delete a generated file, add a file in a
//     cluster folder;
//   - spec edits to fleet.yaml (and clusters.csv) committed with git: a
//     connectivity profile, a region added or removed, a clusterCount;
//   - `inventory add`, `inventory remove`, `regen --region R`, `regen`,
//     `design attach`;
//   - a plain `git push origin main` to a bare remote, a plain `git clone`
//     of it, and the rest of the sequence in the clone.
//
// The model tracks what the operator did and checks after every step:
//
//   - every line the operator changed or appended, and every file they
//     added, is still in the file at HEAD; a file they deleted does not come
//     back with the bytes it had. A conflict reported by fleetgen (non-zero
//     exit, "conflict") is accepted only on files the operator edited: the
//     model then reverts its edits there with git, commits, and reruns the
//     command. A conflict on any other file, or on the spec files, or one
//     calling a file fleetgen wrote "not written by fleetgen", fails;
//   - the fleetgen command run again at once is a no-op: exit 0, "up to
//     date", no new commit (after `inventory add|remove`: the same command
//     is refused, and a regen of the region is a no-op);
//   - after a regen or an inventory command, every file in its scope is the
//     plan of the committed fleet.yaml (bytes and mode), except the files
//     the operator edited, added or deleted;
//   - `git status --porcelain` is empty; after a step in which fleetgen or
//     git clone wrote, HEAD's tree (`git ls-tree`) is the worktree file for
//     file and `git fsck --strict` is clean (steps in which only the git
//     CLI wrote are fsck'ed by the next check or at the end).
//
// A failure prints the seed, the steps so far and the command that replays
// it. The default run is 200 sequences of 4 steps (20 with -short); every
// git command costs this sandbox ~20 ms of CPU, so that is ~130 s of CPU,
// about a minute on two idle cores (TMPDIR=/dev/shm saves a quarter).
// The long variant takes more and longer sequences:
//
//	go test ./cmd/fleetgen -run 'TestModel$'
//	go test ./cmd/fleetgen -run 'TestModel$' -model.seqs=5000 -model.steps=12 -timeout 0
//	go test ./cmd/fleetgen -run 'TestModel$' -model.seed=42 -model.seqs=1 -model.steps=4 -v   # replay seed 42
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetgen/fleetgen/generator"
)

var (
	modelSeqs  = flag.Int("model.seqs", 0, "model test: number of random sequences (0: 200, or 20 with -short)")
	modelSeed  = flag.Uint64("model.seed", 1, "model test: seed of the first sequence (sequence i uses seed+i)")
	modelSteps = flag.Int("model.steps", 4, "model test: operator steps per sequence")
	modelJobs  = flag.Int("model.jobs", 0, "model test: sequences run at once (0: twice GOMAXPROCS)")
)

func TestModel(t *testing.T) {
	needGit(t)
	n := *modelSeqs
	if n == 0 {
		n = 200
		if testing.Short() {
			n = 20
		}
	}
	jobs := *modelJobs
	if jobs < 1 {
		// Twice the cores: a step waits on git processes and on fsync
		// as much as it computes.
		jobs = 2 * runtime.GOMAXPROCS(0)
	}
	templates := &modelTemplates{root: t.TempDir(), dirs: map[int]string{}}
	start := time.Now()
	var steps, failed atomic.Int64
	seeds := make(chan uint64)
	var wg sync.WaitGroup
	for w := 0; w < jobs; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seed := range seeds {
				ok := t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
					m := newModel(t, seed, templates)
					defer func() { steps.Add(int64(len(m.steps) - 1)) }()
					m.runSequence(*modelSteps)
				})
				if !ok {
					failed.Add(1)
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		seeds <- *modelSeed + uint64(i)
	}
	close(seeds)
	wg.Wait()
	t.Logf("%d sequences (seeds %d..%d), %d failed; %d steps in %s", n, *modelSeed, *modelSeed+uint64(n)-1, failed.Load(), steps.Load(), time.Since(start).Round(time.Millisecond))
}

// model is one sequence: the repository it works in and what the
// operator expects to find there.
type model struct {
	t    *testing.T
	seed uint64
	rng  *rand.Rand
	root string // the sequence's temporary folder
	dir  string // the repository the sequence works in now

	spec mSpec
	// edits: per file, the lines the operator changed or appended.
	edits map[string][]handEdit
	// added: files the operator added, with their content.
	added map[string]string
	// deleted: generated files the operator deleted, with the content
	// they had then.
	deleted map[string]string
	// focus: the region of the last hand edit (most steps aim at it).
	focus  string
	serial int // makes every marker, cluster and clone name unique
	clones int
	remote string // the bare remote, once the sequence has pushed
	// lastHead is HEAD as the last check read it; checkedHead the last
	// HEAD whose files were checked.
	lastHead, checkedHead string
	// planned caches the plan of plannedKey (fleet.yaml and clusters.csv).
	planned    *generator.Result
	plannedKey string
	// tree is HEAD's files (treeHead) as the last check read them.
	tree     map[string]treeFile
	treeHead string
	// fsckedPrint is the .git fingerprint git fsck last passed.
	fsckedPrint string
	steps       []string
}

type handEdit struct {
	line string // the line as the operator left it
	orig string // the line it replaced; "" when appended
}

func newModel(t *testing.T, seed uint64, templates *modelTemplates) *model {
	m := &model{
		t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, 0x6d6f64656c)),
		root: t.TempDir(), edits: map[string][]handEdit{}, added: map[string]string{}, deleted: map[string]string{},
	}
	v := int(seed % uint64(len(modelInitialSpecs)))
	m.spec = modelInitialSpecs[v].clone()
	m.serial = 100
	m.dir = filepath.Join(m.root, "fleet")
	m.logStep(fmt.Sprintf("start from initial spec %d: %s", v, m.spec.summary()))
	if err := copyTree(templates.get(t, v), m.dir); err != nil {
		t.Fatalf("copy the template repository: %v", err)
	}
	return m
}

// runSequence applies steps random operator steps, checking after each.
func (m *model) runSequence(steps int) {
	m.check(false)
	for i := 0; i < steps; i++ {
		m.step()
	}
	m.fsck()
}

// fail stops the sequence with what a replay needs.
func (m *model) fail(format string, args ...any) {
	m.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d, step %d: %s\n", m.seed, len(m.steps)-1, fmt.Sprintf(format, args...))
	b.WriteString("steps:\n")
	for i, s := range m.steps {
		fmt.Fprintf(&b, "  %2d. %s\n", i, s)
	}
	fmt.Fprintf(&b, "repository: %s\nreplay: go test ./cmd/fleetgen -run 'TestModel$' -model.seed=%d -model.seqs=1 -model.steps=%d -v",
		m.dir, m.seed, *modelSteps)
	m.t.Fatal(b.String())
}

func (m *model) logStep(s string) { m.steps = append(m.steps, s) }

// note adds detail to the current step.
func (m *model) note(s string) { m.steps[len(m.steps)-1] += "; " + s }

func (m *model) next() int {
	m.serial++
	return m.serial
}

// The spec the model writes. Regions get clusterCount names
// <region>-0001...; inventory rows add inv-<n> clusters.

type mRegion struct {
	name  string
	count int
	conn  string // "" inherits the fleet's
}

type mInvRow struct{ name, region string }

type mSpec struct {
	conn    string
	regions []mRegion
	inv     []mInvRow
}

var modelConnectivity = []string{"always-on", "intermittent", "satellite"}

var modelRegionNames = []string{"north", "south", "east", "west"}

var modelInitialSpecs = []mSpec{
	{conn: "intermittent", regions: []mRegion{{"north", 2, ""}, {"south", 1, "satellite"}}, inv: []mInvRow{{"inv-1", "north"}}},
	{conn: "intermittent", regions: []mRegion{{"north", 1, "always-on"}, {"south", 2, ""}, {"east", 1, "satellite"}}},
	{conn: "satellite", regions: []mRegion{{"west", 2, ""}, {"north", 1, "intermittent"}}, inv: []mInvRow{{"inv-1", "west"}, {"inv-2", "north"}}},
	{conn: "always-on", regions: []mRegion{{"east", 1, ""}, {"south", 0, "satellite"}}, inv: []mInvRow{{"inv-1", "south"}}},
}

func (s mSpec) clone() mSpec {
	c := s
	c.regions = append([]mRegion(nil), s.regions...)
	c.inv = append([]mInvRow(nil), s.inv...)
	return c
}

func (s *mSpec) region(name string) int {
	for i, r := range s.regions {
		if r.name == name {
			return i
		}
	}
	return -1
}

// clusters counts a region's clusters.
func (s *mSpec) clusters(region string) int {
	n := 0
	if i := s.region(region); i >= 0 {
		n = s.regions[i].count
	}
	for _, r := range s.inv {
		if r.region == region {
			n++
		}
	}
	return n
}

func (s *mSpec) summary() string {
	var parts []string
	for _, r := range s.regions {
		p := fmt.Sprintf("%s×%d", r.name, r.count)
		if r.conn != "" {
			p += "/" + r.conn
		}
		parts = append(parts, p)
	}
	for _, r := range s.inv {
		parts = append(parts, r.name+"@"+r.region)
	}
	return s.conn + " " + strings.Join(parts, " ")
}

func (s *mSpec) yaml() string {
	var b strings.Builder
	b.WriteString(`apiVersion: fleetgen.dev/v1alpha1
kind: Fleet
metadata:
  name: model-fleet
spec:
  context:
    environment: model test
    hardware: small boxes
    mainChallenge: hand edits that must survive
  git:
    url: https://git.example.com/o/fleet.git
  hardware:
    arch: amd64
    memory: 4Gi
    storage: ssd
`)
	fmt.Fprintf(&b, "  connectivity: %s\n", s.conn)
	b.WriteString(`  apps:
    - name: web
      image: docker.io/library/nginx:1.27
      port: 8080
  inventory: clusters.csv
  regions:
`)
	for _, r := range s.regions {
		fmt.Fprintf(&b, "    - name: %s\n", r.name)
		if r.count > 0 {
			fmt.Fprintf(&b, "      clusterCount: %d\n", r.count)
		}
		if r.conn != "" {
			fmt.Fprintf(&b, "      connectivity: %s\n", r.conn)
		}
	}
	return b.String()
}

// csv is the inventory as `inventory add|remove` writes it back.
func (s *mSpec) csv() string {
	var b strings.Builder
	b.WriteString("name,region\n")
	for _, r := range s.inv {
		b.WriteString(r.name + "," + r.region + "\n")
	}
	return b.String()
}

// copyTree copies a folder as `cp -r` does (files, modes, folders).
func copyTree(from, to string) error {
	return filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(dst, info.Mode().Perm())
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, info.Mode().Perm())
	})
}

// modelTemplates generates each initial spec once; sequences start from a
// copy of it.
type modelTemplates struct {
	mu   sync.Mutex
	root string
	dirs map[int]string
}

func (mt *modelTemplates) get(t *testing.T, v int) string {
	mt.mu.Lock()
	defer mt.mu.Unlock()
	if d, ok := mt.dirs[v]; ok {
		return d
	}
	s := modelInitialSpecs[v]
	specDir := filepath.Join(mt.root, fmt.Sprintf("spec-%d", v))
	if err := os.MkdirAll(specDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(specDir, "fleet.yaml"), []byte(s.yaml()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(specDir, "clusters.csv"), []byte(s.csv()), 0o644); err != nil {
		t.Fatal(err)
	}
	d := filepath.Join(mt.root, fmt.Sprintf("repo-%d", v))
	out, errs, code := fleetgen(t, append([]string{"generate", "--spec", filepath.Join(specDir, "fleet.yaml"), "--out", d, "-q"}, testAuthor...)...)
	if code != 0 {
		t.Fatalf("generate initial spec %d: exit %d\n%s%s", v, code, out, errs)
	}
	if out, err := exec.Command("git", "-C", d, "fsck", "--strict", "--no-progress", "--no-dangling").CombinedOutput(); err != nil || len(out) > 0 {
		t.Fatalf("git fsck --strict of the generated initial spec %d: %v\n%s", v, err, out)
	}
	mt.dirs[v] = d
	return d
}
