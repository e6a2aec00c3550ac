package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fleetgen/fleetgen/generator/gitrepo"
	"github.com/fleetgen/fleetgen/generator/spec"
)

type statusOptions struct {
	dir    string
	output string
}

// ringStatus is one ring's line of `fleetgen status`.
type ringStatus struct {
	Ring     string `json:"ring"`
	Share    int    `json:"share"`
	Clusters int    `json:"clusters"`
	Branch   string `json:"branch"`
	Revision string `json:"revision,omitempty"` // the fleet branch's commit the ring runs
	Subject  string `json:"subject,omitempty"`
	Behind   int    `json:"behind"` // commits of the fleet's branch it does not run yet
	Head     string `json:"head,omitempty"`
}

func newStatusCmd() *cobra.Command {
	o := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Which revision each ring (spec.rings) runs, and how many clusters it holds",
		Long: `For a fleet with spec.rings: per ring, its branch, the revision of spec.git.branch it
runs (from its last promotion), how many commits of that branch it does not run yet, and its
clusters (from fleet.yaml in DIR). Per region sizes are in fleetgen plan.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&o.dir, "dir", ".", "the fleet repository")
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", "text or json")
	return cmd
}

func (o *statusOptions) run(w io.Writer) error {
	if o.output != "text" && o.output != "json" {
		return fmt.Errorf("--output %q: text or json", o.output)
	}
	l, err := loadRepoSpec(o.dir)
	if err != nil {
		return err
	}
	repo, err := gitrepo.Open(o.dir)
	if err != nil {
		return err
	}
	rings, err := ringStatuses(l, repo)
	if err != nil {
		return err
	}
	if o.output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"branch": l.Spec.Git.Branch, "rings": rings})
	}
	if len(rings) == 0 {
		fmt.Fprintf(w, "no rings (spec.rings): every cluster syncs %s\n", l.Spec.Git.Branch)
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "RING\tSHARE\tCLUSTERS\tBRANCH\tREVISION\tBEHIND %s\tSUBJECT\n", l.Spec.Git.Branch)
	for _, r := range rings {
		rev := r.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev == "" {
			rev = "(no branch)"
		}
		fmt.Fprintf(tw, "%s\t%d%%\t%d\t%s\t%s\t%d\t%s\n", r.Ring, r.Share, r.Clusters, r.Branch, rev, r.Behind, r.Subject)
	}
	return tw.Flush()
}

func ringStatuses(l *spec.Loaded, repo *gitrepo.Repo) ([]ringStatus, error) {
	s := &l.Spec
	counts := make([]int, len(s.Rings))
	for _, r := range s.Regions {
		for i, n := range l.RingSizes(r.Name) {
			counts[i] += n
		}
	}
	mainHead, mainOK, err := repo.BranchHash(s.Git.Branch)
	if err != nil {
		return nil, err
	}
	var out []ringStatus
	for i, r := range s.Rings {
		st := ringStatus{Ring: r.Name, Share: r.Share, Clusters: counts[i], Branch: spec.RingBranch(r.Name)}
		rev, head, ok, err := repo.RingRevision(st.Branch)
		if err != nil {
			return nil, err
		}
		if !ok {
			// A clone: the ring is the remote's branch (origin/fleet/ring/<ring>).
			if _, head, ok, err = repo.RemoteTracking(st.Branch, s.Git.Branch); err != nil {
				return nil, err
			}
			if ok {
				if rev, err = repo.RevisionAt(head); err != nil {
					return nil, fmt.Errorf("read %s: %w", st.Branch, err)
				}
			}
		}
		if ok {
			st.Revision, st.Head = rev.String(), head.String()
			st.Subject, _ = repo.CommitSubject(rev)
			if mainOK {
				st.Behind, _ = repo.CountBetween(rev, mainHead)
			}
		}
		out = append(out, st)
	}
	return out, nil
}
