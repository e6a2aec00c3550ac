package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// MaxSpecBytes bounds fleet.yaml (and an inventory file is bounded by
// MaxInventoryBytes): a fleet description is a few kilobytes; anything
// larger is a mistake, not a fleet.
const (
	MaxSpecBytes      = 1 << 20
	MaxInventoryBytes = 64 << 20
)

// FieldError is one problem with the spec, located by file, line and field.
type FieldError struct {
	File  string
	Line  int    // 0 when the field is absent from the file
	Field string // e.g. spec.regions[1].name
	Msg   string
}

func (e *FieldError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Field == "" {
		return loc + ": " + e.Msg
	}
	return fmt.Sprintf("%s: %s: %s", loc, e.Field, e.Msg)
}

// Errors is every problem found in one spec, sorted by line. Its message
// lists them one per line.
type Errors []*FieldError

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Loaded is a parsed, defaulted and validated spec, with what the generator
// needs that is not in fleet.yaml itself.
type Loaded struct {
	Fleet
	// Source is fleet.yaml's bytes exactly as read (copied into the repo).
	Source []byte
	// InventorySource is the inventory file's bytes, when there is one.
	InventorySource []byte
	// Clusters is the expanded, sorted list of every cluster.
	Clusters []Cluster
	// File is the name used in error messages.
	File string

	lines     map[string]int    // field path -> line in File
	clusterAt map[string]string // cluster name -> region, for uniqueness
}

// Cluster is one cluster after expanding counts and the inventory.
type Cluster struct {
	Name   string
	Region string
	Labels map[string]string
	Values map[string]string // extra cluster-vars
}

// Load reads name from fsys (fleet.yaml and the inventory beside it),
// applies defaults and validates. displayName is used in messages.
func Load(fsys fs.FS, name string) (*Loaded, error) {
	return loadAs(fsys, name, name)
}

// LoadFile loads a fleet.yaml from disk; messages name it as p.
func LoadFile(p string) (*Loaded, error) {
	return loadAs(os.DirFS(filepath.Dir(p)), filepath.Base(p), p)
}

func loadAs(fsys fs.FS, name, display string) (*Loaded, error) {
	data, err := readLimited(fsys, name, display, MaxSpecBytes)
	if err != nil {
		return nil, err
	}
	l, err := Parse(data, display)
	if err != nil {
		return nil, err
	}
	if l.Spec.Inventory != "" {
		invPath := path.Join(path.Dir(name), l.Spec.Inventory)
		if !fs.ValidPath(invPath) || strings.Contains(l.Spec.Inventory, "..") || path.IsAbs(l.Spec.Inventory) {
			return nil, &FieldError{File: display, Line: l.line("spec.inventory"), Field: "spec.inventory", Msg: fmt.Sprintf("%q must be a path beside or below fleet.yaml", l.Spec.Inventory)}
		}
		inv, err := readLimited(fsys, invPath, l.Spec.Inventory, MaxInventoryBytes)
		if err != nil {
			return nil, &FieldError{File: display, Line: l.line("spec.inventory"), Field: "spec.inventory", Msg: err.Error()}
		}
		l.InventorySource = inv
		rows, err := ParseInventory(inv, l.Spec.Inventory)
		if err != nil {
			return nil, err
		}
		if err := l.addInventory(rows); err != nil {
			return nil, err
		}
		if err := l.checkRingMembers(); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func readLimited(fsys fs.FS, name, display string, limit int64) ([]byte, error) {
	st, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", display, unwrapPathError(err))
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s: is a directory, not a file", display)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s: file is %d bytes, larger than the %d-byte limit", display, st.Size(), limit)
	}
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", display, unwrapPathError(err))
	}
	return data, nil
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Parse decodes, defaults and validates fleet.yaml bytes (without an
// inventory file: use Load for that). file names the source in errors.
func Parse(data []byte, file string) (*Loaded, error) {
	if len(data) > MaxSpecBytes {
		return nil, &FieldError{File: file, Msg: fmt.Sprintf("file is %d bytes, larger than the %d-byte limit", len(data), MaxSpecBytes)}
	}
	if !utf8.Valid(data) {
		line := 1 + bytes.Count(data[:firstInvalidUTF8(data)], []byte("\n"))
		return nil, &FieldError{File: file, Line: line, Msg: "not valid UTF-8 text"}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &FieldError{File: file, Msg: "file is empty; start from `fleetgen init`"}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, yamlError(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &FieldError{File: file, Line: extra.Line, Msg: "more than one YAML document; fleet.yaml holds exactly one Fleet"}
	}
	lines := map[string]int{}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, &FieldError{File: file, Line: root.Line, Msg: "expected a mapping (apiVersion, kind, metadata, spec)"}
	}
	if errs := checkFields(file, root, reflect.TypeOf(Fleet{}), "", lines); len(errs) > 0 {
		return nil, errs
	}
	l := &Loaded{Source: data, File: file}
	if err := root.Decode(&l.Fleet); err != nil {
		return nil, yamlError(file, err)
	}
	l.lines = lines
	l.Default()
	if errs := l.Validate(); len(errs) > 0 {
		return nil, errs
	}
	l.expandClusters()
	if l.Spec.Inventory == "" {
		if err := l.checkRingMembers(); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// yamlError turns yaml.v3's messages ("yaml: line 3: ...") into file:line.
func yamlError(file string, err error) error {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	line := 0
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
	}
	return &FieldError{File: file, Line: line, Msg: "invalid YAML: " + msg}
}

// checkFields walks the YAML tree against the Go type: unknown keys,
// duplicate keys and wrong shapes are reported with their line. It also
// records the line of every field path for later validation messages.
func checkFields(file string, n *yaml.Node, t reflect.Type, p string, lines map[string]int) Errors {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		return Errors{{File: file, Line: n.Line, Field: p, Msg: "YAML aliases are not supported in fleet.yaml"}}
	}
	var errs Errors
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return Errors{{File: file, Line: n.Line, Field: p, Msg: "expected a mapping, got " + kindName(n)}}
		}
		fields := map[string]reflect.StructField{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if name != "" && name != "-" {
				fields[name] = f
			}
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			child := join(p, k.Value)
			if seen[k.Value] {
				errs = append(errs, &FieldError{File: file, Line: k.Line, Field: child, Msg: "appears twice"})
				continue
			}
			seen[k.Value] = true
			f, ok := fields[k.Value]
			if !ok {
				errs = append(errs, &FieldError{File: file, Line: k.Line, Field: child, Msg: "unknown field" + suggest(k.Value, fields)})
				continue
			}
			lines[child] = k.Line
			errs = append(errs, checkFields(file, v, f.Type, child, lines)...)
		}
	case reflect.Slice:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return nil
		}
		if n.Kind != yaml.SequenceNode {
			return Errors{{File: file, Line: n.Line, Field: p, Msg: "expected a list, got " + kindName(n)}}
		}
		for i, c := range n.Content {
			child := fmt.Sprintf("%s[%d]", p, i)
			lines[child] = c.Line
			errs = append(errs, checkFields(file, c, t.Elem(), child, lines)...)
		}
	case reflect.Map:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return nil
		}
		if n.Kind != yaml.MappingNode {
			return Errors{{File: file, Line: n.Line, Field: p, Msg: "expected a mapping, got " + kindName(n)}}
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			child := join(p, k.Value)
			if seen[k.Value] {
				errs = append(errs, &FieldError{File: file, Line: k.Line, Field: child, Msg: "appears twice"})
			}
			seen[k.Value] = true
			lines[child] = k.Line
			errs = append(errs, checkFields(file, v, t.Elem(), child, lines)...)
		}
	case reflect.Interface:
		// Free-form data (Helm values): any shape, but no aliases.
		return checkFree(file, n, p)
	default:
		if n.Kind != yaml.ScalarNode {
			return Errors{{File: file, Line: n.Line, Field: p, Msg: "expected a single value, got " + kindName(n)}}
		}
		switch t.Kind() {
		case reflect.Int, reflect.Int64:
			if n.Tag != "!!int" {
				errs = append(errs, &FieldError{File: file, Line: n.Line, Field: p, Msg: fmt.Sprintf("expected a whole number, got %q", n.Value)})
			}
		case reflect.String:
			if n.Tag != "!!str" && n.Tag != "!!int" && n.Tag != "!!float" && n.Tag != "!!bool" && n.Tag != "!!null" {
				errs = append(errs, &FieldError{File: file, Line: n.Line, Field: p, Msg: fmt.Sprintf("expected text, got %s", n.Tag)})
			}
		}
	}
	return errs
}

// checkFree walks free-form data: aliases and merge keys are refused (as
// everywhere in fleet.yaml), and so are keys that are not text.
func checkFree(file string, n *yaml.Node, p string) Errors {
	switch n.Kind {
	case yaml.AliasNode:
		return Errors{{File: file, Line: n.Line, Field: p, Msg: "YAML aliases are not supported in fleet.yaml"}}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.Tag != "!!str" {
				return Errors{{File: file, Line: k.Line, Field: p, Msg: fmt.Sprintf("key %q is not text: Helm values are keyed by strings (quote it)", k.Value)}}
			}
			if errs := checkFree(file, n.Content[i+1], join(p, k.Value)); len(errs) > 0 {
				return errs
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if errs := checkFree(file, c, fmt.Sprintf("%s[%d]", p, i)); len(errs) > 0 {
				return errs
			}
		}
	}
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func join(p, k string) string {
	if p == "" {
		return k
	}
	return p + "." + k
}

// suggest offers the closest known field name for a misspelt key.
func suggest(key string, fields map[string]reflect.StructField) string {
	best, bestD := "", 3
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if d := editDistance(strings.ToLower(key), strings.ToLower(name)); d < bestD {
			best, bestD = name, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return fmt.Sprintf(" (known fields: %s)", strings.Join(names, ", "))
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func typeOf[T any]() reflect.Type { return reflect.TypeOf((*T)(nil)).Elem() }

// Errorf makes a FieldError for field (e.g. spec.hardware.memory) located
// at its line in fleet.yaml, or at its closest parent's.
func (l *Loaded) Errorf(field, format string, args ...any) *FieldError {
	return &FieldError{File: l.File, Line: l.line(field), Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Has reports whether field is written in fleet.yaml (not defaulted).
func (l *Loaded) Has(field string) bool {
	_, ok := l.lines[field]
	return ok
}
