package spec_test

import (
	"strings"
	"testing"

	"github.com/fleetgen/fleetgen/generator/spec"
)

const bandwidthSpec = `apiVersion: fleetgen.dev/v1alpha1
kind: Fleet
metadata: {name: f}
spec:
  context: {environment: e, hardware: h, mainChallenge: c}
  git:
    url: https://example.com/r.git
  bandwidth: FLEET
  regions:
    - name: r1
      clusterCount: 2
      bandwidth: REGION
`

func TestBandwidth(t *testing.T) {
	parse := func(fleet, region string) (*spec.Loaded, error) {
		src := strings.NewReplacer("FLEET", fleet, "REGION", region).Replace(bandwidthSpec)
		return spec.Parse([]byte(src), "fleet.yaml")
	}
	l, err := parse(`"2Mbit"`, `""`)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Spec.Regions[0].Bandwidth; got != "2Mbit" {
		t.Errorf("region inherits %q, want spec.bandwidth 2Mbit", got)
	}
	l, err = parse(`2Mbit`, `256kbit`)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Spec.Regions[0].Bandwidth; got != "256kbit" {
		t.Errorf("region override %q, want 256kbit", got)
	}
	for in, want := range map[string]int64{"256kbit": 256_000, "2Mbit": 2_000_000, "1.5Mbit": 1_500_000, "1Gbit": 1_000_000_000, "9600bit": 9600} {
		if got, err := spec.ParseBandwidth(in); err != nil || got != want {
			t.Errorf("ParseBandwidth(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	// Every refusal names the field and its line.
	for _, c := range []struct{ fleet, region, want, msg string }{
		{"2MB", "1Mbit", "fleet.yaml:8: spec.bandwidth", `"2MB" is not a bandwidth`},
		{"2Mbps", "1Mbit", "fleet.yaml:8: spec.bandwidth", "units bit, kbit, Mbit, Gbit"},
		{"1Mbit", "fast", "fleet.yaml:12: spec.regions[0].bandwidth", `"fast" is not a bandwidth`},
		{"1Mbit", "0kbit", "fleet.yaml:12: spec.regions[0].bandwidth", "outside 1kbit..100Gbit"},
		{"1Mbit", "500Gbit", "fleet.yaml:12: spec.regions[0].bandwidth", "outside 1kbit..100Gbit"},
		{"1Mbit", "-2Mbit", "fleet.yaml:12: spec.regions[0].bandwidth", "is not a bandwidth"},
		{"2 Mbit", "1Mbit", "fleet.yaml:8: spec.bandwidth", "is not a bandwidth"},
	} {
		_, err := parse(c.fleet, c.region)
		if err == nil {
			t.Errorf("%s / %s accepted", c.fleet, c.region)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s / %s: %v\nwant %q ... %q", c.fleet, c.region, err, c.want, c.msg)
		}
	}
}
