package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fleetgen/fleetgen/generator"
	"github.com/fleetgen/fleetgen/generator/prompt"
	"github.com/fleetgen/fleetgen/generator/spec"
)

type promptOptions struct {
	specPath     string
	dir          string
	tier         string
	lang         string
	withScaffold bool
}

func newPromptCmd() *cobra.Command {
	o := &promptOptions{}
	cmd := &cobra.Command{
		Use:   "prompt",
		Short: "Print the filled Kubernetes Edge Architect prompt",
		Long: `Print the "Kubernetes Edge Architect" prompt with its placeholders (environment,
hardware, main challenge, scale) filled from fleet.yaml. Paste it into an AI assistant
to get a design document; --with-scaffold adds what the generated repository already
contains, so the assistant reviews that design instead of starting from nothing.`,
		Example: `  fleetgen prompt                                  # Pro, Spanish, built-in example
  fleetgen prompt --spec fleet.yaml --tier basic --lang en
  fleetgen prompt --dir ./edge-fleet --with-scaffold`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.specPath, "spec", "", "fleet.yaml to read (default: the built-in offshore example)")
	f.StringVar(&o.dir, "dir", "", "read fleet.yaml from this generated repository instead of --spec")
	f.StringVar(&o.tier, "tier", "pro", "prompt tier: pro or basic")
	f.StringVar(&o.lang, "lang", "", "language: es or en (default: spec.language)")
	f.BoolVar(&o.withScaffold, "with-scaffold", false, "append a summary of what the repository contains (pro only)")
	cmd.MarkFlagsMutuallyExclusive("spec", "dir")
	_ = cmd.RegisterFlagCompletionFunc("tier", fixedCompletion("pro", "basic"))
	_ = cmd.RegisterFlagCompletionFunc("lang", fixedCompletion(spec.Languages...))
	return cmd
}

func (o *promptOptions) run(cmd *cobra.Command) error {
	tier := prompt.Tier(strings.ToLower(o.tier))
	if tier != prompt.Pro && tier != prompt.Basic {
		return fmt.Errorf("--tier %q: use pro or basic", o.tier)
	}
	if o.lang != "" && o.lang != "es" && o.lang != "en" {
		return fmt.Errorf("--lang %q: use es or en", o.lang)
	}
	if o.withScaffold && tier != prompt.Pro {
		return fmt.Errorf("--with-scaffold goes with --tier pro: the Basic prompt has no room for the repository summary")
	}
	var l *spec.Loaded
	var err error
	if o.dir != "" {
		l, err = loadRepoSpec(o.dir)
	} else {
		l, err = loadSpec(o.specPath)
	}
	if err != nil {
		return err
	}
	lang := prompt.Lang(o.lang)
	if lang == "" {
		lang = prompt.Lang(l.Spec.Language)
	}
	res, err := generator.Plan(l)
	if err != nil {
		return err
	}
	text, err := generator.RenderPrompt(res, tier, lang, o.withScaffold)
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(cmd.OutOrStdout(), text)
	return err
}

func fixedCompletion(values ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}
