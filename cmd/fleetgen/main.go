// Command fleetgen turns one fleet.yaml into the "Kubernetes Edge Architect"
// prompt and a K3s/Flux fleet repository committed with go-git, and keeps
// that repository alive.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
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
