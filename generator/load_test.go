package generator

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetgen/fleetgen/generator/gitrepo"
	"github.com/fleetgen/fleetgen/generator/oci"
	"github.com/fleetgen/fleetgen/generator/spec"
)

// The git figure is what a real depth-1 clone receives: generate the
// example, repack it as a git server does, clone it with the git CLI over file:// (the pack protocol, as
// over the network) and compare the received pack with the model's.
func TestLoadGitPackMatchesShallowClone(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git CLI not installed")
	}
	l := loadExample(t, "offshore-platforms")
	res, err := Plan(l)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if _, err := Apply(res, ApplyOptions{Dir: src, Message: "load", Author: gitrepo.Author{Name: "t", Email: "t@example.com"}, When: time.Unix(1, 0)}); err != nil {
		t.Fatal(err)
	}
	// A hosted server (GitHub, GitLab) repacks with deltas; fleetgen's own
	// packs are not deltified, so repack as the server would.
	if out, err := exec.Command("git", "-C", src, "repack", "-adfq").CombinedOutput(); err != nil {
		t.Fatalf("git repack: %v\n%s", err, out)
	}
	dst := filepath.Join(dir, "clone")
	out, err := exec.Command("git", "clone", "-q", "--depth", "1", "--no-local", "file://"+src, dst).CombinedOutput()
	if err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	packs, _ := filepath.Glob(filepath.Join(dst, ".git/objects/pack/*.pack"))
	if len(packs) != 1 {
		t.Fatalf("clone has %d packs", len(packs))
	}
	fi, err := os.Stat(packs[0])
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(res, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ratio := float64(m.GitPackBytes) / float64(fi.Size())
	t.Logf("model %d B, git clone --depth 1 received %d B (ratio %.3f)", m.GitPackBytes, fi.Size(), ratio)
	if ratio < 0.8 || ratio > 1.25 {
		t.Errorf("model's pack %d B vs real shallow clone %d B: ratio %.3f outside 0.8..1.25", m.GitPackBytes, fi.Size(), ratio)
	}
	for _, r := range m.Regions {
		if r.SiteBytesOther != m.GitPackBytes || r.SiteBytesTouching != m.GitPackBytes {
			t.Errorf("region %s: git sites download the whole pack for every commit, got %+v", r.Region, r)
		}
	}
	if want := int64(len(l.Clusters)) * m.GitPackBytes; m.Fleet.EgressPerFleetCommit != want {
		t.Errorf("fleet egress per commit %d, want clusters x pack = %d", m.Fleet.EgressPerFleetCommit, want)
	}
}

// The OCI figure is the artifact publish pushes: built from the commit by
// generator/oci exactly as `fleetgen publish` does.
func TestLoadOCIBytesAreThePublishedArtifacts(t *testing.T) {
	l := loadExample(t, "cargo-ships")
	res, err := Plan(l)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "repo")
	if _, err := Apply(res, ApplyOptions{Dir: dir, Message: "load", Author: gitrepo.Author{Name: "t", Email: "t@example.com"}, When: time.Unix(1, 0)}); err != nil {
		t.Fatal(err)
	}
	src, err := oci.FromCommit(dir)
	if err != nil {
		t.Fatal(err)
	}
	arts, err := oci.BuildAll(src)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(res, LoadOptions{CommitsPerDay: 4})
	if err != nil {
		t.Fatal(err)
	}
	if m.Sampled {
		t.Fatal("a small fleet is not sampled")
	}
	for _, r := range m.Regions {
		var maxB, sum int64
		for _, a := range arts {
			if a.Region == r.Region {
				maxB = max(maxB, ArtifactBytes(a))
				sum += ArtifactBytes(a)
			}
		}
		if maxB == 0 || r.SiteBytesTouching != maxB {
			t.Errorf("region %s: model %d B per site, publish's largest artifact %d B", r.Region, r.SiteBytesTouching, maxB)
		}
		// unit cluster: one artifact per site; the region's egress is the sum.
		if r.EgressPerRegionCommit/int64(r.Clusters) != sum/int64(r.Clusters) {
			t.Errorf("region %s: egress %d, publish's artifacts sum to %d", r.Region, r.EgressPerRegionCommit, sum)
		}
		if r.SiteBytesOther != 0 {
			t.Errorf("region %s: an unchanged artifact costs a HEAD only, got %d B", r.Region, r.SiteBytesOther)
		}
	}
}

func TestLoadWarnings(t *testing.T) {
	plan := func(edits ...[2]string) *LoadModel {
		t.Helper()
		res, err := Plan(loadExample(t, "offshore-platforms", edits...))
		if err != nil {
			t.Fatal(err)
		}
		m, err := Load(res, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	gitlab := [2]string{"ssh://git@github.com/", "https://gitlab.com/"}
	// 9 satellite sites polling every 30 minutes: far below GitLab's limit.
	if m := plan(gitlab); len(m.Warnings) != 0 {
		t.Errorf("small fleet on gitlab.com warned: %v", m.Warnings)
	}
	// 3,000 always-on sites poll every minute: 3,000 ls-refs and 6,000
	// clone requests a minute after a commit.
	m := plan(gitlab, [2]string{"clusterCount: 4", "clusterCount: 3000"}, [2]string{"connectivity: satellite", "connectivity: always-on"})
	found := false
	for _, w := range m.Warnings {
		if strings.Contains(w, "GitLab.com") && strings.Contains(w, "1,000") && strings.Contains(w, "https://") {
			found = true
		}
	}
	if !found {
		t.Errorf("no GitLab warning naming the limit and its source: %v (peak %v/min)", m.Warnings, m.Fleet.PeakRequestsPerMinute)
	}
	// The same fleet on github.com: no published figure, no warning.
	if m := plan([2]string{"clusterCount: 4", "clusterCount: 3000"}, [2]string{"connectivity: satellite", "connectivity: always-on"}); len(m.Warnings) != 0 {
		t.Errorf("github.com warned: %v", m.Warnings)
	}
	// A link too slow for the pack within the fetch timeout.
	m = plan([2]string{"connectivity: satellite", "connectivity: satellite\n  bandwidth: 1kbit"})
	if len(m.Warnings) == 0 || !strings.Contains(m.Warnings[0], "fetch timeout") {
		t.Errorf("no timeout warning at 1kbit: %v", m.Warnings)
	}
}

func TestLoadDockerHubWarning(t *testing.T) {
	load := func(edits ...[2]string) *LoadModel {
		t.Helper()
		res, err := Plan(loadExample(t, "cargo-ships", edits...))
		if err != nil {
			t.Fatal(err)
		}
		m, err := Load(res, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	hub := [2]string{"ghcr.io/", "docker.io/"}
	// A handful of ships: far below 200 pulls in 6 hours.
	if m := load(hub); len(m.Warnings) != 0 || !m.Limits[0].Applies {
		t.Errorf("small fleet on Docker Hub: warnings %v, limits %+v", m.Warnings, m.Limits)
	}
	// 300 ships: a commit to the bases is 300 pulls (manifest GETs) with
	// the fleet's one pull credential.
	m := load(hub, [2]string{"clusterCount: 3", "clusterCount: 300"})
	if len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0], "200 pulls per 6 hours") || !strings.Contains(m.Warnings[0], "https://docs.docker.com/") {
		t.Errorf("300 ships on Docker Hub: warnings %v", m.Warnings)
	}
	// The same fleet on ghcr.io: no Docker Hub limit applies.
	if m := load([2]string{"clusterCount: 3", "clusterCount: 300"}); len(m.Warnings) != 0 {
		t.Errorf("ghcr.io warned: %v", m.Warnings)
	}
}

func TestBandwidthOverride(t *testing.T) {
	res, err := Plan(loadExample(t, "offshore-platforms", [2]string{"connectivity: satellite", "connectivity: satellite\n  bandwidth: 2Mbit"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range res.Decisions {
		if d.Connectivity.Bandwidth != "2Mbit" {
			t.Errorf("region %s: bandwidth %q, want spec.bandwidth 2Mbit", d.Region, d.Connectivity.Bandwidth)
		}
	}
	if bps, err := spec.ParseBandwidth("1.5Mbit"); err != nil || bps != 1_500_000 {
		t.Errorf("1.5Mbit = %d, %v", bps, err)
	}
}

// With rings a commit to main reaches no site; a promotion of a ring
// reaches its clusters only: git, every one of them clones the whole
// repository.
func TestLoadRingsGit(t *testing.T) {
	res := planCase(t, "farm-lab-rings")
	m, err := Load(res, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Rings) != 2 || m.Rings[0].Ring != "canary" || m.Rings[1].Ring != "stable" || m.Rings[0].Branch != "fleet/ring/canary" {
		t.Fatalf("rings: %+v", m.Rings)
	}
	// bootstrap/*/rings.txt of the golden tree: canary is granja-0001,
	// -0004, -0007 and granja-norte-0001 (listed), -0003: 5 of 12.
	c, st := m.Rings[0], m.Rings[1]
	if c.Clusters != 5 || st.Clusters != 7 {
		t.Errorf("canary %d clusters, stable %d; want 5 and 7", c.Clusters, st.Clusters)
	}
	if c.SiteBytesPerPromotion != m.GitPackBytes {
		t.Errorf("a canary site downloads %d B per promotion, want the pack %d B", c.SiteBytesPerPromotion, m.GitPackBytes)
	}
	if want := 5 * m.GitPackBytes; c.EgressPerPromotion != want || c.EgressPerRegionPromotion != want {
		t.Errorf("egress per canary promotion %d (per region promotion %d), want 5 canaries x %d B = %d", c.EgressPerPromotion, c.EgressPerRegionPromotion, m.GitPackBytes, want)
	}
	if got := c.EgressPerPromotion + st.EgressPerPromotion; got != m.Fleet.EgressPerFleetCommit {
		t.Errorf("promoting every ring once costs %d B, a fleet-wide commit without rings %d B", got, m.Fleet.EgressPerFleetCommit)
	}
	if len(c.Regions) != 2 || c.Regions[0].Region != "valle-central" || c.Regions[0].Clusters != 3 || c.Regions[1].Clusters != 2 ||
		c.Regions[0].EgressPerPromotion != 3*m.GitPackBytes {
		t.Errorf("canary per region: %+v", c.Regions)
	}
	// Both valleys poll every 30 minutes: 12 ls-refs per 30 minutes, and
	// after a canary promotion the 5 canaries clone (2 more requests each).
	if want := 12.0/30 + 5.0/30*2; math.Abs(c.PeakRequestsPerMinute-want) > 1e-9 {
		t.Errorf("peak requests per minute after a canary promotion %v, want %v", c.PeakRequestsPerMinute, want)
	}
	if c.ConvergeSeconds != m.Regions[0].ConvergeSeconds && c.ConvergeSeconds != m.Regions[1].ConvergeSeconds {
		t.Errorf("canary converges in %vs, not its slowest region's time", c.ConvergeSeconds)
	}

	// Without rings there are no ring figures.
	m2, err := Load(planExample(t, "farm-lab"), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m2.Rings != nil {
		t.Errorf("farm-lab has no rings, load has %+v", m2.Rings)
	}
}

// OCI with rings: a promotion republishes the ring's artifacts (publish
// builds each cluster's from its ring's branch), so the egress is the sum
// of the ring's clusters' artifacts, as publish builds them.
func TestLoadRingsOCI(t *testing.T) {
	l := loadExample(t, "cargo-ships", [2]string{"  regions:\n", "  rings:\n    - {name: canary, share: 30}\n    - {name: stable, share: 70}\n  regions:\n"},
		[2]string{"clusterPrefix: tp-ship\n", "clusterPrefix: tp-ship\n      rings: {canary: [tp-ship-0001]}\n"})
	res, err := Plan(l)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(res, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "repo")
	if _, err := Apply(res, ApplyOptions{Dir: dir, Message: "load", Author: gitrepo.Author{Name: "t", Email: "t@example.com"}, When: time.Unix(1, 0)}); err != nil {
		t.Fatal(err)
	}
	src, err := oci.FromCommit(dir)
	if err != nil {
		t.Fatal(err)
	}
	arts, err := oci.BuildAll(src)
	if err != nil {
		t.Fatal(err)
	}
	ringOf := map[string]string{}
	for _, reg := range l.Spec.Regions {
		for _, c := range l.RegionClusters(reg.Name) {
			ringOf[c.Name] = l.Spec.ClusterRing(&reg, c.Name)
		}
	}
	want := map[string]int64{}
	clusters := map[string]int{}
	perRegion := map[string]map[string]int64{}
	for _, a := range arts {
		r := ringOf[a.Tag]
		want[r] += ArtifactBytes(a)
		clusters[r]++
		if perRegion[r] == nil {
			perRegion[r] = map[string]int64{}
		}
		perRegion[r][a.Region] += ArtifactBytes(a)
	}
	if ringOf["tp-ship-0001"] != "canary" || clusters["canary"] == 0 || clusters["stable"] == 0 {
		t.Fatalf("rings of the ships: %v", ringOf)
	}
	if len(m.Rings) != 2 {
		t.Fatalf("rings: %+v", m.Rings)
	}
	for _, r := range m.Rings {
		if r.Clusters != clusters[r.Ring] || r.EgressPerPromotion != want[r.Ring] {
			t.Errorf("ring %s: %d clusters, %d B per promotion; publish's artifacts: %d clusters, %d B", r.Ring, r.Clusters, r.EgressPerPromotion, clusters[r.Ring], want[r.Ring])
		}
		// A promotion carrying one region's change: that region's ring
		// sites only, the mean over the two regions.
		if w := (perRegion[r.Ring]["transpacific"] + perRegion[r.Ring]["north-europe"]) / 2; r.EgressPerRegionPromotion != w {
			t.Errorf("ring %s: %d B per promotion touching one region, want %d", r.Ring, r.EgressPerRegionPromotion, w)
		}
		var maxB int64
		for _, a := range arts {
			if ringOf[a.Tag] == r.Ring {
				maxB = max(maxB, ArtifactBytes(a))
			}
		}
		if r.SiteBytesPerPromotion < maxB {
			t.Errorf("ring %s: a site downloads %d B, publish's largest artifact of the ring is %d B", r.Ring, r.SiteBytesPerPromotion, maxB)
		}
	}
}

// Above 200 clusters the OCI sizes are sampled: a ring's egress is each
// region's mean artifact times the ring's clusters there, so the rings
// together cost what every region's sites cost.
func TestLoadRingsOCISampled(t *testing.T) {
	l := loadExample(t, "cargo-ships", [2]string{"  regions:\n", "  rings:\n    - {name: canary, share: 10}\n    - {name: stable, share: 90}\n  regions:\n"},
		[2]string{"clusterCount: 3", "clusterCount: 300"})
	res, err := Plan(l)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(res, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Sampled || len(m.Rings) != 2 {
		t.Fatalf("sampled %v, rings %+v", m.Sampled, m.Rings)
	}
	var regions, rings int64
	for _, r := range m.Regions {
		regions += r.EgressPerRegionCommit
	}
	n := 0
	for _, r := range m.Rings {
		rings += r.EgressPerPromotion
		n += r.Clusters
		for _, rr := range r.Regions {
			var reg RegionLoad
			for _, x := range m.Regions {
				if x.Region == rr.Region {
					reg = x
				}
			}
			if want := int64(float64(reg.EgressPerRegionCommit) * float64(rr.Clusters) / float64(reg.Clusters)); rr.EgressPerPromotion != want {
				t.Errorf("ring %s, region %s: %d B, want the region's mean x %d clusters = %d", r.Ring, rr.Region, rr.EgressPerPromotion, rr.Clusters, want)
			}
		}
	}
	if n != m.Fleet.Clusters || rings > regions || regions-rings > int64(len(m.Rings)*len(m.Regions)) {
		t.Errorf("rings: %d clusters, %d B; regions: %d clusters, %d B", n, rings, m.Fleet.Clusters, regions)
	}
}
