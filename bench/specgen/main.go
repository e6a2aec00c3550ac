// Command specgen writes a large fleet.yaml for the scale benchmarks
// (bench/scale.sh, generator/bench_test.go); see bench/fleetspec.
//
//	go run ./bench/specgen -regions 20 -per-region 250 > fleet-5000.yaml
//	go run ./bench/specgen -regions 20 -per-region 2500 > fleet-50000.yaml
//
// With -bump REGION that region gets connectivity always-on and a label, so
// that a regeneration of that region has something to do in each cluster.
package main

import (
	"flag"
	"os"

	"github.com/fleetgen/fleetgen/bench/fleetspec"
)

func main() {
	regions := flag.Int("regions", 20, "number of regions")
	perRegion := flag.Int("per-region", 250, "clusters per region (clusterCount)")
	bump := flag.String("bump", "", "change this region (connectivity always-on, a label): the edit for regen")
	flag.Parse()
	if _, err := os.Stdout.Write(fleetspec.Spec(*regions, *perRegion, *bump)); err != nil {
		os.Exit(1)
	}
}
