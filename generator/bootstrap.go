package generator

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"text/template"

	"github.com/fleetgen/fleetgen/blueprints"
	"github.com/fleetgen/fleetgen/generator/spec"
	"github.com/fleetgen/fleetgen/generator/tree"
)

// K3s paths used in config.yaml (the files provision.sh installs).
const (
	k3sServerDir = "/var/lib/rancher/k3s/server"
)

// K3sServerConfig is the server's /etc/rancher/k3s/config.yaml: each key
// is a `k3s server` flag without its dashes (K3s CIS hardening guide).
func K3sServerConfig(r *spec.Region, d *Decisions) map[string]any {
	labels := nodeLabels(r)
	c := map[string]any{
		"write-kubeconfig-mode":   "0600",
		"secrets-encryption":      true,
		"protect-kernel-defaults": true,
		"disable":                 d.Disable,
		"node-label":              labels,
		"kube-apiserver-arg": []string{
			"enable-admission-plugins=NodeRestriction,EventRateLimit",
			"admission-control-config-file=" + k3sServerDir + "/psa.yaml",
			"audit-policy-file=" + k3sServerDir + "/audit.yaml",
			"audit-log-path=" + k3sServerDir + "/logs/audit.log",
			"audit-log-maxage=30",
			"audit-log-maxbackup=10",
			"audit-log-maxsize=100",
			"service-account-extend-token-expiration=false",
		},
		"kube-controller-manager-arg": []string{"terminated-pod-gc-threshold=100"},
		"kubelet-arg":                 kubeletArgs(d, true),
	}
	if d.Datastore == "etcd" {
		c["cluster-init"] = true
		// Snapshots are the only backup of an edge control plane.
		c["etcd-snapshot-schedule-cron"] = "0 */6 * * *"
		c["etcd-snapshot-retention"] = 8
	}
	if d.EmbeddedReg {
		c["embedded-registry"] = true
	}
	if d.WireGuard {
		c["flannel-backend"] = "wireguard-native"
	}
	if d.Connectivity.PreloadImages {
		// Air-gapped: never fall back to the upstream registries.
		c["disable-default-registry-endpoint"] = true
	}
	return c
}

// K3sAgentConfig is an agent node's config.yaml.
func K3sAgentConfig(r *spec.Region, d *Decisions) map[string]any {
	c := map[string]any{
		"protect-kernel-defaults": true,
		"node-label":              nodeLabels(r),
		"kubelet-arg":             kubeletArgs(d, false),
	}
	if d.Connectivity.PreloadImages {
		c["disable-default-registry-endpoint"] = true
	}
	return c
}

func nodeLabels(r *spec.Region) []string {
	labels := []string{RegionLabel + "=" + r.Name, "topology.kubernetes.io/region=" + r.Name}
	keys := make([]string, 0, len(r.Labels))
	for k := range r.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		labels = append(labels, k+"="+r.Labels[k])
	}
	return labels
}

// kubeletTLSCiphers are the kubelet's TLS cipher suites of the K3s CIS
// hardening guide ("v1.29 and newer").
const kubeletTLSCiphers = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305"

// EvictionHard is every hard eviction threshold of the kubelet, at its
// defaults: setting eviction-hard replaces the whole default set, so a
// list naming only memory would drop the disk and inode thresholds.
const EvictionHard = "memory.available<100Mi,nodefs.available<10%,imagefs.available<15%,nodefs.inodesFree<5%,imagefs.inodesFree<5%"

func kubeletArgs(d *Decisions, server bool) []string {
	args := []string{"streaming-connection-idle-timeout=5m", "tls-cipher-suites=" + kubeletTLSCiphers}
	// Keep the node alive under memory pressure: the kubelet evicts pods
	// softly (with their grace period) well before the hard threshold,
	// and the memory of the OS and of K3s itself is not given to pods.
	sysFP := Footprints["os"]
	k3s := Footprints["k3s-agent"]
	if server {
		k3s = Footprints["k3s-server-"+d.Datastore]
	}
	args = append(args,
		"eviction-hard="+EvictionHard,
		"eviction-soft=memory.available<300Mi",
		"eviction-soft-grace-period=memory.available=1m",
		"eviction-max-pod-grace-period=60",
		fmt.Sprintf("system-reserved=cpu=%dm,memory=%dMi", sysFP.CPUm, sysFP.MemoryMi),
		fmt.Sprintf("kube-reserved=cpu=%dm,memory=%dMi", k3s.CPUm, k3s.MemoryMi),
	)
	if d.Hardware.Storage == "sd" || d.Hardware.Storage == "emmc" {
		// Fewer image layers kept on flash that wears.
		args = append(args, "image-gc-high-threshold=70", "image-gc-low-threshold=50")
	}
	return args
}

// registries writes registries.yaml: every upstream registry goes to the
// region's mirrors first; with the embedded registry, nodes also share
// images peer-to-peer (an empty mirror entry enables Spegel for it). Several
// upstreams share one mirror, so each is rewritten under a prefix named
// after it (docker.io/library/redis is pulled as <mirror>/docker.io/library/redis):
// without it, ghcr.io/x/y and docker.io/x/y would be the same repository.
func registries(r *spec.Region, d *Decisions, apps []spec.App) map[string]any {
	mirrors := map[string]any{}
	ups := upstreamRegistries(apps)
	if d.ArgoCD() {
		// Argo CD's redis image (core-install.yaml).
		ups = append(ups, "public.ecr.aws")
		sort.Strings(ups)
	}
	for _, u := range ups {
		entry := map[string]any{}
		if len(r.RegistryMirrors) > 0 {
			var eps []string
			for _, m := range r.RegistryMirrors {
				eps = append(eps, "https://"+m)
			}
			entry["endpoint"] = eps
			entry["rewrite"] = map[string]string{"^(.*)$": u + "/$1"}
		}
		if len(entry) > 0 || d.EmbeddedReg {
			mirrors[u] = entry
		}
	}
	return map[string]any{"mirrors": mirrors}
}

// upstreamRegistries are the registries K3s, Flux and the fleet's apps pull
// from: the common ones plus each app image's registry host.
func upstreamRegistries(apps []spec.App) []string {
	regs := []string{"docker.io", "ghcr.io", "quay.io", "registry.k8s.io"}
	for _, a := range apps {
		if a.Image == "" {
			continue // a chart's or remote base's images are not known here
		}
		host := "docker.io" // an image without a registry host is Docker Hub's
		if first, _, ok := strings.Cut(a.Image, "/"); ok && strings.ContainsAny(first, ".:") {
			host = first
		}
		if !contains(regs, host) {
			regs = append(regs, host)
		}
	}
	sort.Strings(regs)
	return regs
}

func yamlFile(comment string, v any) []byte {
	var b bytes.Buffer
	b.WriteString(tree.GeneratedHeader)
	for _, line := range strings.Split(comment, "\n") {
		if line != "" {
			b.WriteString("# " + line + "\n")
		}
	}
	b.Write(encodeYAML(viaJSON(v)))
	return b.Bytes()
}

func (p *planner) bootstrap(r *spec.Region, d *Decisions) error {
	if d.K0s() {
		return p.bootstrapK0s(r, d)
	}
	s := &p.l.Spec
	dir := path.Join("bootstrap", r.Name)
	p.gen(path.Join(dir, "config.yaml"), yamlFile("K3s server configuration for region "+r.Name+" (CIS hardened). Installed by provision.sh.\nThe cluster's identity is added on the node in config.yaml.d/10-identity.yaml.", K3sServerConfig(r, d)))
	p.gen(path.Join(dir, "agent-config.yaml"), yamlFile("K3s agent configuration for region "+r.Name+". Installed by provision.sh --agent.", K3sAgentConfig(r, d)))
	p.gen(path.Join(dir, "registries.yaml"), yamlFile("Registry mirrors for region "+r.Name+".", registries(r, d, s.Apps)))
	for _, name := range []string{"psa.yaml", "audit.yaml", "90-kubelet.conf"} {
		b, err := fs.ReadFile(blueprints.FS, "bootstrap/"+name)
		if err != nil {
			return err
		}
		p.gen(path.Join(dir, name), b)
	}
	// The first-boot copy syncs what the cluster's own files sync: its
	// ring's branch, looked up by provision.sh in rings.txt.
	branch, ringNote := s.Git.Branch, ""
	if s.HasRings() {
		branch = spec.RingBranch(RingPlaceholder)
		ringNote = " and " + RingPlaceholder + " with its ring (" + RingsFile + ")"
	}
	if d.ArgoCD() {
		if err := p.bootstrapArgoManifests(r, d, dir); err != nil {
			return err
		}
	} else if s.Flux.Mode == "operator" {
		p.gen(path.Join(dir, "manifests/flux-operator.yaml"), marshal("Installs the Flux Operator at first boot (K3s auto-deploy). It stays on the node: git does not manage the operator.", p.operatorChart()))
		p.gen(path.Join(dir, "manifests/flux-instance.yaml"), marshal(
			"Flux at first boot; provision.sh replaces "+ClusterPlaceholder+" with the cluster's name"+ringNote+".\nAfter the first sync, clusters/"+r.Name+"/<cluster>/flux-instance.yaml in git manages it,\nand the handover removes this file from the node.",
			p.fluxInstance(r, d, ClusterPlaceholder, branch)))
	} else {
		// The cluster's gotk-sync.yaml with its name left to provision.sh,
		// so that the node needs this folder only.
		sync, _ := p.gotkSync(r, d, ClusterPlaceholder, ClusterPath(r.Name, ClusterPlaceholder), branch)
		head := "# Code generated by fleetgen. DO NOT EDIT.\n"
		p.gen(path.Join(dir, "manifests/flux-sync.yaml"), []byte(head+
			"# clusters/"+r.Name+"/<cluster>/flux-system/gotk-sync.yaml for the first boot; provision.sh replaces\n"+
			"# "+ClusterPlaceholder+" with the cluster's name"+ringNote+", and the handover removes it once Flux has synced.\n"+
			strings.TrimPrefix(string(sync), head)))
	}
	if sec := CosignKeysSecret(s); sec != nil {
		// K3s applies it at first boot, before Flux's first pull has to
		// verify anything; from then on the cluster folder's copy (Flux)
		// keeps it, rotations included.
		p.gen(path.Join(dir, "manifests/cosign-keys.yaml"), marshal(cosignKeysComment, sec))
	}
	data := p.bootstrapData(r, d)
	if labels := p.nodeLabelsFile(r); labels != nil {
		data.NodeLabelsFile = "node-labels.txt"
		p.gen(path.Join(dir, data.NodeLabelsFile), labels)
	}
	if s.HasRings() {
		data.RingsFile, data.RingPlaceholder, data.RingBranchPrefix = RingsFile, RingPlaceholder, spec.RingBranchPrefix
		p.gen(path.Join(dir, RingsFile), p.ringsFile(r))
	}
	script, err := render("bootstrap/provision.sh.tmpl", data)
	if err != nil {
		return err
	}
	p.script(path.Join(dir, "provision.sh"), script)
	handoverTmpl, readmeTmpl := "bootstrap/handover.sh.tmpl", "bootstrap/bootstrap-README.md.tmpl"
	// The README is the same blueprint: it says what differs for Argo CD.
	if d.ArgoCD() {
		handoverTmpl = "bootstrap/argocd-handover.sh.tmpl"
	}
	handover, err := render(handoverTmpl, data)
	if err != nil {
		return err
	}
	p.script(path.Join(dir, "handover.sh"), handover)
	readme, err := render(readmeTmpl, data)
	if err != nil {
		return err
	}
	p.gen(path.Join(dir, "README.md"), readme)
	return nil
}

func (p *planner) operatorChart() *HelmChart {
	h := &HelmChart{TypeMeta: typeMeta("helm.cattle.io/v1", "HelmChart"), ObjectMeta: objectMeta("flux-operator", "kube-system")}
	h.Spec = HelmChartSpec{
		Chart:           "oci://ghcr.io/controlplaneio-fluxcd/charts/flux-operator",
		Version:         p.l.Spec.Flux.OperatorChartVersion,
		TargetNamespace: FluxNamespace,
		CreateNamespace: true,
	}
	return h
}

type bootstrapData struct {
	*Decisions
	Fleet, Region, Mode, GitURL, GitSecret, K3sVersion             string
	FluxVersion, OperatorChartVersion, Placeholder, ClusterLabel   string
	SopsSecret, GotkCommand, ExampleCluster, VerifySecret          string
	NodeLabelsFile, FirstServerEnv, EvictionHard, GitSecretCommand string
	RingsFile, RingPlaceholder, RingBranchPrefix                   string
	// Argo CD regions (argocd.go).
	ArgoCD                                                       bool
	EngineName, GitSecretFile, GitSecretNamespace                string
	ArgoNamespace, ArgoRootApp, ArgoVersion, ArgoRepoSecretLabel string
	SourceKind, ArtifactTag                                      string
	// k0s regions (k0s.go).
	K0sVersion, K0sStack, K0sStackDir, K0sStackLabel, K0sDisable string
	K0sProfileController, K0sProfileWorker, K0sRegionLabels      string
	K0sAuditLogDir, K0sChartDir, K0sChartFile                    string
	ContainerdFiles                                              []string
	AirGapped, WearingStorage, NeedsAgeKey, OCI                  bool
	RegistryMirrors, FleetRecipients, RegionRecipients           []string
	FirstBootFiles                                               []firstBootFile
}

// firstBootFile is a file provision.sh writes into the auto-deploy folder
// of a cluster's first server, and the handover removes once Flux has
// synced from git.
type firstBootFile struct {
	Name     string
	Template bool // the cluster's name is written in by provision.sh
	Secret   bool // made on the node from a FLEETGEN_*_FILE, never in git
}

// ringsFile lists the ring of each of the region's clusters, one a line:
// "<cluster> <ring>" (what provision.sh writes into the first-boot files).
func (p *planner) ringsFile(r *spec.Region) []byte {
	var b bytes.Buffer
	b.WriteString("# Code generated by fleetgen. DO NOT EDIT.\n# cluster ring: the branch " + spec.RingBranchPrefix + "<ring> its Flux syncs (spec.rings).\n")
	for _, c := range p.l.RegionClusters(r.Name) {
		b.WriteString(c.Name + " " + p.l.Spec.ClusterRing(r, c.Name) + "\n")
	}
	return b.Bytes()
}

// nodeLabelsFile lists the inventory's node labels of the region's
// clusters, one cluster a line: "<cluster> key=value ...". Nil when no
// cluster of the region has labels.
func (p *planner) nodeLabelsFile(r *spec.Region) []byte {
	var b bytes.Buffer
	for _, c := range p.l.RegionClusters(r.Name) {
		if len(c.Labels) == 0 {
			continue
		}
		keys := make([]string, 0, len(c.Labels))
		for k := range c.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString(c.Name)
		for _, k := range keys {
			b.WriteString(" " + k + "=" + c.Labels[k])
		}
		b.WriteString("\n")
	}
	if b.Len() == 0 {
		return nil
	}
	head := tree.GeneratedHeader + "# Node labels from the inventory (label:KEY columns), one cluster a line. provision.sh writes\n" +
		"# them into the node's config.yaml.d/10-identity.yaml; K3s applies node-label when the node registers.\n"
	return append([]byte(head), b.Bytes()...)
}

func (p *planner) bootstrapData(r *spec.Region, d *Decisions) bootstrapData {
	s := &p.l.Spec
	example := ""
	if cs := p.l.RegionClusters(r.Name); len(cs) > 0 {
		example = cs[0].Name
	}
	needsAge := len(s.RegionRecipients(r)) > 0
	var files []firstBootFile
	gitSecretFile, gitSecretNS := "flux-git-secret.yaml", FluxNamespace
	if d.ArgoCD() {
		files = append(files, firstBootFile{Name: "argocd.yaml"}, firstBootFile{Name: "argocd-root.yaml", Template: true})
		gitSecretFile, gitSecretNS = "argocd-repo-secret.yaml", ArgoNamespace
	} else if s.Flux.Mode == "operator" {
		files = append(files, firstBootFile{Name: "flux-instance.yaml", Template: true})
	} else {
		files = append(files, firstBootFile{Name: "flux-components.yaml"}, firstBootFile{Name: "flux-sync.yaml", Template: true})
	}
	if CosignKeysSecret(s) != nil {
		files = append(files, firstBootFile{Name: "cosign-keys.yaml"})
	}
	files = append(files, firstBootFile{Name: gitSecretFile, Secret: true})
	secret, url, secretCmd := s.Git.SecretName, p.gitURL(r), gitSecretCommand(s.Git.SecretName, p.gitURL(r))
	if d.ArgoCD() {
		secretCmd = argoSecretCommand(s.Git.SecretName, url)
	}
	if s.OCI() {
		secret, url, secretCmd = s.Delivery.PullSecret, RegionOCIURL(s, r), ociSecretCommand(s.Delivery.PullSecret, s.RegionRepository(r))
	}
	var env []string
	if secret != "" {
		env = append(env, "FLEETGEN_GIT_SECRET_FILE=/root/flux-git-secret.yaml")
	}
	if needsAge {
		files = append(files, firstBootFile{Name: "sops-age.yaml", Secret: true})
		env = append(env, "FLEETGEN_AGE_KEY_FILE=/root/"+r.Name+".agekey")
	}
	if s.Git.VerifySecretName != "" {
		files = append(files, firstBootFile{Name: "flux-signing-keys.yaml", Secret: true})
		env = append(env, "FLEETGEN_SIGNING_KEYS_FILE=/root/fleet-signing-keys.asc")
	}
	return bootstrapData{
		Decisions: d, Fleet: p.l.Metadata.Name, Region: r.Name, Mode: s.Flux.Mode, GitURL: url, GitSecret: secret,
		SourceKind: p.sourceKind(), OCI: s.OCI(), ArtifactTag: ArtifactTag(s, r.Name, ClusterPlaceholder),
		K3sVersion: s.K3s.Version, FluxVersion: s.Flux.Version, OperatorChartVersion: s.Flux.OperatorChartVersion,
		Placeholder: ClusterPlaceholder, ClusterLabel: ClusterLabel, SopsSecret: SopsSecretName, GotkCommand: gotkComponentsCommand(d),
		ExampleCluster: example, AirGapped: d.Connectivity.PreloadImages, WearingStorage: d.Hardware.Storage == "sd" || d.Hardware.Storage == "emmc",
		RegistryMirrors: r.RegistryMirrors, VerifySecret: s.Git.VerifySecretName,
		NeedsAgeKey: needsAge, FleetRecipients: s.Secrets.AgeRecipients, RegionRecipients: r.AgeRecipients,
		FirstBootFiles: files, FirstServerEnv: strings.Join(env, " "), EvictionHard: EvictionHard, GitSecretCommand: secretCmd,
		ArgoCD: d.ArgoCD(), EngineName: d.EngineName(), GitSecretFile: gitSecretFile, GitSecretNamespace: gitSecretNS,
		ArgoNamespace: ArgoNamespace, ArgoRootApp: ArgoRootApp, ArgoVersion: ArgoVersion, ArgoRepoSecretLabel: ArgoRepoSecretLabel,
	}
}

// templates are parsed on first use, not at start-up of every command.
var templates = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("").Funcs(template.FuncMap{"join": strings.Join, "hasPrefix": strings.HasPrefix}).ParseFS(blueprints.FS, "bootstrap/*.tmpl", "repo/*.tmpl"))
})

func render(name string, data any) ([]byte, error) {
	var b bytes.Buffer
	if err := templates().ExecuteTemplate(&b, path.Base(name), data); err != nil {
		return nil, fmt.Errorf("blueprint %s: %w", name, err)
	}
	return b.Bytes(), nil
}

// NodeKey says which age key the nodes of a region hold: the region's own
// (never the operators' fleet-wide key, which fleet.yaml validation keeps
// off nodes), or none when nothing of the region is encrypted.
func NodeKey(l *spec.Loaded, region string) string {
	r, ok := l.Region(region)
	if !ok || len(l.Spec.RegionRecipients(r)) == 0 {
		return "no age key (nothing of this region is SOPS-encrypted)"
	}
	return "the region's own age key (" + strings.Join(r.AgeRecipients, ", ") + "), as Secret " + SopsSecretName + "; never the fleet-wide operators' key"
}
