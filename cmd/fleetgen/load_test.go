package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestPlanLoadModel(t *testing.T) {
	got := mustFleetgen(t, "plan", "--commits-per-day", "24")
	for _, want := range []string{"Load model (git", "24 commits a day", "depth-1 clone of the whole repository", "north-sea", "256kbit", "GitLab.com"} {
		if !strings.Contains(got, want) {
			t.Errorf("plan lacks %q:\n%s", want, got)
		}
	}
	var out struct {
		Clusters int `json:"clusters"`
		Load     struct {
			Mode          string  `json:"mode"`
			CommitsPerDay float64 `json:"commitsPerDay"`
			GitPackBytes  int64   `json:"gitPackBytes"`
			Regions       []struct {
				Region            string  `json:"region"`
				Clusters          int     `json:"clusters"`
				PollsPerMinute    float64 `json:"pollsPerMinute"`
				SiteBytesTouching int64   `json:"siteBytesPerTouchingCommit"`
				ConvergeSeconds   float64 `json:"convergeSeconds"`
			} `json:"regions"`
			Fleet struct {
				EgressPerDay int64 `json:"egressPerDay"`
			} `json:"fleet"`
			Limits []struct {
				Source string `json:"source"`
			} `json:"limits"`
		} `json:"load"`
	}
	if err := json.Unmarshal([]byte(mustFleetgen(t, "plan", "-o", "json", "--commits-per-day", "24")), &out); err != nil {
		t.Fatal(err)
	}
	ld := out.Load
	if ld.Mode != "git" || ld.CommitsPerDay != 24 || ld.GitPackBytes < 10_000 || len(ld.Regions) != 3 || len(ld.Limits) == 0 {
		t.Fatalf("load: %+v", ld)
	}
	// north-sea: 4 satellite sites polling every 30 minutes.
	if r := ld.Regions[0]; r.Region != "north-sea" || r.Clusters != 4 || r.PollsPerMinute != 4.0/30 || r.SiteBytesTouching != ld.GitPackBytes {
		t.Errorf("north-sea: %+v", r)
	}
	// git: every commit is a clone on every site.
	if want := int64(24 * out.Clusters * int(ld.GitPackBytes)); ld.Fleet.EgressPerDay != want {
		t.Errorf("egress per day %d, want 24 x %d sites x pack = %d", ld.Fleet.EgressPerDay, out.Clusters, want)
	}
	for _, l := range ld.Limits {
		if !strings.HasPrefix(l.Source, "https://") {
			t.Errorf("limit without a source URL: %+v", l)
		}
	}

	// OCI: the cargo ships' sites download their artifact only.
	spec := filepath.Join("..", "..", "examples", "cargo-ships", "fleet.yaml")
	if _, err := os.Stat(spec); err != nil {
		t.Fatal(err)
	}
	got = mustFleetgen(t, "plan", "--spec", spec)
	if !strings.Contains(got, "Load model (OCI, one artifact per cluster") || !strings.Contains(got, "Docker Hub") {
		t.Errorf("oci plan:\n%s", got)
	}

	for _, bad := range []string{"0", "-3", "x"} {
		if _, errs, code := fleetgen(t, "plan", "--commits-per-day", bad); code == 0 || !strings.Contains(errs, "commits-per-day") {
			t.Errorf("--commits-per-day %s: exit %d, %s", bad, code, errs)
		}
	}
}

// With rings, plan's load model is per promotion: a promotion of canary
// costs the canaries' downloads only.
func TestPlanLoadModelRings(t *testing.T) {
	specFile := filepath.Join("..", "..", "generator", "testdata", "cases", "farm-lab-rings", "fleet.yaml")
	got := mustFleetgen(t, "plan", "--spec", specFile)
	for _, want := range []string{"a commit to the fleet's branch reaches no site", "A promotion of a ring reaches its sites only", "egress/promo"} {
		if !strings.Contains(got, want) {
			t.Errorf("plan lacks %q:\n%s", want, got)
		}
	}
	var out struct {
		Load struct {
			GitPackBytes int64 `json:"gitPackBytes"`
			Fleet        struct {
				EgressPerFleetCommit int64 `json:"egressPerFleetCommit"`
			} `json:"fleet"`
			Rings []struct {
				Ring               string `json:"ring"`
				Branch             string `json:"branch"`
				Clusters           int    `json:"clusters"`
				SiteBytes          int64  `json:"siteBytesPerPromotion"`
				EgressPerPromotion int64  `json:"egressPerPromotion"`
				Regions            []struct {
					Region   string `json:"region"`
					Clusters int    `json:"clusters"`
				} `json:"regions"`
			} `json:"rings"`
		} `json:"load"`
	}
	if err := json.Unmarshal([]byte(mustFleetgen(t, "plan", "--spec", specFile, "-o", "json")), &out); err != nil {
		t.Fatal(err)
	}
	ld := out.Load
	if len(ld.Rings) != 2 {
		t.Fatalf("load.rings: %+v", ld.Rings)
	}
	c, s := ld.Rings[0], ld.Rings[1]
	// The canaries (bootstrap/*/rings.txt): 3 in valle-central, 2 in valle-norte.
	if c.Ring != "canary" || c.Branch != "fleet/ring/canary" || c.Clusters != 5 || len(c.Regions) != 2 || c.Regions[0].Clusters != 3 || c.Regions[1].Clusters != 2 {
		t.Errorf("canary: %+v", c)
	}
	if c.SiteBytes != ld.GitPackBytes || c.EgressPerPromotion != 5*ld.GitPackBytes {
		t.Errorf("canary promotion: %d B a site, %d B in all; want the pack %d B and 5 x it", c.SiteBytes, c.EgressPerPromotion, ld.GitPackBytes)
	}
	if s.Clusters != 7 || c.EgressPerPromotion+s.EgressPerPromotion != ld.Fleet.EgressPerFleetCommit {
		t.Errorf("stable %+v; canary + stable = %d B, a fleet-wide commit %d B", s, c.EgressPerPromotion+s.EgressPerPromotion, ld.Fleet.EgressPerFleetCommit)
	}
	// A row per ring in the text: canary, its 5 clusters, the egress.
	if !strings.Contains(got, "canary") || !regexpMatch(`(?m)^  canary +5 `, got) {
		t.Errorf("no canary row of 5 clusters:\n%s", got)
	}
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }
