package generator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	meta "github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fleetgen/fleetgen/generator/spec"
	"github.com/fleetgen/fleetgen/generator/tree"
)

// clusterToken stands for a cluster's name in the per-region rendering of
// the cluster folder; it is a DNS label, so YAML writes it unquoted and it
// can be replaced in the bytes.
const clusterToken = "fleetgen-cluster-name-token"

// clusters writes the folders of a region's clusters. The files of every
// cluster differ only by its name (and cluster-vars by its values), so the
// folder is rendered once with clusterToken and the name substituted: at
// 5,000 clusters, encoding 20,000 YAML files one by one was 90% of Plan.
// The substitution is checked against a direct rendering of the first
// cluster; if they differ (a name containing the token), every cluster is
// rendered directly.
func (p *planner) clusters(r *spec.Region, d *Decisions, cs []spec.Cluster) {
	if len(cs) == 0 {
		return
	}
	if !p.l.Spec.HasRings() {
		p.clustersOn(r, d, cs, p.l.Spec.Git.Branch)
		return
	}
	// Each ring's clusters sync its branch: one rendering per ring.
	byRing := map[string][]spec.Cluster{}
	for _, c := range cs {
		ring := p.l.Spec.ClusterRing(r, c.Name)
		byRing[ring] = append(byRing[ring], c)
	}
	for _, ring := range p.l.Spec.RingNames() {
		if len(byRing[ring]) > 0 {
			p.clustersOn(r, d, byRing[ring], spec.RingBranch(ring))
		}
	}
}

// clustersOn writes the folders of clusters that all sync branch.
func (p *planner) clustersOn(r *spec.Region, d *Decisions, cs []spec.Cluster, branch string) {
	tmpl := p.clusterFiles(r, d, spec.Cluster{Name: clusterToken, Region: r.Name}, branch)
	subst := func(c spec.Cluster) []tree.File {
		out := make([]tree.File, 0, len(tmpl))
		for _, f := range tmpl {
			if path.Base(f.Path) == "cluster-vars.yaml" {
				f.Content = p.clusterVarsFile(r, d, c)
			} else {
				f.Content = bytes.ReplaceAll(f.Content, []byte(clusterToken), []byte(c.Name))
			}
			f.Path = strings.ReplaceAll(f.Path, clusterToken, c.Name)
			out = append(out, f)
		}
		return out
	}
	direct := p.clusterFiles(r, d, cs[0], branch)
	if !sameFiles(direct, subst(cs[0])) {
		for _, c := range cs {
			p.t.Files = append(p.t.Files, p.clusterFiles(r, d, c, branch)...)
		}
		return
	}
	p.t.Files = append(p.t.Files, direct...)
	for _, c := range cs[1:] {
		p.t.Files = append(p.t.Files, subst(c)...)
	}
}

func sameFiles(a, b []tree.File) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Path != b[i].Path || a[i].Mode != b[i].Mode || !bytes.Equal(a[i].Content, b[i].Content) {
			return false
		}
	}
	return true
}

const clusterVarsComment = "Per-cluster values, substituted as ${VAR} in the region overlays (Flux postBuild)."

// clusterFiles renders the thin folder a cluster's Flux syncs: its Flux
// installation (FluxInstance, or flux-system/ in bootstrap mode), its
// values, and the two Kustomizations that point at the region overlays.
func (p *planner) clusterFiles(r *spec.Region, d *Decisions, c spec.Cluster, branch string) []tree.File {
	if d.ArgoCD() {
		return p.argoClusterFiles(r, d, c, branch)
	}
	dir := ClusterPath(r.Name, c.Name)
	var files []tree.File
	gen := func(name string, content []byte) {
		files = append(files, tree.File{Path: path.Join(dir, name), Content: content, Owner: tree.Generated, Mode: tree.ModeFile})
	}
	res := []string{}
	if p.l.Spec.Flux.Mode == "bootstrap" {
		sync, k := p.gotkSync(r, d, c.Name, dir, branch)
		gen("flux-system/gotk-sync.yaml", sync)
		gen("flux-system/kustomization.yaml", k)
		res = append(res, "flux-system")
	} else {
		gen("flux-instance.yaml", marshal(
			"Flux itself, managed from git after the first boot installed it (bootstrap/"+r.Name+"/manifests).",
			p.fluxInstance(r, d, c.Name, branch)))
		res = append(res, "flux-instance.yaml")
	}
	if sec := CosignKeysSecret(&p.l.Spec); sec != nil {
		gen("cosign-keys.yaml", marshal(cosignKeysComment, sec))
		res = append(res, "cosign-keys.yaml")
	}
	gen("cluster-vars.yaml", marshal(clusterVarsComment, p.clusterVars(r, c)))
	infra := p.fluxKustomization(r, d, InfrastructureName, "./infrastructure/regions/"+r.Name, nil)
	apps := p.fluxKustomization(r, d, AppsName, "./apps/regions/"+r.Name, []string{InfrastructureName})
	gen("infrastructure.yaml", marshal("", infra))
	gen("apps.yaml", marshal("Applied after infrastructure is ready (dependsOn).", apps))
	res = append(res, "cluster-vars.yaml", "infrastructure.yaml", "apps.yaml")
	k := kustomization(res...)
	gen("kustomization.yaml", marshal(fmt.Sprintf("Cluster %s in region %s: what its Flux syncs from %s.", c.Name, r.Name, dir), k))
	return files
}

// clusterVarsFile is a cluster's cluster-vars.yaml: Flux substitutes it,
// Argo CD clusters read it through kustomize replacements.
func (p *planner) clusterVarsFile(r *spec.Region, d *Decisions, c spec.Cluster) []byte {
	vars := p.clusterVars(r, c)
	if !d.ArgoCD() {
		return marshal(clusterVarsComment, vars)
	}
	vars.Namespace = ""
	vars.Annotations = map[string]string{localConfig: "true"}
	return marshal(argoVarsComment, vars)
}

func (p *planner) clusterVars(r *spec.Region, c spec.Cluster) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{TypeMeta: typeMeta("v1", "ConfigMap"), ObjectMeta: objectMeta(ClusterVarsName, FluxNamespace)}
	cm.Data = map[string]string{
		"CLUSTER_NAME": c.Name,
		"REGION":       r.Name,
		"FLEET_NAME":   p.l.Metadata.Name,
		"CONNECTIVITY": r.Connectivity,
	}
	for k, v := range c.Values {
		cm.Data[k] = v
	}
	return cm
}

func (p *planner) fluxKustomization(r *spec.Region, d *Decisions, name, target string, dependsOn []string) *kustomizev1.Kustomization {
	prof := d.Connectivity
	k := &kustomizev1.Kustomization{TypeMeta: typeMeta(kustomizev1.GroupVersion.String(), kustomizev1.KustomizationKind), ObjectMeta: objectMeta(name, FluxNamespace)}
	k.Spec = kustomizev1.KustomizationSpec{
		Interval:      duration(prof.SyncInterval),
		RetryInterval: ptrDuration(prof.RetryInterval),
		Timeout:       ptrDuration(prof.ApplyTimeout),
		Path:          target,
		Prune:         true,
		Wait:          true,
		SourceRef:     kustomizev1.CrossNamespaceSourceReference{Kind: p.sourceKind(), Name: FluxNamespace},
		PostBuild: &kustomizev1.PostBuild{SubstituteFrom: []kustomizev1.SubstituteReference{
			{Kind: "ConfigMap", Name: ClusterVarsName},
		}},
	}
	for _, dep := range dependsOn {
		k.Spec.DependsOn = append(k.Spec.DependsOn, kustomizev1.DependencyReference{Name: dep})
	}
	k.Spec.Decryption = p.decryption(r)
	return k
}

// decryption is what every Kustomization of a region's clusters decrypts
// SOPS files with: the region's age key in the sops-age Secret, where
// .sops.yaml has recipients for the region (nil otherwise). flux-system
// gets it too: .sops.yaml encrypts files under clusters/<region>/, and
// flux-system is what applies them.
func (p *planner) decryption(r *spec.Region) *kustomizev1.Decryption {
	if len(p.l.Spec.RegionRecipients(r)) == 0 {
		return nil
	}
	return &kustomizev1.Decryption{Provider: "sops", SecretRef: &meta.LocalObjectReference{Name: SopsSecretName}}
}

func duration(s string) metav1.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err) // profiles are constants
	}
	return metav1.Duration{Duration: d}
}

func ptrDuration(s string) *metav1.Duration {
	d := duration(s)
	return &d
}

// sparseDirs are the only folders a cluster of region r needs.
func sparseDirs(region, cluster string) []string {
	return []string{
		"apps/base", "apps/regions/" + region,
		ClusterPath(region, cluster),
		"infrastructure/base", "infrastructure/regions/" + region,
	}
}

// fluxInstance is the Flux Operator's description of Flux on one cluster.
// cluster may be ClusterPlaceholder (the bootstrap copy); branch is what
// it syncs in git mode (spec.git.branch, or its ring's branch).
func (p *planner) fluxInstance(r *spec.Region, d *Decisions, cluster, branch string) *FluxInstance {
	s := &p.l.Spec
	prof := d.Connectivity
	fi := &FluxInstance{TypeMeta: typeMeta("fluxcd.controlplane.io/v1", "FluxInstance"), ObjectMeta: objectMeta("flux", FluxNamespace)}
	// The FluxInstance is applied by the flux-system Kustomization it
	// defines, which prunes: without this annotation, moving or renaming
	// the file would delete the FluxInstance and uninstall Flux (the Flux
	// Operator documents it for self-managed instances).
	fi.Annotations = map[string]string{PruneAnnotation: "disabled"}
	fi.Spec.Distribution = FluxDistribution{Version: s.Flux.Version, Registry: s.Flux.Registry}
	fi.Spec.Components = d.FluxComponents
	fi.Spec.Cluster = &FluxCluster{Type: "kubernetes", Size: d.FluxSize, NetworkPolicy: true, Domain: "cluster.local"}
	patches := []KustomizePatch{{
		Target: &PatchTarget{Kind: "Deployment", Name: "(source-controller|kustomize-controller)"},
		Patch:  jsonPatchAdd("/spec/template/spec/containers/0/args/-", fmt.Sprintf("--interval-jitter-percentage=%d", prof.JitterPercent)),
	}}
	srcOps := [][2]string{{"/spec/timeout", prof.GitTimeout}}
	if v := ociVerification(s); v != nil {
		// The operator's sync has no verify field: patched onto the
		// OCIRepository it renders (JSON is YAML).
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		srcOps = append(srcOps, [2]string{"/spec/verify", string(b)})
	}
	if !s.OCI() {
		if v := s.Git.VerifySecretName; v != "" {
			srcOps = append(srcOps, [2]string{"/spec/verify", "{mode: HEAD, secretRef: {name: " + v + "}}"})
		}
		if prof.SparseCheckout {
			srcOps = append(srcOps, [2]string{"/spec/sparseCheckout", "[" + strings.Join(sparseDirs(r.Name, cluster), ", ") + "]"})
		}
	}
	patches = append(patches, KustomizePatch{Target: &PatchTarget{Kind: p.sourceKind(), Name: FluxNamespace}, Patch: jsonPatchAddAll(srcOps)})
	// The operator renders the flux-system Kustomization with interval 10m
	// whatever sync.interval says (that is the source's interval), and with
	// no decryption: both are patched here (an "add" replaces a member that
	// exists).
	ksOps := [][2]string{{"/spec/interval", prof.SyncInterval}, {"/spec/retryInterval", prof.RetryInterval}, {"/spec/timeout", prof.ApplyTimeout}}
	if dec := p.decryption(r); dec != nil {
		ksOps = append(ksOps, [2]string{"/spec/decryption", "{provider: " + dec.Provider + ", secretRef: {name: " + dec.SecretRef.Name + "}}"})
	}
	patches = append(patches, KustomizePatch{Target: &PatchTarget{Kind: "Kustomization", Name: FluxNamespace}, Patch: jsonPatchAddAll(ksOps)})
	fi.Spec.Kustomize = &FluxKustomize{Patches: patches}
	fi.Spec.Sync = &FluxSync{
		Kind:       sourcev1.GitRepositoryKind,
		URL:        p.gitURL(r),
		Ref:        "refs/heads/" + branch,
		Path:       ClusterPath(r.Name, cluster),
		PullSecret: s.Git.SecretName,
		Interval:   prof.GitInterval,
	}
	if s.OCI() {
		// The operator renders an OCIRepository following the tag Ref
		// (flux-operator internal/builder/templates.go syncTmpl).
		fi.Spec.Sync.Kind = sourcev1.OCIRepositoryKind
		fi.Spec.Sync.URL = RegionOCIURL(s, r)
		fi.Spec.Sync.Ref = ArtifactTag(s, r.Name, cluster)
		fi.Spec.Sync.PullSecret = s.Delivery.PullSecret
	}
	return fi
}

// sourceKind is the kind of every cluster's flux-system source.
func (p *planner) sourceKind() string {
	if p.l.Spec.OCI() {
		return sourcev1.OCIRepositoryKind
	}
	return sourcev1.GitRepositoryKind
}

// OCIURL is the OCIRepository URL of a fleet in oci delivery mode.
func OCIURL(s *spec.FleetSpec) string { return "oci://" + s.Delivery.Repository }

// RegionOCIURL is the OCIRepository URL region r's clusters pull from
// (its registry mirror when regions[].delivery.repository is set).
func RegionOCIURL(s *spec.FleetSpec, r *spec.Region) string { return "oci://" + s.RegionRepository(r) }

// ArtifactTag is the tag of the artifact a cluster syncs in oci delivery
// mode: the cluster's name (unit cluster), or its region's (unit region).
// Names are DNS-1123 labels, so always valid tags.
func ArtifactTag(s *spec.FleetSpec, region, cluster string) string {
	if s.Delivery.Unit == "region" {
		return region
	}
	return cluster
}

// ociVerification is the OCIRepository's spec.verify (nil: none).
func ociVerification(s *spec.FleetSpec) *sourcev1.OCIRepositoryVerification {
	v := s.Delivery.Verify
	if !s.OCI() || v == nil {
		return nil
	}
	out := &sourcev1.OCIRepositoryVerification{Provider: v.Provider}
	if v.SecretName != "" {
		out.SecretRef = &meta.LocalObjectReference{Name: v.SecretName}
	}
	for _, id := range v.MatchOIDCIdentity {
		out.MatchOIDCIdentity = append(out.MatchOIDCIdentity, sourcev1.OIDCIdentityMatch{Issuer: id.Issuer, Subject: id.Subject})
	}
	return out
}

// CosignKeysSecret is the Secret of the public keys clusters verify their
// artifact with (nil: no key-based verification). Public keys only: it
// is not a credential and is committed. source-controller tries every
// data key ending in .pub.
func CosignKeysSecret(s *spec.FleetSpec) *corev1.Secret {
	v := s.Delivery.Verify
	if !s.OCI() || v == nil || len(v.PublicKeys) == 0 {
		return nil
	}
	sec := &corev1.Secret{TypeMeta: typeMeta("v1", "Secret"), ObjectMeta: objectMeta(v.SecretName, FluxNamespace), Type: corev1.SecretTypeOpaque}
	sec.StringData = map[string]string{}
	for i, k := range v.PublicKeys {
		sec.StringData[fmt.Sprintf("cosign-%d.pub", i+1)] = strings.TrimSpace(k) + "\n"
	}
	return sec
}

const cosignKeysComment = "Public keys only (not a credential): the cosign keys this cluster's OCIRepository\nverifies its artifact with (spec.delivery.verify.publicKeys). source-controller accepts\nan artifact signed by any *.pub key here."

func jsonPatchAdd(p, value string) string { return jsonPatchAddAll([][2]string{{p, value}}) }

// jsonPatchAddAll writes a JSON6902 patch of "add" operations as YAML text.
func jsonPatchAddAll(ops [][2]string) string {
	var b strings.Builder
	for _, op := range ops {
		fmt.Fprintf(&b, "- op: add\n  path: %s\n  value: %s\n", op[0], op[1])
	}
	return b.String()
}

// gotkSync writes the classic `flux bootstrap` files. gotk-components.yaml
// is not written: it comes from `flux install --export` (see the README),
// never from a copy fleetgen would have to keep in step with Flux.
func (p *planner) gotkSync(r *spec.Region, d *Decisions, cluster, dir, branch string) (sync, kust []byte) {
	s := &p.l.Spec
	prof := d.Connectivity
	repo := &sourcev1.GitRepository{TypeMeta: typeMeta(sourcev1.GroupVersion.String(), sourcev1.GitRepositoryKind), ObjectMeta: objectMeta(FluxNamespace, FluxNamespace)}
	repo.Spec = sourcev1.GitRepositorySpec{
		URL:       p.gitURL(r),
		Interval:  duration(prof.GitInterval),
		Timeout:   ptrDuration(prof.GitTimeout),
		Reference: &sourcev1.GitRepositoryRef{Branch: branch},
	}
	if s.Git.SecretName != "" {
		repo.Spec.SecretRef = &meta.LocalObjectReference{Name: s.Git.SecretName}
	}
	if prof.SparseCheckout {
		repo.Spec.SparseCheckout = sparseDirs(r.Name, cluster)
	}
	if v := s.Git.VerifySecretName; v != "" {
		repo.Spec.Verification = &sourcev1.GitRepositoryVerification{Mode: sourcev1.ModeGitHEAD, SecretRef: meta.LocalObjectReference{Name: v}}
	}
	var source any = repo
	if s.OCI() {
		oci := &sourcev1.OCIRepository{TypeMeta: typeMeta(sourcev1.GroupVersion.String(), sourcev1.OCIRepositoryKind), ObjectMeta: objectMeta(FluxNamespace, FluxNamespace)}
		oci.Spec = sourcev1.OCIRepositorySpec{
			URL:       RegionOCIURL(s, r),
			Reference: &sourcev1.OCIRepositoryRef{Tag: ArtifactTag(s, r.Name, cluster)},
			Interval:  duration(prof.GitInterval),
			Timeout:   ptrDuration(prof.GitTimeout),
		}
		if n := s.Delivery.PullSecret; n != "" {
			oci.Spec.SecretRef = &meta.LocalObjectReference{Name: n}
		}
		oci.Spec.Verify = ociVerification(s)
		source = oci
	}
	ks := &kustomizev1.Kustomization{TypeMeta: typeMeta(kustomizev1.GroupVersion.String(), kustomizev1.KustomizationKind), ObjectMeta: objectMeta(FluxNamespace, FluxNamespace)}
	ks.Spec = kustomizev1.KustomizationSpec{
		Interval:      duration(prof.SyncInterval),
		RetryInterval: ptrDuration(prof.RetryInterval),
		Timeout:       ptrDuration(prof.ApplyTimeout),
		Path:          "./" + ClusterPath(r.Name, cluster),
		Prune:         true,
		SourceRef:     kustomizev1.CrossNamespaceSourceReference{Kind: p.sourceKind(), Name: FluxNamespace},
		Decryption:    p.decryption(r),
	}
	sync = marshal("", source, ks)
	k := kustomization("gotk-components.yaml", "gotk-sync.yaml")
	k.Patches = append([]KustomizePatch{{
		Target: &PatchTarget{Kind: "Deployment", Name: "(source-controller|kustomize-controller)"},
		Patch:  jsonPatchAdd("/spec/template/spec/containers/0/args/-", fmt.Sprintf("--interval-jitter-percentage=%d", prof.JitterPercent)),
	}}, sizePatches(d.FluxSize)...)
	return sync, marshal(
		"gotk-components.yaml is yours to create, once per Flux upgrade:\n  "+gotkComponentsCommand(d)+" > "+path.Join(dir, "flux-system/gotk-components.yaml"), k)
}

func gotkComponentsCommand(d *Decisions) string {
	comps := append([]string(nil), d.FluxComponents...)
	sort.Strings(comps)
	return "flux install --export --components=" + strings.Join(comps, ",")
}

// sizePatches give the controllers of the classic layout the resources and
// concurrency of the Flux Operator's size profile of the same name, as
// FluxInstance cluster.size does in operator mode
// (controlplaneio-fluxcd/flux-operator internal/builder, size.small and
// size.medium goldens).
func sizePatches(size string) []KustomizePatch {
	type profile struct {
		resourcesTarget                   string
		reqCPU, reqMem, limCPU, limMem    string
		concurrent, requeue, helmCacheMax string
		sourceConcurrent                  string
	}
	var pr profile
	switch size {
	case "small":
		pr = profile{"", "100m", "64Mi", "1000m", "512Mi", "5", "10s", "10", ""}
	case "medium":
		pr = profile{"(kustomize-controller|helm-controller|source-controller)", "100m", "128Mi", "2000m", "1Gi", "10", "5s", "50", "5"}
	default:
		return nil
	}
	args := func(flags ...string) string {
		var ops [][2]string
		for _, f := range flags {
			ops = append(ops, [2]string{"/spec/template/spec/containers/0/args/-", f})
		}
		return jsonPatchAddAll(ops)
	}
	resources := fmt.Sprintf("- op: replace\n  path: /spec/template/spec/containers/0/resources\n  value: {requests: {cpu: %s, memory: %s}, limits: {cpu: %s, memory: %s}}\n",
		pr.reqCPU, pr.reqMem, pr.limCPU, pr.limMem)
	source := []string{"--helm-cache-max-size=" + pr.helmCacheMax, "--helm-cache-ttl=720m", "--helm-cache-purge-interval=60m"}
	if pr.sourceConcurrent != "" {
		source = append(source, "--concurrent="+pr.sourceConcurrent)
	}
	return []KustomizePatch{
		{Target: &PatchTarget{Kind: "Deployment", Name: pr.resourcesTarget}, Patch: resources},
		{Target: &PatchTarget{Kind: "Deployment", Name: "(kustomize-controller|helm-controller)"}, Patch: args("--concurrent="+pr.concurrent, "--requeue-dependency="+pr.requeue)},
		{Target: &PatchTarget{Kind: "Deployment", Name: "source-controller"}, Patch: args(source...)},
	}
}
