// Package check validates a fleet repository, on disk or planned in memory:
//
//  1. every directory with a kustomization file builds (kustomize, in
//     process, over an in-memory file system);
//  2. the Flux objects of every cluster resolve: Kustomization paths exist
//     and build, dependsOn names exist and have no cycle, sourceRefs and
//     postBuild.substituteFrom objects exist, and every ${VAR} the rendered
//     path uses is provided;
//  3. no Secret is committed in plaintext (SOPS-encrypted ones pass);
//  4. every YAML file parses.
//
// Each kustomization directory is built once, in parallel, and its result is
// shared by every cluster that syncs it.
package check

import (
	"fmt"
	"runtime"
	"sort"
	"strings"

	"github.com/fleetgen/fleetgen/generator/tree"
)

// Finding is one problem found in the repository. File is slash-separated
// and relative to the repository root; Line is 1-based, 0 when unknown.
type Finding struct {
	File    string
	Line    int
	Message string
}

func (f Finding) String() string {
	if f.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", f.File, f.Line, f.Message)
	}
	return fmt.Sprintf("%s: %s", f.File, f.Message)
}

// Report is the result of a validation.
type Report struct {
	// Kustomizations is the number of kustomization directories built.
	Kustomizations int
	// Clusters is the number of cluster roots whose Flux objects were checked.
	Clusters int
	// Errors and Warnings are sorted by file, line and message.
	Errors   []Finding
	Warnings []Finding
	// Unrendered are the objects whose pods a controller on the cluster
	// renders — Helm charts (HelmRelease, K3s HelmChart) and remote
	// Kustomize bases — so that no check here sees those pods: fleetgen
	// has no Helm SDK and does not fetch remote bases. Their namespaces
	// still enforce Pod Security restricted when the cluster admits them.
	Unrendered []Finding
	// Rendered maps a kustomization directory (slash-separated, relative to
	// the root, "." for the root) to its rendered multi-document YAML. Only
	// filled when Options.KeepRendered is set, and only for directories that
	// built.
	Rendered map[string][]byte
}

// OK reports whether the repository has no errors (warnings are allowed).
func (r *Report) OK() bool { return len(r.Errors) == 0 }

// Options tune a validation.
//
// It leaves the garbage collector alone: raising GOGC made a 5,000-cluster
// validation ~35% faster but more than doubled its peak memory, and
// generate must stay small on small machines. A repository with a kustomization that sets `openapi:` is built one
// directory at a time, because kustomize keeps that schema in process-global
// state; such validations must not run concurrently in one process.
type Options struct {
	// KeepRendered fills Report.Rendered (for kubeconform and the like).
	KeepRendered bool
	// Workers is the number of kustomize builds (and file reads and
	// parses) run at once; 0 means runtime.GOMAXPROCS(0).
	Workers int
	// Only, when set, limits the kustomizations built on their own to those
	// in these folders (clean, relative); the others are still read, built
	// as part of what includes them, and built on their own when a Flux
	// Kustomization's path points at them. A regeneration of one region
	// checks that region's overlays and clusters: their builds include the
	// shared bases, so building the bases again alone would only repeat it.
	Only []string
}

func (o Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// Dir validates the repository rooted at root on disk. The .git directory is
// skipped. An error is returned only when the repository cannot be read;
// problems in it are in the Report.
func Dir(root string, opts Options) (*Report, error) {
	r, err := loadDir(root, opts.workers())
	if err != nil {
		return nil, err
	}
	return run(r, opts), nil
}

// Tree validates a planned repository before anything is written.
func Tree(t *tree.Tree, opts Options) (*Report, error) {
	r, err := loadTree(t)
	if err != nil {
		return nil, err
	}
	return run(r, opts), nil
}

// findings collects findings and sorts them once at the end.
type findings struct {
	errs, warns []Finding
}

func (f *findings) errorf(file string, line int, format string, args ...any) {
	f.errs = append(f.errs, Finding{File: file, Line: line, Message: fmt.Sprintf(format, args...)})
}

func (f *findings) warnf(file string, line int, format string, args ...any) {
	f.warns = append(f.warns, Finding{File: file, Line: line, Message: fmt.Sprintf(format, args...)})
}

// sortFindings sorts by file, line, message and drops exact duplicates (a
// base shared by many clusters is reported once).
func sortFindings(fs []Finding) []Finding {
	sort.Slice(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Message < b.Message
	})
	out := fs[:0]
	for i, f := range fs {
		if i > 0 && f == fs[i-1] {
			continue
		}
		out = append(out, f)
	}
	return out
}

func run(r *repo, opts Options) *Report {
	var f findings
	docs, unrendered := parseYAMLUnrendered(r, opts.workers(), &f) // checks 3 and 4
	r.patchMissingGotkComponents(&f)
	units := buildAll(r, opts, &f)            // check 1
	clusters := checkFlux(r, docs, units, &f) // check 2
	rep := &Report{
		Kustomizations: len(units.built),
		Clusters:       clusters,
		Errors:         sortFindings(f.errs),
		Warnings:       sortFindings(f.warns),
		Unrendered:     sortFindings(unrendered),
	}
	if opts.KeepRendered {
		rep.Rendered = make(map[string][]byte, len(units.built))
		for dir, u := range units.built {
			if u.err == nil {
				rep.Rendered[dir] = u.rendered
			}
		}
	}
	return rep
}

// relMsg strips the in-memory file system's leading "/" from the paths in a
// kustomize error message so that they read relative to the repository.
func relMsg(msg string) string {
	for _, q := range []string{"'/", "\"/", " /"} {
		msg = strings.ReplaceAll(msg, q, q[:len(q)-1])
	}
	return msg
}
