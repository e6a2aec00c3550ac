package check

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// doc is one Kubernetes object as written in a YAML file of the repository.
type doc struct {
	file      string
	line      int
	namespace string
}

// docIndex finds the file that declares an object, to point findings about
// rendered objects at the file a user edits. Keys are "kind/name"; each list
// is sorted by file.
type docIndex map[string][]doc

// locate returns the file and line declaring kind/name, preferring files
// below dir (the directory whose build produced the object) and a matching
// namespace. ok is false when no file or several files outside dir match.
func (ix docIndex) locate(dir, kind, namespace, name string) (doc, bool) {
	list := ix[kind+"/"+name]
	if len(list) == 0 {
		return doc{}, false
	}
	var under []doc
	if dir == "." {
		under = list
	} else {
		prefix := dir + "/"
		i := sort.Search(len(list), func(i int) bool { return list[i].file >= prefix })
		j := i
		for j < len(list) && strings.HasPrefix(list[j].file, prefix) {
			j++
		}
		under = list[i:j]
	}
	pick := func(ds []doc) (doc, bool) {
		for _, d := range ds {
			if d.namespace == namespace {
				return d, true
			}
		}
		if len(ds) == 1 {
			return ds[0], true
		}
		return doc{}, false
	}
	if d, ok := pick(under); ok {
		return d, true
	}
	if len(list) == 1 {
		return list[0], true
	}
	return doc{}, false
}

// isYAMLFile reports whether p is checked as YAML.
func isYAMLFile(p string) bool {
	ext := path.Ext(p)
	return ext == ".yaml" || ext == ".yml" || path.Base(p) == "Kustomization"
}

// isHelmTemplate reports whether p is a template of a Helm chart (not YAML
// until rendered).
func (r *repo) isHelmTemplate(p string) bool {
	segs := strings.Split(p, "/")
	for i, s := range segs[:len(segs)-1] {
		if s != "templates" {
			continue
		}
		if _, ok := r.files[path.Join(append(segs[:i:i], "Chart.yaml")...)]; ok {
			return true
		}
	}
	return false
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// fileResult is what parsing one YAML file found.
type fileResult struct {
	docs       []docKey
	errs       []Finding
	unrendered []Finding
}

type docKey struct {
	key string
	doc doc
}

// parseYAML parses every YAML file of the repository (check 4), reports the
// plaintext Secrets (check 3) and returns the index of declared objects.
func parseYAML(r *repo, workers int, f *findings) docIndex {
	ix, _ := parseYAMLUnrendered(r, workers, f)
	return ix
}

// parseYAMLUnrendered is parseYAML, plus the objects whose pods a
// controller on the cluster renders (see Report.Unrendered).
func parseYAMLUnrendered(r *repo, workers int, f *findings) (docIndex, []Finding) {
	var unrendered []Finding
	var files []string
	for _, p := range r.paths {
		if isYAMLFile(p) && !r.isHelmTemplate(p) {
			files = append(files, p)
		}
	}
	results := make([]fileResult, len(files))
	parallel(len(files), workers, func(i int) {
		results[i] = parseFile(files[i], r.files[files[i]])
	})
	ix := docIndex{}
	for _, res := range results { // in path order: each list stays sorted
		f.errs = append(f.errs, res.errs...)
		unrendered = append(unrendered, res.unrendered...)
		for _, d := range res.docs {
			ix[d.key] = append(ix[d.key], d.doc)
		}
	}
	return ix, unrendered
}

// unrenderedKind says why an object's pods are rendered on the cluster,
// not here: a Helm chart (Flux HelmRelease, K3s HelmChart) or a Flux
// Kustomization of a source other than this repository. "" otherwise.
// bootstrap/ is skipped: its HelmChart is the Flux Operator itself.
func unrenderedKind(p, apiVersion, kind string, m *yaml.Node) string {
	if strings.HasPrefix(p, "bootstrap/") {
		return ""
	}
	switch group := strings.Split(apiVersion, "/")[0]; {
	case group == "helm.toolkit.fluxcd.io" && kind == "HelmRelease":
		return "Helm chart (Flux HelmRelease)"
	case group == "helm.cattle.io" && kind == "HelmChart":
		return "Helm chart (K3s HelmChart)"
	case group == "kustomize.toolkit.fluxcd.io" && kind == "Kustomization":
		if src := nodeAt(m, "spec", "sourceRef", "name"); src != nil && src.Value != fluxSystem {
			return "remote Kustomize base (Flux Kustomization of " + src.Value + ")"
		}
	}
	return ""
}

// nodeAt follows mapping keys from m.
func nodeAt(m *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if m == nil || m.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == k {
				next = m.Content[i+1]
			}
		}
		m = next
	}
	return m
}

func parseFile(p string, content []byte) fileResult {
	var res fileResult
	dec := yaml.NewDecoder(bytes.NewReader(content))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			res.errs = append(res.errs, yamlFinding(p, err))
			break
		}
		if len(n.Content) == 0 || n.Content[0].Kind != yaml.MappingNode {
			continue
		}
		m := n.Content[0]
		var apiVersion, kind, name, namespace string
		sops := false
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			switch k.Value {
			case "apiVersion":
				apiVersion = v.Value
			case "kind":
				kind = v.Value
			case "sops":
				sops = true
			case "metadata":
				if v.Kind == yaml.MappingNode {
					for j := 0; j+1 < len(v.Content); j += 2 {
						switch v.Content[j].Value {
						case "name":
							name = v.Content[j+1].Value
						case "namespace":
							namespace = v.Content[j+1].Value
						}
					}
				}
			}
		}
		if kind == "" {
			continue
		}
		if kind == "Secret" && apiVersion == "v1" && !sops && !publicKeysOnly(m) && !emptySecret(m) {
			res.errs = append(res.errs, Finding{File: p, Line: m.Line, Message: "plaintext Secret " +
				qualify(namespace, name) + ": commit Secrets only SOPS-encrypted (sops --encrypt --in-place " + p + ")"})
		}
		if name != "" {
			res.docs = append(res.docs, docKey{key: kind + "/" + name, doc: doc{file: p, line: m.Line, namespace: namespace}})
		}
		if why := unrenderedKind(p, apiVersion, kind, m); why != "" {
			res.unrendered = append(res.unrendered, Finding{File: p, Line: m.Line, Message: why + " " + qualify(namespace, name)})
		}
	}
	return res
}

// publicKeysOnly reports whether a Secret holds nothing but PEM public
// keys under *.pub keys (a cosign verification Secret such as
// spec.delivery.verify's): public keys are not credentials, and the
// cluster must read them before it can verify what it pulls.
// emptySecret: a Secret without data or stringData (or with empty ones)
// holds nothing secret; Argo CD's install ships argocd-secret that way and
// fills it on the cluster.
func emptySecret(m *yaml.Node) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i].Value, m.Content[i+1]
		if k != "data" && k != "stringData" {
			continue
		}
		if (v.Kind == yaml.MappingNode && len(v.Content) > 0) || (v.Kind == yaml.ScalarNode && v.Tag != "!!null") || v.Kind == yaml.SequenceNode || v.Kind == yaml.AliasNode {
			return false
		}
	}
	return true
}

func publicKeysOnly(m *yaml.Node) bool {
	n := 0
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i].Value, m.Content[i+1]
		if k != "data" && k != "stringData" {
			continue
		}
		if v.Kind != yaml.MappingNode {
			return false
		}
		for j := 0; j+1 < len(v.Content); j += 2 {
			val := v.Content[j+1].Value
			if k == "data" {
				b, err := base64.StdEncoding.DecodeString(val)
				if err != nil {
					return false
				}
				val = string(b)
			}
			if !strings.HasSuffix(v.Content[j].Value, ".pub") || !isPublicKeyPEM(val) {
				return false
			}
			n++
		}
	}
	return n > 0
}

// isPublicKeyPEM: exactly one PEM block, of type PUBLIC KEY.
func isPublicKeyPEM(s string) bool {
	b, rest := pem.Decode([]byte(s))
	return b != nil && b.Type == "PUBLIC KEY" && strings.TrimSpace(string(rest)) == ""
}

func yamlFinding(p string, err error) Finding {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Finding{File: p, Line: line, Message: "YAML syntax error: " + m[2]}
	}
	return Finding{File: p, Message: "YAML syntax error: " + strings.TrimPrefix(msg, "yaml: ")}
}

// qualify formats namespace/name, or name alone for cluster-scoped objects.
func qualify(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}
