package spec_test

import (
	"strings"
	"testing"

	"github.com/fleetgen/fleetgen/generator/spec"
)

const windowSpec = `apiVersion: fleetgen.dev/v1alpha1
kind: Fleet
metadata: {name: f}
spec:
  context: {environment: e, hardware: h, mainChallenge: c}
  git: {url: "https://example.com/r.git"}
  maintenanceWindow: {days: [sat], start: "02:00", end: "04:00"}
  regions:
    - {name: r1, clusterCount: 1}
    - {name: r2, clusterCount: 1, maintenanceWindow: {days: [mon, tue], start: "22:00", end: "23:59", timeZone: Asia/Kolkata}}
`

func TestMaintenanceWindowDefaultsAndOverride(t *testing.T) {
	l, err := spec.Parse([]byte(windowSpec), "fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := &l.Spec
	if w := s.RegionWindow(&s.Regions[0]); w == nil || w.TimeZone != "UTC" || strings.Join(w.Days, ",") != "sat" {
		t.Errorf("r1 inherits the fleet window with time zone UTC, got %+v", w)
	}
	if w := s.RegionWindow(&s.Regions[1]); w == nil || w.TimeZone != "Asia/Kolkata" || w.Start != "22:00" || strings.Join(w.Days, ",") != "mon,tue" {
		t.Errorf("r2 has its own window, got %+v", w)
	}
	// Defaulting twice changes nothing.
	before := s.RegionWindow(&s.Regions[0]).String()
	l.Default()
	if after := s.RegionWindow(&s.Regions[0]).String(); after != before {
		t.Errorf("Default is not idempotent: %s -> %s", before, after)
	}
}

func TestK3sReleaseOrder(t *testing.T) {
	order := []string{"v1.36.9+k3s3", "v1.37.1+k3s1", "v1.37.1+k3s2", "v1.37.2+k3s1", "v1.37.10+k3s1", "v1.38.0+k3s1"}
	for i := range order {
		a, ok := spec.ParseK3sRelease(order[i])
		if !ok {
			t.Fatalf("%s does not parse", order[i])
		}
		for j := range order {
			b, _ := spec.ParseK3sRelease(order[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := a.Compare(b); got != want {
				t.Errorf("%s vs %s: %d, want %d", order[i], order[j], got, want)
			}
		}
	}
	for _, bad := range []string{"v1.37", "v1.37.1", "stable", "v1.37.1-k3s1", "1.37.1+k3s1"} {
		if _, ok := spec.ParseK3sRelease(bad); ok {
			t.Errorf("%s parsed as a release", bad)
		}
	}
}
