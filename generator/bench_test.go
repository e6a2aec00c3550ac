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
// <stage>-ms, averaged per iteration, and the largest live heap seen after a
// garbage collection as peak-live-MB.
//
// With BENCH_PEAK_HEAP=FILE set, a heap profile is written to FILE each time
// the live heap reaches a new high, so FILE ends up holding the in-use
// memory at the peak (go tool pprof -sample_index=inuse_space -top).
//
// CPU samples of the timed stages carry the pprof label stage=load, plan,
// check or apply (go tool pprof -tagfocus stage=apply -top), so that setup
// work done by the same functions can be told apart. Temporary repositories
// go to $TMPDIR: TMPDIR=/dev/shm keeps the disk (slow file creation on a
// busy ext4 volume) out of the apply figures.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
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

// peakWatch samples the live heap every 50 ms until stop; with
// BENCH_PEAK_HEAP set it also writes a heap profile at each new high.
func peakWatch(b *testing.B) (stop func()) {
	b.Helper()
	file := os.Getenv("BENCH_PEAK_HEAP")
	done, finished := make(chan struct{}), make(chan struct{})
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var peak uint64
	go func() {
		defer close(finished)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		var profiled uint64
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak {
				peak = v
				if file != "" && v > profiled+profiled/10 {
					profiled = v
					if f, err := os.Create(file); err == nil {
						pprof.Lookup("heap").WriteTo(f, 0)
						f.Close()
					}
				}
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		b.ReportMetric(float64(peak)/(1<<20), "peak-live-MB")
	}
}

// stage runs fn with the pprof label stage=name and returns how long it took.
func stage(name string, fn func()) time.Duration {
	t := time.Now()
	pprof.Do(context.Background(), pprof.Labels("stage", name), func(context.Context) { fn() })
	return time.Since(t)
}

func ms(d time.Duration, n int) float64 { return float64(d.Microseconds()) / 1000 / float64(n) }

// BenchmarkPlan5000: spec -> Plan, in memory.
func BenchmarkPlan5000(b *testing.B) {
	l := benchSpec(b, "")
	b.ReportAllocs()
	defer peakWatch(b)()
	b.ResetTimer()
	var files int
	for i := 0; i < b.N; i++ {
		stage("plan", func() { files = len(benchPlan(b, l).Tree.Files) })
	}
	b.ReportMetric(float64(files), "files")
}

// BenchmarkCheckTree5000: check.Tree of the planned repository (what
// generate and regen run before writing).
func BenchmarkCheckTree5000(b *testing.B) {
	res := benchPlan(b, benchSpec(b, ""))
	b.ReportAllocs()
	defer peakWatch(b)()
	b.ResetTimer()
	var kus int
	for i := 0; i < b.N; i++ {
		var rep *check.Report
		var err error
		stage("check", func() { rep, err = check.Tree(&res.Tree, check.Options{}) })
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
	defer peakWatch(b)()
	b.ResetTimer()
	var plan, apply time.Duration
	var written int
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := filepath.Join(b.TempDir(), "fleet")
		b.StartTimer()
		var res *Result
		var rep *ApplyReport
		plan += stage("plan", func() { res = benchPlan(b, l) })
		apply += stage("apply", func() { rep = benchApply(b, res, dir, nil) })
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
// (and the edit was committed): load the spec, then ApplyPlanned limited to
// the region, which plans (PlanRegions) while it reads the repository and
// checks (Result.Check) while the reading finishes; plan-ms and check-ms
// are their own times, inside apply-ms. With the collector off and a
// 256 MiB memory limit, as the CLI runs a region of 250 clusters. Iterations alternate between two versions of the
// region; every iteration adds a pack to the repository (git's auto gc
// would repack them), so keep -benchtime small.
func BenchmarkRegenOneRegion5000(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "fleet")
	benchApply(b, benchPlan(b, benchSpec(b, "")), dir, nil)
	specs := [][]byte{
		fleetspec.Spec(benchRegions, benchPerRegion, benchRegion),
		fleetspec.Spec(benchRegions, benchPerRegion, ""),
	}
	specPath := filepath.Join(dir, "fleet.yaml")
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(256 << 20))
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	b.ReportAllocs()
	defer peakWatch(b)()
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
		var l *spec.Loaded
		var rep *ApplyReport
		load += stage("load", func() { l, err = spec.LoadFile(specPath) })
		if err != nil {
			b.Fatal(err)
		}
		checkPlan := func(res *Result) error {
			start := time.Now()
			defer func() { chk += time.Since(start) }()
			crep, err := res.Check()
			if err == nil && !crep.OK() {
				err = fmt.Errorf("%d errors, first: %v", len(crep.Errors), crep.Errors[0])
			}
			return err
		}
		planRegion := func() (*Result, error) {
			start := time.Now()
			defer func() { plan += time.Since(start) }()
			return PlanRegions(l, []string{benchRegion})
		}
		apply += stage("apply", func() {
			rep, err = ApplyPlanned(ApplyOptions{Dir: dir, Regions: []string{benchRegion}, Message: "bench", Author: benchAuthor, When: benchWhen, Check: checkPlan}, planRegion)
		})
		if err != nil {
			b.Fatal(err)
		}
		written = len(rep.Written())
	}
	b.ReportMetric(float64(written), "files")
	b.ReportMetric(ms(load, b.N), "load-ms")
	b.ReportMetric(ms(plan, b.N), "plan-ms")
	b.ReportMetric(ms(chk, b.N), "check-ms")
	b.ReportMetric(ms(apply, b.N), "apply-ms")
}

// BenchmarkLoad5000 is the load model of plan at 5,000 clusters (git: two
// sample packs; oci: two artifacts per region).
func BenchmarkLoad5000(b *testing.B) {
	for _, mode := range []string{"git", "oci"} {
		b.Run(mode, func(b *testing.B) {
			src := fleetspec.Spec(benchRegions, benchPerRegion, "")
			if mode == "oci" {
				src = []byte(strings.Replace(string(src), "    secretName: flux-system\n", "    secretName: flux-system\n  delivery:\n    mode: oci\n    repository: ghcr.io/acme-energy/offshore-fleet\n", 1))
			}
			l, err := spec.Parse(src, "fleet.yaml")
			if err != nil {
				b.Fatal(err)
			}
			res := benchPlan(b, l)
			b.ResetTimer()
			for range b.N {
				m, err := Load(res, LoadOptions{})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(m.Fleet.EgressPerRegionCommit), "egress-B/commit")
			}
		})
	}
}
