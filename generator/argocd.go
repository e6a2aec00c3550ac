package generator

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/fleetgen/fleetgen/blueprints"
	"github.com/fleetgen/fleetgen/generator/spec"
	"github.com/fleetgen/fleetgen/generator/tree"
)

// Argo CD in pull mode (spec.engine: argocd): every cluster runs its own
// Argo CD in its smallest form, core mode (application-controller,
// repo-server and redis; no API server, UI or Dex), installed at first boot
// from K3s's auto-deploy folder like Flux, and syncing the fleet repository
// itself. Nothing outside the cluster ever talks to its API server.
const (
	ArgoNamespace = "argocd"
	// ArgoVersion is the Argo CD release vendored in blueprints/argocd
	// (manifests/core-install.yaml at that tag, see its README.md).
	ArgoVersion = "v3.5.1"
	ArgoSource  = "https://github.com/argoproj/argo-cd/blob/" + ArgoVersion + "/manifests/core-install.yaml"
	// ArgoRootApp is the Application the first boot installs: it syncs the
	// cluster's folder, which holds Argo CD itself, this Application and
	// the infrastructure and apps Applications.
	ArgoRootApp = "cluster"
	// ArgoProject is the AppProject every generated Application belongs to
	// (core mode has no API server, which is what creates "default").
	ArgoProject = "fleet"
	// ArgoRepoSecretLabel marks a Secret as repository credentials.
	ArgoRepoSecretLabel = "argocd.argoproj.io/secret-type"
	// argoWave orders what one Application syncs (lower waves first; the
	// next wave starts once the previous one is healthy).
	argoWave = "argocd.argoproj.io/sync-wave"
	// localConfig keeps an object out of kustomize's output (it is input
	// for replacements only).
	localConfig = "config.kubernetes.io/local-config"
)

// The Argo CD core footprints. Upstream's manifests set no requests; the
// figures are the requests and limits the Argo CD Helm chart suggests
// (commented `resources` in argoproj/argo-helm charts/argo-cd/values.yaml),
// which blueprints/argocd/core-install.yaml sets on the containers. The
// budget counts the limits: the application-controller keeps the live state
// of every resource kind it watches in memory and repo-server forks
// kustomize for each manifest generation, so during a sync their working set
// is not their request, and a node must hold what the kubelet lets them take.
func init() {
	const src = "argoproj/argo-helm charts/argo-cd/values.yaml suggested limits (requests %s), set by fleetgen on Argo CD " + ArgoVersion + "'s core install"
	Footprints["argocd-application-controller"] = Footprint{"Argo CD application-controller", 512, 250, fmt.Sprintf(src, "256Mi, 250m")}
	Footprints["argocd-repo-server"] = Footprint{"Argo CD repo-server", 128, 10, fmt.Sprintf(src, "64Mi, 10m")}
	Footprints["argocd-redis"] = Footprint{"Argo CD redis", 128, 100, fmt.Sprintf(src, "64Mi, 100m")}
}

// ArgoComponents are Argo CD core's workloads, as counted in the budget.
var ArgoComponents = []string{"argocd-application-controller", "argocd-repo-server", "argocd-redis"}

// ArgoCD reports whether the region's clusters run Argo CD instead of Flux.
func (d *Decisions) ArgoCD() bool { return d.Engine == "argocd" }

// EngineName is the engine as the docs name it.
func (d *Decisions) EngineName() string {
	if d.ArgoCD() {
		return "Argo CD"
	}
	return "Flux"
}

// engineField is the field that chose region ri's engine.
func engineField(l *spec.Loaded, ri int) string {
	if f := fmt.Sprintf("spec.regions[%d].engine", ri); l.Has(f) {
		return f
	}
	return "spec.engine"
}

// argoReasons are what plan says about Argo CD in a region.
func argoReasons(d *Decisions) []string {
	p := d.Connectivity
	return []string{
		"GitOps engine: Argo CD " + ArgoVersion + " in pull mode, core install (application-controller, repo-server, redis; no API server, UI or Dex), one per cluster in namespace argocd, syncing the fleet repository itself: no central Argo CD reaches the cluster's API server",
		fmt.Sprintf("Argo CD polls git every %s (argocd-cm timeout.reconciliation, + up to %s jitter), a fetch or manifest generation may take %s; drift is corrected as it happens (selfHeal), so Flux's apply interval has no counterpart", p.GitInterval, ArgoJitter(p), p.GitTimeout),
		"Argo CD applies infrastructure (sync wave 0) before apps (wave 1): the cluster Application waits for the infrastructure Application to be Synced and Healthy (argocd-cm restores the health check of Applications that Argo CD 1.8 dropped, and makes it wait for Synced too)",
		"per-cluster values: CLUSTER_NAME and REGION reach the apps through kustomize replacements in clusters/<region>/<cluster>/apps (Argo CD has no postBuild substitution)",
		"secrets: Argo CD does not decrypt SOPS; nothing of this region is encrypted in git (fleet.yaml refuses age recipients for it), the git credentials are made on the node from a local file",
	}
}

// ArgoJitter is the profile's jitter as a duration: Argo CD adds up to it to
// each reconciliation (one-sided, where Flux spreads ±).
func ArgoJitter(p Profile) string {
	d, err := time.ParseDuration(p.GitInterval)
	if err != nil {
		return "0s"
	}
	return shortDuration(d * time.Duration(p.JitterPercent) / 100)
}

// shortDuration writes d as Go durations are written, without zero units:
// 6m, 30s, 1h, 1m30s.
func shortDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	h, m, sec := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	out := ""
	if h > 0 {
		out += fmt.Sprintf("%dh", h)
	}
	if m > 0 {
		out += fmt.Sprintf("%dm", m)
	}
	if sec > 0 || out == "" {
		out += fmt.Sprintf("%ds", sec)
	}
	return out
}

func seconds(s string) string {
	d, err := time.ParseDuration(s)
	if err != nil {
		return "60"
	}
	return fmt.Sprint(int(d.Seconds()))
}

// Types of the Argo CD objects fleetgen writes: field names of the
// argoproj.io/v1alpha1 CRDs (generator/testdata/schemas, from Argo CD
// v3.5.1's manifests/crds; kubeconform -strict checks them).

// ArgoApplication is argoproj.io/v1alpha1 Application.
type ArgoApplication struct {
	APIVersion string              `json:"apiVersion"`
	Kind       string              `json:"kind"`
	Metadata   ArgoMeta            `json:"metadata"`
	Spec       ArgoApplicationSpec `json:"spec"`
}

type ArgoMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type ArgoApplicationSpec struct {
	Project     string          `json:"project"`
	Source      ArgoSourceSpec  `json:"source"`
	Destination ArgoDestination `json:"destination"`
	SyncPolicy  *ArgoSyncPolicy `json:"syncPolicy,omitempty"`
}

type ArgoSourceSpec struct {
	RepoURL        string `json:"repoURL"`
	Path           string `json:"path"`
	TargetRevision string `json:"targetRevision"`
}

type ArgoDestination struct {
	Server    string `json:"server"`
	Namespace string `json:"namespace,omitempty"`
}

type ArgoSyncPolicy struct {
	Automated   *ArgoAutomated `json:"automated,omitempty"`
	SyncOptions []string       `json:"syncOptions,omitempty"`
	Retry       *ArgoRetry     `json:"retry,omitempty"`
}

type ArgoAutomated struct {
	Prune    bool `json:"prune"`
	SelfHeal bool `json:"selfHeal"`
}

type ArgoRetry struct {
	Limit   int64        `json:"limit"`
	Backoff *ArgoBackoff `json:"backoff,omitempty"`
}

type ArgoBackoff struct {
	Duration    string `json:"duration"`
	Factor      int64  `json:"factor"`
	MaxDuration string `json:"maxDuration"`
}

// ArgoAppProject is argoproj.io/v1alpha1 AppProject.
type ArgoAppProject struct {
	APIVersion string             `json:"apiVersion"`
	Kind       string             `json:"kind"`
	Metadata   ArgoMeta           `json:"metadata"`
	Spec       ArgoAppProjectSpec `json:"spec"`
}

type ArgoAppProjectSpec struct {
	Description              string            `json:"description"`
	SourceRepos              []string          `json:"sourceRepos"`
	Destinations             []ArgoDestination `json:"destinations"`
	ClusterResourceWhitelist []ArgoGroupKind   `json:"clusterResourceWhitelist"`
}

type ArgoGroupKind struct {
	Group string `json:"group"`
	Kind  string `json:"kind"`
}

// KustomizationWithReplacements is a kustomization.yaml with replacements
// (kustomize.config.k8s.io/v1beta1; kustomize docs "replacements").
type KustomizationWithReplacements struct {
	APIVersion   string        `json:"apiVersion"`
	Kind         string        `json:"kind"`
	Resources    []string      `json:"resources"`
	Replacements []Replacement `json:"replacements,omitempty"`
}

type Replacement struct {
	Source  ReplacementSource   `json:"source"`
	Targets []ReplacementTarget `json:"targets"`
}

type ReplacementSource struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	FieldPath string `json:"fieldPath"`
}

type ReplacementTarget struct {
	Select     ReplacementSelect `json:"select"`
	FieldPaths []string          `json:"fieldPaths"`
}

type ReplacementSelect struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

const inCluster = "https://kubernetes.default.svc"

func argoMeta(name string, annotations map[string]string) ArgoMeta {
	return ArgoMeta{Name: name, Namespace: ArgoNamespace, Annotations: annotations}
}

// argoApplication is one Application of a cluster: it syncs path of the
// fleet repository at branch, in wave (the cluster Application's order).
func (p *planner) argoApplication(r *spec.Region, d *Decisions, name, appPath, branch, wave string) *ArgoApplication {
	prof := d.Connectivity
	var ann map[string]string
	if wave != "" {
		ann = map[string]string{argoWave: wave}
	}
	a := &ArgoApplication{APIVersion: "argoproj.io/v1alpha1", Kind: "Application", Metadata: argoMeta(name, ann)}
	a.Spec = ArgoApplicationSpec{
		Project:     ArgoProject,
		Source:      ArgoSourceSpec{RepoURL: p.gitURL(r), Path: appPath, TargetRevision: branch},
		Destination: ArgoDestination{Server: inCluster},
		SyncPolicy: &ArgoSyncPolicy{
			Automated: &ArgoAutomated{Prune: true, SelfHeal: true},
			Retry:     &ArgoRetry{Limit: -1, Backoff: &ArgoBackoff{Duration: prof.RetryInterval, Factor: 2, MaxDuration: prof.SyncInterval}},
		},
	}
	if name == ArgoRootApp {
		// The cluster folder holds Argo CD itself: its Application CRD is
		// larger than the 256 KiB last-applied annotation allows.
		a.Spec.SyncPolicy.SyncOptions = []string{"ServerSideApply=true"}
	}
	return a
}

// argoProject is the AppProject of a region's Applications: the region's
// repository, the cluster itself, every kind (the infrastructure creates
// namespaces and CRDs).
func (p *planner) argoProject(r *spec.Region) *ArgoAppProject {
	return &ArgoAppProject{APIVersion: "argoproj.io/v1alpha1", Kind: "AppProject", Metadata: argoMeta(ArgoProject, nil),
		Spec: ArgoAppProjectSpec{
			Description:              "fleetgen: what this cluster's Argo CD may sync (its own fleet repository, into itself)",
			SourceRepos:              []string{p.gitURL(r)},
			Destinations:             []ArgoDestination{{Server: inCluster, Namespace: "*"}},
			ClusterResourceWhitelist: []ArgoGroupKind{{Group: "*", Kind: "*"}},
		}}
}

// argoHealthApplication is Argo CD's documented Lua health check for
// Applications (docs/operator-manual/health.md, "Argo CD App"): without it,
// a sync wave does not wait for the Applications of the previous wave. One
// change: an Application placed in a sync wave (infrastructure, apps) is
// Healthy only once it is also Synced, as a Flux dependsOn waits for Ready.
// With the documented check alone, the e2e test saw the apps Application
// created about 1.5 s before infrastructure's sync status said Synced (its
// health turns Healthy first). The root Application has no wave: it is in
// its own sync, OutOfSync until that sync ends, and waiting for it to be
// Synced would wait forever.
const argoHealthApplication = `hs = {}
hs.status = "Progressing"
hs.message = ""
if obj.status ~= nil then
  if obj.status.health ~= nil then
    hs.status = obj.status.health.status
    if obj.status.health.message ~= nil then
      hs.message = obj.status.health.message
    end
  end
  local waved = obj.metadata.annotations ~= nil and obj.metadata.annotations["argocd.argoproj.io/sync-wave"] ~= nil
  if waved and hs.status == "Healthy" and (obj.status.sync == nil or obj.status.sync.status ~= "Synced") then
    hs.status = "Progressing"
    hs.message = "fleetgen: waiting for the Application to be Synced"
  end
end
return hs
`

var argoUpstreamCM = sync.OnceValues(func() (*corev1.ConfigMap, error) {
	b, err := fs.ReadFile(blueprints.FS, "argocd/argocd-cm.yaml")
	if err != nil {
		return nil, err
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(b, &cm); err != nil {
		return nil, fmt.Errorf("blueprints/argocd/argocd-cm.yaml: %w", err)
	}
	return &cm, nil
})

// argoConfigMaps are the region's argocd-cm (upstream's data plus the
// region's polling and the Application health check) and
// argocd-cmd-params-cm (timeouts and the small-node parallelism).
func (p *planner) argoConfigMaps(d *Decisions) ([]any, error) {
	up, err := argoUpstreamCM()
	if err != nil {
		return nil, err
	}
	prof := d.Connectivity
	cm := &corev1.ConfigMap{TypeMeta: typeMeta("v1", "ConfigMap"), ObjectMeta: objectMeta("argocd-cm", ArgoNamespace)}
	cm.Labels = map[string]string{"app.kubernetes.io/name": "argocd-cm", "app.kubernetes.io/part-of": "argocd"}
	cm.Data = map[string]string{}
	for k, v := range up.Data {
		cm.Data[k] = v
	}
	cm.Data["timeout.reconciliation"] = prof.GitInterval
	cm.Data["timeout.reconciliation.jitter"] = ArgoJitter(prof)
	cm.Data["resource.customizations.health.argoproj.io_Application"] = argoHealthApplication
	cm.Data["admin.enabled"] = "false"
	cm.Data["statusbadge.enabled"] = "false"
	params := &corev1.ConfigMap{TypeMeta: typeMeta("v1", "ConfigMap"), ObjectMeta: objectMeta("argocd-cmd-params-cm", ArgoNamespace)}
	params.Labels = map[string]string{"app.kubernetes.io/name": "argocd-cmd-params-cm", "app.kubernetes.io/part-of": "argocd"}
	params.Data = map[string]string{
		// A cluster has three Applications: a few workers are plenty.
		"controller.status.processors":    "4",
		"controller.operation.processors": "2",
		// One manifest generation (a kustomize fork) at a time bounds
		// repo-server's memory on a small node.
		"reposerver.parallelism.limit":           "1",
		"controller.repo.server.timeout.seconds": seconds(prof.GitTimeout),
		"controller.sync.timeout.seconds":        seconds(prof.ApplyTimeout),
	}
	return []any{cm, params}, nil
}

// argoInstall is the vendored core install with its header.
var argoInstall = sync.OnceValues(func() ([]byte, error) {
	b, err := fs.ReadFile(blueprints.FS, "argocd/core-install.yaml")
	if err != nil {
		return nil, err
	}
	head := tree.GeneratedHeader + "# Argo CD " + ArgoVersion + " core install (no API server, UI, Dex or ApplicationSet controller), vendored from\n# " + ArgoSource + "\n# as blueprints/argocd/README.md describes (namespace argocd, requests and limits set).\n"
	return append([]byte(head), b...), nil
})

// argoNamespace is Argo CD's namespace, Pod Security restricted like the
// apps' (the core install's pods comply: TestArgoVendoredInstall).
func argoNamespace(fleet string) *corev1.Namespace { return namespace(ArgoNamespace, fleet) }

// argocdShared writes argocd/base: the namespace and the vendored install,
// shared by every Argo CD region.
func (p *planner) argocdShared() error {
	inst, err := argoInstall()
	if err != nil {
		return err
	}
	p.gen("argocd/base/namespace.yaml", marshal("Argo CD's namespace, Pod Security 'restricted' enforced (the core install complies).", argoNamespace(p.l.Metadata.Name)))
	p.gen("argocd/base/core-install.yaml", inst)
	p.gen("argocd/base/kustomization.yaml", marshal("Argo CD "+ArgoVersion+" core, the same on every Argo CD cluster; argocd/regions/<region> adds its settings.", kustomization("namespace.yaml", "core-install.yaml")))
	return nil
}

// argocdRegion writes argocd/regions/<region>: the base plus the region's
// configuration and AppProject.
func (p *planner) argocdRegion(r *spec.Region, d *Decisions) error {
	dir := path.Join("argocd/regions", r.Name)
	cms, err := p.argoConfigMaps(d)
	if err != nil {
		return err
	}
	p.gen(path.Join(dir, "argocd-cm.yaml"), marshal(fmt.Sprintf("Argo CD settings for region %s (connectivity %s): upstream's argocd-cm data, polling, the Application health check.", r.Name, r.Connectivity), cms...))
	p.gen(path.Join(dir, "project.yaml"), marshal("The AppProject of the cluster's Applications (core mode has no API server to create \"default\").", p.argoProject(r)))
	p.gen(path.Join(dir, "kustomization.yaml"), marshal(fmt.Sprintf("Argo CD for region %s. Hand edits are kept: `fleetgen regen` merges them three-way.", r.Name), kustomization("../../base", "argocd-cm.yaml", "project.yaml")))
	return nil
}

// argoFirstBoot is bootstrap/<region>/manifests/argocd.yaml: what
// argocd/regions/<region> builds to, flat, for K3s's auto-deploy folder
// (which applies plain manifests, not kustomizations).
func (p *planner) argoFirstBoot(r *spec.Region, d *Decisions) ([]byte, error) {
	inst, err := argoInstall()
	if err != nil {
		return nil, err
	}
	cms, err := p.argoConfigMaps(d)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(tree.GeneratedHeader)
	b.WriteString("# Argo CD at first boot (K3s auto-deploy): argocd/regions/" + r.Name + " as one file. After the first sync,\n")
	b.WriteString("# git manages all of it (clusters/" + r.Name + "/<cluster> includes argocd/regions/" + r.Name + "), and the handover removes this file.\n")
	objs := append([]any{argoNamespace(p.l.Metadata.Name)}, cms...)
	objs = append(objs, p.argoProject(r))
	b.WriteString("---\n")
	b.Write(bytes.TrimPrefix(marshal("", objs...), []byte(tree.GeneratedHeader)))
	b.Write(bytes.TrimPrefix(inst, []byte(tree.GeneratedHeader)))
	return b.Bytes(), nil
}

// argoClusterFiles renders the folder an Argo CD cluster syncs: Argo CD
// (the region's), its three Applications, and apps/ with its values.
func (p *planner) argoClusterFiles(r *spec.Region, d *Decisions, c spec.Cluster, branch string) []tree.File {
	dir := ClusterPath(r.Name, c.Name)
	var files []tree.File
	gen := func(name string, content []byte) {
		files = append(files, tree.File{Path: path.Join(dir, name), Content: content, Owner: tree.Generated, Mode: tree.ModeFile})
	}
	gen("cluster.yaml", marshal("This cluster's own Argo CD Application: it syncs this folder (Argo CD itself, these Applications).\nThe first boot installed it (bootstrap/"+r.Name+"/manifests/argocd-root.yaml); git manages it from then on.",
		p.argoApplication(r, d, ArgoRootApp, dir, branch, "")))
	gen("infrastructure.yaml", marshal("Sync wave 0: the region's infrastructure overlay.",
		p.argoApplication(r, d, InfrastructureName, "infrastructure/regions/"+r.Name, branch, "0")))
	gen("apps.yaml", marshal("Sync wave 1: applied once infrastructure is Healthy; apps/ adds this cluster's values to the region's overlay.",
		p.argoApplication(r, d, AppsName, path.Join(dir, "apps"), branch, "1")))
	gen("kustomization.yaml", marshal(fmt.Sprintf("Cluster %s in region %s: what its Argo CD syncs from %s (Application %s).", c.Name, r.Name, dir, ArgoRootApp),
		kustomization("../../../argocd/regions/"+r.Name, "cluster.yaml", "infrastructure.yaml", "apps.yaml")))
	gen("apps/cluster-vars.yaml", p.clusterVarsFile(r, d, c))
	k := &KustomizationWithReplacements{APIVersion: "kustomize.config.k8s.io/v1beta1", Kind: "Kustomization",
		Resources: []string{"../../../../apps/regions/" + r.Name, "cluster-vars.yaml"}}
	for _, v := range [][2]string{{"FLEET_CLUSTER", "CLUSTER_NAME"}, {"FLEET_REGION", "REGION"}} {
		rep := Replacement{Source: ReplacementSource{Kind: "ConfigMap", Name: ClusterVarsName, FieldPath: "data." + v[1]}}
		for _, a := range p.l.Spec.Apps {
			if a.Kind() != "image" {
				continue
			}
			rep.Targets = append(rep.Targets, ReplacementTarget{Select: ReplacementSelect{Kind: "Deployment", Name: a.Name},
				FieldPaths: []string{fmt.Sprintf("spec.template.spec.containers.[name=%s].env.[name=%s].value", a.Name, v[0])}})
		}
		if len(rep.Targets) > 0 {
			k.Replacements = append(k.Replacements, rep)
		}
	}
	gen("apps/kustomization.yaml", marshal("The region's apps with this cluster's values (kustomize replacements from cluster-vars).", k))
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files
}

const argoVarsComment = "Per-cluster values. Not applied (local-config): kustomize replacements in kustomization.yaml\ncopy them into the apps, where Flux would substitute ${VAR}s."

// argoRootApp is bootstrap/<region>/manifests/argocd-root.yaml: the
// cluster Application with the cluster's name left to provision.sh.
func (p *planner) argoRootApp(r *spec.Region, d *Decisions) []byte {
	return marshal("The cluster's root Application at first boot; provision.sh replaces "+ClusterPlaceholder+" with the cluster's name.\nAfter the first sync, clusters/"+r.Name+"/<cluster>/cluster.yaml in git manages it, and the handover removes this file.",
		p.argoApplication(r, d, ArgoRootApp, ClusterPath(r.Name, ClusterPlaceholder), p.l.Spec.Git.Branch, ""))
}

// bootstrapArgoManifests writes the first-boot manifests of an Argo CD
// region's K3s nodes (its other bootstrap files are the Flux regions').
func (p *planner) bootstrapArgoManifests(r *spec.Region, d *Decisions, dir string) error {
	fb, err := p.argoFirstBoot(r, d)
	if err != nil {
		return err
	}
	p.gen(path.Join(dir, "manifests/argocd.yaml"), fb)
	p.gen(path.Join(dir, "manifests/argocd-root.yaml"), p.argoRootApp(r, d))
	return nil
}

// anyArgo reports whether some region runs Argo CD.
func (p *planner) anyArgo() bool {
	for i := range p.res.Decisions {
		if p.res.Decisions[i].ArgoCD() {
			return true
		}
	}
	return false
}

// decideArgo finishes the decisions of an Argo CD region: its budget (Argo
// CD core instead of Flux), and the refusal, naming the engine's field,
// where it does not fit, with what Flux would leave.
func decideArgo(l *spec.Loaded, ri int, d *Decisions, nodeMi int64, build func([]string) Budget) (Decisions, error) {
	s := &l.Spec
	r := &s.Regions[ri]
	d.Budget = build(nil)
	d.Reasons = append(d.Reasons, argoReasons(d)...)
	argo := int64(0)
	for _, c := range ArgoComponents {
		argo += Footprints[c].MemoryMi
	}
	decideUpgrade(s, r, d)
	if d.Budget.MarginPercent < minMarginPercent {
		d.Engine = "flux"
		flux := build(minimalFlux)
		d.Engine = "argocd"
		return *d, l.Errorf(engineField(l, ri), "Argo CD does not fit in region %q (%s per node): K3s, Argo CD core (%dMi at the limits fleetgen sets: application-controller, repo-server, redis) and the apps reserve %dMi of %dMi (%d%% free, %d%% needed); the minimal Flux would leave %d%% (%dMi reserved). Use engine flux for this region, or nodes with more memory (fleetgen plan shows the budget)",
			r.Name, d.Hardware.Memory, argo, d.Budget.TotalMi, nodeMi, d.Budget.MarginPercent, minMarginPercent, flux.MarginPercent, flux.TotalMi)
	}
	d.Reasons = append(d.Reasons, fmt.Sprintf("Argo CD core fits: %dMi counted at its limits, %d%% of %s stays free", argo, d.Budget.MarginPercent, d.Hardware.Memory))
	return *d, nil
}

// argoSecretCommand makes an Argo CD repository Secret (Argo CD docs,
// operator-manual/declarative-setup.md "Repositories": a Secret labelled
// argocd.argoproj.io/secret-type=repository with type, url and the
// credentials), on an operator's machine, never in git. depth 1 makes
// repo-server fetch shallow (Repository.Depth, read from the Secret's
// "depth" key in util/db/repository_secrets.go; a full clone otherwise).
func argoSecretCommand(name, url string) string {
	if name == "" {
		return ""
	}
	cmd := "kubectl create secret generic " + name + " --namespace=" + ArgoNamespace + " --from-literal=type=git --from-literal=url=" + url + " --from-literal=depth=1"
	if strings.HasPrefix(url, "http://") || strings.HasPrefix(url, "https://") {
		cmd += ` --from-literal=username="$GIT_USER" --from-literal=password="$GIT_TOKEN"`
	} else {
		cmd += " --from-file=sshPrivateKey=./deploy-key"
	}
	return cmd + " --dry-run=client -o yaml | kubectl label --local -f - " + ArgoRepoSecretLabel + "=repository -o yaml > git-secret.yaml"
}
