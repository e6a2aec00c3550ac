package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/fleetgen/fleetgen/generator/oci"
	"github.com/fleetgen/fleetgen/generator/spec"
)

type publishOptions struct {
	dir      string
	registry string
	dryRun   bool
	timeout  time.Duration
	jobs     int
	verify   bool
}

func newPublishCmd() *cobra.Command {
	o := &publishOptions{dir: ".", timeout: oci.DefaultTimeout, jobs: 8}
	cmd := &cobra.Command{
		Use:   "publish",
		Short: "Push the OCI artifacts of a fleet in OCI delivery mode (only those whose content changed)",
		Long: `For a fleet with spec.delivery.mode: oci, build from the committed tree (HEAD, never the
worktree) one artifact per cluster (or per region) holding only what that cluster applies,
in Flux's artifact format, and push those whose digest differs from what the tag points at.
Artifacts are reproducible: a commit that does not touch a cluster leaves its digest, so
nothing is pushed for it and its site downloads nothing.

Credentials come from the docker config and its credential helpers (docker login); they are
never written anywhere. A tag that exists and was not made by fleetgen for this fleet is never
overwritten. On a failure publish says what it pushed before it; a rerun finishes the work.`,
		Example: `  fleetgen publish --dir ./cargo-fleet
  fleetgen publish --dir ./cargo-fleet --dry-run
  fleetgen publish --dir ./cargo-fleet --registry 127.0.0.1:5000/cargo-fleet   # another push endpoint`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPublish(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	cmd.Flags().StringVar(&o.dir, "dir", o.dir, "the fleet repository (its HEAD commit is published)")
	cmd.Flags().StringVar(&o.registry, "registry", "", "OCI repository to push to (default: spec.delivery.repository, where the clusters pull from)")
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "check the registry and say what would be pushed, push nothing")
	cmd.Flags().DurationVar(&o.timeout, "timeout", o.timeout, "limit for the registry's answers about one artifact")
	cmd.Flags().IntVar(&o.jobs, "jobs", o.jobs, "artifacts handled at once (requests in flight to the registry)")
	cmd.Flags().BoolVar(&o.verify, "verify", false, "check every existing tag against the registry, not trusting the publish record in .git/fleetgen/publish")
	return cmd
}

func runPublish(ctx context.Context, w io.Writer, o *publishOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.timeout <= 0 || o.jobs <= 0 {
		return fmt.Errorf("--timeout and --jobs must be positive")
	}
	if o.registry != "" {
		if err := spec.CheckOCIRepository(o.registry); err != nil {
			return fmt.Errorf("--registry: %w", err)
		}
	}
	var (
		repo    name.Repository
		repoErr error
		rec     *oci.Record
		recPath string
	)
	// The record of the last publish to the same repository, read as soon
	// as the committed spec says where that is: it spares listing the
	// regions that did not change.
	src, err := oci.FromCommitKnown(o.dir, func(l *spec.Loaded) *oci.Record {
		target := l.Spec.Delivery.Repository
		if o.registry != "" {
			target = o.registry
		}
		if repo, repoErr = name.NewRepository(target, name.StrictValidation); repoErr != nil {
			repoErr = fmt.Errorf("--registry %q: %w", target, repoErr)
			return nil
		}
		recPath = oci.RecordPath(o.dir, repo)
		if !o.verify {
			rec = oci.LoadRecord(recPath, repo)
		}
		return rec
	})
	if err != nil {
		return err
	}
	if repoErr != nil {
		return repoErr
	}
	s := &src.Spec.Spec
	target := s.Delivery.Repository
	if o.registry != "" {
		target = o.registry
	}
	branch := src.Branch
	if branch == "" {
		branch = "detached HEAD"
	}
	fmt.Fprintf(w, "%s at %s (%s): %d artifacts, one per %s, to %s\n", o.dir, src.Commit[:12], branch, len(src.Units), s.Delivery.Unit, repo)
	if src.Skipped > 0 {
		fmt.Fprintf(w, "%d of %d regions unchanged since the last publish to %s (not read; --verify reads all)\n", src.Skipped, len(s.Regions), repo)
	}
	if target != s.Delivery.Repository {
		fmt.Fprintf(w, "note: the clusters pull from oci://%s, not from %s\n", s.Delivery.Repository, target)
	}
	if o.verify {
		rec = oci.LoadRecord(recPath, repo)
	}
	rep, pubErr := oci.Publish(ctx, src.Units, src.Build, oci.PublishOptions{
		Repository: repo, Fleet: src.Spec.Metadata.Name, Keychain: authn.DefaultKeychain,
		Timeout: o.timeout, Jobs: o.jobs, DryRun: o.dryRun,
		Record: rec, Verify: o.verify,
	})
	if !o.dryRun && rep.Record != nil {
		src.Settle(rep)
		// Kept even after a failure: what was pushed is known.
		if err := rep.Record.Save(recPath); err != nil && pubErr == nil {
			pubErr = err
		}
	}
	for _, out := range rep.Outcomes {
		was := ""
		if out.Action != oci.Unchanged && out.Previous.Hex != "" {
			was = " (was " + shortDigest(out.Previous.String()) + ")"
		}
		fmt.Fprintf(w, "%-10s  %s:%s  %s  %s%s\n", out.Action, repo, out.Tag, shortDigest(out.Digest.String()), humanBytes(out.Size), was)
	}
	pushed, pushedBytes := rep.Count(oci.Pushed)
	would, wouldBytes := rep.Count(oci.WouldPush)
	same, _ := rep.Count(oci.Unchanged)
	if pubErr != nil {
		return fmt.Errorf("publish stopped: %w\n%d artifacts pushed before the failure (listed above), %d unchanged, %d not handled; rerun fleetgen publish to finish: it pushes only what is still missing",
			pubErr, pushed, same, len(src.Units)-len(rep.Outcomes))
	}
	if o.dryRun {
		fmt.Fprintf(w, "dry run: %d would be pushed (%s), %d unchanged; nothing pushed; %d registry requests\n", would, humanBytes(wouldBytes), same, rep.Requests)
		return nil
	}
	fmt.Fprintf(w, "%d pushed (%s), %d unchanged; %d registry requests\n", pushed, humanBytes(pushedBytes), same, rep.Requests)
	return nil
}

func shortDigest(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return d
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
