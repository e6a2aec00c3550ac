package main

import (
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/fleetgen/fleetgen/examples"
	"github.com/fleetgen/fleetgen/generator/spec"
)

func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "fleetgen",
		Short: "Generate and maintain a K3s/Flux fleet repository and its Edge Architect prompt from one fleet.yaml",
		Long: `fleetgen turns one description of an edge fleet (fleet.yaml) into
  1. the "Kubernetes Edge Architect" Pro and Basic prompts, filled in, in Spanish or English, and
  2. a fleet repository that already follows that design: Kustomize bases and per-region
     overlays for K3s, Flux bootstrap for every cluster, hardened K3s node bootstrap files,
     committed with go-git.
Then it keeps the repository alive: regenerate regions without losing hand edits, add
clusters by the thousand, check the AI's design document against the repository.`,
		Example: `  fleetgen generate --out ./edge-fleet          # the built-in offshore example
  fleetgen init ./my-fleet --example truck-fleet  # a starter fleet.yaml to edit
  fleetgen generate --spec my-fleet/fleet.yaml --out ./my-fleet-repo
  fleetgen prompt --spec my-fleet/fleet.yaml --lang en
  fleetgen validate ./my-fleet-repo`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newGenerateCmd(),
		newPromptCmd(),
		newInitCmd(),
		newValidateCmd(),
		newPlanCmd(),
		newRegenCmd(),
		newDiffCmd(),
		newInventoryCmd(),
		newDesignCmd(),
		newPushCmd(),
		newPromoteCmd(),
		newStatusCmd(),
		newPublishCmd(),
		newVersionCmd(),
		newSchemaCmd(),
	)
	return root
}

// loadSpec loads --spec, or the embedded default example when it is empty.
func loadSpec(specPath string) (*spec.Loaded, error) {
	if specPath == "" {
		return spec.Load(examples.FS, path.Join(examples.Default, "fleet.yaml"))
	}
	return spec.LoadFile(specPath)
}

// loadRepoSpec loads DIR/fleet.yaml of a generated repository.
func loadRepoSpec(dir string) (*spec.Loaded, error) {
	p := filepath.Join(dir, "fleet.yaml")
	if _, err := os.Stat(p); err != nil {
		return nil, &notFleetRepoError{dir: dir}
	}
	return spec.LoadFile(p)
}

// specInputs are the files a repository's spec was loaded from, as read
// (see generator.ApplyOptions.Inputs).
func specInputs(l *spec.Loaded) map[string][]byte {
	in := map[string][]byte{"fleet.yaml": l.Source}
	if l.Spec.Inventory != "" {
		in[path.Clean(l.Spec.Inventory)] = l.InventorySource
	}
	return in
}

type notFleetRepoError struct{ dir string }

func (e *notFleetRepoError) Error() string {
	return e.dir + " is not a fleetgen repository (no fleet.yaml); create one with `fleetgen generate --out " + e.dir + "`"
}

// smallRunClusters is the number of clusters in scope up to which a run
// leaves garbage uncollected (see collectLessIfSmall).
const smallRunClusters = 1000

// smallRunMemory is the memory at which a small run collects after all.
const smallRunMemory = 128 << 20

// collectLessIfSmall turns Go's collector off, with a 128 MiB memory limit
// instead, while a command that plans at most smallRunClusters clusters
// runs (the returned func restores both): the collector then runs only if
// the process nears 128 MiB. A one-region regeneration of a 5,000-cluster
// fleet allocates ~40 MB in all, and collecting it cost a tenth of its
// 0.1 s; a 1,000-cluster generate collects a few times and stays near the
// limit instead of the 150 MB it reaches with no limit.
// Larger runs keep the default: their peak memory is what bounds generate
// on a small machine. GOGC or GOMEMLIMIT set in the environment wins.
func collectLessIfSmall(clusters int) (restore func()) {
	if clusters > smallRunClusters || os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	oldLimit := debug.SetMemoryLimit(smallRunMemory)
	oldPercent := debug.SetGCPercent(-1)
	return func() {
		debug.SetGCPercent(oldPercent)
		debug.SetMemoryLimit(oldLimit)
	}
}

// clustersIn counts the clusters of the named regions (all when none).
func clustersIn(l *spec.Loaded, regions []string) int {
	if len(regions) == 0 {
		return len(l.Clusters)
	}
	n := 0
	for _, r := range regions {
		n += len(l.RegionClusters(r))
	}
	return n
}
