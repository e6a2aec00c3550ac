package main

import (
	"encoding/json"
	"os"
	"path/filepath"
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
