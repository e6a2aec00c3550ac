package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// tools are the pinned binaries scripts/e2e-tools.sh builds, and the Flux
// distribution manifests bundled with the Flux Operator.
type tools struct {
	versions            map[string]string
	kubeAPIServer       string
	kine                string
	sourceController    string
	kustomizeController string
	fluxOperator        string
	fluxOperatorSrc     string // the operator's module source: config/data, config/crd
	sops                string
	gitHTTPBackend      string
	git                 string
}

// cacheDir is where scripts/e2e-tools.sh puts the tools.
func cacheDir() string {
	if d := os.Getenv("FLEETGEN_E2E_CACHE"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "fleetgen-e2e")
}

// toolVersions reads the pinned versions from scripts/e2e-tools.sh, so the
// script stays their only source.
func toolVersions() (map[string]string, error) {
	f, err := os.Open(filepath.Join(repoRoot(), "scripts", "e2e-tools.sh"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	re := regexp.MustCompile(`^([A-Z_]+)_VERSION=(v[0-9][^\s]*)$`)
	v := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			v[m[1]] = m[2]
		}
	}
	return v, sc.Err()
}

// repoRoot is the fleetgen repository (the test runs in e2e/).
func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Dir(wd)
}

// needTools returns the tools, or skips the test with what to run (fails
// under CI=true: there the end-to-end test must run).
func needTools(t *testing.T) *tools {
	t.Helper()
	ci := os.Getenv("CI") == "true"
	if testing.Short() && !ci {
		t.Skip("e2e: skipped with -short (it starts real API servers and Flux controllers)")
	}
	v, err := toolVersions()
	if err != nil {
		t.Fatalf("e2e: reading the pinned versions: %v", err)
	}
	bin := filepath.Join(cacheDir(), "bin")
	tl := &tools{
		versions:            v,
		kubeAPIServer:       filepath.Join(bin, "kube-apiserver-"+v["KUBERNETES"]),
		kine:                filepath.Join(bin, "kine-"+v["KINE"]),
		sourceController:    filepath.Join(bin, "source-controller-"+v["FLUX_CONTROLLERS"]),
		kustomizeController: filepath.Join(bin, "kustomize-controller-"+v["FLUX_CONTROLLERS"]),
		fluxOperator:        filepath.Join(bin, "flux-operator-"+v["FLUX_OPERATOR"]),
		fluxOperatorSrc:     filepath.Join(cacheDir(), "src", "flux-operator-"+v["FLUX_OPERATOR"]),
		sops:                filepath.Join(bin, "sops-"+v["SOPS"]),
		gitHTTPBackend:      "/usr/lib/git-core/git-http-backend",
	}
	var missing []string
	for _, p := range []string{tl.kubeAPIServer, tl.kine, tl.sourceController, tl.kustomizeController, tl.fluxOperator, tl.sops} {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, filepath.Base(p))
		}
	}
	if _, err := os.Stat(filepath.Join(tl.fluxOperatorSrc, "config", "data", "flux")); err != nil {
		missing = append(missing, "flux-operator config/data")
	}
	if out, err := exec.Command("git", "--exec-path").Output(); err == nil {
		tl.gitHTTPBackend = filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	}
	if _, err := os.Stat(tl.gitHTTPBackend); err != nil {
		missing = append(missing, "git-http-backend (the git package)")
	}
	if p, err := exec.LookPath("git"); err == nil {
		tl.git = p
	} else {
		missing = append(missing, "git")
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("e2e: tools not built in %s: %s; build them with scripts/e2e-tools.sh (about 25 minutes the first time)", cacheDir(), strings.Join(missing, ", "))
		if ci {
			t.Fatal(msg + " (CI=true: the end-to-end test must run)")
		}
		t.Skip(msg)
	}
	return tl
}
