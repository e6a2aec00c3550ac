package main

import (
	"testing"
)

// appSourceBadCases: apps shipped as Helm charts and remote Kustomize
// bases (issue 14 item 5). Each names the field and its line, and nothing
// is written.
func appSourceBadCases(t *testing.T) []badCase {
	base := biSpec
	L := func(s, sub string) string { return biAt("fleet.yaml", biLineOf(s, sub)) }
	app := func(block string) string {
		return biEdit(t, base, "      port: 8080\n", "      port: 8080\n"+block)
	}
	var cases []badCase
	add := func(name, s, field, marker string, also ...string) {
		cases = append(cases, badCase{name: "apps/" + name, setup: biSpecCase(s, nil), field: field, loc: L(s, marker), also: also})
	}

	s := app("    - name: metrics\n      memory: 64Mi\n      chart:\n        repository: oci://ghcr.io/acme/charts\n        name: metrics\n")
	add("chart-without-version", s, "spec.apps[1].chart.version", "chart:", "is required", "exact version")

	s = app("    - name: metrics\n      memory: 64Mi\n      chart: {repository: https://charts.example.com, name: metrics, version: \"^1.2\"}\n")
	add("chart-version-range", s, "spec.apps[1].chart.version", "chart: {repository", "not an exact chart version")

	s = app("    - name: metrics\n      memory: 64Mi\n      chart:\n        repository: s3://charts/acme\n        name: metrics\n        version: 1.2.3\n")
	add("unknown-chart-source", s, "spec.apps[1].chart.repository", "repository: s3://", "not a chart source fleetgen knows", "https://, http://, oci://")

	s = app("    - name: metrics\n      memory: 64Mi\n      chart:\n        repository: git+https://github.com/acme/charts\n        name: metrics\n        version: 1.2.3\n")
	add("git-chart-source", s, "spec.apps[1].chart.repository", "repository: git+https", "not a chart source fleetgen knows")

	s = app("    - name: metrics\n      chart:\n        repository: oci://ghcr.io/acme/charts\n        name: metrics\n        version: 1.2.3\n")
	add("chart-without-memory", s, "spec.apps[1].memory", "- name: metrics", "memory budget")

	s = app("    - name: metrics\n      memory: 64Mi\n      image: docker.io/library/nginx:1.27\n      chart: {repository: oci://ghcr.io/acme/charts, name: metrics, version: 1.2.3}\n")
	add("image-and-chart", s, "spec.apps[1]", "- name: metrics", "more than one of image, chart and kustomize")

	s = app("    - name: metrics\n      memory: 64Mi\n")
	add("no-source", s, "spec.apps[1]", "- name: metrics", "needs one of image")

	s = app("    - name: metrics\n      memory: 64Mi\n      port: 9100\n      chart: {repository: oci://ghcr.io/acme/charts, name: metrics, version: 1.2.3}\n")
	add("chart-with-port", s, "spec.apps[1].port", "port: 9100", "image apps only")

	s = app("    - name: routes\n      memory: 64Mi\n      kustomize:\n        url: https://github.com/acme/routes//deploy/base?ref=main\n")
	add("floating-ref", s, "spec.apps[1].kustomize.url", "url: https://github.com/acme/routes", "floating", "release tag")

	s = app("    - name: routes\n      memory: 64Mi\n      kustomize:\n        url: https://github.com/acme/routes//deploy/base\n")
	add("unpinned-base", s, "spec.apps[1].kustomize.url", "url: https://github.com/acme/routes", "not pinned")

	s = app("    - name: routes\n      memory: 64Mi\n      kustomize:\n        url: github.com/acme/routes//deploy/base?ref=v1.0.0\n")
	add("base-without-scheme", s, "spec.apps[1].kustomize.url", "url: github.com", "no scheme")

	s = app("    - name: metrics\n      memory: 64Mi\n      chart: {repository: oci://ghcr.io/acme/charts, name: metrics, version: 1.2.3}\n")
	s = biEdit(t, s, "      clusters: [n-0001, n-0002]\n", "      clusters: [n-0001, n-0002]\n      values:\n        web: {replicas: 2}\n")
	add("region-values-for-image-app", s, "spec.regions[0].values.web", "web: {replicas", "not a chart")

	s = app("    - name: metrics\n      memory: 64Mi\n      chart:\n        repository: oci://ghcr.io/acme/charts\n        name: metrics\n        version: 1.2.3\n        values: {site: \"${SITE_NAME}\"}\n")
	add("chart-values-unknown-variable", s, "spec.apps[1].chart.values", "values: {site:", "${SITE_NAME} is not a variable of cluster n-0001", "${SITE_NAME:=default}")

	s = app("    - name: metrics\n      memory: 64Mi\n      chart: {repository: oci://ghcr.io/acme/charts, name: metrics, version: 1.2.3}\n")
	s = biEdit(t, s, "      clusterCount: 2\n", "      clusterCount: 2\n      values:\n        metrics: {depot: \"${DEPOT}\"}\n")
	add("region-values-unknown-variable", s, "spec.regions[1].values.metrics", "metrics: {depot:", "${DEPOT} is not a variable of cluster south-0001")

	return cases
}
