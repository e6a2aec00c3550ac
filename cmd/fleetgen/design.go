package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/fleetgen/fleetgen/generator"
	"github.com/fleetgen/fleetgen/generator/design"
	"github.com/fleetgen/fleetgen/generator/prompt"
	"github.com/fleetgen/fleetgen/generator/tree"
)

// DesignDocPath is where the attached AI design document lives.
const DesignDocPath = "docs/design/architecture.md"

func newDesignCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "design",
		Short: "Keep the AI-written design document next to the repository, and check it against it",
		Long: `The workflow: fleetgen prompt --with-scaffold, paste it into an AI assistant, save its
answer, then "design attach" stores it as docs/design/architecture.md (with the hashes of the
spec and prompt it answers) and commits it; "design check" reports, with line numbers, where
the document contradicts the spec, the generated repository or the prompt's constraints.
The check is a heuristic reading of prose, not a proof.`,
	}
	cmd.AddCommand(newDesignAttachCmd(), newDesignCheckCmd())
	return cmd
}

type designAttachOptions struct {
	writeOptions
	dir string
}

func newDesignAttachCmd() *cobra.Command {
	o := &designAttachOptions{}
	cmd := &cobra.Command{
		Use:     "attach FILE",
		Short:   "Store the AI's answer as docs/design/architecture.md and commit it",
		Example: `  fleetgen design attach ~/Downloads/answer.md --dir ./edge-fleet`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, args[0])
		},
	}
	cmd.Flags().StringVar(&o.dir, "dir", ".", "the fleet repository")
	o.register(cmd)
	return cmd
}

func (o *designAttachOptions) run(cmd *cobra.Command, file string) error {
	doc, err := readDesignFile(file)
	if err != nil {
		return err
	}
	l, err := loadRepoSpec(o.dir)
	if err != nil {
		return err
	}
	res, err := generator.Plan(l)
	if err != nil {
		return err
	}
	// Reject what is not a design document before writing anything.
	rep, err := design.Check(doc, generator.DesignFacts(res))
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	promptText, err := generator.RenderPrompt(res, prompt.Pro, prompt.Lang(l.Spec.Language), true)
	if err != nil {
		return err
	}
	out := design.WithFrontMatter(doc, design.Meta{
		SpecSHA256:       sha256Hex(l.Source),
		PromptSHA256:     sha256Hex([]byte(promptText)),
		GeneratorVersion: fleetgenVersion(),
		AttachedFrom:     filepath.Base(file),
	})
	w := cmd.OutOrStdout()
	if o.dryRun {
		fmt.Fprintf(w, "dry run: would write %s (%d bytes) and commit it\n", DesignDocPath, len(out))
		return nil
	}
	ao, err := o.applyOptions(o.dir, "fleetgen: attach design document ("+filepath.Base(file)+")", l.Spec.Git.Branch)
	if err != nil {
		return err
	}
	// The same write path as every command: lock, journal, commit.
	ao.DirFlag = "--dir"
	ao.UserFiles = []tree.File{{Path: DesignDocPath, Content: out, Mode: tree.ModeFile}}
	arep, err := generator.ApplyPlanned(ao, func() (*generator.Result, error) { return res, nil })
	if err != nil {
		return err
	}
	committed, h := arep.Committed, arep.Commit
	if !committed {
		fmt.Fprintf(w, "%s already holds this document: nothing to commit\n", DesignDocPath)
	} else {
		fmt.Fprintf(w, "attached %s as %s; committed %s\n", file, DesignDocPath, shortHash(h))
	}
	if !rep.OK() {
		fmt.Fprintf(w, "note: design check finds %d error(s) and %d warning(s); run: fleetgen design check --dir %s\n", len(rep.Errors), len(rep.Warnings), o.dir)
	}
	return nil
}

type designCheckOptions struct {
	dir    string
	output string
	strict bool
}

func newDesignCheckCmd() *cobra.Command {
	o := &designCheckOptions{output: "text"}
	cmd := &cobra.Command{
		Use:   "check [FILE]",
		Short: "Report where the design document contradicts the spec, the repository or the prompt",
		Long: `Read the design document (default: DIR/docs/design/architecture.md) and report, with
line numbers:

Errors (exact): the decisions block the Pro prompt asks for at the end of the answer
(` + "```yaml fleetgen-decisions: ...```" + `) compared with the plan: distribution, GitOps engine,
and each region's datastore and delivery; a malformed block.

Warnings (heuristics over the prose, not proof): components the hardware rules out (embedded
etcd on a single or 2 GB node), service meshes, kubeadm-style full Kubernetes, a distribution or
GitOps engine other than the fleet's, push-based deployment or inbound ports to edge clusters,
any of the prompt's four tasks without a section, and an absent decisions block.

Exits 1 on an error, or on a warning with --strict.`,
		Example: `  fleetgen design check --dir ./edge-fleet
  fleetgen design check answer.md --dir ./edge-fleet --strict
  fleetgen design check answer.md --dir ./edge-fleet --output json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.output != "text" && o.output != "json" {
				return fmt.Errorf("--output %q: use text or json", o.output)
			}
			file := filepath.Join(o.dir, filepath.FromSlash(DesignDocPath))
			if len(args) == 1 {
				file = args[0]
			}
			l, err := loadRepoSpec(o.dir)
			if err != nil {
				return err
			}
			res, err := generator.Plan(l)
			if err != nil {
				return err
			}
			doc, err := readDesignFile(file)
			if err != nil {
				return err
			}
			rep, err := design.Check(doc, generator.DesignFacts(res))
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			w := cmd.OutOrStdout()
			if o.output == "json" {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else if err := rep.WriteText(w, file); err != nil {
				return err
			}
			switch {
			case len(rep.Errors) > 0:
				return fmt.Errorf("%s: %d error(s) against the plan, %d warning(s)", file, len(rep.Errors), len(rep.Warnings))
			case o.strict && len(rep.Warnings) > 0:
				return fmt.Errorf("%s: %d warning(s), and --strict fails on warnings", file, len(rep.Warnings))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.dir, "dir", ".", "the fleet repository")
	cmd.Flags().StringVarP(&o.output, "output", "o", o.output, "output format: text or json")
	cmd.Flags().BoolVar(&o.strict, "strict", false, "exit 1 on warnings too (the heuristics, missing sections, no decisions block)")
	return cmd
}

func readDesignFile(file string) ([]byte, error) {
	st, err := os.Stat(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: no such file (attach one with `fleetgen design attach FILE`)", file)
	}
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s is a folder, not a design document", file)
	}
	if st.Size() > design.MaxSize {
		return nil, fmt.Errorf("%s: %d bytes is larger than the %d-byte limit for a design document", file, st.Size(), design.MaxSize)
	}
	return os.ReadFile(file)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
