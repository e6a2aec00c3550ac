package generator

import (
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
