package generator

import (
	"bytes"
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

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
	y, err := yaml.Marshal(m)
	if err != nil {
		panic(err)
	}
	return y
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
	for _, v := range m {
		switch t := v.(type) {
		case map[string]any:
			prune(t)
		case []any:
			for _, e := range t {
				if em, ok := e.(map[string]any); ok {
					prune(em)
				}
			}
		}
	}
}
