package check

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/fleetgen/fleetgen/generator/tree"
)

// fixture is a fleet repository in the layout fleetgen generates, as
// path -> content.
type fixture map[string]string

// fixtureOpts shapes a generated fixture.
type fixtureOpts struct {
	regions, clusters int  // clusters per region
	classic           bool // flux bootstrap layout instead of a FluxInstance
	gotkComponents    bool // with the classic layout, commit gotk-components.yaml
}

func region(i int) string      { return fmt.Sprintf("region-%02d", i) }
func clusterName(i int) string { return fmt.Sprintf("edge-%04d", i) }

// newFixture generates regions x clusters cluster directories over shared
// bases and one overlay per region.
func newFixture(o fixtureOpts) fixture {
	fx := fixture{}
	fx["infrastructure/base/kustomization.yaml"] = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - namespaces.yaml
  - network-policies.yaml
  - cluster-info.yaml
  - registry-auth.sops.yaml
`
	fx["infrastructure/base/namespaces.yaml"] = `apiVersion: v1
kind: Namespace
metadata:
  name: apps
  labels:
    pod-security.kubernetes.io/enforce: restricted
---
apiVersion: v1
kind: Namespace
metadata:
  name: monitoring
`
	fx["infrastructure/base/network-policies.yaml"] = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
  namespace: apps
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-dns
  namespace: apps
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - ports:
        - port: 53
          protocol: UDP
`
	fx["infrastructure/base/cluster-info.yaml"] = `apiVersion: v1
kind: ConfigMap
metadata:
  name: cluster-info
  namespace: kube-system
data:
  cluster: ${CLUSTER_NAME}
  region: ${REGION}
  # escaped: left to the application, not Flux
  template: $${NOT_A_FLUX_VAR}
  tier: ${TIER:=edge}
`
	fx["infrastructure/base/registry-auth.sops.yaml"] = `apiVersion: v1
kind: Secret
metadata:
  name: registry-auth
  namespace: apps
type: Opaque
data:
  password: ENC[AES256_GCM,data:Zm9vYmFy,iv:aXY=,tag:dGFn,type:str]
sops:
  age:
    - recipient: age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq
      enc: |
        -----BEGIN AGE ENCRYPTED FILE-----
        YWdl
        -----END AGE ENCRYPTED FILE-----
  lastmodified: "2026-01-01T00:00:00Z"
  mac: ENC[AES256_GCM,data:bWFj,iv:aXY=,tag:dGFn,type:str]
  encrypted_regex: ^(data|stringData)$
  version: 3.13.0
`
	fx["apps/base/kustomization.yaml"] = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - web
`
	fx["apps/base/web/kustomization.yaml"] = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: apps
resources:
  - deployment.yaml
  - service.yaml
`
	fx["apps/base/web/deployment.yaml"] = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: ghcr.io/example/web:${WEB_TAG:=1.0.0}
          env:
            - name: CLUSTER_NAME
              value: ${CLUSTER_NAME}
            - name: REGION
              value: ${REGION}
          resources:
            limits:
              memory: 64Mi
`
	fx["apps/base/web/service.yaml"] = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
    - port: 80
`
	for ri := 0; ri < o.regions; ri++ {
		r := region(ri)
		fx["infrastructure/regions/"+r+"/kustomization.yaml"] = fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
patches:
  - target:
      kind: Namespace
      name: apps
    patch: |
      - op: add
        path: /metadata/labels/topology.kubernetes.io~1region
        value: %s
`, r)
		fx["apps/regions/"+r+"/kustomization.yaml"] = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
patches:
  - target:
      kind: Deployment
      name: web
    patch: |
      - op: replace
        path: /spec/replicas
        value: 2
  # a strategic merge patch: uses kustomize's OpenAPI schema (global state)
  - patch: |
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: web
      spec:
        template:
          spec:
            containers:
              - name: web
                resources:
                  limits:
                    cpu: 100m
`
		fx["bootstrap/"+r+"/config.yaml"] = `write-kubeconfig-mode: "0600"
secrets-encryption: true
disable:
  - traefik
`
		fx["bootstrap/"+r+"/manifests/flux-operator.yaml"] = `apiVersion: helm.cattle.io/v1
kind: HelmChart
metadata:
  name: flux-operator
  namespace: kube-system
spec:
  chart: oci://ghcr.io/controlplaneio-fluxcd/charts/flux-operator
  targetNamespace: flux-system
  createNamespace: true
`
		for ci := 0; ci < o.clusters; ci++ {
			c := clusterName(ri*o.clusters + ci)
			addCluster(fx, o, r, c)
		}
	}
	return fx
}

func addCluster(fx fixture, o fixtureOpts, r, c string) {
	dir := "clusters/" + r + "/" + c
	first := "flux-instance.yaml"
	if o.classic {
		first = "flux-system"
		fx[dir+"/flux-system/kustomization.yaml"] = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - gotk-components.yaml
  - gotk-sync.yaml
`
		fx[dir+"/flux-system/gotk-sync.yaml"] = fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 1m0s
  ref:
    branch: main
  secretRef:
    name: flux-system
  url: ssh://git@example.com/fleet.git
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 10m0s
  path: ./%s
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
`, dir)
		if o.gotkComponents {
			fx[dir+"/flux-system/gotk-components.yaml"] = `apiVersion: v1
kind: Namespace
metadata:
  name: flux-system
`
		}
	} else {
		fx[dir+"/flux-instance.yaml"] = fmt.Sprintf(`apiVersion: fluxcd.controlplane.io/v1
kind: FluxInstance
metadata:
  name: flux
  namespace: flux-system
spec:
  distribution:
    version: "2.9.x"
    registry: ghcr.io/fluxcd
  cluster:
    type: kubernetes
    size: small
  sync:
    kind: GitRepository
    url: https://example.com/fleet.git
    ref: refs/heads/main
    path: %s
`, dir)
	}
	fx[dir+"/kustomization.yaml"] = fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - %s
  - cluster-vars.yaml
  - infrastructure.yaml
  - apps.yaml
`, first)
	fx[dir+"/cluster-vars.yaml"] = fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: cluster-vars
  namespace: flux-system
data:
  CLUSTER_NAME: %s
  REGION: %s
`, c, r)
	fx[dir+"/infrastructure.yaml"] = fmt.Sprintf(`apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: infrastructure
  namespace: flux-system
spec:
  interval: 10m
  prune: true
  path: ./infrastructure/regions/%s
  sourceRef:
    kind: GitRepository
    name: flux-system
  postBuild:
    substituteFrom:
      - kind: ConfigMap
        name: cluster-vars
`, r)
	fx[dir+"/apps.yaml"] = fmt.Sprintf(`apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  dependsOn:
    - name: infrastructure
  interval: 10m
  prune: true
  path: ./apps/regions/%s
  sourceRef:
    kind: GitRepository
    name: flux-system
  postBuild:
    substituteFrom:
      - kind: ConfigMap
        name: cluster-vars
`, r)
}

func (fx fixture) tree(t testing.TB) *tree.Tree {
	t.Helper()
	var tr tree.Tree
	for p, c := range fx {
		tr.Add(tree.File{Path: p, Content: []byte(c)})
	}
	if err := tr.Finish(); err != nil {
		t.Fatal(err)
	}
	return &tr
}

func (fx fixture) write(t testing.TB, root string) {
	t.Helper()
	for p, c := range fx {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func (fx fixture) clone() fixture {
	out := make(fixture, len(fx))
	for k, v := range fx {
		out[k] = v
	}
	return out
}

func (fx fixture) paths() []string {
	var ps []string
	for p := range fx {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}
