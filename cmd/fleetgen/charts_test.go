package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateSaysChartPodsAreNotChecked: fleetgen has no Helm SDK, so
// validate says which charts and remote bases it could not look inside,
// even with --quiet; a fleet of image apps gets no such line.
func TestValidateSaysChartPodsAreNotChecked(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "charts")
	spec := filepath.Join("..", "..", "generator", "testdata", "cases", "truck-charts", "fleet.yaml")
	if r := biRun("generate", "--quiet", "--spec", spec, "--out", repo); r.code != 0 {
		t.Fatalf("generate: %d %s%s", r.code, r.stderr, r.panicked)
	}
	r := biRun("validate", "--quiet", repo)
	if r.code != 0 {
		t.Fatalf("validate: %d %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"not checked: the pods of 6 Helm chart(s) and remote Kustomize base(s)",
		"no Helm SDK",
		"apps/regions/eu-old/podinfo-chart.yaml:4: Helm chart (K3s HelmChart) kube-system/podinfo",
		"apps/regions/na-new/podinfo-chart.yaml:19: Helm chart (Flux HelmRelease) podinfo/podinfo",
		"apps/regions/na-new/route-api-kustomize.yaml:15: remote Kustomize base",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("validate output lacks %q:\n%s", want, r.stdout)
		}
	}

	plain := filepath.Join(dir, "plain")
	if r := biRun("generate", "--quiet", "--out", plain); r.code != 0 {
		t.Fatalf("generate: %d %s", r.code, r.stderr)
	}
	if r := biRun("validate", plain); r.code != 0 || strings.Contains(r.stdout, "not checked") {
		t.Errorf("validate of an image-only fleet: %d\n%s", r.code, r.stdout)
	}
}
