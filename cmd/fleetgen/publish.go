package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/fleetgen/fleetgen/generator/oci"
	"github.com/fleetgen/fleetgen/generator/sign"
	"github.com/fleetgen/fleetgen/generator/spec"
)

type publishOptions struct {
	dir      string
	registry string
	dryRun   bool
	timeout  time.Duration
	jobs     int
	// cosignKey is a cosign private key file; its password comes from
	// COSIGN_PASSWORD, as cosign reads it.
	cosignKey string
	// unsignedRefs is a file publish writes the repo@digest of every
	// artifact without a signature tag into (keyless signing in CI).
	unsignedRefs string
	// verify checks every tag against the registry, ignoring the record.
	verify bool
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
	cmd.Flags().StringVar(&o.unsignedRefs, "unsigned-refs", "", "write to this file REPOSITORY@DIGEST of every artifact that has no cosign signature yet, one a line (for keyless `cosign sign` in CI; a rerun lists what is still unsigned)")
	cmd.Flags().StringVar(&o.cosignKey, "cosign-key", "", "sign every artifact with this cosign private key (cosign generate-key-pair; password from "+sign.PasswordEnv+"); artifacts already signed by it are not signed again")
	return cmd
}

func runPublish(ctx context.Context, w io.Writer, o *publishOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.timeout <= 0 || o.jobs <= 0 {
		return fmt.Errorf("--timeout and --jobs must be positive")
	}
	if o.unsignedRefs != "" && o.cosignKey != "" {
		return fmt.Errorf("--unsigned-refs lists what is left for another signer; with --cosign-key publish signs everything itself")
	}
	// The key first: a missing file or a wrong password must stop the
	// run before anything is pushed.
	var signer *sign.Signer
	if o.cosignKey != "" {
		b, err := os.ReadFile(o.cosignKey)
		if err != nil {
			return fmt.Errorf("--cosign-key: %w", err)
		}
		if signer, err = sign.LoadKey(b, []byte(os.Getenv(sign.PasswordEnv))); err != nil {
			return fmt.Errorf("--cosign-key %s: %w; nothing pushed", o.cosignKey, err)
		}
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
		conn    *oci.Conn
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
		// The handshake and the tag list go on while git is read.
		conn = oci.Connect(ctx, oci.PublishOptions{Repository: repo, Keychain: authn.DefaultKeychain, Timeout: o.timeout, Jobs: o.jobs, DryRun: o.dryRun})
		// Read once: the listing (unless --verify) and the publish to
		// the fleet's repository both use it.
		rec = oci.LoadRecord(oci.RecordPath(o.dir, repo), repo)
		if o.verify {
			return nil
		}
		return rec
	})
	if err != nil {
		return err
	}
	if repoErr != nil {
		return repoErr
	}
	if signer != nil {
		if err := checkSignerTrusted(&src.Spec.Spec, signer); err != nil {
			return fmt.Errorf("--cosign-key %s: %w; nothing pushed", o.cosignKey, err)
		}
	}
	s := &src.Spec.Spec
	branch := src.Branch
	if branch == "" {
		branch = "detached HEAD"
	}
	fmt.Fprintf(w, "%s at %s (%s): %d artifacts, one per %s, to %s\n", o.dir, src.Commit[:12], branch, len(src.Units), s.Delivery.Unit, repo)
	for _, ring := range s.RingNames() {
		fmt.Fprintf(w, "  ring %s: its clusters' artifacts from %s at %s\n", ring, spec.RingBranch(ring), src.RingCommits[ring][:12])
	}
	if n := len(src.NotInRing); n > 0 {
		fmt.Fprintf(w, "  %d cluster(s) left out: their ring's revision has no folder for them yet (promote their ring): %s\n", n, strings.Join(src.NotInRing, ", "))
	}
	if src.Skipped > 0 {
		fmt.Fprintf(w, "%d of %d regions unchanged since the last publish to %s (not read; --verify reads all)\n", src.Skipped, len(s.Regions), repo)
	}
	if repo.String() != s.Delivery.Repository {
		fmt.Fprintf(w, "note: the clusters pull from oci://%s, not from %s\n", s.Delivery.Repository, repo)
	}
	targets := []publishTarget{{repo: repo, units: src.Units, settle: true, rec: rec, recLoaded: true, conn: conn}}
	for i := range s.Regions {
		r := &s.Regions[i]
		if r.Delivery == nil || r.Delivery.Repository == "" {
			continue
		}
		mr, err := name.NewRepository(r.Delivery.Repository, name.StrictValidation)
		if err != nil {
			return fmt.Errorf("spec.regions[%d].delivery.repository: %w", i, err)
		}
		var us []oci.Unit
		for _, u := range src.Units {
			if u.Region == r.Name {
				us = append(us, u)
			}
		}
		targets = append(targets, publishTarget{repo: mr, units: us, region: r.Name})
	}
	var unsigned strings.Builder
	for _, t := range targets {
		if t.region != "" {
			fmt.Fprintf(w, "region %s pulls from its mirror %s: %d artifacts\n", t.region, t.repo, len(t.units))
		}
		if err := publishTo(ctx, w, o, src, signer, t, &unsigned); err != nil {
			return err
		}
	}
	if o.unsignedRefs != "" {
		if err := os.WriteFile(o.unsignedRefs, []byte(unsigned.String()), 0o644); err != nil {
			return fmt.Errorf("--unsigned-refs: %w", err)
		}
	}
	return nil
}

// publishTarget is one repository publish pushes to: the fleet's (every
// artifact) or a region's mirror (that region's artifacts).
type publishTarget struct {
	repo   name.Repository
	units  []oci.Unit
	region string
	// settle: the record of this repository decides which regions the
	// next run skips (the fleet's repository only).
	settle bool
	// rec is the repository's publish record when recLoaded (the
	// fleet's, read before listing the regions); else publishTo reads it.
	rec       *oci.Record
	recLoaded bool
	// conn is the registry connection started early (oci.Connect), or nil.
	conn *oci.Conn
}

// publishTo publishes t's units to t.repo and prints what it did; the
// refs of unsigned artifacts are added to unsigned. The publish record of
// t.repo is read (unless --verify) and written back, even after a
// failure: what was pushed is known.
func publishTo(ctx context.Context, w io.Writer, o *publishOptions, src *oci.Source, signer *sign.Signer, t publishTarget, unsigned *strings.Builder) error {
	repo, units := t.repo, t.units
	recPath := oci.RecordPath(o.dir, repo)
	rec := t.rec
	if !t.recLoaded {
		rec = oci.LoadRecord(recPath, repo)
	}
	rep, pubErr := oci.Publish(ctx, units, src.BuildUnchecked, oci.PublishOptions{
		Check:      src.Check,
		Conn:       t.conn,
		Repository: repo, Fleet: src.Spec.Metadata.Name, Keychain: authn.DefaultKeychain,
		Timeout: o.timeout, Jobs: o.jobs, DryRun: o.dryRun, Signer: signer,
		FindUnsigned: o.unsignedRefs != "",
		Record:       rec, Verify: o.verify,
	})
	if !o.dryRun && rep != nil && rep.Record != nil {
		if t.settle {
			src.Settle(rep)
		}
		if err := rep.Record.Save(recPath); err != nil && pubErr == nil {
			pubErr = err
		}
	}
	if rep == nil {
		return pubErr
	}
	for _, out := range rep.Outcomes {
		if out.Signature == oci.Unsigned {
			fmt.Fprintf(unsigned, "%s@%s\n", repo, out.Digest)
		}
	}
	// One line per artifact (5,000 for a large fleet): written in blocks,
	// not one write each.
	bw := bufio.NewWriterSize(w, 64<<10)
	for _, out := range rep.Outcomes {
		was := ""
		if out.Action != oci.Unchanged && out.Previous.Hex != "" {
			was = " (was " + shortDigest(out.Previous.String()) + ")"
		}
		sig := ""
		if out.Signature != "" {
			sig = ", " + string(out.Signature)
		}
		fmt.Fprintf(bw, "%-10s  %s:%s  %s  %s%s%s\n", out.Action, repo, out.Tag, shortDigest(out.Digest.String()), humanBytes(out.Size), was, sig)
	}
	if err := bw.Flush(); err != nil && pubErr == nil {
		return err
	}
	pushed, pushedBytes := rep.Count(oci.Pushed)
	would, wouldBytes := rep.Count(oci.WouldPush)
	same, _ := rep.Count(oci.Unchanged)
	if pubErr != nil {
		return fmt.Errorf("publish stopped: %w\n%d artifacts pushed before the failure (listed above), %d unchanged, %d not handled; rerun fleetgen publish to finish: it pushes only what is still missing",
			pubErr, pushed, same, len(units)-len(rep.Outcomes))
	}
	if o.dryRun {
		fmt.Fprintf(w, "dry run: %d would be pushed (%s), %d unchanged; nothing pushed; %d registry requests\n", would, humanBytes(wouldBytes), same, rep.Requests)
		return nil
	}
	fmt.Fprintf(w, "%d pushed (%s), %d unchanged; %d registry requests\n", pushed, humanBytes(pushedBytes), same, rep.Requests)
	if signer != nil {
		n := 0
		for _, out := range rep.Outcomes {
			if out.Signature == oci.Signed {
				n++
			}
		}
		fmt.Fprintf(w, "%d signed, %d already signed by this key (cosign, %s)\n", n, len(rep.Outcomes)-n, repo)
	}
	return nil
}

// checkSignerTrusted refuses a key the clusters would not trust: when the
// spec lists public keys, the signing key must be one of them.
func checkSignerTrusted(s *spec.FleetSpec, signer *sign.Signer) error {
	v := s.Delivery.Verify
	if v == nil || len(v.PublicKeys) == 0 {
		return nil
	}
	for _, k := range v.PublicKeys {
		if strings.TrimSpace(k) == strings.TrimSpace(string(signer.PublicPEM)) {
			return nil
		}
	}
	return fmt.Errorf("its public key is not in spec.delivery.verify.publicKeys, so the clusters would reject what it signs (add it there first, regenerate, publish with the old key, then switch)")
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
