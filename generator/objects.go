package generator

import (
	"bytes"
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fleetgen/fleetgen/generator/tree"
)

// Types for the kinds whose Go API modules are not worth their dependency
// weight here (Flux Operator, K3s helm-controller). Field names follow the
// CRDs in shared/schemas; kubeconform -strict checks them in CI.

// FluxInstance is fluxcd.controlplane.io/v1 FluxInstance.
type FluxInstance struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              FluxInstanceSpec `json:"spec"`
}

type FluxInstanceSpec struct {
	Distribution FluxDistribution `json:"distribution"`
	Components   []string         `json:"components,omitempty"`
	Cluster      *FluxCluster     `json:"cluster,omitempty"`
	Kustomize    *FluxKustomize   `json:"kustomize,omitempty"`
	Sync         *FluxSync        `json:"sync,omitempty"`
}

type FluxDistribution struct {
	Version  string `json:"version"`
	Registry string `json:"registry"`
	Artifact string `json:"artifact,omitempty"`
}

type FluxCluster struct {
	Type          string `json:"type,omitempty"`
	Size          string `json:"size,omitempty"`
	Multitenant   bool   `json:"multitenant"`
	NetworkPolicy bool   `json:"networkPolicy"`
	Domain        string `json:"domain,omitempty"`
}

type FluxKustomize struct {
	Patches []KustomizePatch `json:"patches,omitempty"`
}

type KustomizePatch struct {
	Patch  string       `json:"patch"`
	Target *PatchTarget `json:"target,omitempty"`
}

type PatchTarget struct {
	Kind          string `json:"kind,omitempty"`
	Name          string `json:"name,omitempty"`
	LabelSelector string `json:"labelSelector,omitempty"`
}

type FluxSync struct {
	Kind       string `json:"kind"`
	URL        string `json:"url"`
	Ref        string `json:"ref"`
	Path       string `json:"path"`
	PullSecret string `json:"pullSecret,omitempty"`
	Interval   string `json:"interval,omitempty"`
}

// HelmChart is the K3s built-in helm.cattle.io/v1 HelmChart.
type HelmChart struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              HelmChartSpec `json:"spec"`
}

type HelmChartSpec struct {
	Chart           string `json:"chart"`
	Repo            string `json:"repo,omitempty"`
	Version         string `json:"version,omitempty"`
	TargetNamespace string `json:"targetNamespace,omitempty"`
	CreateNamespace bool   `json:"createNamespace,omitempty"`
	ValuesContent   string `json:"valuesContent,omitempty"`
}

// KustomizationFile is kustomize.config.k8s.io/v1beta1 Kustomization (the
// kustomization.yaml file, not the Flux object).
type KustomizationFile struct {
	APIVersion string           `json:"apiVersion"`
	Kind       string           `json:"kind"`
	Namespace  string           `json:"namespace,omitempty"`
	Resources  []string         `json:"resources"`
	Labels     []KustomizeLabel `json:"labels,omitempty"`
	Patches    []KustomizePatch `json:"patches,omitempty"`
}

type KustomizeLabel struct {
	Pairs            map[string]string `json:"pairs"`
	IncludeSelectors bool              `json:"includeSelectors"`
}

func kustomization(resources ...string) *KustomizationFile {
	if resources == nil {
		resources = []string{}
	}
	return &KustomizationFile{APIVersion: "kustomize.config.k8s.io/v1beta1", Kind: "Kustomization", Resources: resources}
}

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

func objectMeta(name, namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: namespace}
}

// marshal renders objects as one YAML stream with the generated header.
// Keys come out sorted (sigs.k8s.io/yaml goes through JSON), so the bytes
// depend only on the values. Empty status and creationTimestamp, which the
// typed API structs always carry, are dropped.
func marshal(comment string, objs ...any) []byte {
	var b bytes.Buffer
	b.WriteString(tree.GeneratedHeader)
	if comment != "" {
		for _, line := range bytes.Split([]byte(comment), []byte("\n")) {
			b.WriteString("# ")
			b.Write(line)
			b.WriteByte('\n')
		}
	}
	for i, o := range objs {
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(toYAML(o))
	}
	return b.Bytes()
}

func toYAML(o any) []byte {
	j, err := json.Marshal(o)
	if err != nil {
		panic(fmt.Sprintf("marshal %T: %v", o, err)) // typed values always marshal
	}
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		panic(err)
	}
	prune(m)
	return encodeYAML(m)
}

// viaJSON turns a value into plain data the way its json tags say.
func viaJSON(v any) any {
	j, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var x any
	if err := json.Unmarshal(j, &x); err != nil {
		panic(err)
	}
	return pruneValue(x)
}

// encodeYAML writes plain data (maps, slices, scalars) the way kubectl and
// kustomize do: 2-space indent, sequences not indented under their key,
// map keys sorted (yaml.v3 sorts them). The JSON round trip above is what
// honours the typed structs' json tags; going through sigs.k8s.io/yaml
// instead parsed that JSON again and was most of the plan's time.
func encodeYAML(v any) []byte {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	if err := enc.Close(); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// prune removes the empty leftovers of typed structs: status: {},
// metadata.creationTimestamp: null, and empty maps inside metadata.
func prune(m map[string]any) {
	if s, ok := m["status"].(map[string]any); ok && len(s) == 0 {
		delete(m, "status")
	}
	if md, ok := m["metadata"].(map[string]any); ok {
		if md["creationTimestamp"] == nil {
			delete(md, "creationTimestamp")
		}
	}
	for k, v := range m {
		m[k] = pruneValue(v)
	}
}

// pruneValue recurses into maps and lists, and turns the float64s of the
// JSON round trip back into integers where they are whole.
func pruneValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		prune(t)
	case []any:
		for i, e := range t {
			t[i] = pruneValue(e)
		}
	case float64:
		if t == float64(int64(t)) {
			return int64(t)
		}
	}
	return v
}
