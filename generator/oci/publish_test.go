package oci

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
)

func pipelineUnits(regions, perRegion int) []Unit {
	var units []Unit
	for r := range regions {
		region := fmt.Sprintf("region-%d", r)
		for c := range perRegion {
			tag := fmt.Sprintf("r%d-ship-%02d", r, c)
			u := Unit{Tag: tag, Region: region, ID: "cluster/" + region + "/" + tag, Clusters: []string{tag}, Files: []File{
				{Path: "apps/base/kustomization.yaml", Content: []byte("resources: []\n")},
				{Path: "clusters/" + region + "/" + tag + "/kustomization.yaml", Content: []byte("# " + tag + "\n")},
			}}
			u.Key = ContentKey(u.Files)
			units = append(units, u)
		}
	}
	return units
}

// A region's check runs while the other artifacts are built, and no
// artifact of the region is pushed before it passed; whatever the stages,
// no more than Jobs requests are in flight at once.
func TestPublishBuildsWhileTheCheckRunsAndKeepsJobsRequestsInFlight(t *testing.T) {
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	var inFlight, most, served atomic.Int64
	var mu sync.Mutex
	pushed := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		served.Add(1)
		time.Sleep(2 * time.Millisecond)
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
			mu.Lock()
			pushed[r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]] = true
			mu.Unlock()
		}
		inner.ServeHTTP(w, r)
	}))
	defer srv.Close()
	repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://")+"/fleet", name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	// A first publish, so that the second asks a HEAD per tag (its
	// builders send requests too) before pushing the changed artifacts.
	units := pipelineUnits(2, 12)
	first, err := Publish(context.Background(), units, func(u Unit) (*Artifact, error) { return Build(u, "fleet", "src") }, PublishOptions{Repository: repo, Fleet: "fleet"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range units {
		units[i].Files[0].Content = []byte("resources: [x.yaml]\n")
		units[i].Key = ContentKey(units[i].Files)
	}
	mu.Lock()
	clear(pushed)
	mu.Unlock()
	most.Store(0)
	served.Store(0)
	var builtCount atomic.Int64
	allBuilt := make(chan struct{})
	build := func(u Unit) (*Artifact, error) {
		a, err := Build(u, "fleet", "https://git.example.com/f.git")
		if builtCount.Add(1) == int64(len(units)) {
			close(allBuilt)
		}
		return a, err
	}
	checked := map[string]bool{}
	var checks sync.Map
	check := func(u Unit) error {
		once, _ := checks.LoadOrStore(u.Region, sync.OnceValue(func() error {
			if u.Region == "region-0" {
				// The check of the first region lasts until every
				// artifact is built: builds must not wait for it.
				select {
				case <-allBuilt:
				case <-time.After(20 * time.Second):
					return fmt.Errorf("the builds waited for the check")
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for tag := range pushed {
				if strings.HasPrefix(tag, "r"+strings.TrimPrefix(u.Region, "region-")+"-") {
					return fmt.Errorf("%s pushed before its region's check", tag)
				}
			}
			checked[u.Region] = true
			return nil
		}))
		return once.(func() error)()
	}
	const jobs = 3
	rep, err := Publish(context.Background(), units, build, PublishOptions{Repository: repo, Fleet: "fleet", Jobs: jobs, Check: check, Record: first.Record})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := served.Load(), int64(3*len(units)+3); got != want {
		t.Errorf("the registry served %d requests, want %d: a HEAD, an upload and a manifest PUT per artifact, and ping, tag list, config HEAD", got, want)
	}
	if n, _ := rep.Count(Pushed); n != len(units) || !checked["region-0"] || !checked["region-1"] {
		t.Errorf("%d of %d pushed, checked %v", n, len(units), checked)
	}
	// Once more without a check: the builders' HEADs and the pushes
	// overlap, still within jobs requests.
	for i := range units {
		units[i].Files[0].Content = []byte("resources: [y.yaml]\n")
		units[i].Key = ContentKey(units[i].Files)
	}
	if _, err := Publish(context.Background(), units, func(u Unit) (*Artifact, error) { return Build(u, "fleet", "src") }, PublishOptions{Repository: repo, Fleet: "fleet", Jobs: jobs, Record: rep.Record}); err != nil {
		t.Fatal(err)
	}
	if m := most.Load(); m > jobs {
		t.Errorf("%d requests in flight at once, more than --jobs %d", m, jobs)
	}
}

// A check that fails stops the run: nothing of its region is pushed.
func TestPublishPushesNothingOfARegionWhoseCheckFails(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	repo, _ := name.NewRepository(strings.TrimPrefix(srv.URL, "http://")+"/fleet", name.StrictValidation)
	units := pipelineUnits(1, 20)
	build := func(u Unit) (*Artifact, error) { return Build(u, "fleet", "src") }
	check := func(u Unit) error { return fmt.Errorf("region %s would not build", u.Region) }
	rep, err := Publish(context.Background(), units, build, PublishOptions{Repository: repo, Fleet: "fleet", Jobs: 4, Check: check})
	if err == nil || !strings.Contains(err.Error(), "would not build") {
		t.Fatalf("error %v", err)
	}
	if n, _ := rep.Count(Pushed); n != 0 {
		t.Errorf("%d artifacts pushed", n)
	}
}

// A connection started early (Connect, while git is read) is the one
// Publish uses: one handshake, one tag list.
func TestPublishUsesTheConnectionStartedEarly(t *testing.T) {
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	var mu sync.Mutex
	hits := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		switch {
		case r.URL.Path == "/v2/":
			hits["ping"]++
		case strings.HasSuffix(r.URL.Path, "/tags/list"):
			hits["tags"]++
		}
		mu.Unlock()
		inner.ServeHTTP(w, r)
	}))
	defer srv.Close()
	repo, _ := name.NewRepository(strings.TrimPrefix(srv.URL, "http://")+"/fleet", name.StrictValidation)
	o := PublishOptions{Repository: repo, Fleet: "fleet", Jobs: 2}
	o.Conn = Connect(context.Background(), o)
	rep, err := Publish(context.Background(), pipelineUnits(1, 3), func(u Unit) (*Artifact, error) { return Build(u, "fleet", "src") }, o)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := rep.Count(Pushed); n != 3 || hits["ping"] != 1 || hits["tags"] != 1 {
		t.Errorf("%d pushed; pings %d, tag lists %d, want 1 each", n, hits["ping"], hits["tags"])
	}
}

// In a publish that builds whole regions (their tags are new), a
// region's check does not wait until the pushes of the regions before it
// are done: it runs beside them.
func TestPublishChecksTheNextRegionWhileOneIsPushed(t *testing.T) {
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	var pushed [2]atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * time.Millisecond)
		inner.ServeHTTP(w, r)
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/r") {
			tag := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
			if strings.HasPrefix(tag, "r0-") {
				pushed[0].Add(1)
			} else if strings.HasPrefix(tag, "r1-") {
				pushed[1].Add(1)
			}
		}
	}))
	defer srv.Close()
	repo, _ := name.NewRepository(strings.TrimPrefix(srv.URL, "http://")+"/fleet", name.StrictValidation)
	const perRegion = 40
	var mu sync.Mutex
	startedAt := map[string]int64{} // region -> artifacts of region-0 pushed when its check started
	check := func(u Unit) error {
		mu.Lock()
		startedAt[u.Region] = pushed[0].Load()
		mu.Unlock()
		if u.Region == "region-1" && pushed[1].Load() > 0 {
			return fmt.Errorf("region-1 pushed before its check")
		}
		time.Sleep(10 * time.Millisecond) // a kustomize build
		return nil
	}
	rep, err := Publish(context.Background(), pipelineUnits(2, perRegion), func(u Unit) (*Artifact, error) { return Build(u, "fleet", "src") },
		PublishOptions{Repository: repo, Fleet: "fleet", Jobs: 4, Check: check})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := rep.Count(Pushed); n != 2*perRegion {
		t.Fatalf("%d pushed", n)
	}
	if got := startedAt["region-1"]; got > perRegion/2 {
		t.Errorf("region-1's check started when %d of region-0's %d artifacts were pushed: it waited for them", got, perRegion)
	}
}
