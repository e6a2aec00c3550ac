package generator

import (
	"regexp"
	"runtime/debug"
)

// ModulePath is fleetgen's Go module: `go install ModulePath/cmd/fleetgen@VERSION`.
const ModulePath = "github.com/fleetgen/fleetgen"

// version is set at link time:
//
//	go build -ldflags "-X github.com/fleetgen/fleetgen/generator.version=v1.2.3" ./cmd/fleetgen
var version = ""

// Version is fleetgen's own version: the link-time value, else the
// module's version from the build info (a `go install ...@v1.2.3` build,
// or the VCS pseudo-version of a build in a clone), else "dev".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		if bi.Main.Path != ModulePath {
			v = ""
			for _, d := range bi.Deps {
				if d.Path == ModulePath {
					v = d.Version
				}
			}
		}
		if v != "" && v != "(devel)" {
			return v
		}
	}
	return "dev"
}

// installable matches a module version that `go install` can fetch: a
// release or pre-release (pseudo-versions included), without build
// metadata such as the +dirty of a build from an edited clone.
var installable = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)

// InstallableVersion reports whether v can be pinned in
// `go install ModulePath/cmd/fleetgen@v`.
func InstallableVersion(v string) bool { return installable.MatchString(v) }
