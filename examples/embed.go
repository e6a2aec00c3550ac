// Package examples holds realistic fleet.yaml files, embedded so that
// `fleetgen generate` with no --spec and `fleetgen init --example` work from
// the binary alone. Each is exercised by the tests.
package examples

import (
	"embed"
	"io/fs"
	"sort"
)

//go:embed */fleet.yaml */*.csv
var FS embed.FS

// Default is the example used when no --spec is given: the seed's
// offshore-platform fleet.
const Default = "offshore-platforms"

// Names lists the examples, sorted.
func Names() []string {
	entries, _ := fs.ReadDir(FS, ".")
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}
