package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/fleetgen/fleetgen/generator/gitrepo"
	"github.com/fleetgen/fleetgen/generator/spec"
)

type pushOptions struct {
	dir     string
	remote  string
	timeout time.Duration
	quiet   bool
}

func newPushCmd() *cobra.Command {
	o := &pushOptions{}
	cmd := &cobra.Command{
		Use:   "push",
		Short: "Push the fleet repository's branch to its remote (go-git; never forced)",
		Long: `Push the checked-out branch of DIR the way a plain "git push" would: to the branch's
upstream if it has one (branch.<name>.remote and .merge), else to the branch of the same name on
--remote (default: branch.<name>.pushRemote, remote.pushDefault, branch.<name>.remote, origin).
The generated tree that regen merges against travels in the branch's history, so a clone of the
pushed branch regenerates without losing hand edits.

Never forced: when the remote branch has commits the local one lacks, nothing is pushed (fetch
and merge or rebase with git first). Settings fleetgen cannot follow as git would (push refspecs,
push.default=matching, several push URLs, proxies or extra headers in git's config, core.sshCommand,
...) are refused before anything is sent, naming the setting; "git push" is the way out.

Credentials come from the environment only, never stored or printed:
  https   FLEETGEN_GIT_TOKEN (password of HTTP basic auth), FLEETGEN_GIT_USERNAME (default: the
          URL's user, else x-access-token)
  ssh     FLEETGEN_SSH_KEY (+ FLEETGEN_SSH_KEY_PASSPHRASE), else the agent at SSH_AUTH_SOCK, else
          ~/.ssh/id_ed25519, id_ecdsa, id_rsa; the host key must be in known_hosts (SSH_KNOWN_HOSTS)
git's credential helpers are not run.`,
		Example: `  FLEETGEN_GIT_TOKEN=$(cat ~/.config/fleet-token) fleetgen push --dir ./edge-fleet
  fleetgen push --dir ./edge-fleet --remote git@github.com:acme-energy/offshore-fleet.git`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd)
		},
	}
	cmd.Flags().StringVar(&o.dir, "dir", ".", "the fleet repository")
	cmd.Flags().StringVar(&o.remote, "remote", "", "a configured remote's name, or a URL (default: as git push chooses)")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 2*time.Minute, "give up when the push takes longer")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "print only errors")
	return cmd
}

func (o *pushOptions) run(cmd *cobra.Command) error {
	repo, err := gitrepo.Open(o.dir)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	po := gitrepo.PushOptions{Remote: o.remote, Timeout: o.timeout}
	if l, err := loadRepoSpec(o.dir); err == nil {
		for _, ring := range l.Spec.RingNames() {
			po.Also = append(po.Also, spec.RingBranch(ring)) // the rings travel with the branch
		}
	}
	if !o.quiet {
		po.Progress = remoteMessages(cmd.ErrOrStderr())
	}
	res, err := repo.Push(ctx, po)
	if err != nil {
		return err
	}
	out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
	t := res.Target
	where := t.Display
	if t.Named {
		where = t.Remote + " (" + t.Display + ")"
	}
	dest := strings.TrimPrefix(t.Dest.String(), "refs/heads/")
	if res.LegacyRef {
		fmt.Fprintf(errw, "warning: %s does not carry fleetgen's generated tree yet (it is still only in %s, which is not pushed): "+
			"run `fleetgen regen --dir %s` (it merges it into the branch), then push again; until then a clone regenerates without a base and reports every generated file it edited as a conflict\n",
			t.Branch, gitrepo.LegacyGeneratedRef, o.dir)
	}
	if l, err := loadRepoSpec(o.dir); err == nil && l.Spec.Git.Branch != "" && l.Spec.Git.Branch != dest {
		fmt.Fprintf(errw, "note: the clusters sync branch %s (spec.git.branch); this push updates %s\n", l.Spec.Git.Branch, dest)
	}
	if o.quiet {
		return nil
	}
	switch {
	case res.UpToDate:
		fmt.Fprintf(out, "Everything up to date: %s on %s is already %s\n", dest, where, res.New.String()[:12])
	case res.Old.IsZero():
		fmt.Fprintf(out, "Pushed %s to %s: new branch %s at %s (%d objects)\n", t.Branch, where, dest, res.New.String()[:12], res.Objects)
	default:
		fmt.Fprintf(out, "Pushed %s to %s: %s %s..%s (%d objects)\n", t.Branch, where, dest, res.Old.String()[:12], res.New.String()[:12], res.Objects)
	}
	if res.TrackingUpdated {
		fmt.Fprintf(out, "%s is now %s\n", t.Tracking, res.New.String()[:12])
	}
	for _, b := range res.Also {
		switch {
		case b.UpToDate:
			fmt.Fprintf(out, "  %s: up to date at %s\n", b.Branch, b.New.String()[:12])
		case b.Old.IsZero():
			fmt.Fprintf(out, "  %s: new branch at %s\n", b.Branch, b.New.String()[:12])
		default:
			fmt.Fprintf(out, "  %s: %s..%s\n", b.Branch, b.Old.String()[:12], b.New.String()[:12])
		}
	}
	if t.Named && !t.Upstream && res.Old.IsZero() && !res.UpToDate {
		fmt.Fprintf(out, "(%s has no upstream: `git -C %s branch --set-upstream-to=%s/%s` makes a plain git push and git pull use it)\n", t.Branch, o.dir, t.Remote, dest)
	}
	return nil
}

// remoteMessages is where the server's side-band messages go: as they
// come on a terminal; elsewhere (a CI log) only whole lines, without the
// progress lines redrawn with \r, each prefixed "remote: " as git prints
// them.
func remoteMessages(w io.Writer) io.Writer {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return w
	}
	return &lineFilter{w: w}
}

type lineFilter struct {
	w       io.Writer
	line    []byte
	redrawn bool
}

func (l *lineFilter) Write(p []byte) (int, error) {
	for _, c := range p {
		switch c {
		case '\r':
			l.redrawn, l.line = true, l.line[:0]
		case '\n':
			if !l.redrawn && len(bytes.TrimSpace(l.line)) > 0 {
				fmt.Fprintf(l.w, "remote: %s\n", l.line)
			}
			l.redrawn, l.line = false, l.line[:0]
		default:
			l.line = append(l.line, c)
		}
	}
	return len(p), nil
}
