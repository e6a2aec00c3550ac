package check

import (
	"fmt"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"syscall"
	"testing"
	"time"
)

// The fleet of BenchmarkDir5000: 20 regions x 250 clusters.
var bench5000 = fixtureOpts{regions: 20, clusters: 250}

// kustomizationDirsOf lists a fixture's kustomization directories, sorted.
func kustomizationDirsOf(fx fixture) []string {
	var dirs []string
	for _, p := range fx.paths() {
		if isKustomizationFile(path.Base(p)) {
			dirs = append(dirs, path.Dir(p))
		}
	}
	sort.Strings(dirs)
	return dirs
}

// BenchmarkDir5000 validates a 5,000-cluster repository on disk, the way
// `fleetgen validate DIR` does. ns/dir is per kustomization directory built,
// to compare with BenchmarkKustomizeCLIPerDir.
func BenchmarkDir5000(b *testing.B) {
	fx := newFixture(bench5000)
	root := b.TempDir()
	fx.write(b, root)
	dirs := len(kustomizationDirsOf(fx))
	b.ResetTimer()
	start, cpu := time.Now(), cpuTime(syscall.RUSAGE_SELF)
	for i := 0; i < b.N; i++ {
		rep, err := Dir(root, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if !rep.OK() || rep.Kustomizations != dirs || rep.Clusters != 5000 {
			b.Fatalf("errors=%d kustomizations=%d clusters=%d", len(rep.Errors), rep.Kustomizations, rep.Clusters)
		}
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N*dirs), "ns/dir")
	b.ReportMetric(float64(cpuTime(syscall.RUSAGE_SELF)-cpu)/float64(b.N*dirs), "cpu-ns/dir")
	b.ReportMetric(float64(len(fx)), "files")
}

// BenchmarkTree5000 is BenchmarkDir5000 without reading the disk, with one
// worker and with the default (GOMAXPROCS), to measure parallel builds.
func BenchmarkTree5000(b *testing.B) {
	t := newFixture(bench5000).tree(b)
	for _, w := range []int{1, 0} {
		name := "workers=1"
		if w == 0 {
			name = fmt.Sprintf("workers=%d", runtime.GOMAXPROCS(0))
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				rep, err := Tree(t, Options{Workers: w})
				if err != nil {
					b.Fatal(err)
				}
				if !rep.OK() {
					b.Fatalf("%d errors", len(rep.Errors))
				}
			}
		})
	}
}

// BenchmarkKustomizeCLIPerDir runs `kustomize build` one directory after the
// other on an even sample of 100 kustomization directories of the
// BenchmarkDir5000 repository, and reports ns per directory. Ratio:
// ns/dir of this benchmark over ns/dir of BenchmarkDir5000.
func BenchmarkKustomizeCLIPerDir(b *testing.B) {
	cli, err := exec.LookPath("kustomize")
	if err != nil {
		b.Skip("kustomize CLI not on PATH (go install sigs.k8s.io/kustomize/kustomize/v5@v5.8.2)")
	}
	fx := newFixture(bench5000)
	root := b.TempDir()
	fx.write(b, root)
	all := kustomizationDirsOf(fx)
	const n = 100
	sample := make([]string, 0, n)
	for i := 0; i < n; i++ {
		sample = append(sample, all[i*len(all)/n])
	}
	b.ResetTimer()
	start, cpu := time.Now(), cpuTime(syscall.RUSAGE_CHILDREN)
	for i := 0; i < b.N; i++ {
		for _, d := range sample {
			out, err := exec.Command(cli, "build", filepath.Join(root, filepath.FromSlash(d))).CombinedOutput()
			if err != nil {
				b.Fatalf("kustomize build %s: %v\n%s", d, err, out)
			}
		}
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N*n), "ns/dir")
	b.ReportMetric(float64(cpuTime(syscall.RUSAGE_CHILDREN)-cpu)/float64(b.N*n), "cpu-ns/dir")
}

// cpuTime is the user+system CPU time of the process (RUSAGE_SELF) or of its
// waited-for children (RUSAGE_CHILDREN), in ns: less sensitive than wall
// time to other load on the machine.
func cpuTime(who int) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
