// Package spec defines fleet.yaml: the one description of a fleet that both
// the prompts and the fleet repository are generated from. Loading is
// strict (unknown fields are errors), every error names the file, line and
// field, and defaults are applied in one place (Default).
package spec

import "strings"

// APIVersion and Kind identify a fleet.yaml document.
const (
	APIVersion = "fleetgen.dev/v1alpha1"
	Kind       = "Fleet"
)

// Fleet is the whole fleet.yaml document.
type Fleet struct {
	APIVersion string    `yaml:"apiVersion"`
	Kind       string    `yaml:"kind"`
	Metadata   Metadata  `yaml:"metadata"`
	Spec       FleetSpec `yaml:"spec"`
}

// Metadata names the fleet.
type Metadata struct {
	// Name is a DNS-1123 label; it names the repository and prefixes labels.
	Name string `yaml:"name"`
}

// FleetSpec is everything fleetgen needs to know about the fleet.
type FleetSpec struct {
	// Language of the default prompt printed by `fleetgen prompt`: es (default) or en.
	Language string `yaml:"language,omitempty"`
	// Context holds the prompt's inputs verbatim as the user writes them.
	Context Context `yaml:"context"`
	// Git is where the fleet repository is pushed and pulled from by Flux.
	Git Git `yaml:"git"`
	// Flux selects how Flux is installed and synced on every cluster.
	Flux Flux `yaml:"flux,omitempty"`
	// Delivery is how clusters receive their configuration: from git
	// (default) or as OCI artifacts built from git by `fleetgen publish`.
	Delivery Delivery `yaml:"delivery,omitempty"`
	// Distribution is the Kubernetes distribution of every node, fleet-wide
	// default: "k3s" (default) or "k0s"; a region may set its own.
	// "microk8s" is answered by `fleetgen plan` (with its reasons and
	// figures for the hardware) but not generated.
	Distribution string `yaml:"distribution,omitempty"`
	// Engine is the GitOps engine every cluster runs, fleet-wide default:
	// "flux" (default) or "argocd" (Argo CD in pull mode: one small Argo CD
	// per cluster syncing the fleet repository; never a central Argo CD
	// pushing to the clusters' API servers). A region may set its own.
	Engine string `yaml:"engine,omitempty"`
	// K3s settings shared by every node.
	K3s K3s `yaml:"k3s,omitempty"`
	// K0s settings shared by every k0s node.
	K0s K0s `yaml:"k0s,omitempty"`
	// MaintenanceWindow is when K3s upgrades may start on a cluster
	// (system-upgrade-controller Plan.spec.window), fleet-wide default; a
	// region may set its own. Unset: upgrades start as soon as a cluster
	// syncs a new version.
	MaintenanceWindow *MaintenanceWindow `yaml:"maintenanceWindow,omitempty"`
	// Hardware of a node, fleet-wide default; a region may override it.
	Hardware Hardware `yaml:"hardware,omitempty"`
	// Connectivity profile, fleet-wide default; a region may override it.
	Connectivity string `yaml:"connectivity,omitempty"`
	// Bandwidth of a site's link (bits per second: "256kbit", "2Mbit",
	// "1Gbit"), fleet-wide; a region may override it. Default: the
	// connectivity profile's (see fleetgen plan). Only the load model in
	// plan reads it.
	Bandwidth string `yaml:"bandwidth,omitempty"`
	// Secrets: age recipients that may decrypt SOPS files, fleet-wide
	// (the operators' keys; never given to a node).
	Secrets Secrets `yaml:"secrets,omitempty"`
	// Apps are the workloads every cluster runs (apps/base/<name>).
	Apps []App `yaml:"apps,omitempty"`
	// Inventory is an optional CSV or YAML file, relative to fleet.yaml,
	// listing clusters (name, region, labels, values) for large fleets.
	Inventory string `yaml:"inventory,omitempty"`
	// Rings stage every change: each ring syncs its own branch
	// fleet/ring/<name>, moved only by `fleetgen promote` (see rings.go).
	Rings []Ring `yaml:"rings,omitempty"`
	// Regions each get an overlay and a bootstrap folder.
	Regions []Region `yaml:"regions"`
}

// Context is the prompt's input, as typed by the user.
type Context struct {
	Environment   string `yaml:"environment"`
	Hardware      string `yaml:"hardware"`
	MainChallenge string `yaml:"mainChallenge"`
	Scale         string `yaml:"scale,omitempty"` // defaults to a sentence built from the cluster count
	// Basic prompt inputs; default to Hardware and MainChallenge.
	DeviceType string `yaml:"deviceType,omitempty"`
	Problem    string `yaml:"problem,omitempty"`
}

// Git is the repository Flux pulls from.
type Git struct {
	URL    string `yaml:"url"`
	Branch string `yaml:"branch,omitempty"`
	// SecretName is the Secret (created on the node by the provisioning
	// script, never committed) holding the credentials to pull. Empty for a
	// public repository.
	SecretName string `yaml:"secretName,omitempty"`
	// VerifySecretName, when set, makes every cluster verify that the
	// commit it syncs is signed (Flux GitRepository verify, mode HEAD) by
	// one of the OpenPGP public keys in this Secret, which provision.sh
	// creates on the node. Sign fleetgen's commits with --sign-key, and
	// every hand commit on the branch too.
	VerifySecretName string `yaml:"verifySecretName,omitempty"`
}

// Flux install and sync settings.
type Flux struct {
	// Mode: "operator" (Flux Operator FluxInstance, default) or "bootstrap"
	// (classic `flux bootstrap` layout with gotk-sync.yaml).
	Mode string `yaml:"mode,omitempty"`
	// Version of the Flux distribution, e.g. "2.9.x".
	Version string `yaml:"version,omitempty"`
	// Registry the Flux controller images are pulled from.
	Registry string `yaml:"registry,omitempty"`
	// OperatorChartVersion pins the flux-operator Helm chart installed at
	// first boot.
	OperatorChartVersion string `yaml:"operatorChartVersion,omitempty"`
	// Components overrides the controllers the plan picks from the budget.
	Components []string `yaml:"components,omitempty"`
}

// Delivery says what the clusters sync. Git stays the source of truth in
// both modes: in "oci" mode `fleetgen publish` builds, from the committed
// tree, one artifact per cluster (or per region) holding only the files
// that cluster applies, and pushes those whose content changed.
type Delivery struct {
	// Mode: "git" (default: every cluster syncs the git repository) or
	// "oci" (every cluster syncs an OCIRepository).
	Mode string `yaml:"mode,omitempty"`
	// Repository is the OCI repository the artifacts are tags of, without
	// scheme or tag, e.g. ghcr.io/acme-energy/offshore-fleet. The artifact
	// of cluster C is <repository>:C (unit cluster), of region R
	// <repository>:R (unit region). Required in oci mode.
	Repository string `yaml:"repository,omitempty"`
	// Unit: "cluster" (default: an artifact per cluster, what that cluster
	// applies and nothing else) or "region" (an artifact per region, the
	// folders of all its clusters).
	Unit string `yaml:"unit,omitempty"`
	// PullSecret is the Secret (type kubernetes.io/dockerconfigjson,
	// created on the node by provision.sh, never committed) the clusters
	// pull with. Empty for a registry that allows anonymous pulls.
	PullSecret string `yaml:"pullSecret,omitempty"`
	// Verify makes every cluster check the cosign signature of its
	// artifact before applying it (OCIRepository spec.verify); publish
	// signs with --cosign-key (key-based) or the CI signs keyless.
	Verify *Verify `yaml:"verify,omitempty"`
}

// RegionDelivery overrides spec.delivery for one region's clusters.
type RegionDelivery struct {
	// Repository is the OCI repository this region's clusters pull from
	// instead of spec.delivery.repository: a registry on the region's own
	// network, for sites that reach only that one. fleetgen publish pushes
	// (and signs) the region's artifacts there as well as to
	// spec.delivery.repository.
	Repository string `yaml:"repository,omitempty"`
}

// RegionRepository is the OCI repository region r's clusters pull from.
func (s *FleetSpec) RegionRepository(r *Region) string {
	if r != nil && r.Delivery != nil && r.Delivery.Repository != "" {
		return r.Delivery.Repository
	}
	return s.Delivery.Repository
}

// Verify is how clusters check their artifact's signature: with public
// keys (offline: no Rekor, Fulcio or TUF root is contacted, what an
// air-gapped region needs) or keyless (a Fulcio certificate issued to the
// CI's OIDC identity, checked against the public Sigstore instance).
type Verify struct {
	// Provider: "cosign" (the default and the only one offered).
	Provider string `yaml:"provider,omitempty"`
	// SecretName is the flux-system Secret holding PublicKeys (default
	// cosign-pub). It holds public keys only: it is committed in git.
	SecretName string `yaml:"secretName,omitempty"`
	// PublicKeys are cosign public keys (PEM, `cosign public-key`); an
	// artifact signed by any of them is accepted. Two during a key
	// rotation.
	PublicKeys []string `yaml:"publicKeys,omitempty"`
	// MatchOIDCIdentity is keyless verification: an artifact signed with a
	// certificate whose issuer and subject match one entry (Go regular
	// expressions) is accepted.
	MatchOIDCIdentity []OIDCIdentity `yaml:"matchOIDCIdentity,omitempty"`
}

// OIDCIdentity is an issuer and subject pair of regular expressions.
type OIDCIdentity struct {
	Issuer  string `yaml:"issuer"`
	Subject string `yaml:"subject"`
}

// Keyless reports whether verification is keyless.
func (v *Verify) Keyless() bool { return v != nil && len(v.MatchOIDCIdentity) > 0 }

// K3s settings.
type K3s struct {
	// Exact K3s release installed by the provisioning script
	// (INSTALL_K3S_VERSION), e.g. "v1.37.1+k3s1". A channel is refused:
	// it would give the nodes of one fleet different patch releases.
	Version string `yaml:"version,omitempty"`
	// Datastore: "auto" (default: chosen from the hardware budget),
	// "sqlite" or "etcd".
	Datastore string `yaml:"datastore,omitempty"`
}

// K0s settings (regions whose distribution is k0s).
type K0s struct {
	// Exact k0s release installed by provision.sh, e.g. "v1.36.3+k0s.2"
	// (a tag of github.com/k0sproject/k0s). The datastore follows
	// spec.k3s.datastore: sqlite is kine/SQLite, etcd k0s's managed etcd.
	Version string `yaml:"version,omitempty"`
}

// Hardware describes one node. Zero fields inherit the fleet default.
type Hardware struct {
	Arch    string `yaml:"arch,omitempty"`    // amd64 | arm64
	Memory  string `yaml:"memory,omitempty"`  // e.g. 2Gi, 4096Mi, 8G
	CPUs    int    `yaml:"cpus,omitempty"`    // cores per node
	Storage string `yaml:"storage,omitempty"` // sd | emmc | ssd | nvme
	Nodes   int    `yaml:"nodes,omitempty"`   // nodes per cluster
}

// Secrets settings.
type Secrets struct {
	AgeRecipients []string `yaml:"ageRecipients,omitempty"`
}

// App is one workload deployed to every cluster of the fleet. It is one of:
// a container image (Image: fleetgen renders its Deployment, Service and
// NetworkPolicies), a Helm chart (Chart), or a remote Kustomize base
// (Kustomize). The fields after Replicas are for image apps only.
type App struct {
	Name string `yaml:"name"`
	// Image is a container image reference: fleetgen renders the pods.
	Image string `yaml:"image,omitempty"`
	// Chart is a Helm chart, installed by Flux's helm-controller
	// (HelmRelease) where it fits the memory budget, else by K3s's built-in
	// helm-controller (HelmChart); fleetgen plan says which, per region.
	Chart *AppChart `yaml:"chart,omitempty"`
	// Kustomize is a remote Kustomize base at a pinned ref.
	Kustomize *AppKustomize `yaml:"kustomize,omitempty"`
	Port      int           `yaml:"port,omitempty"`
	Replicas  int           `yaml:"replicas,omitempty"`
	// CPU and Memory: an image app's request (memory is also its limit),
	// e.g. 50m and 64Mi. For a chart or a Kustomize base, what all its pods
	// request together: the budget's figure (fleetgen cannot read it from
	// the chart), required for them.
	CPU       string `yaml:"cpu,omitempty"`
	Memory    string `yaml:"memory,omitempty"`
	RunAsUser int64  `yaml:"runAsUser,omitempty"`
	// WritablePaths get an emptyDir each (the root filesystem is read-only).
	WritablePaths []string `yaml:"writablePaths,omitempty"`
	// Files are configuration files mounted read-only at their path (one
	// ConfigMap per app, each file by its base name). They are taken
	// literally: Flux's postBuild substitution is disabled on them, so a
	// ${VAR} in them is left for the app (its environment has FLEET_CLUSTER
	// and FLEET_REGION).
	Files []AppFile `yaml:"files,omitempty"`
	// Expose makes the app reachable from the site network: its Service
	// becomes a NodePort (externalTrafficPolicy Local, so the client's
	// address is kept) and a NetworkPolicy admits the From networks to its
	// port. Without it, only pods of the app's namespace reach it.
	Expose *AppExpose `yaml:"expose,omitempty"`
	// Runtime: "container" (default) or "wasm": the image is a WebAssembly
	// module run by the containerd shim named in Wasm (image apps only).
	// Its pods get runtimeClassName <shim>; K3s ships that RuntimeClass,
	// fleetgen writes it (and the containerd runtime) for k0s regions.
	Runtime string `yaml:"runtime,omitempty"`
	// Wasm is the shim of a runtime: wasm app.
	Wasm *AppWasm `yaml:"wasm,omitempty"`
}

// AppChart is a Helm chart at an exact version.
type AppChart struct {
	// Repository is where the chart is: an HTTP(S) Helm repository (the URL
	// its index.yaml is under, e.g. https://charts.example.com) or an OCI
	// repository holding the chart (oci://ghcr.io/org/charts; the chart is
	// <repository>/<name>:<version>).
	Repository string `yaml:"repository"`
	// Name of the chart in the repository.
	Name string `yaml:"name"`
	// Version is the chart's exact version (SemVer, e.g. 1.4.2): required,
	// never a range, so every cluster runs the same chart.
	Version string `yaml:"version"`
	// Values for every cluster (a regions[].values entry is merged over
	// them for that region's clusters). Strings may use ${CLUSTER_NAME},
	// ${REGION} and inventory values: Flux substitutes them per cluster.
	Values map[string]any `yaml:"values,omitempty"`
}

// IsChartOCI reports whether the chart is in an OCI registry.
func (c *AppChart) IsChartOCI() bool { return strings.HasPrefix(c.Repository, "oci://") }

// AppKustomize is a remote Kustomize base.
type AppKustomize struct {
	// URL is a git URL as kustomize reads remote bases, pinned with
	// ?ref=<tag or commit>: https://github.com/org/repo//deploy/base?ref=v1.2.0.
	URL string `yaml:"url"`
}

// Kind is the kind of app: "image", "chart" or "kustomize".
func (a *App) Kind() string {
	switch {
	case a.Chart != nil:
		return "chart"
	case a.Kustomize != nil:
		return "kustomize"
	}
	return "image"
}

// AppExpose opens an app's port to the site network on every node.
type AppExpose struct {
	NodePort int      `yaml:"nodePort"` // 30000-32767, the port devices connect to on any node
	From     []string `yaml:"from"`     // CIDRs allowed in, e.g. the site's sensor network
}

// AppFile is one configuration file of an app.
type AppFile struct {
	Path    string `yaml:"path"`    // absolute path in the container
	Content string `yaml:"content"` // the file's text
}

// Region is a group of clusters sharing an overlay and bootstrap files.
type Region struct {
	Name string `yaml:"name"`
	// Clusters lists cluster names; or use ClusterCount (+ ClusterPrefix)
	// to get stable names <prefix>-0001, <prefix>-0002, ...
	Clusters      []string `yaml:"clusters,omitempty"`
	ClusterCount  int      `yaml:"clusterCount,omitempty"`
	ClusterPrefix string   `yaml:"clusterPrefix,omitempty"`
	// Distribution overrides spec.distribution for this region: k3s | k0s.
	Distribution string `yaml:"distribution,omitempty"`
	// Engine overrides spec.engine for this region: flux | argocd.
	Engine string `yaml:"engine,omitempty"`
	// Overrides of the fleet defaults.
	Hardware     *Hardware `yaml:"hardware,omitempty"`
	Connectivity string    `yaml:"connectivity,omitempty"`
	// Bandwidth overrides spec.bandwidth for this region's sites.
	Bandwidth string `yaml:"bandwidth,omitempty"`
	// AgeRecipients are the region's own age public keys: the region's
	// nodes hold the matching private key (never the fleet-wide one).
	// Required when spec.secrets.ageRecipients is set.
	AgeRecipients []string `yaml:"ageRecipients,omitempty"`
	// GitURL overrides spec.git.url for this region's clusters: a git
	// mirror reachable from its sites (required reading for air-gapped).
	GitURL string `yaml:"gitURL,omitempty"`
	// Delivery overrides spec.delivery for this region (oci mode): the
	// registry mirror its sites pull from.
	Delivery *RegionDelivery `yaml:"delivery,omitempty"`
	// RegistryMirrors are hosts (host[:port]) that mirror the upstream
	// registries for this region's nodes.
	RegistryMirrors []string `yaml:"registryMirrors,omitempty"`
	// Labels are added to every node (node-label) and object of the region.
	Labels map[string]string `yaml:"labels,omitempty"`
	// MaintenanceWindow replaces spec.maintenanceWindow for this region
	// (as a whole: fields are not merged).
	MaintenanceWindow *MaintenanceWindow `yaml:"maintenanceWindow,omitempty"`
	// Rings puts named clusters of this region in a ring (ring name ->
	// cluster names), overriding the hash; the others are hashed.
	Rings map[string][]string `yaml:"rings,omitempty"`
	// Values are Helm values per chart app (app name -> values), merged
	// over spec.apps[].chart.values for this region's clusters (maps are
	// merged key by key, anything else is replaced, as Helm merges values).
	Values map[string]map[string]any `yaml:"values,omitempty"`
}
