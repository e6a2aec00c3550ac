package generator

// Scale benchmarks on the fleet of bench/fleetspec: 20 regions x 250
// clusters (~25,000 files, ~5,000 kustomization directories). They run only
// with -bench, e.g.
//
//	go test -run xxx -bench 5000 -benchtime 1x -benchmem ./generator/
//
// bench/scale.sh measures the fleetgen binary end to end against the git and
// kustomize CLIs; these isolate the stages for profiling
// (-cpuprofile/-memprofile). Setup (spec, first generation, committing the
// edited fleet.yaml) is outside the timer. Stage times are reported as
// <stage>-ms, averaged per iteration.

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetgen/fleetgen/bench/fleetspec"
	"github.com/fleetgen/fleetgen/generator/check"
	"github.com/fleetgen/fleetgen/generator/gitrepo"
	"github.com/fleetgen/fleetgen/generator/spec"
	"github.com/fleetgen/fleetgen/generator/tree"
)

const (
	benchRegions   = 20
	benchPerRegion = 250
	benchRegion    = "region-07" // the region BenchmarkRegenOneRegion5000 changes
)

var (
	benchAuthor = gitrepo.Author{Name: "bench", Email: "bench@example.com"}
	benchWhen   = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
)

func benchSpec(b *testing.B, bump string) *spec.Loaded {
	b.Helper()
	l, err := spec.Parse(fleetspec.Spec(benchRegions, benchPerRegion, bump), "fleet.yaml")
	if err != nil {
		b.Fatal(err)
	}
	if len(l.Clusters) != benchRegions*benchPerRegion {
		b.Fatalf("%d clusters", len(l.Clusters))
	}
	return l
}

func benchPlan(b *testing.B, l *spec.Loaded) *Result {
	b.Helper()
	res, err := Plan(l)
	if err != nil {
		b.Fatal(err)
	}
	return res
}

func benchApply(b *testing.B, res *Result, dir string, regions []string) *ApplyReport {
	b.Helper()
	rep, err := Apply(res, ApplyOptions{Dir: dir, Regions: regions, Message: "bench", Author: benchAuthor, When: benchWhen})
	if err != nil {
		b.Fatal(err)
	}
	if !rep.Committed {
		b.Fatal("nothing committed")
	}
	return rep
}

func ms(d time.Duration, n int) float64 { return float64(d.Microseconds()) / 1000 / float64(n) }

// BenchmarkPlan5000: spec -> Plan, in memory.
func BenchmarkPlan5000(b *testing.B) {
	l := benchSpec(b, "")
	b.ReportAllocs()
	b.ResetTimer()
	var files int
	for i := 0; i < b.N; i++ {
		files = len(benchPlan(b, l).Tree.Files)
	}
	b.ReportMetric(float64(files), "files")
}

// BenchmarkCheckTree5000: check.Tree of the planned repository (what
// generate and regen run before writing).
func BenchmarkCheckTree5000(b *testing.B) {
	res := benchPlan(b, benchSpec(b, ""))
	b.ReportAllocs()
	b.ResetTimer()
	var kus int
	for i := 0; i < b.N; i++ {
		rep, err := check.Tree(&res.Tree, check.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if !rep.OK() {
			b.Fatalf("%d errors, first: %v", len(rep.Errors), rep.Errors[0])
		}
		kus = rep.Kustomizations
	}
	b.ReportMetric(float64(len(res.Tree.Files)), "files")
	b.ReportMetric(float64(kus), "kustomizations")
}

// BenchmarkGenerate5000: Plan + Apply (write every file, commit) into a new
// folder; check.Tree is BenchmarkCheckTree5000.
func BenchmarkGenerate5000(b *testing.B) {
	l := benchSpec(b, "")
	b.ReportAllocs()
	b.ResetTimer()
	var plan, apply time.Duration
	var written int
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := filepath.Join(b.TempDir(), "fleet")
		b.StartTimer()
		t0 := time.Now()
		res := benchPlan(b, l)
		t1 := time.Now()
		rep := benchApply(b, res, dir, nil)
		apply += time.Since(t1)
		plan += t1.Sub(t0)
		b.StopTimer()
		written = len(rep.Written())
		os.RemoveAll(dir)
		b.StartTimer()
	}
	b.ReportMetric(float64(written), "files")
	b.ReportMetric(ms(plan, b.N), "plan-ms")
	b.ReportMetric(ms(apply, b.N), "apply-ms")
}

// BenchmarkRegenOneRegion5000 does what `fleetgen regen --region region-07`
// does after that region's entry in the repository's fleet.yaml changed
// (and the edit was committed): load the spec, Plan, check.Tree, Apply limited
// to the region. Iterations alternate between two versions of the region.
func BenchmarkRegenOneRegion5000(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "fleet")
	benchApply(b, benchPlan(b, benchSpec(b, "")), dir, nil)
	specs := [][]byte{
		fleetspec.Spec(benchRegions, benchPerRegion, benchRegion),
		fleetspec.Spec(benchRegions, benchPerRegion, ""),
	}
	specPath := filepath.Join(dir, "fleet.yaml")
	b.ReportAllocs()
	b.ResetTimer()
	var load, plan, chk, apply time.Duration
	var written int
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		data := specs[i%2]
		if err := os.WriteFile(specPath, data, 0o644); err != nil {
			b.Fatal(err)
		}
		r, err := gitrepo.Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := r.Commit(gitrepo.CommitOptions{
			Write:   []tree.File{{Path: "fleet.yaml", Content: data, Mode: tree.ModeFile}},
			Message: "edit " + benchRegion, Author: benchAuthor, When: benchWhen.Add(time.Duration(i+1) * time.Minute),
		}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		l, err := spec.LoadFile(specPath)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		res := benchPlan(b, l)
		t2 := time.Now()
		crep, err := check.Tree(&res.Tree, check.Options{})
		if err != nil || !crep.OK() {
			b.Fatal(err, crep.Errors)
		}
		t3 := time.Now()
		rep := benchApply(b, res, dir, []string{benchRegion})
		t4 := time.Now()
		load, plan, chk, apply = load+t1.Sub(t0), plan+t2.Sub(t1), chk+t3.Sub(t2), apply+t4.Sub(t3)
		written = len(rep.Written())
	}
	b.ReportMetric(float64(written), "files")
	b.ReportMetric(ms(load, b.N), "load-ms")
	b.ReportMetric(ms(plan, b.N), "plan-ms")
	b.ReportMetric(ms(chk, b.N), "check-ms")
	b.ReportMetric(ms(apply, b.N), "apply-ms")
}
