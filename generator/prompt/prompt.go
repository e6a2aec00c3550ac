// Package prompt renders the "Kubernetes Edge Architect" prompt (Basic or
// Pro, Spanish or English) from the Markdown templates in package prompts.
//
// User values are inserted as text: the templates are parsed once and the
// values are passed to them as data, so text/template never executes them.
// Values are only post-processed for layout (see layoutBlock/layoutInline):
// line endings are normalised, surrounding whitespace is trimmed and
// continuation lines of a multi-line value are indented so that the value
// stays inside its bullet or sentence. Values are not wrapped in backticks,
// so backticks, `{{ }}`, `$`, brackets and Markdown inside them appear
// exactly as written.
package prompt

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"text/template"

	"github.com/fleetgen/fleetgen/prompts"
)

// Tier selects the prompt version.
type Tier string

const (
	Basic Tier = "basic" // "Versión Básica": Role + Task
	Pro   Tier = "pro"   // "Versión Pro": Role, Context, Task 1–4, Constraints, Warning
)

// Lang selects the prompt language.
type Lang string

const (
	Spanish Lang = "es" // the seed's original wording
	English Lang = "en" // faithful translation, same structure
)

// Tiers returns the supported tiers in display order.
func Tiers() []Tier { return []Tier{Basic, Pro} }

// Langs returns the supported languages in display order.
func Langs() []Lang { return []Lang{Spanish, English} }

// Context holds the prompt's inputs, verbatim as the user wrote them. An
// empty (or whitespace-only) value renders the seed's bracketed example as a
// visible placeholder; the caller is expected to apply its own defaults.
type Context struct {
	// Pro prompt: the four "Contexto (Context)" bullets.
	Environment, Hardware, Challenge, Scale string
	// Basic prompt: the two inputs of the "Tarea (Task)" sentence.
	DeviceType, Problem string
	// Regions are the fleet's region names. When there are any, the Pro
	// prompt asks the assistant to end its answer with a fleetgen-decisions
	// YAML block with one line per region (see package design); without
	// them it is the seed's prompt as written.
	Regions []string
}

// Options selects what Render produces.
type Options struct {
	Tier    Tier
	Lang    Lang
	Context Context
	// Scaffold lists facts about the generated repository. When it holds at
	// least one non-blank fact and Tier is Pro, a "What the repository
	// already contains" section is appended. The Basic prompt ignores it.
	Scaffold []string
}

// templates holds every file of prompts.FS, named by file name
// ("pro.es.md", "scaffold.en.md", ...).
// templates are parsed on first use, not at start-up of every command.
var templates = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("prompts").Option("missingkey=error").ParseFS(prompts.FS, "*.md"))
})

// data is what the templates see; every string is already laid out.
type data struct {
	Environment, Hardware, Challenge, Scale string
	DeviceType, Problem                     string
	Regions                                 []string
	Facts                                   []string
}

// Indentation of continuation lines of a multi-line value.
const (
	// bulletIndent is the content column of a "- " bullet: continuation
	// lines stay inside the list item (a nested list, heading or even an
	// unclosed ``` fence is closed when the item ends at the next bullet).
	bulletIndent = "  "
	// inlineIndent keeps continuation lines of a value inside a sentence as
	// lazy paragraph continuation: with four spaces no list, heading or
	// fence can start there and interrupt the sentence.
	inlineIndent = "    "
)

// Render returns the filled prompt as Markdown text ending in one newline.
func Render(opts Options) (string, error) {
	if err := checkTier(opts.Tier); err != nil {
		return "", err
	}
	if err := checkLang(opts.Lang); err != nil {
		return "", err
	}
	c := opts.Context
	d := data{
		Environment: layoutBlock(c.Environment),
		Hardware:    layoutBlock(c.Hardware),
		Challenge:   layoutBlock(c.Challenge),
		Scale:       layoutBlock(c.Scale),
		DeviceType:  layoutInline(c.DeviceType),
		Problem:     layoutInline(c.Problem),
	}
	for _, r := range c.Regions {
		if r = strings.TrimSpace(r); r != "" {
			d.Regions = append(d.Regions, r) // DNS-1123 labels (spec validation): plain YAML keys
		}
	}
	var buf bytes.Buffer
	if err := templates().ExecuteTemplate(&buf, fmt.Sprintf("%s.%s.md", opts.Tier, opts.Lang), d); err != nil {
		return "", fmt.Errorf("prompt: render %s/%s: %w", opts.Tier, opts.Lang, err)
	}
	if opts.Tier == Pro {
		for _, f := range opts.Scaffold {
			if f = layoutBlock(f); f != "" {
				d.Facts = append(d.Facts, f)
			}
		}
		if len(d.Facts) > 0 {
			buf.WriteString("\n")
			if err := templates().ExecuteTemplate(&buf, fmt.Sprintf("scaffold.%s.md", opts.Lang), d); err != nil {
				return "", fmt.Errorf("prompt: render scaffold/%s: %w", opts.Lang, err)
			}
		}
	}
	return buf.String(), nil
}

func checkTier(t Tier) error {
	for _, ok := range Tiers() {
		if t == ok {
			return nil
		}
	}
	return fmt.Errorf("prompt: unknown tier %q (allowed: %s)", string(t), join(Tiers()))
}

func checkLang(l Lang) error {
	for _, ok := range Langs() {
		if l == ok {
			return nil
		}
	}
	return fmt.Errorf("prompt: unknown language %q (allowed: %s)", string(l), join(Langs()))
}

func join[T ~string](vs []T) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// lines normalises line endings, trims the value and each line's trailing
// whitespace, and returns its lines ("" for a blank value).
func lines(s string) []string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	ls := strings.Split(s, "\n")
	for i, l := range ls {
		ls[i] = strings.TrimRight(l, " \t")
	}
	return ls
}

// layoutBlock lays out a value that follows "- Label: " on a bullet line:
// continuation lines are indented to the bullet's content column, and runs
// of blank lines collapse to one empty line (which stays inside the item).
func layoutBlock(s string) string {
	var out []string
	for i, l := range lines(s) {
		switch {
		case i == 0:
			out = append(out, l)
		case l == "":
			if out[len(out)-1] != "" {
				out = append(out, "")
			}
		default:
			out = append(out, bulletIndent+l)
		}
	}
	return strings.Join(out, "\n")
}

// layoutInline lays out a value that sits in the middle of a sentence:
// blank lines are dropped (they would end the paragraph and cut the
// sentence in two) and continuation lines are indented by inlineIndent.
func layoutInline(s string) string {
	var out []string
	for i, l := range lines(s) {
		switch {
		case i == 0:
			out = append(out, l)
		case l == "":
		default:
			out = append(out, inlineIndent+l)
		}
	}
	return strings.Join(out, "\n")
}
