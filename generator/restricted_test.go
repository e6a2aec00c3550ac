package generator

import (
	"fmt"
	"path"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// rsBuild runs `kustomize build dir` over the planned tree, in memory.
func rsBuild(t *testing.T, fsys filesys.FileSystem, dir string) []*resource.Resource {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fsys, "/"+dir)
	if err != nil {
		t.Errorf("kustomize build %s: %v", dir, err)
		return nil
	}
	return m.Resources()
}

func rsMemFS(t *testing.T, res *Result) filesys.FileSystem {
	t.Helper()
	fsys := filesys.MakeFsInMemory()
	for _, f := range res.Tree.Files {
		if err := fsys.WriteFile("/"+f.Path, f.Content); err != nil {
			t.Fatal(err)
		}
	}
	return fsys
}

// rsDecode converts a rendered object into a typed struct; unknown or
// duplicate fields are errors.
func rsDecode(r *resource.Resource, into any) error {
	b, err := r.AsYAML()
	if err != nil {
		return err
	}
	return yaml.UnmarshalStrict(b, into)
}

// rsWorkload is one pod template found in a rendered build.
type rsWorkload struct {
	where     string // "<example> <dir> Kind namespace/name"
	namespace string
	pod       corev1.PodSpec
}

// rsObjects is what one region renders (apps and infrastructure together).
type rsObjects struct {
	workloads  []rsWorkload
	namespaces []corev1.Namespace
	policies   map[string][]networkingv1.NetworkPolicy // by namespace
	suc        []*resource.Resource                    // system-upgrade-controller's objects (namespace system-upgrade)
}

func rsCollect(t *testing.T, objs *rsObjects, label, dir string, rs []*resource.Resource) {
	t.Helper()
	for _, r := range rs {
		gvk := r.GetGvk()
		// system-upgrade-controller is the one exception, checked in
		// upgrades_test.go: its namespace must be privileged (the upgrade
		// Jobs replace the K3s binary on the host), and its manifests are
		// the upstream release's, unchanged.
		if r.GetNamespace() == SUCNamespace || (gvk.Kind == "Namespace" && r.GetName() == SUCNamespace) {
			objs.suc = append(objs.suc, r)
			continue
		}
		where := fmt.Sprintf("%s %s %s %s/%s", label, dir, gvk.Kind, r.GetNamespace(), r.GetName())
		var pod *corev1.PodSpec
		var err error
		switch {
		case gvk.Group == "apps" && gvk.Kind == "Deployment":
			var o appsv1.Deployment
			err = rsDecode(r, &o)
			pod = &o.Spec.Template.Spec
		case gvk.Group == "apps" && gvk.Kind == "StatefulSet":
			var o appsv1.StatefulSet
			err = rsDecode(r, &o)
			pod = &o.Spec.Template.Spec
		case gvk.Group == "apps" && gvk.Kind == "DaemonSet":
			var o appsv1.DaemonSet
			err = rsDecode(r, &o)
			pod = &o.Spec.Template.Spec
		case gvk.Group == "apps" && gvk.Kind == "ReplicaSet":
			var o appsv1.ReplicaSet
			err = rsDecode(r, &o)
			pod = &o.Spec.Template.Spec
		case gvk.Group == "batch" && gvk.Kind == "Job":
			var o batchv1.Job
			err = rsDecode(r, &o)
			pod = &o.Spec.Template.Spec
		case gvk.Group == "batch" && gvk.Kind == "CronJob":
			var o batchv1.CronJob
			err = rsDecode(r, &o)
			pod = &o.Spec.JobTemplate.Spec.Template.Spec
		case gvk.Group == "" && gvk.Kind == "Pod":
			var o corev1.Pod
			err = rsDecode(r, &o)
			pod = &o.Spec
		case gvk.Group == "" && gvk.Kind == "Namespace":
			var o corev1.Namespace
			if err = rsDecode(r, &o); err == nil {
				objs.namespaces = append(objs.namespaces, o)
			}
		case gvk.Group == "networking.k8s.io" && gvk.Kind == "NetworkPolicy":
			var o networkingv1.NetworkPolicy
			if err = rsDecode(r, &o); err == nil {
				objs.policies[o.Namespace] = append(objs.policies[o.Namespace], o)
			}
		}
		if err != nil {
			t.Errorf("%s: decode: %v", where, err)
			continue
		}
		if pod != nil {
			objs.workloads = append(objs.workloads, rsWorkload{where: where, namespace: r.GetNamespace(), pod: *pod})
		}
	}
}

// rsRegions builds apps/regions/<region> and infrastructure/regions/<region>
// for every region of every example.
func rsRegions(t *testing.T, fn func(label string, objs *rsObjects)) {
	t.Helper()
	// The examples, and the case whose apps are charts and a remote base:
	// their namespaces must be restricted too, and its image app checked.
	// And the WebAssembly apps (runtimeClassName changes nothing for Pod
	// Security: the restricted profile still holds).
	plans := append(k3sTestPlans(t), k3sTestPlan{name: "truck-charts", res: planCase(t, "truck-charts")},
		k3sTestPlan{name: "wasm-shops", res: planCase(t, "wasm-shops")})
	for _, ex := range plans {
		fsys := rsMemFS(t, ex.res)
		for _, r := range ex.res.Spec.Spec.Regions {
			objs := &rsObjects{policies: map[string][]networkingv1.NetworkPolicy{}}
			label := ex.name + " region " + r.Name
			for _, dir := range []string{path.Join("apps/regions", r.Name), path.Join("infrastructure/regions", r.Name)} {
				rsCollect(t, objs, ex.name, dir, rsBuild(t, fsys, dir))
			}
			fn(label, objs)
		}
	}
}

func TestRestrictedWorkloads(t *testing.T) {
	total := 0
	rsRegions(t, func(label string, objs *rsObjects) {
		if len(objs.workloads) == 0 {
			t.Logf("%s: no workloads", label)
		}
		for _, w := range objs.workloads {
			total++
			for _, e := range rsPodProblems(&w.pod) {
				t.Errorf("%s: %s", w.where, e)
			}
		}
	})
	if total == 0 {
		t.Error("no workload rendered in any example: nothing was checked")
	}
	t.Logf("checked %d pod templates", total)
}

// rsPodProblems lists how a pod template falls short of Pod Security
// 'restricted' plus fleetgen's own rules (read-only root, resources).
func rsPodProblems(pod *corev1.PodSpec) []string {
	var errs []string
	if pod.HostNetwork {
		errs = append(errs, "hostNetwork: true")
	}
	if pod.HostPID {
		errs = append(errs, "hostPID: true")
	}
	if pod.HostIPC {
		errs = append(errs, "hostIPC: true")
	}
	for _, v := range pod.Volumes {
		if v.HostPath != nil {
			errs = append(errs, fmt.Sprintf("volume %s is a hostPath", v.Name))
		}
	}
	psc := pod.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	var containers []corev1.Container
	containers = append(containers, pod.InitContainers...)
	containers = append(containers, pod.Containers...)
	if len(pod.Containers) == 0 {
		errs = append(errs, "no containers")
	}
	for i := range containers {
		c := &containers[i]
		bad := func(format string, a ...any) {
			errs = append(errs, "container "+c.Name+": "+fmt.Sprintf(format, a...))
		}
		sc := c.SecurityContext
		if sc == nil {
			sc = &corev1.SecurityContext{}
		}
		// runAsNonRoot: the container's value wins, else the pod's.
		nonRoot := psc.RunAsNonRoot
		if sc.RunAsNonRoot != nil {
			nonRoot = sc.RunAsNonRoot
		}
		if nonRoot == nil || !*nonRoot {
			bad("runAsNonRoot is not true (pod or container)")
		}
		if uid := sc.RunAsUser; uid != nil && *uid == 0 {
			bad("runAsUser: 0")
		} else if uid == nil && psc.RunAsUser != nil && *psc.RunAsUser == 0 {
			bad("pod runAsUser: 0")
		}
		seccomp := psc.SeccompProfile
		if sc.SeccompProfile != nil {
			seccomp = sc.SeccompProfile
		}
		if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
			bad("seccompProfile is not RuntimeDefault (pod or container)")
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			bad("allowPrivilegeEscalation is not false")
		}
		if sc.Privileged != nil && *sc.Privileged {
			bad("privileged: true")
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			bad("readOnlyRootFilesystem is not true")
		}
		dropAll := false
		if sc.Capabilities != nil {
			for _, d := range sc.Capabilities.Drop {
				if d == "ALL" {
					dropAll = true
				}
			}
			// Restricted allows adding NET_BIND_SERVICE only.
			for _, a := range sc.Capabilities.Add {
				if a != "NET_BIND_SERVICE" {
					bad("capabilities.add %s", a)
				}
			}
		}
		if !dropAll {
			bad("capabilities.drop does not contain ALL")
		}
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if q, ok := c.Resources.Requests[name]; !ok || q.IsZero() {
				bad("no %s request", name)
			}
			if q, ok := c.Resources.Limits[name]; !ok || q.IsZero() {
				bad("no %s limit", name)
			}
		}
		for _, p := range c.Ports {
			if p.HostPort != 0 {
				bad("hostPort %d", p.HostPort)
			}
		}
	}
	return errs
}

func TestRestrictedNamespaces(t *testing.T) {
	rsRegions(t, func(label string, objs *rsObjects) {
		known := map[string]bool{}
		for _, ns := range objs.namespaces {
			known[ns.Name] = true
			if got := ns.Labels["pod-security.kubernetes.io/enforce"]; got != "restricted" {
				t.Errorf("%s: Namespace %s: pod-security.kubernetes.io/enforce=%q, want restricted", label, ns.Name, got)
			}
		}
		withWorkloads := map[string]bool{}
		for _, w := range objs.workloads {
			if w.namespace == "" {
				t.Errorf("%s: %s has no namespace", label, w.where)
				continue
			}
			withWorkloads[w.namespace] = true
		}
		for ns := range withWorkloads {
			if !known[ns] {
				t.Errorf("%s: workloads in namespace %s, which the region's builds do not create", label, ns)
			}
			pols := objs.policies[ns]
			if !rsHasDefaultDeny(pols) {
				t.Errorf("%s: namespace %s has workloads but no NetworkPolicy default-deny with empty podSelector and policyTypes [Ingress, Egress]", label, ns)
			}
			if !rsAllowsDNS(pols) {
				t.Errorf("%s: namespace %s has workloads but no NetworkPolicy allowing DNS egress (UDP 53) for all pods", label, ns)
			}
		}
	})
}

func rsHasDefaultDeny(pols []networkingv1.NetworkPolicy) bool {
	for _, p := range pols {
		if p.Name != "default-deny" {
			continue
		}
		s := p.Spec
		empty := len(s.PodSelector.MatchLabels) == 0 && len(s.PodSelector.MatchExpressions) == 0
		types := len(s.PolicyTypes) == 2 && s.PolicyTypes[0] == networkingv1.PolicyTypeIngress && s.PolicyTypes[1] == networkingv1.PolicyTypeEgress
		// A deny-all has no rule that lets anything through.
		if empty && types && len(s.Ingress) == 0 && len(s.Egress) == 0 {
			return true
		}
	}
	return false
}

func rsAllowsDNS(pols []networkingv1.NetworkPolicy) bool {
	for _, p := range pols {
		s := p.Spec
		if len(s.PodSelector.MatchLabels) != 0 || len(s.PodSelector.MatchExpressions) != 0 {
			continue
		}
		egress := false
		for _, pt := range s.PolicyTypes {
			if pt == networkingv1.PolicyTypeEgress {
				egress = true
			}
		}
		if !egress {
			continue
		}
		for _, rule := range s.Egress {
			for _, port := range rule.Ports {
				if port.Protocol != nil && *port.Protocol == corev1.ProtocolUDP && port.Port != nil &&
					port.Port.Type == intstr.Int && port.Port.IntVal == 53 {
					return true
				}
			}
		}
	}
	return false
}
