// Package ocibench measures OCI delivery (spec.delivery.mode oci) against
// today's git delivery on the benchmark fleet (bench/fleetspec: 20 regions
// x 250 clusters), all in one run, and reports the ratios of issue 12:
//
//	go test -run xxx -bench OCIDelivery -benchtime 1x -v ./bench/ocibench
//	PER_REGION=25 go test ...        # a smaller fleet (quick look)
//
// It builds the fleetgen binary, generates the fleet twice (git mode: the
// shallow-clone pack every site downloads for every commit today; oci
// mode), runs `fleetgen publish` against go-containerregistry's registry
// served in process on 127.0.0.1 and counts the bytes on the registry's
// connections while one site pulls the way source-controller does
// (oci.Pull). Both units are measured: one artifact per cluster, and per
// region.
package ocibench

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/fleetgen/fleetgen/bench/fleetspec"
	"github.com/fleetgen/fleetgen/generator/oci"
)

type env struct {
	b    *testing.B
	bin  string
	work string
}

func (e *env) run(dir string, name string, args ...string) (string, time.Duration) {
	e.b.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "DOCKER_CONFIG="+e.work,
		"GIT_AUTHOR_NAME=bench", "GIT_AUTHOR_EMAIL=bench@example.com", "GIT_COMMITTER_NAME=bench", "GIT_COMMITTER_EMAIL=bench@example.com")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		e.b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out), took
}

func (e *env) generate(specText []byte, name string) (string, time.Duration) {
	specPath := filepath.Join(e.work, name+".yaml")
	if err := os.WriteFile(specPath, specText, 0o644); err != nil {
		e.b.Fatal(err)
	}
	dir := filepath.Join(e.work, name)
	_, took := e.run(e.work, e.bin, "generate", "--spec", specPath, "--out", dir, "--author-name", "bench", "--author-email", "bench@example.com")
	return dir, took
}

// packBytes is the pack a depth-1 clone of HEAD transfers: every object
// of the commit's tree.
func (e *env) packBytes(dir string) int64 {
	cmd := exec.Command("git", "pack-objects", "--revs", "--stdout", "-q")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader("HEAD\n")
	out, err := cmd.Output()
	if err != nil {
		e.b.Fatal(err)
	}
	return int64(len(out))
}

func (e *env) commitEdit(dir, file string) {
	p := filepath.Join(dir, file)
	b, err := os.ReadFile(p)
	if err != nil {
		e.b.Fatal(err)
	}
	if err := os.WriteFile(p, append(b, []byte(fmt.Sprintf("# edited at %d\n", time.Now().UnixNano()))...), 0o644); err != nil {
		e.b.Fatal(err)
	}
	e.run(dir, "git", "commit", "-q", "-am", "edit "+file)
}

// selfCPU is this process's CPU time so far: during a publish, what the
// in-process registry spends (fleetgen publish is a process of its own).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// registry serves an in-process registry on loopback, counting bytes.
// fleetgen publish runs as a process of its own and talks HTTP to it, as
// to a real registry; both share the machine's cores, as a registry on
// the same host would: the log gives the registry's CPU for each run.
func startRegistry(b *testing.B) (*oci.CountingListener, string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	cl := &oci.CountingListener{Listener: ln}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	go srv.Serve(cl)
	b.Cleanup(func() { srv.Close() })
	return cl, ln.Addr().String() + "/offshore-fleet"
}

// sitePull is one source-controller poll of tag holding known, with a
// fresh connection; it returns what it got and the bytes the registry
// sent and received for it.
func sitePull(b *testing.B, cl *oci.CountingListener, repo, tag string, known v1.Hash) (*oci.Pulled, int64, int64) {
	ref, err := name.NewTag(repo+":"+tag, name.StrictValidation)
	if err != nil {
		b.Fatal(err)
	}
	tr := remote.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	w0, r0 := cl.Written.Load(), cl.Read.Load()
	p, err := oci.Pull(context.Background(), ref, known, remote.WithTransport(tr))
	if err != nil {
		b.Fatal(err)
	}
	// The server counts a write when it returns, maybe after the client
	// has read it: let the counters settle.
	tr.CloseIdleConnections()
	for last := int64(-1); last != cl.Written.Load(); {
		last = cl.Written.Load()
		time.Sleep(50 * time.Millisecond)
	}
	return p, cl.Written.Load() - w0, cl.Read.Load() - r0
}

func BenchmarkOCIDelivery(b *testing.B) {
	perRegion := 250
	if s := os.Getenv("PER_REGION"); s != "" {
		perRegion, _ = strconv.Atoi(s)
	}
	const regions = 20
	e := &env{b: b, work: b.TempDir()}
	e.bin = filepath.Join(e.work, "fleetgen")
	root, _ := filepath.Abs("../..")
	e.run(root, "go", "build", "-o", e.bin, "./cmd/fleetgen")
	base := fleetspec.Spec(regions, perRegion, "")

	for range b.N {
		gitDir, gitGen := e.generate(base, "git")
		pack := e.packBytes(gitDir)
		b.Logf("fleet: %d clusters in %d regions; git mode: generate %.2f s, depth-1 clone pack %d bytes (every site, every commit)",
			regions*perRegion, regions, gitGen.Seconds(), pack)
		for _, unit := range []string{"cluster", "region"} {
			dir, gen := e.generate(fleetspec.WithOCIDelivery(base, unit), "oci-"+unit)
			cl, repo := startRegistry(b)
			reg0 := selfCPU()
			out, full := e.run(e.work, e.bin, "publish", "--dir", dir, "--registry", repo)
			regFull := selfCPU() - reg0
			summary := out[strings.LastIndex(strings.TrimRight(out, "\n"), "\n")+1:]

			site, other := "r01-rig-0001", "r02-rig-0001" // in region-01, region-02
			tagA, tagB := site, other
			if unit == "region" {
				tagA, tagB = "region-01", "region-02"
			}
			a0, firstDown, _ := sitePull(b, cl, repo, tagA, v1.Hash{})
			b0, _, _ := sitePull(b, cl, repo, tagB, v1.Hash{})

			// A commit to region-02's overlay: unrelated to the site in region-01.
			e.commitEdit(dir, "apps/regions/region-02/kustomization.yaml")
			reg0 = selfCPU()
			out, incr := e.run(e.work, e.bin, "publish", "--dir", dir, "--registry", repo)
			regIncr := selfCPU() - reg0
			incrSummary := out[strings.LastIndex(strings.TrimRight(out, "\n"), "\n")+1:]

			a1, unrelDown, unrelUp := sitePull(b, cl, repo, tagA, a0.Digest)
			if a1.Digest != a0.Digest || a1.Files != nil {
				b.Fatalf("%s: digest changed by a commit to another region", tagA)
			}
			b1, touchDown, touchUp := sitePull(b, cl, repo, tagB, b0.Digest)
			if b1.Digest == b0.Digest || b1.Files == nil {
				b.Fatalf("%s: the commit to its region did not change its artifact", tagB)
			}

			b.Logf("unit %s: generate %.2f s; full publish %.2f s (%s); incremental publish after a region-02 commit %.2f s (%s)",
				unit, gen.Seconds(), full.Seconds(), strings.TrimSpace(summary), incr.Seconds(), strings.TrimSpace(incrSummary))
			b.Logf("unit %s: CPU of the registry (this process) during the full publish %.2f s, during the incremental %.2f s", unit, regFull.Seconds(), regIncr.Seconds())
			b.Logf("unit %s: a site's first pull %d bytes down; per unrelated commit %d down / %d up; per commit touching it %d down / %d up",
				unit, firstDown, unrelDown, unrelUp, touchDown, touchUp)
			r := func(x, y float64) float64 { return x / y }
			b.Logf("unit %s ratios: unrelated/clone %.5f (<= 0.001), touching/clone %.4f (<= 0.01), full publish/generate %.2f (<= 1), incremental/full publish %.3f (<= 0.1)",
				unit, r(float64(unrelDown), float64(pack)), r(float64(touchDown), float64(pack)), r(full.Seconds(), gen.Seconds()), r(incr.Seconds(), full.Seconds()))
			b.ReportMetric(r(float64(unrelDown), float64(pack)), unit+"-unrelated/clone")
			b.ReportMetric(r(float64(touchDown), float64(pack)), unit+"-touching/clone")
			b.ReportMetric(r(full.Seconds(), gen.Seconds()), unit+"-publish/generate")
			b.ReportMetric(r(incr.Seconds(), full.Seconds()), unit+"-incremental/full")
		}
	}
}
