package generator

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/fleetgen/fleetgen/blueprints"
	"github.com/fleetgen/fleetgen/generator/spec"
)

// k0s: the node bootstrap of regions whose spec.distribution (or
// regions[].distribution) is k0s. The Flux layer (cluster folders,
// FluxInstance, overlays) is the one K3s regions get; only what runs on
// the node differs: k0s.yaml instead of config.yaml, the manifest
// deployer's stack folder instead of K3s's auto-deploy folder, and a
// handover that releases the first-boot objects before removing their
// files (k0s prunes what a removed manifest created; K3s does not).

// k0s paths and names on the node (k0s defaults: data dir /var/lib/k0s,
// configuration /etc/k0s).
const (
	K0sDataDir        = "/var/lib/k0s"
	K0sEtc            = "/etc/k0s"
	K0sFirstBootDir   = K0sDataDir + "/manifests/" + K0sFirstBootStack
	K0sFirstBootStack = "fleetgen-first-boot"
	// K0sChartDir holds the Flux Operator chart of an air-gapped node.
	K0sChartDir = K0sDataDir + "/charts"
	// K0sStackLabel is the label k0s's manifest deployer puts on every
	// object of a stack, and prunes by (k0sproject/k0s pkg/applier/meta.go).
	K0sStackLabel = "k0s.k0sproject.io/stack"
	// k0sUpdateProber asks https://updates.k0sproject.io for new releases
	// (pkg/component/controller/updateprober.go): disabled, the fleet's
	// release is pinned and the link is the site's.
	k0sUpdateProber      = "update-prober"
	k0sProfileController = "fleetgen-controller"
	k0sProfileWorker     = "fleetgen-worker"
	k0sAuditLogDir       = "/var/log/k0s-audit"
)

func init() {
	for k, f := range map[string]Footprint{
		"k0s-controller-worker-sqlite": {"k0s controller+worker (kine/SQLite)", 768, 900, "k0sproject/k0s docs/system-requirements.md: a controller+worker node needs at least 1 GB and 1 vCPU, less fleetgen's OS line (256Mi, 100m); the docs publish no lower figure for kine, so none is assumed (measured there: a controller with one worker and no pods used 510 MB, ~180 MB of it the OS)"},
		"k0s-controller-worker-etcd":   {"k0s controller+worker (etcd)", 768, 900, "k0sproject/k0s docs/system-requirements.md: a controller+worker node needs at least 1 GB and 1 vCPU (measured with k0s's default etcd), less fleetgen's OS line (256Mi, 100m)"},
		"k0s-worker":                   {"k0s worker", 256, 900, "k0sproject/k0s docs/system-requirements.md: a worker node needs at least 0.5 GB and 1 vCPU, less fleetgen's OS line (256Mi, 100m)"},
		"k0s-coredns":                  {"CoreDNS (k0s)", 70, 100, "k0sproject/k0s pkg/component/controller/coredns.go requests"},
		"k0s-kube-router":              {"kube-router (k0s default network provider)", 16, 250, "k0sproject/k0s pkg/component/controller/kuberouter.go requests"},
		"k0s-metrics-server":           {"metrics-server (k0s)", 29, 10, "k0sproject/k0s pkg/component/controller/metricserver.go: 30M and 10m per 10 nodes"},
	} {
		Footprints[k] = f
	}
}

// K0s reports whether the region runs k0s.
func (d *Decisions) K0s() bool { return d.Distribution == "k0s" }

// dataMount is where a faster disk should be mounted for the datastore.
func (d *Decisions) dataMount() string {
	if d.K0s() {
		return K0sDataDir
	}
	return "/var/lib/rancher"
}

func k0sReasons(s *spec.FleetSpec, hw spec.Hardware) []string {
	out := []string{
		fmt.Sprintf("k0s %s (pinned; spec.distribution k0s): no ingress controller or service load balancer is part of k0s, so nothing is disabled for pull-only clusters; apps get ClusterIP Services that only pods of their own namespace may reach (NetworkPolicy, enforced by kube-router), unless spec.apps[].expose opens a NodePort to the site network", s.K0s.Version),
		"update-prober disabled (--disable-components) and telemetry off: no k0s call home over the site's link; the release is pinned in fleet.yaml",
	}
	return out
}

// k0sTopology says which node runs what.
func k0sTopology(datastore string, nodes int) string {
	switch {
	case nodes == 1:
		return "one node: k0s controller --single (controller and worker in one process tree, kine/SQLite, no konnectivity)"
	case datastore == "etcd":
		return fmt.Sprintf("%d nodes: every node a k0s controller with --enable-worker --no-taints (etcd quorum of %d); node-to-node pod traffic is not encrypted by kube-router: keep the nodes on the site network or a VPN", nodes, nodes)
	default:
		return fmt.Sprintf("%d nodes: one k0s controller with --enable-worker --no-taints (kine/SQLite cannot be shared by a second controller) and %d worker(s); node-to-node pod traffic is not encrypted by kube-router: keep the nodes on the site network or a VPN", nodes, nodes-1)
	}
}

// decideK0sUpgrade: k0s upgrades are not generated (k0s autopilot Plans
// would be the mechanism); plan and the README say so.
func decideK0sUpgrade(s *spec.FleetSpec, r *spec.Region, d *Decisions) {
	d.Upgrade = UpgradeDecision{Version: s.K0s.Version, Window: "none (k0s upgrades are not generated yet)",
		Drain: "not generated: fleetgen writes no k0s autopilot Plan yet; a new spec.k0s.version reaches nodes provisioned after it, existing nodes keep their release until upgraded by hand (k0s autopilot or a reinstall)"}
	d.Reasons = append(d.Reasons, "k0s upgrades: not generated yet (no autopilot Plan, no system-upgrade-controller on k0s clusters); provision.sh installs "+s.K0s.Version+" on new nodes")
	if s.RegionWindow(r) != nil {
		d.Reasons = append(d.Reasons, "spec.maintenanceWindow applies to the K3s regions only: nothing upgrades k0s clusters automatically")
	}
}

// K0sClusterConfig is k0s.k0sproject.io/v1beta1 ClusterConfig with the
// fields fleetgen sets: names and JSON tags as in k0sproject/k0s
// pkg/apis/k0s/v1beta1 (clusterconfig_types.go, api.go, storage.go,
// network.go, workerprofile.go, telemetry.go, images.go, extensions.go).
type K0sClusterConfig struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        K0sMeta        `json:"metadata"`
	Spec            K0sClusterSpec `json:"spec"`
}

type K0sMeta struct {
	Name string `json:"name"`
}

type K0sClusterSpec struct {
	API               *K0sAPISpec        `json:"api,omitempty"`
	ControllerManager *K0sArgs           `json:"controllerManager,omitempty"`
	Storage           *K0sStorageSpec    `json:"storage,omitempty"`
	Network           *K0sNetwork        `json:"network,omitempty"`
	WorkerProfiles    []K0sWorkerProfile `json:"workerProfiles,omitempty"`
	Telemetry         *K0sTelemetry      `json:"telemetry,omitempty"`
	Images            *K0sImages         `json:"images,omitempty"`
	Extensions        *K0sExtensions     `json:"extensions,omitempty"`
}

type K0sAPISpec struct {
	ExtraArgs map[string]string `json:"extraArgs,omitempty"`
}

type K0sArgs struct {
	ExtraArgs map[string]string `json:"extraArgs,omitempty"`
}

type K0sStorageSpec struct {
	Type string         `json:"type"`
	Kine *K0sKineConfig `json:"kine,omitempty"`
}

type K0sKineConfig struct {
	DataSource string `json:"dataSource,omitempty"`
}

type K0sNetwork struct {
	Provider string `json:"provider,omitempty"`
}

type K0sTelemetry struct {
	Enabled *bool `json:"enabled,omitempty"`
}

type K0sImages struct {
	DefaultPullPolicy string `json:"default_pull_policy,omitempty"`
}

type K0sExtensions struct {
	Helm *K0sHelmExtensions `json:"helm,omitempty"`
}

type K0sHelmExtensions struct {
	Charts []K0sChart `json:"charts,omitempty"`
}

type K0sChart struct {
	Name      string `json:"name"`
	ChartName string `json:"chartname"`
	Version   string `json:"version,omitempty"`
	TargetNS  string `json:"namespace"`
	Timeout   string `json:"timeout,omitempty"`
}

// K0sWorkerProfile is a worker profile: values is a KubeletConfiguration
// fragment (kubelet.config.k8s.io/v1beta1 field names; the tests decode it
// strictly into k8s.io/kubelet's type).
type K0sWorkerProfile struct {
	Name   string         `json:"name"`
	Values *KubeletValues `json:"values,omitempty"`
}

type KubeletValues struct {
	ProtectKernelDefaults          bool              `json:"protectKernelDefaults"`
	StreamingConnectionIdleTimeout string            `json:"streamingConnectionIdleTimeout"`
	TLSCipherSuites                []string          `json:"tlsCipherSuites"`
	EvictionHard                   map[string]string `json:"evictionHard"`
	EvictionSoft                   map[string]string `json:"evictionSoft"`
	EvictionSoftGracePeriod        map[string]string `json:"evictionSoftGracePeriod"`
	EvictionMaxPodGracePeriod      int32             `json:"evictionMaxPodGracePeriod"`
	SystemReserved                 map[string]string `json:"systemReserved"`
	KubeReserved                   map[string]string `json:"kubeReserved"`
	ImageGCHighThresholdPercent    *int32            `json:"imageGCHighThresholdPercent,omitempty"`
	ImageGCLowThresholdPercent     *int32            `json:"imageGCLowThresholdPercent,omitempty"`
}

// kubeletValues are the kubelet settings of the K3s bootstrap
// (kubeletArgs) as KubeletConfiguration fields.
func kubeletValues(d *Decisions, reserved string) *KubeletValues {
	hard := map[string]string{}
	for _, t := range strings.Split(EvictionHard, ",") {
		k, v, _ := strings.Cut(t, "<")
		hard[k] = v
	}
	sysFP, k0s := Footprints["os"], Footprints[reserved]
	kv := &KubeletValues{
		ProtectKernelDefaults:          true,
		StreamingConnectionIdleTimeout: "5m",
		TLSCipherSuites:                strings.Split(kubeletTLSCiphers, ","),
		EvictionHard:                   hard,
		EvictionSoft:                   map[string]string{"memory.available": "300Mi"},
		EvictionSoftGracePeriod:        map[string]string{"memory.available": "1m"},
		EvictionMaxPodGracePeriod:      60,
		SystemReserved:                 map[string]string{"cpu": fmt.Sprintf("%dm", sysFP.CPUm), "memory": fmt.Sprintf("%dMi", sysFP.MemoryMi)},
		KubeReserved:                   map[string]string{"cpu": fmt.Sprintf("%dm", k0s.CPUm), "memory": fmt.Sprintf("%dMi", k0s.MemoryMi)},
	}
	if d.Hardware.Storage == "sd" || d.Hardware.Storage == "emmc" {
		hi, lo := int32(70), int32(50)
		kv.ImageGCHighThresholdPercent, kv.ImageGCLowThresholdPercent = &hi, &lo
	}
	return kv
}

// K0sConfig is the controllers' /etc/k0s/k0s.yaml for a region.
func (p *planner) K0sConfig(r *spec.Region, d *Decisions) *K0sClusterConfig {
	s := &p.l.Spec
	storage := &K0sStorageSpec{Type: "etcd"}
	if d.Datastore == "sqlite" {
		// k0s's own default data source (DefaultKineConfig), written out.
		storage = &K0sStorageSpec{Type: "kine", Kine: &K0sKineConfig{DataSource: "sqlite://file:" + K0sDataDir + "/db/state.db?mode=rwc&_journal=WAL"}}
	}
	off := false
	c := &K0sClusterConfig{TypeMeta: typeMeta("k0s.k0sproject.io/v1beta1", "ClusterConfig"), Metadata: K0sMeta{Name: "k0s"}}
	c.Spec = K0sClusterSpec{
		API: &K0sAPISpec{ExtraArgs: map[string]string{
			// The k0s CIS benchmark page leaves these to the user
			// (checks 1.2.10, 1.2.22-25, 1.2.33): the K3s guide's values.
			"enable-admission-plugins":                "NodeRestriction,EventRateLimit",
			"admission-control-config-file":           K0sEtc + "/psa.yaml",
			"audit-policy-file":                       K0sEtc + "/audit.yaml",
			"audit-log-path":                          k0sAuditLogDir + "/audit.log",
			"audit-log-maxage":                        "30",
			"audit-log-maxbackup":                     "10",
			"audit-log-maxsize":                       "100",
			"encryption-provider-config":              K0sEtc + "/encryption.yaml",
			"service-account-extend-token-expiration": "false",
		}},
		ControllerManager: &K0sArgs{ExtraArgs: map[string]string{"terminated-pod-gc-threshold": "100"}},
		Storage:           storage,
		Network:           &K0sNetwork{Provider: "kuberouter"},
		WorkerProfiles: []K0sWorkerProfile{
			{Name: k0sProfileController, Values: kubeletValues(d, "k0s-controller-worker-"+d.Datastore)},
			{Name: k0sProfileWorker, Values: kubeletValues(d, "k0s-worker")},
		},
		Telemetry: &K0sTelemetry{Enabled: &off},
		Extensions: &K0sExtensions{Helm: &K0sHelmExtensions{Charts: []K0sChart{{
			Name: "flux-operator", ChartName: "oci://ghcr.io/controlplaneio-fluxcd/charts/flux-operator",
			Version: s.Flux.OperatorChartVersion, TargetNS: FluxNamespace, Timeout: k0sChartTimeout(r.Connectivity),
		}}}},
	}
	if d.Connectivity.PreloadImages {
		// Air-gapped: the bundle in <data-dir>/images and the region
		// mirror; k0s's own pods never pull (docs/airgap-install.md), and
		// the chart is a local .tgz (docs/helm-charts.md) that provision.sh
		// places from airgap/.
		c.Spec.Images = &K0sImages{DefaultPullPolicy: "Never"}
		c.Spec.Extensions.Helm.Charts[0].ChartName = K0sChartDir + "/" + k0sOperatorChartFile(s)
	}
	return c
}

// k0sOperatorChartFile is the file `helm pull` writes for the Flux
// Operator chart.
func k0sOperatorChartFile(s *spec.FleetSpec) string {
	return "flux-operator-" + s.Flux.OperatorChartVersion + ".tgz"
}

// k0sChartTimeout gives the operator's chart install time to pull its
// image over a slow link (k0s's default is 10m, docs/helm-charts.md).
func k0sChartTimeout(connectivity string) string {
	switch connectivity {
	case "intermittent":
		return "30m"
	case "satellite":
		return "60m"
	}
	return ""
}

// containerdMirrors are the containerd drop-in and hosts.toml files that
// send every upstream registry to the region's mirrors, under the same
// <mirror>/<upstream>/... layout as K3s's registries.yaml rewrite
// (override_path: the URL's path is the registry API root). k0s imports
// /etc/k0s/containerd.d/*.toml (k0s docs/runtime.md, "Configuring OCI
// registry mirrors").
func containerdMirrors(r *spec.Region, apps []spec.App) map[string][]byte {
	if len(r.RegistryMirrors) == 0 {
		return nil
	}
	out := map[string][]byte{}
	head := "# Code generated by fleetgen. DO NOT EDIT.\n"
	out["containerd.d/cri-registry.toml"] = []byte(head + "# Installed at " + K0sEtc + "/containerd.d/cri-registry.toml by provision.sh: containerd reads a\n# hosts.toml per upstream registry under certs.d (k0s docs/runtime.md).\nversion = 3\n\n[plugins.\"io.containerd.cri.v1.images\".registry]\nconfig_path = \"" + K0sEtc + "/containerd.d/certs.d\"\n")
	for _, u := range upstreamRegistries(apps) {
		var b strings.Builder
		b.WriteString(head + "# " + u + " through region " + r.Name + "'s mirrors, each holding it under the prefix " + u + "/.\n")
		server := "https://" + u
		if u == "docker.io" {
			server = "https://registry-1.docker.io"
		}
		b.WriteString("server = \"" + server + "\"\n")
		for _, m := range r.RegistryMirrors {
			b.WriteString("\n[host.\"https://" + m + "/v2/" + u + "\"]\ncapabilities = [\"pull\", \"resolve\"]\noverride_path = true\n")
		}
		out["containerd.d/certs.d/"+u+"/hosts.toml"] = []byte(b.String())
	}
	return out
}

// hardeningFile is a K3s hardening blueprint with its install path
// rewritten for k0s.
func hardeningFile(name string) ([]byte, error) {
	b, err := fs.ReadFile(blueprints.FS, "bootstrap/"+name)
	if err != nil {
		return nil, err
	}
	s := strings.ReplaceAll(string(b), "/var/lib/rancher/k3s/server/", K0sEtc+"/")
	s = strings.ReplaceAll(s, "audit-log-max* arguments in config.yaml", "audit-log-max* arguments in k0s.yaml")
	s = strings.ReplaceAll(s, "Kernel parameters K3s expects with protect-kernel-defaults: true (K3s CIS\n# hardening guide)", "Kernel parameters the kubelet expects with protectKernelDefaults: true (the\n# K3s CIS hardening guide's values; k0s's worker profile sets it)")
	return []byte(s), nil
}

func (p *planner) bootstrapK0s(r *spec.Region, d *Decisions) error {
	s := &p.l.Spec
	dir := path.Join("bootstrap", r.Name)
	p.gen(path.Join(dir, "k0s.yaml"), yamlFile("k0s "+s.K0s.Version+" ClusterConfig for the controllers of region "+r.Name+" (hardened: Pod Security restricted,\nEventRateLimit, audit log, secrets encryption, kubelet worker profiles). Installed at "+K0sEtc+"/k0s.yaml by provision.sh.\nThe Flux Operator chart is a k0s Helm extension: it stays, git does not manage the operator.", p.K0sConfig(r, d)))
	for _, name := range []string{"psa.yaml", "audit.yaml", "90-kubelet.conf"} {
		b, err := hardeningFile(name)
		if err != nil {
			return err
		}
		p.gen(path.Join(dir, name), b)
	}
	mirrors := containerdMirrors(r, s.Apps)
	if wasm := wasmContainerdFiles(r, d); len(wasm) > 0 {
		if mirrors == nil {
			mirrors = map[string][]byte{}
		}
		for n, b := range wasm {
			mirrors[n] = b
		}
	}
	names := make([]string, 0, len(mirrors))
	for n := range mirrors {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p.gen(path.Join(dir, n), mirrors[n])
	}
	branch, ringNote := s.Git.Branch, ""
	if s.HasRings() {
		branch = spec.RingBranch(RingPlaceholder)
		ringNote = " and " + RingPlaceholder + " with its ring (" + RingsFile + ")"
	}
	p.gen(path.Join(dir, "manifests/flux-instance.yaml"), marshal(
		"Flux at first boot; provision.sh replaces "+ClusterPlaceholder+" with the cluster's name"+ringNote+"\nand writes it into k0s's stack "+K0sFirstBootDir+"/.\nAfter the first sync, clusters/"+r.Name+"/<cluster>/flux-instance.yaml in git manages it,\nand the handover releases it from the stack and removes this file from the node.",
		p.fluxInstance(r, d, ClusterPlaceholder, branch)))
	if sec := CosignKeysSecret(s); sec != nil {
		p.gen(path.Join(dir, "manifests/cosign-keys.yaml"), marshal(cosignKeysComment, sec))
	}
	data := p.bootstrapData(r, d)
	data.K0sVersion, data.K0sStack, data.K0sStackDir, data.K0sStackLabel = s.K0s.Version, K0sFirstBootStack, K0sFirstBootDir, K0sStackLabel
	data.ContainerdFiles = names
	data.K0sProfileController, data.K0sProfileWorker = k0sProfileController, k0sProfileWorker
	data.K0sDisable = strings.Join(d.Disable, ",")
	data.K0sRegionLabels = strings.Join(nodeLabels(r), ",")
	data.K0sAuditLogDir = k0sAuditLogDir
	data.K0sChartDir, data.K0sChartFile = K0sChartDir, k0sOperatorChartFile(s)
	if labels := p.nodeLabelsFile(r); labels != nil {
		data.NodeLabelsFile = "node-labels.txt"
		p.gen(path.Join(dir, data.NodeLabelsFile), labels)
	}
	if s.HasRings() {
		data.RingsFile, data.RingPlaceholder, data.RingBranchPrefix = RingsFile, RingPlaceholder, spec.RingBranchPrefix
		p.gen(path.Join(dir, RingsFile), p.ringsFile(r))
	}
	for _, f := range []struct{ tmpl, out string }{
		{"bootstrap/k0s-provision.sh.tmpl", "provision.sh"},
		{"bootstrap/k0s-handover.sh.tmpl", "handover.sh"},
	} {
		b, err := render(f.tmpl, data)
		if err != nil {
			return err
		}
		p.script(path.Join(dir, f.out), b)
	}
	readme, err := render("bootstrap/k0s-README.md.tmpl", data)
	if err != nil {
		return err
	}
	p.gen(path.Join(dir, "README.md"), readme)
	return nil
}

// anyK3s reports whether a region of the fleet runs K3s (and so the
// shared infrastructure base carries system-upgrade-controller).
func (p *planner) anyK3s() bool { return p.res.anyK3s() }

func (r *Result) anyK3s() bool {
	for _, d := range r.Decisions {
		if !d.K0s() {
			return true
		}
	}
	return false
}

// sucDeletePatches remove every object of system-upgrade-controller and
// its CRD from a k0s region's build of the shared base (kustomize
// strategic-merge `$patch: delete`, one object each).
func sucDeletePatches() []KustomizePatch {
	var out []KustomizePatch
	for _, name := range []string{"upgrade/plan-crd.yaml", "upgrade/system-upgrade-controller.yaml"} {
		b, err := fs.ReadFile(blueprints.FS, name)
		if err != nil {
			panic(err)
		}
		for _, doc := range strings.Split(string(b), "\n---") {
			var o struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name      string `json:"name"`
					Namespace string `json:"namespace"`
				} `json:"metadata"`
			}
			if err := sigsyaml.Unmarshal([]byte(doc), &o); err != nil || o.Kind == "" {
				continue
			}
			patch := "$patch: delete\napiVersion: " + o.APIVersion + "\nkind: " + o.Kind + "\nmetadata:\n  name: " + o.Metadata.Name + "\n"
			if o.Metadata.Namespace != "" {
				patch += "  namespace: " + o.Metadata.Namespace + "\n"
			}
			out = append(out, KustomizePatch{Patch: patch})
		}
	}
	return out
}
