package generator

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/fleetgen/fleetgen/generator/spec"
)

// infrastructure writes the platform baseline every cluster applies before
// its apps: one namespace per app, labelled Pod Security "restricted", with
// default-deny network policies and DNS egress.
func (p *planner) infrastructure() {
	var nss []any
	var pols []any
	for _, a := range p.l.Spec.Apps {
		nss = append(nss, namespace(a.Name, p.l.Metadata.Name))
		pols = append(pols, networkPolicies(a)...)
	}
	var res []string
	if p.anyK3s() {
		res = append(res, "system-upgrade")
	}
	if len(nss) > 0 {
		p.gen("infrastructure/base/namespaces.yaml", marshal("One namespace per app, Pod Security Admission 'restricted' enforced.", nss...))
		p.gen("infrastructure/base/network-policies.yaml", marshal("Default deny, then allow DNS and each app's own port from inside its namespace,\nand from the site networks of apps with expose (fleet.yaml spec.apps[].expose).", pols...))
		res = append(res, "namespaces.yaml", "network-policies.yaml")
	}
	k := kustomization(res...)
	k.Labels = p.fleetLabels()
	p.gen("infrastructure/base/kustomization.yaml", marshal("Platform baseline applied to every cluster before its apps.", k))
}

func namespace(name, fleet string) *corev1.Namespace {
	ns := &corev1.Namespace{TypeMeta: typeMeta("v1", "Namespace"), ObjectMeta: objectMeta(name, "")}
	ns.Labels = map[string]string{
		"pod-security.kubernetes.io/enforce":         "restricted",
		"pod-security.kubernetes.io/enforce-version": "latest",
		"pod-security.kubernetes.io/audit":           "restricted",
		"pod-security.kubernetes.io/warn":            "restricted",
		FleetLabel:                                   fleet,
	}
	return ns
}

func networkPolicies(a spec.App) []any {
	ingressEgress := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	deny := &networkingv1.NetworkPolicy{TypeMeta: typeMeta("networking.k8s.io/v1", "NetworkPolicy"), ObjectMeta: objectMeta("default-deny", a.Name)}
	deny.Spec.PolicyTypes = ingressEgress
	udp, tcp := corev1.ProtocolUDP, corev1.ProtocolTCP
	dnsPort := intstr.FromInt32(53)
	dns := &networkingv1.NetworkPolicy{TypeMeta: typeMeta("networking.k8s.io/v1", "NetworkPolicy"), ObjectMeta: objectMeta("allow-dns", a.Name)}
	dns.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	dns.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{
		To: []networkingv1.NetworkPolicyPeer{{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
			PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
		}},
		Ports: []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: &dnsPort}, {Protocol: &tcp, Port: &dnsPort}},
	}}
	out := []any{deny, dns}
	if a.Port > 0 {
		port := intstr.FromInt32(int32(a.Port))
		allow := &networkingv1.NetworkPolicy{TypeMeta: typeMeta("networking.k8s.io/v1", "NetworkPolicy"), ObjectMeta: objectMeta("allow-"+a.Name, a.Name)}
		allow.Spec.PodSelector = metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": a.Name}}
		allow.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		allow.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
			From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &port}},
		}}
		out = append(out, allow)
		if e := a.Expose; e != nil {
			site := &networkingv1.NetworkPolicy{TypeMeta: typeMeta("networking.k8s.io/v1", "NetworkPolicy"), ObjectMeta: objectMeta("allow-"+a.Name+"-from-site", a.Name)}
			site.Spec.PodSelector = allow.Spec.PodSelector
			site.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
			var from []networkingv1.NetworkPolicyPeer
			for _, c := range e.From {
				from = append(from, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: c}})
			}
			// The NodePort's traffic reaches the pod on its own port, with
			// the client's address (externalTrafficPolicy Local).
			site.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: from, Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &port}}}}
			out = append(out, site)
		}
	}
	return out
}

// apps writes one folder per workload; every workload meets the Pod
// Security "restricted" profile and has requests and limits.
func (p *planner) apps() {
	var names []string
	for _, a := range p.l.Spec.Apps {
		if a.Image == "" {
			continue // a chart or remote base: written per region (regionApps)
		}
		dir := path.Join("apps/base", a.Name)
		res := []string{"deployment.yaml"}
		p.gen(path.Join(dir, "deployment.yaml"), marshal("", deployment(a, p.l.Metadata.Name)))
		if len(a.Files) > 0 {
			p.gen(path.Join(dir, "files.yaml"), marshal("The app's configuration files (fleet.yaml spec.apps[].files), mounted read-only.\nTaken literally: Flux substitutes no ${VAR} here (the app expands its own, e.g. FLEET_CLUSTER).", appFiles(a)))
			res = append(res, "files.yaml")
		}
		if a.Port > 0 {
			p.gen(path.Join(dir, "service.yaml"), marshal("", service(a)))
			res = append(res, "service.yaml")
		}
		k := kustomization(res...)
		k.Namespace = a.Name
		p.gen(path.Join(dir, "kustomization.yaml"), marshal("", k))
		names = append(names, a.Name)
	}
	sort.Strings(names)
	k := kustomization(names...)
	k.Labels = p.fleetLabels()
	p.gen("apps/base/kustomization.yaml", marshal("Workloads every cluster runs; per-cluster values arrive through Flux postBuild from cluster-vars.", k))
}

// fleetLabels mark every object with its fleet (and keep a base with no
// resources yet a valid kustomization).
func (p *planner) fleetLabels() []KustomizeLabel {
	return []KustomizeLabel{{Pairs: map[string]string{FleetLabel: p.l.Metadata.Name}, IncludeSelectors: false}}
}

func deployment(a spec.App, fleet string) *appsv1.Deployment {
	labels := map[string]string{"app.kubernetes.io/name": a.Name, "app.kubernetes.io/part-of": fleet}
	replicas := int32(a.Replicas)
	mem := resource.MustParse(a.Memory)
	cpu := resource.MustParse(a.CPU)
	cpuLimit := resource.NewMilliQuantity(max(cpu.MilliValue()*4, 100), resource.DecimalSI)
	f, t := false, true
	uid := a.RunAsUser
	c := corev1.Container{
		Name:            a.Name,
		Image:           a.Image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Env: []corev1.EnvVar{
			{Name: "FLEET_CLUSTER", Value: "${CLUSTER_NAME}"},
			{Name: "FLEET_REGION", Value: "${REGION}"},
		},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: mem},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: *cpuLimit, corev1.ResourceMemory: mem},
		},
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: &f,
			ReadOnlyRootFilesystem:   &t,
			RunAsNonRoot:             &t,
			RunAsUser:                &uid,
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
	}
	vols := []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptrQ("64Mi")}}}}
	for i, w := range a.WritablePaths {
		name := fmt.Sprintf("data-%d", i)
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: name, MountPath: w})
		vols = append(vols, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptrQ("256Mi")}}})
	}
	if a.Port > 0 {
		c.Ports = []corev1.ContainerPort{{Name: "main", ContainerPort: int32(a.Port), Protocol: corev1.ProtocolTCP}}
		probe := corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("main")}}
		c.ReadinessProbe = &corev1.Probe{ProbeHandler: probe, PeriodSeconds: 10}
		c.LivenessProbe = &corev1.Probe{ProbeHandler: probe, PeriodSeconds: 30, FailureThreshold: 5}
	}
	var podAnnotations map[string]string
	if len(a.Files) > 0 {
		vols = append(vols, corev1.Volume{Name: "files", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: appFilesName(a)}}}})
		for _, f := range a.Files {
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "files", MountPath: f.Path, SubPath: path.Base(f.Path), ReadOnly: true})
		}
		// A file mounted by subPath is not updated in a running pod: a
		// change of content changes this annotation, which rolls the pods.
		h := sha256.New()
		for _, f := range a.Files {
			fmt.Fprintf(h, "%s\x00%s\x00", f.Path, f.Content)
		}
		podAnnotations = map[string]string{FilesHashAnnotation: hex.EncodeToString(h.Sum(nil))[:16]}
	}
	d := &appsv1.Deployment{TypeMeta: typeMeta("apps/v1", "Deployment"), ObjectMeta: objectMeta(a.Name, "")}
	d.Spec.Template.Annotations = podAnnotations
	d.Labels = labels
	d.Spec.Replicas = &replicas
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": a.Name}}
	// Recreate: a 2 GB node has no room for a second copy during a rollout.
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	d.Spec.Template.Labels = labels
	d.Spec.Template.Spec = corev1.PodSpec{
		AutomountServiceAccountToken: &f,
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   &t,
			RunAsUser:      &uid,
			RunAsGroup:     &uid,
			FSGroup:        &uid,
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Containers: []corev1.Container{c},
		Volumes:    vols,
	}
	if sh, ok := a.WasmShim(); ok {
		// The shim's RuntimeClass: K3s ships it, fleetgen writes it for
		// k0s regions (wasm.go); same name everywhere.
		rc := sh.Name
		d.Spec.Template.Spec.RuntimeClassName = &rc
		if sh.ManifestImage {
			// The image holds the app's manifest, not a program: the
			// shim ignores the command, but containerd needs one.
			d.Spec.Template.Spec.Containers[0].Command = []string{"/"}
		}
	}
	return d
}

// FilesHashAnnotation on an app's pod template changes with its files.
const FilesHashAnnotation = "fleetgen.dev/files-sha256"

func appFilesName(a spec.App) string { return a.Name + "-files" }

// appFiles is the ConfigMap holding an app's configuration files, by base
// name. Flux's postBuild substitution is disabled on it: configuration
// languages use ${...} themselves (fluent-bit, shells, nginx), and an unset
// variable would silently become an empty string.
func appFiles(a spec.App) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{TypeMeta: typeMeta("v1", "ConfigMap"), ObjectMeta: objectMeta(appFilesName(a), "")}
	cm.Labels = map[string]string{"app.kubernetes.io/name": a.Name}
	cm.Annotations = map[string]string{SubstituteAnnotation: "disabled"}
	cm.Data = map[string]string{}
	for _, f := range a.Files {
		cm.Data[path.Base(f.Path)] = f.Content
	}
	return cm
}

func ptrQ(s string) *resource.Quantity {
	q := resource.MustParse(s)
	return &q
}

func service(a spec.App) *corev1.Service {
	s := &corev1.Service{TypeMeta: typeMeta("v1", "Service"), ObjectMeta: objectMeta(a.Name, "")}
	s.Labels = map[string]string{"app.kubernetes.io/name": a.Name}
	s.Spec.Selector = map[string]string{"app.kubernetes.io/name": a.Name}
	s.Spec.Ports = []corev1.ServicePort{{Name: "main", Port: int32(a.Port), TargetPort: intstr.FromString("main"), Protocol: corev1.ProtocolTCP}}
	if e := a.Expose; e != nil {
		// servicelb is disabled: devices on the site network connect to
		// any node's NodePort; Local keeps their address for the
		// NetworkPolicy and answers only on nodes running a replica.
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		s.Spec.Ports[0].NodePort = int32(e.NodePort)
	}
	return s
}

// regionOverlays writes the region's overlays of both bases.
func (p *planner) regionOverlays(r *spec.Region, d *Decisions) {
	labels := map[string]string{RegionLabel: r.Name}
	for k, v := range r.Labels {
		labels[k] = v
	}
	for _, area := range []string{"infrastructure", "apps"} {
		k := kustomization("../../base")
		switch {
		case area == "apps":
			k.Resources = append(k.Resources, p.regionApps(r, d)...)
		case !d.K0s():
			k.Resources = append(k.Resources, UpgradePlansFile)
		case len(d.Wasm) > 0:
			// k0s creates no RuntimeClass for a containerd runtime.
			p.gen(path.Join("infrastructure/regions", r.Name, WasmRuntimeClassesFile), marshal(
				"RuntimeClasses of the region's WebAssembly shims (fleet.yaml spec.apps[].wasm.shim). k0s creates none;\nthe containerd runtime each names is the node's "+K0sEtc+"/containerd.d/wasm-<shim>.toml, written by provision.sh.",
				wasmRuntimeClasses(d)...))
			k.Resources = append(k.Resources, WasmRuntimeClassesFile)
		}
		if area == "infrastructure" && d.K0s() && p.anyK3s() {
			// The shared base carries system-upgrade-controller for the
			// K3s regions; a k0s cluster has no Plan for it to run.
			k.Patches = sucDeletePatches()
		}
		k.Labels = []KustomizeLabel{{Pairs: labels, IncludeSelectors: false}}
		p.gen(path.Join(area, "regions", r.Name, "kustomization.yaml"),
			marshal(fmt.Sprintf("Overlay of %s/base for region %s. Hand edits are kept: `fleetgen regen` merges them three-way.", area, r.Name), k))
	}
}
