package design

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Meta is what `fleetgen design attach` records in the document's front
// matter: the spec and prompt the document answers, the fleetgen version and
// the file it was attached from.
type Meta struct {
	SpecSHA256       string
	PromptSHA256     string
	GeneratorVersion string
	AttachedFrom     string
}

// Front matter keys, written in this order.
const (
	keySpec    = "fleetgen_spec_sha256"
	keyPrompt  = "fleetgen_prompt_sha256"
	keyVersion = "fleetgen_version"
	keySource  = "source"
)

// frontMatter is Meta as YAML; field order is key order.
type frontMatter struct {
	Spec    string `yaml:"fleetgen_spec_sha256"`
	Prompt  string `yaml:"fleetgen_prompt_sha256"`
	Version string `yaml:"fleetgen_version"`
	Source  string `yaml:"source"`
}

// splitFrontMatter returns the YAML between the front matter delimiters and
// the body after them. ok is false without front matter; an opened front
// matter that is never closed is an error.
func splitFrontMatter(doc []byte) (yml, body []byte, ok bool, err error) {
	rest := bytes.TrimPrefix(doc, []byte("\uFEFF"))
	first, after, _ := bytes.Cut(rest, []byte("\n"))
	if string(bytes.TrimRight(first, " \t\r")) != "---" {
		return nil, doc, false, nil
	}
	off := len(first) + 1
	for off <= len(rest) && len(after) > 0 {
		line, next, found := bytes.Cut(after, []byte("\n"))
		if t := string(bytes.TrimRight(line, " \t\r")); t == "---" || t == "..." {
			end := off + len(line)
			if found {
				end++
			}
			return rest[len(first)+1 : off], rest[end:], true, nil
		}
		off += len(line) + 1
		after = next
		if !found {
			break
		}
	}
	return nil, doc, false, errors.New("front matter opened on line 1 is never closed (no \"---\" line)")
}

// StripFrontMatter returns doc without its front matter, if it has a closed one.
func StripFrontMatter(doc []byte) []byte {
	_, body, ok, err := splitFrontMatter(doc)
	if !ok || err != nil {
		return doc
	}
	return body
}

// WithFrontMatter returns doc with m as its front matter, replacing any
// existing one. Keys are always written, in the order fleetgen_spec_sha256,
// fleetgen_prompt_sha256, fleetgen_version, source; the result does not
// depend on anything but doc and m. Line endings follow the body's.
func WithFrontMatter(doc []byte, m Meta) []byte {
	body := StripFrontMatter(doc)
	body = bytes.TrimPrefix(body, []byte("\uFEFF"))
	y, err := yaml.Marshal(frontMatter{m.SpecSHA256, m.PromptSHA256, m.GeneratorVersion, m.AttachedFrom})
	if err != nil { // strings always marshal
		panic(err)
	}
	nl := "\n"
	if bytes.Contains(body, []byte("\r\n")) {
		nl = "\r\n"
		y = bytes.ReplaceAll(y, []byte("\n"), []byte("\r\n"))
	}
	var b bytes.Buffer
	b.WriteString("---" + nl)
	b.Write(y)
	b.WriteString("---" + nl)
	b.Write(body)
	return b.Bytes()
}

// ReadFrontMatter returns the fleetgen keys of doc's front matter. found is
// false when doc has no front matter or none of the fleetgen_* keys (a
// front matter of another tool). A front matter that is not a YAML mapping,
// is never closed, or has a fleetgen key that is not a string is an error.
func ReadFrontMatter(doc []byte) (Meta, bool, error) {
	yml, _, ok, err := splitFrontMatter(doc)
	if err != nil || !ok {
		return Meta{}, false, err
	}
	var n yaml.Node
	if err := yaml.Unmarshal(yml, &n); err != nil {
		return Meta{}, false, fmt.Errorf("front matter: %w", err)
	}
	if n.Kind == 0 || (n.Kind == yaml.DocumentNode && len(n.Content) == 0) {
		return Meta{}, false, nil // empty
	}
	root := &n
	if root.Kind == yaml.DocumentNode {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return Meta{}, false, fmt.Errorf("front matter line %d: expected a YAML mapping of keys", root.Line+1)
	}
	var m Meta
	found := false
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		var dst *string
		switch k.Value {
		case keySpec:
			dst = &m.SpecSHA256
		case keyPrompt:
			dst = &m.PromptSHA256
		case keyVersion:
			dst = &m.GeneratorVersion
		case keySource:
			dst = &m.AttachedFrom
		default:
			continue
		}
		if seen[k.Value] {
			return Meta{}, false, fmt.Errorf("front matter line %d: duplicate key %q", k.Line+1, k.Value)
		}
		seen[k.Value] = true
		// A scalar is read as the text written: "fleetgen_version: 1.0" is "1.0".
		if v.Kind != yaml.ScalarNode {
			return Meta{}, false, fmt.Errorf("front matter line %d: %s must be a string", v.Line+1, k.Value)
		}
		switch v.Tag {
		case "!!null":
			*dst = ""
		case "!!binary": // how WithFrontMatter writes a value that is not UTF-8
			b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(v.Value), ""))
			if err != nil {
				return Meta{}, false, fmt.Errorf("front matter line %d: %s: %v", v.Line+1, k.Value, err)
			}
			*dst = string(b)
		default:
			*dst = v.Value
		}
		if strings.HasPrefix(k.Value, "fleetgen_") {
			found = true
		}
	}
	if !found {
		return Meta{}, false, nil
	}
	return m, true, nil
}
