package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/fleetgen/fleetgen/generator"
	"github.com/fleetgen/fleetgen/generator/check"
	"github.com/fleetgen/fleetgen/generator/gitrepo"
)

// writeOptions are the flags shared by the commands that write and commit.
type writeOptions struct {
	dryRun      bool
	quiet       bool
	authorName  string
	authorEmail string
	signKeyPath string
	noVerify    bool
	otherBranch bool
}

func (w *writeOptions) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVar(&w.dryRun, "dry-run", false, "show what would change; write nothing")
	f.BoolVarP(&w.quiet, "quiet", "q", false, "print only errors")
	f.StringVar(&w.authorName, "author-name", "", "commit author name (default: git config user.name, else fleetgen)")
	f.StringVar(&w.authorEmail, "author-email", "", "commit author email (default: git config user.email, else fleetgen@localhost)")
	f.StringVar(&w.signKeyPath, "sign-key", "", "armored OpenPGP private key file to sign fleetgen's commits (unencrypted key)")
	f.BoolVar(&w.noVerify, "no-verify", false, "commit although the repository has executable git hooks (fleetgen runs none of them; without this flag it refuses)")
	f.BoolVar(&w.otherBranch, "allow-other-branch", false, "commit on the checked-out branch even when it is not spec.git.branch, the branch the clusters sync")
}

// applyOptions are the options of a run in dir that commits on branch
// (spec.git.branch).
func (w *writeOptions) applyOptions(dir, message, branch string) (generator.ApplyOptions, error) {
	o := generator.ApplyOptions{
		Dir:     dir,
		DryRun:  w.dryRun,
		Message: message,
		Author:  gitrepo.ResolveAuthor(dir, gitrepo.Author{Name: w.authorName, Email: w.authorEmail}),
		When:    time.Now(),
		Compat:  gitrepo.CompatOptions{Branch: branch, AllowOtherBranch: w.otherBranch, NoVerify: w.noVerify, Signing: w.signKeyPath != ""},
	}
	if w.signKeyPath != "" {
		key, err := readSignKey(w.signKeyPath)
		if err != nil {
			return o, err
		}
		o.SignKey = key
	}
	return o, nil
}

func readSignKey(p string) (*openpgp.Entity, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("--sign-key: %w", err)
	}
	defer f.Close()
	keys, err := openpgp.ReadArmoredKeyRing(f)
	if err != nil {
		return nil, fmt.Errorf("--sign-key %s: not an armored OpenPGP key: %w", p, err)
	}
	if len(keys) == 0 || keys[0].PrivateKey == nil {
		return nil, fmt.Errorf("--sign-key %s: no private key in the file", p)
	}
	if keys[0].PrivateKey.Encrypted {
		return nil, fmt.Errorf("--sign-key %s: the private key is passphrase-protected; export an unprotected signing subkey for automation", p)
	}
	return keys[0], nil
}

// progress reports long runs on a terminal only.
func progress(w io.Writer, quiet bool) func(done, total int) {
	f, ok := w.(*os.File)
	if quiet || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return func(done, total int) {
		if total < 1000 {
			return
		}
		fmt.Fprintf(w, "\rwriting %d/%d files", done, total)
		if done == total {
			fmt.Fprintln(w)
		}
	}
}

type generateOptions struct {
	writeOptions
	specPath string
	out      string
}

func newGenerateCmd() *cobra.Command {
	o := &generateOptions{}
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Generate (or update) the fleet repository and commit it",
		Long: `Plan the whole fleet repository from fleet.yaml, check it in memory (every kustomization
built with the kustomize API, Flux paths and dependsOn resolved), write it to --out and
commit it with go-git. With no --spec it uses the built-in example (the seed's offshore
platforms). Running it again with the same spec changes nothing and makes no commit; on an
existing fleet repository, files you edited are merged three-way, and a conflict writes
nothing.`,
		Example: `  fleetgen generate --out ./edge-fleet
  fleetgen generate --spec fleet.yaml --out ./fleet-repo --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd)
		},
	}
	cmd.Flags().StringVar(&o.specPath, "spec", "", "fleet.yaml to read (default: the built-in offshore example)")
	cmd.Flags().StringVar(&o.out, "out", "", "folder of the fleet repository (created if missing)")
	_ = cmd.MarkFlagRequired("out")
	_ = cmd.MarkFlagDirname("out")
	_ = cmd.MarkFlagFilename("spec", "yaml", "yml")
	o.register(cmd)
	return cmd
}

func (o *generateOptions) run(cmd *cobra.Command) error {
	start := time.Now()
	l, err := loadSpec(o.specPath)
	if err != nil {
		return err
	}
	defer collectLessIfSmall(clustersIn(l, nil))()
	msg := fmt.Sprintf("fleetgen: generate %s (%d regions, %d clusters)", l.Metadata.Name, len(l.Spec.Regions), len(l.Clusters))
	ao, err := o.applyOptions(o.out, msg, l.Spec.Git.Branch)
	if err != nil {
		return err
	}
	ao.DirFlag = "--out"
	ao.Check = checkPlanned
	ao.Progress = progress(cmd.ErrOrStderr(), o.quiet)
	// The repository is read while the plan is made, and checked while
	// the reading finishes.
	rep, err := generator.ApplyPlanned(ao, func() (*generator.Result, error) { return generator.Plan(l) })
	if err != nil {
		return err
	}
	if !o.quiet {
		printReport(cmd.OutOrStdout(), rep, o.dryRun, o.out, time.Since(start))
	}
	return nil
}

// checkPlanned validates the planned tree before anything is written.
func checkPlanned(res *generator.Result) error {
	rep, err := res.Check()
	if err != nil {
		return err
	}
	if !rep.OK() {
		return fmt.Errorf("the planned repository does not validate (a fleetgen bug; please report it):\n%s", formatFindings(rep.Errors))
	}
	return nil
}

func formatFindings(fs []check.Finding) string {
	s := ""
	for _, f := range fs {
		s += "  " + f.String() + "\n"
	}
	return s
}

func printReport(w io.Writer, rep *generator.ApplyReport, dryRun bool, dir string, took time.Duration) {
	counts := rep.Counts()
	summary := fmt.Sprintf("%d created, %d updated, %d merged, %d deleted", counts[generator.Create], counts[generator.Update], counts[generator.Merge], counts[generator.Delete])
	for _, a := range []generator.Action{generator.KeepEdited, generator.KeepDeleted} {
		if counts[a] > 0 {
			summary += fmt.Sprintf(", %d %s", counts[a], a)
		}
	}
	switch {
	case dryRun:
		for _, c := range rep.Changes {
			fmt.Fprintf(w, "%-12s %s\n", c.Action, c.Path)
		}
		fmt.Fprintf(w, "dry run: %s; nothing written\n", summary)
	case !rep.Committed:
		fmt.Fprintf(w, "%s is up to date: nothing to commit (%s)\n", dir, took.Round(time.Millisecond))
	default:
		for _, c := range rep.Changes {
			if c.Action == generator.KeepEdited {
				fmt.Fprintf(w, "kept %s: you edited it, and its cluster or region left the spec (use --prune-edited to delete it)\n", c.Path)
			}
		}
		fmt.Fprintf(w, "%s: %s; committed %s (%s)\n", dir, summary, shortHash(rep.Commit), took.Round(time.Millisecond))
	}
	if len(rep.RingsTracked) > 0 {
		fmt.Fprintf(w, "ring branches taken from the remote, at the revisions they were promoted to: %s\n", strings.Join(rep.RingsTracked, ", "))
	}
	if len(rep.RingsCreated) > 0 {
		fmt.Fprintf(w, "ring branches created at %s: %s (move them with fleetgen promote)\n", shortHash(rep.Commit), strings.Join(rep.RingsCreated, ", "))
	}
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
