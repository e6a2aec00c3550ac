package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestPublishPushesToRegionMirrors: a region with delivery.repository
// (a registry on its own network) gets its artifacts there, signed, as
// well as in spec.delivery.repository; its clusters pull from the mirror,
// the other regions' from the fleet's repository; plan says so.
func TestPublishPushesToRegionMirrors(t *testing.T) {
	needGit(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	main, mirror := ociRegistry(t), ociRegistry(t)
	b, err := os.ReadFile("../../examples/cargo-ships/fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(b), "    - name: north-europe\n", "    - name: north-europe\n      delivery: {repository: "+mirror+"}\n", 1)
	if src == string(b) {
		t.Fatal("the example changed: no north-europe region")
	}
	specPath := filepath.Join(t.TempDir(), "fleet.yaml")
	os.WriteFile(specPath, []byte(src), 0o644)
	dir := filepath.Join(t.TempDir(), "cargo")
	mustFleetgen(t, append([]string{"generate", "--spec", specPath, "--out", dir}, testAuthor...)...)

	fi, err := os.ReadFile(filepath.Join(dir, "clusters/north-europe/ne-feeder-1/flux-instance.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(fi), "url: oci://"+mirror+"\n") {
		t.Errorf("ne-feeder-1 does not pull from the mirror:\n%s", fi)
	}
	if fi, _ := os.ReadFile(filepath.Join(dir, "clusters/transpacific/tp-ship-0001/flux-instance.yaml")); !strings.Contains(string(fi), "url: oci://ghcr.io/example-shipping/cargo-fleet\n") {
		t.Errorf("tp-ship-0001 does not pull from the fleet's repository:\n%s", fi)
	}
	// The first-boot copy too: a site that reaches only the mirror must
	// pull from it from its very first sync.
	if fb, _ := os.ReadFile(filepath.Join(dir, "bootstrap/north-europe/manifests/flux-instance.yaml")); !strings.Contains(string(fb), "url: oci://"+mirror+"\n") {
		t.Errorf("north-europe's first-boot FluxInstance does not pull from the mirror:\n%s", fb)
	}
	plan := mustFleetgen(t, "plan", "--spec", specPath)
	if !strings.Contains(plan, "OCI (oci://"+mirror+", one artifact per cluster, the region's mirror: publish pushes there too)") {
		t.Errorf("plan does not show the mirror:\n%s", plan)
	}

	key, pub := writeKey(t, "pw")
	t.Setenv("COSIGN_PASSWORD", "pw")
	out := mustFleetgen(t, "publish", "--dir", dir, "--registry", main, "--cosign-key", key)
	if !strings.Contains(out, "region north-europe pulls from its mirror "+mirror+": 2 artifacts") {
		t.Errorf("publish output:\n%s", out)
	}
	if got := tagsIn(t, main); len(got) != 10 { // 5 artifacts, 5 signatures
		t.Errorf("fleet repository tags %v", got)
	}
	if got := tagsIn(t, mirror); len(got) != 4 {
		t.Errorf("mirror tags %v, want ne-feeder-1, ne-feeder-2 and their signatures", got)
	}
	for _, tag := range []string{"ne-feeder-1", "ne-feeder-2"} {
		if !signatureOK(t, mirror, tag, pub) {
			t.Errorf("%s: not signed in the mirror", tag)
		}
		if a, b := pullAs(t, main, tag, v1.Hash{}).Digest, pullAs(t, mirror, tag, v1.Hash{}).Digest; a != b {
			t.Errorf("%s: %s in the fleet's repository, %s in the mirror: the same artifact must have the same digest", tag, a, b)
		}
	}
	out = mustFleetgen(t, "publish", "--dir", dir, "--registry", main, "--cosign-key", key)
	if strings.Contains(out, "pushed  ") || strings.Count(out, "0 pushed") != 2 {
		t.Errorf("rerun pushed again:\n%s", out)
	}
}
