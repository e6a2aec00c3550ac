// Command fleetgen turns one fleet.yaml into the "Kubernetes Edge Architect"
// prompt and a K3s/Flux fleet repository committed with go-git, and keeps
// that repository alive.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

func main() {
	// FLEETGEN_CPUPROFILE=FILE writes a Go CPU profile of the whole run
	// (for `go tool pprof`): the benchmarks in bench/ time the binary, and
	// this shows where that time goes.
	if path := os.Getenv("FLEETGEN_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				code := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
				pprof.StopCPUProfile()
				f.Close()
				os.Exit(code)
			}
			f.Close()
		}
		fmt.Fprintln(os.Stderr, "fleetgen: FLEETGEN_CPUPROFILE: cannot write", path)
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one command line; tests call it directly.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(stdin, stdout, stderr)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(stderr, "fleetgen: "+err.Error())
		return 1
	}
	return 0
}
