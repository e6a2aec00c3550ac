package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestRegenUpgradesK3s: a newer spec.k3s.version reaches every region's
// Plans and the provisioning scripts in one regeneration, with the hand
// edits of the Plans file kept; going back is refused (badinput cases).
func TestRegenUpgradesK3s(t *testing.T) {
	dir := newRepo(t)
	plans := filepath.Join(dir, "infrastructure/regions/north-sea/k3s-upgrade.yaml")
	if !strings.Contains(readFile(t, plans), "version: v1.37.1+k3s1") {
		t.Fatal("the default example does not pin v1.37.1+k3s1")
	}
	// An operator's note in the Plans file, which the regeneration must keep.
	writeFile(t, plans, readFile(t, plans)+"# checked by ops\n")
	git(t, dir, "commit", "-qam", "ops note")
	editSpec(t, dir, "nodes: 1\n", "nodes: 1\n  k3s: {version: v1.37.2+k3s1}\n")
	git(t, dir, "commit", "-qam", "K3s v1.37.2+k3s1")
	if out, errOut, code := regen(t, dir); code != 0 {
		t.Fatalf("regen: %d\n%s%s", code, out, errOut)
	}
	for _, region := range []string{"north-sea", "gulf-of-mexico", "campos-basin"} {
		p := readFile(t, filepath.Join(dir, "infrastructure/regions", region, "k3s-upgrade.yaml"))
		if strings.Count(p, "version: v1.37.2+k3s1") != 2 || strings.Contains(p, "v1.37.1+k3s1") {
			t.Errorf("%s: Plans do not both pin v1.37.2+k3s1:\n%s", region, p)
		}
		sh := readFile(t, filepath.Join(dir, "bootstrap", region, "provision.sh"))
		if !strings.Contains(sh, "INSTALL_K3S_VERSION=v1.37.2+k3s1 ") || strings.Contains(sh, "v1.37.1+k3s1") {
			t.Errorf("%s: provision.sh does not install v1.37.2+k3s1", region)
		}
	}
	if !strings.Contains(readFile(t, plans), "# checked by ops") {
		t.Error("the hand edit of the Plans was lost")
	}
}
