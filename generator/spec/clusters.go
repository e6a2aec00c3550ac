package spec

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation"
)

// countWidth is the zero-padded width of generated cluster numbers: four
// digits up to 9,999 clusters (so growing a region from 40 to 4,000 renames
// nothing), more only when needed.
func countWidth(n int) int {
	w := len(fmt.Sprint(n))
	if w < 4 {
		w = 4
	}
	return w
}

// countNames expands clusterCount into stable names: <prefix>-0001, ...
func countNames(prefix string, n int) []string {
	if n <= 0 {
		return nil
	}
	w := countWidth(n)
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%0*d", prefix, w, i+1)
	}
	return out
}

func (l *Loaded) expandClusters() {
	l.Clusters = l.Clusters[:0]
	for _, r := range l.Spec.Regions {
		names := append(append([]string(nil), r.Clusters...), countNames(r.ClusterPrefix, r.ClusterCount)...)
		for _, n := range names {
			l.Clusters = append(l.Clusters, Cluster{Name: n, Region: r.Name})
		}
	}
	l.sortClusters()
}

func (l *Loaded) sortClusters() {
	order := map[string]int{}
	for i, r := range l.Spec.Regions {
		order[r.Name] = i
	}
	sort.SliceStable(l.Clusters, func(i, j int) bool {
		a, b := l.Clusters[i], l.Clusters[j]
		if a.Region != b.Region {
			return order[a.Region] < order[b.Region]
		}
		return a.Name < b.Name
	})
}

// RegionClusters returns the clusters of one region, sorted by name.
func (l *Loaded) RegionClusters(region string) []Cluster {
	var out []Cluster
	for _, c := range l.Clusters {
		if c.Region == region {
			out = append(out, c)
		}
	}
	return out
}

// Region returns the region named name.
func (l *Loaded) Region(name string) (*Region, bool) {
	for i := range l.Spec.Regions {
		if l.Spec.Regions[i].Name == name {
			return &l.Spec.Regions[i], true
		}
	}
	return nil, false
}

// InventoryRow is one cluster of the inventory file.
type InventoryRow struct {
	Name   string            `yaml:"name"`
	Region string            `yaml:"region"`
	Labels map[string]string `yaml:"labels,omitempty"`
	Values map[string]string `yaml:"values,omitempty"`
	Line   int               `yaml:"-"`
}

// ParseInventory reads a CSV (header: name,region, then "label:KEY"
// columns for node labels and VAR columns for cluster-vars) or a YAML list
// of {name, region, labels, values}.
func ParseInventory(data []byte, file string) ([]InventoryRow, error) {
	if !utf8.Valid(data) {
		line := 1 + bytes.Count(data[:firstInvalidUTF8(data)], []byte("\n"))
		return nil, &FieldError{File: file, Line: line, Msg: "not valid UTF-8 text"}
	}
	if strings.HasSuffix(file, ".csv") {
		return parseInventoryCSV(data, file)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(file, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	lines := map[string]int{}
	if errs := checkFields(file, root, typeOfRows, "", lines); len(errs) > 0 {
		return nil, errs
	}
	var rows []InventoryRow
	if err := root.Decode(&rows); err != nil {
		return nil, yamlError(file, err)
	}
	for i := range rows {
		rows[i].Line = root.Content[i].Line
	}
	return rows, nil
}

var typeOfRows = typeOf[[]InventoryRow]()

var reservedVars = []string{"CLUSTER_NAME", "REGION", "FLEET_NAME", "CONNECTIVITY"}

func parseInventoryCSV(data []byte, file string) ([]InventoryRow, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comment = '#'
	r.TrimLeadingSpace = true
	csvErr := func(err error) error {
		if pe, ok := err.(*csv.ParseError); ok {
			return &FieldError{File: file, Line: pe.Line, Msg: "invalid CSV: " + pe.Err.Error()}
		}
		return &FieldError{File: file, Msg: "invalid CSV: " + err.Error()}
	}
	head, err := r.Read()
	if err == io.EOF {
		return nil, &FieldError{File: file, Line: 1, Msg: "empty inventory: the first line must be a header starting with name,region"}
	}
	if err != nil {
		return nil, csvErr(err)
	}
	headLine, _ := r.FieldPos(0)
	if len(head) < 2 || head[0] != "name" || head[1] != "region" {
		return nil, &FieldError{File: file, Line: headLine, Msg: "the header must start with name,region (then label:KEY and VAR columns)"}
	}
	seenCol := map[string]bool{}
	for _, h := range head[2:] {
		if seenCol[h] {
			return nil, &FieldError{File: file, Line: headLine, Field: h, Msg: "column appears twice"}
		}
		seenCol[h] = true
		if k, ok := strings.CutPrefix(h, "label:"); ok {
			if errs := validation.IsQualifiedName(k); len(errs) > 0 {
				return nil, &FieldError{File: file, Line: headLine, Field: h, Msg: "label key: " + errs[0]}
			}
		} else if !ValidVarName(h) {
			return nil, &FieldError{File: file, Line: headLine, Field: h, Msg: "a value column must be a Flux variable name ([_a-zA-Z][_a-zA-Z0-9]*) or label:KEY"}
		} else if slices.Contains(reservedVars, h) {
			return nil, &FieldError{File: file, Line: headLine, Field: h, Msg: "is set by fleetgen for every cluster; name the column differently"}
		}
	}
	var rows []InventoryRow
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvErr(err)
		}
		line, _ := r.FieldPos(0)
		row := InventoryRow{Name: rec[0], Region: rec[1], Line: line}
		for j, h := range head[2:] {
			val := rec[j+2]
			if val == "" {
				continue
			}
			if k, ok := strings.CutPrefix(h, "label:"); ok {
				if row.Labels == nil {
					row.Labels = map[string]string{}
				}
				row.Labels[k] = val
			} else {
				if row.Values == nil {
					row.Values = map[string]string{}
				}
				row.Values[h] = val
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// addInventory validates inventory rows against the spec and adds them.
func (l *Loaded) addInventory(rows []InventoryRow) error {
	file := l.Spec.Inventory
	var errs Errors
	add := func(line int, field, format string, args ...any) {
		errs = append(errs, &FieldError{File: file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if len(l.Clusters)+len(rows) > MaxClusters {
		return &FieldError{File: file, Msg: fmt.Sprintf("%d clusters is more than the limit of %d", len(l.Clusters)+len(rows), MaxClusters)}
	}
	for _, row := range rows {
		if row.Name == "" {
			add(row.Line, "name", "is required")
			continue
		}
		if e := validation.IsDNS1123Label(row.Name); len(e) > 0 {
			add(row.Line, "name", "%q is not a DNS-1123 label (lower-case letters, digits and '-', at most 63)", short(row.Name))
			continue
		}
		if _, ok := l.Region(row.Region); !ok {
			add(row.Line, "region", "cluster %q names region %q, which fleet.yaml does not define", row.Name, short(row.Region))
			continue
		}
		if prev, ok := l.clusterAt[row.Name]; ok {
			add(row.Line, "name", "cluster %q is already defined (region %q); names are unique across the fleet", row.Name, prev)
			continue
		}
		for k, v := range row.Labels {
			if e := validation.IsQualifiedName(k); len(e) > 0 {
				add(row.Line, "labels."+k, "label key: %s", e[0])
			}
			if e := validation.IsValidLabelValue(v); len(e) > 0 {
				add(row.Line, "labels."+k, "label value %q: %s", short(v), e[0])
			}
		}
		for k, v := range row.Values {
			if !ValidVarName(k) {
				add(row.Line, "values."+k, "not a Flux variable name ([_a-zA-Z][_a-zA-Z0-9]*)")
			}
			if slices.Contains(reservedVars, k) {
				add(row.Line, "values."+k, "is set by fleetgen; choose another name")
			}
			if strings.ContainsAny(v, "\x00") || len(v) > MaxTextLen {
				add(row.Line, "values."+k, "value is not plain text of at most %d characters", MaxTextLen)
			}
		}
		l.clusterAt[row.Name] = row.Region
		l.Clusters = append(l.Clusters, Cluster{Name: row.Name, Region: row.Region, Labels: row.Labels, Values: row.Values})
	}
	if len(errs) > 0 {
		return errs
	}
	for _, r := range l.Spec.Regions {
		if len(l.RegionClusters(r.Name)) == 0 {
			return &FieldError{File: l.File, Line: l.line("spec.regions"), Field: "spec.regions", Msg: fmt.Sprintf("region %q has no clusters in fleet.yaml or the inventory", r.Name)}
		}
	}
	l.sortClusters()
	return nil
}
