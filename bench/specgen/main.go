// Command specgen writes a large fleet.yaml for the scale benchmarks
// (bench/scale.sh, generator/bench_test.go); see bench/fleetspec.
//
//	go run ./bench/specgen -regions 20 -per-region 250 > fleet-5000.yaml
//	go run ./bench/specgen -regions 20 -per-region 2500 > fleet-50000.yaml
//
// With -bump REGION that region gets connectivity always-on and a label, so
// that a regeneration of that region has something to do in each cluster.
// -rings canary:5,early:20,stable:75 adds spec.rings; -oci cluster (or
// region) delivers the fleet as OCI artifacts (README, "Load model").
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/fleetgen/fleetgen/bench/fleetspec"
)

func main() {
	regions := flag.Int("regions", 20, "number of regions")
	perRegion := flag.Int("per-region", 250, "clusters per region (clusterCount)")
	bump := flag.String("bump", "", "change this region (connectivity always-on, a label): the edit for regen")
	rings := flag.String("rings", "", "spec.rings as name:share,... in rollout order (e.g. canary:5,early:20,stable:75)")
	ociUnit := flag.String("oci", "", "deliver as OCI artifacts, one per cluster or region")
	flag.Parse()
	spec := fleetspec.Spec(*regions, *perRegion, *bump)
	if *ociUnit != "" {
		spec = fleetspec.WithOCIDelivery(spec, *ociUnit)
	}
	if *rings != "" {
		var err error
		if spec, err = fleetspec.WithRings(spec, *rings); err != nil {
			fmt.Fprintln(os.Stderr, "specgen:", err)
			os.Exit(2)
		}
	}
	if _, err := os.Stdout.Write(spec); err != nil {
		os.Exit(1)
	}
}
