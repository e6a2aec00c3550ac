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
		},
		"kube-controller-manager-arg": []string{"terminated-pod-gc-threshold=10"},
		"kubelet-arg":                 kubeletArgs(d),
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
	return c
}

// K3sAgentConfig is an agent node's config.yaml.
func K3sAgentConfig(r *spec.Region, d *Decisions) map[string]any {
	return map[string]any{
		"protect-kernel-defaults": true,
		"node-label":              nodeLabels(r),
		"kubelet-arg":             kubeletArgs(d),
	}
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

func kubeletArgs(d *Decisions) []string {
	args := []string{"streaming-connection-idle-timeout=5m"}
	// Keep the node alive under memory pressure: evict pods before the
	// kernel OOM-kills K3s itself.
	args = append(args, "eviction-hard=memory.available<100Mi,nodefs.available<10%", "system-reserved=memory=256Mi")
	if d.Hardware.Storage == "sd" || d.Hardware.Storage == "emmc" {
		// Fewer image layers kept on flash that wears.
		args = append(args, "image-gc-high-threshold=70", "image-gc-low-threshold=50")
	}
	return args
}

// registries writes registries.yaml: every upstream registry goes to the
// region's mirrors first; with the embedded registry, nodes also share
// images peer-to-peer (an empty mirror entry enables Spegel for it).
func registries(r *spec.Region, d *Decisions, apps []spec.App) map[string]any {
	mirrors := map[string]any{}
	for _, u := range upstreamRegistries(apps) {
		entry := map[string]any{}
		if len(r.RegistryMirrors) > 0 {
			var eps []string
			for _, m := range r.RegistryMirrors {
				eps = append(eps, "https://"+m)
			}
			entry["endpoint"] = eps
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
	if s.Flux.Mode == "operator" {
		p.gen(path.Join(dir, "manifests/flux-operator.yaml"), marshal("Installs the Flux Operator at first boot (K3s auto-deploy).", p.operatorChart()))
		p.gen(path.Join(dir, "manifests/flux-instance.yaml"), marshal(
			"Flux at first boot; provision.sh replaces "+ClusterPlaceholder+" with the cluster's name.\nAfter the first sync, clusters/"+r.Name+"/<cluster>/flux-instance.yaml in git manages it.",
			p.fluxInstance(r, d, ClusterPlaceholder)))
	}
	data := p.bootstrapData(r, d)
	script, err := render("bootstrap/provision.sh.tmpl", data)
	if err != nil {
		return err
	}
	p.script(path.Join(dir, "provision.sh"), script)
	readme, err := render("bootstrap/bootstrap-README.md.tmpl", data)
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
	Fleet, Region, Mode, GitURL, GitSecret, K3sVersion, InstallVersionVar string
	FluxVersion, OperatorChartVersion, Placeholder, ClusterLabel          string
	SopsSecret, GotkCommand, ExampleCluster, VerifySecret                 string
	GitSecretCommand                                                      string
	AirGapped, WearingStorage, NeedsAgeKey                                bool
	RegistryMirrors                                                       []string
}

func (p *planner) bootstrapData(r *spec.Region, d *Decisions) bootstrapData {
	s := &p.l.Spec
	installVar := "INSTALL_K3S_VERSION"
	if strings.Count(s.K3s.Version, ".") == 1 {
		installVar = "INSTALL_K3S_CHANNEL"
	}
	example := ""
	if cs := p.l.RegionClusters(r.Name); len(cs) > 0 {
		example = cs[0].Name
	}
	return bootstrapData{
		Decisions: d, Fleet: p.l.Metadata.Name, Region: r.Name, Mode: s.Flux.Mode, GitURL: p.gitURL(r), GitSecret: s.Git.SecretName,
		K3sVersion: s.K3s.Version, InstallVersionVar: installVar, FluxVersion: s.Flux.Version, OperatorChartVersion: s.Flux.OperatorChartVersion,
		Placeholder: ClusterPlaceholder, ClusterLabel: ClusterLabel, SopsSecret: SopsSecretName, GotkCommand: gotkComponentsCommand(d),
		ExampleCluster: example, AirGapped: d.Connectivity.PreloadImages, WearingStorage: d.Hardware.Storage == "sd" || d.Hardware.Storage == "emmc",
		RegistryMirrors: r.RegistryMirrors, VerifySecret: s.Git.VerifySecretName,
		NeedsAgeKey: len(s.RegionRecipients(r)) > 0, GitSecretCommand: gitSecretCommand(s.Git.SecretName, p.gitURL(r)),
	}
}

// templates are parsed on first use, not at start-up of every command.
var templates = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("").Funcs(template.FuncMap{"join": strings.Join}).ParseFS(blueprints.FS, "bootstrap/*.tmpl", "repo/*.tmpl"))
})

func render(name string, data any) ([]byte, error) {
	var b bytes.Buffer
	if err := templates().ExecuteTemplate(&b, path.Base(name), data); err != nil {
		return nil, fmt.Errorf("blueprint %s: %w", name, err)
	}
	return b.Bytes(), nil
}
