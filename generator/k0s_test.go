package generator

import (
	"bytes"
	"encoding/json"
	"errors"
	"path"
	"strings"
	"testing"

	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/fleetgen/fleetgen/examples"
	"github.com/fleetgen/fleetgen/generator/spec"
)

// planSpec plans a fleet.yaml given as text.
func planSpec(t *testing.T, text string) (*Result, error) {
	t.Helper()
	l, err := spec.Parse([]byte(text), "fleet.yaml")
	if err != nil {
		return nil, err
	}
	return Plan(l)
}

func exampleText(t *testing.T, name string) string {
	t.Helper()
	b, err := examples.FS.ReadFile(name + "/fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestK0sConfig reads each k0s region's k0s.yaml as k0s would: the
// datastore follows the topology (kine on one controller, etcd on 3+ nodes
// with the memory for it), the worker profiles are KubeletConfiguration
// fragments (decoded strictly into k8s.io/kubelet's type: an unknown field
// fails, as k0s's validation does), the API server hardening that k0s's CIS
// page leaves to the user is set, and an air-gapped region never pulls.
func TestK0sConfig(t *testing.T) {
	res := planExample(t, "offshore-k0s")
	for _, d := range res.Decisions {
		if !d.K0s() {
			t.Fatalf("%s: not k0s", d.Region)
		}
		var c K0sClusterConfig
		b := fileOf(t, res, path.Join("bootstrap", d.Region, "k0s.yaml"))
		if err := sigsyaml.UnmarshalStrict(b, &c); err != nil {
			t.Fatalf("%s: %v", d.Region, err)
		}
		if c.APIVersion != "k0s.k0sproject.io/v1beta1" || c.Kind != "ClusterConfig" {
			t.Errorf("%s: %s %s", d.Region, c.APIVersion, c.Kind)
		}
		switch {
		case d.Hardware.Nodes == 1 && (c.Spec.Storage.Type != "kine" || c.Spec.Storage.Kine == nil || !strings.HasPrefix(c.Spec.Storage.Kine.DataSource, "sqlite://file:/var/lib/k0s/db/state.db")):
			t.Errorf("%s: single controller, storage %+v, want kine/SQLite", d.Region, c.Spec.Storage)
		case d.Hardware.Nodes >= 3 && d.Datastore == "etcd" && (c.Spec.Storage.Type != "etcd" || c.Spec.Storage.Kine != nil):
			t.Errorf("%s: %d nodes, storage %+v, want etcd", d.Region, d.Hardware.Nodes, c.Spec.Storage)
		}
		args := c.Spec.API.ExtraArgs
		for k, v := range map[string]string{
			"enable-admission-plugins":      "NodeRestriction,EventRateLimit",
			"admission-control-config-file": "/etc/k0s/psa.yaml",
			"audit-policy-file":             "/etc/k0s/audit.yaml",
			"encryption-provider-config":    "/etc/k0s/encryption.yaml",
			"audit-log-maxage":              "30",
		} {
			if args[k] != v {
				t.Errorf("%s: api.extraArgs[%s] = %q, want %q", d.Region, k, args[k], v)
			}
		}
		if c.Spec.Telemetry == nil || c.Spec.Telemetry.Enabled == nil || *c.Spec.Telemetry.Enabled {
			t.Errorf("%s: telemetry not off", d.Region)
		}
		if len(c.Spec.WorkerProfiles) != 2 {
			t.Fatalf("%s: %d worker profiles", d.Region, len(c.Spec.WorkerProfiles))
		}
		for _, wp := range c.Spec.WorkerProfiles {
			raw, _ := json.Marshal(wp.Values)
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			var kc kubeletv1beta1.KubeletConfiguration
			if err := dec.Decode(&kc); err != nil {
				t.Errorf("%s: worker profile %s is not a KubeletConfiguration: %v", d.Region, wp.Name, err)
			}
			if kc.ProtectKernelDefaults != true || kc.StreamingConnectionIdleTimeout.Duration.String() != "5m0s" || len(kc.EvictionHard) != 5 {
				t.Errorf("%s: worker profile %s: %s", d.Region, wp.Name, raw)
			}
		}
		chart := c.Spec.Extensions.Helm.Charts[0]
		if d.Connectivity.PreloadImages {
			if c.Spec.Images == nil || c.Spec.Images.DefaultPullPolicy != "Never" || chart.ChartName != "/var/lib/k0s/charts/flux-operator-0.58.1.tgz" {
				t.Errorf("%s: air-gapped, but images %+v, chart %q", d.Region, c.Spec.Images, chart.ChartName)
			}
		} else if chart.ChartName != "oci://ghcr.io/controlplaneio-fluxcd/charts/flux-operator" || chart.Version != "0.58.1" || chart.TargetNS != FluxNamespace {
			t.Errorf("%s: chart %+v", d.Region, chart)
		}
		// No K3s file in a k0s region, and the first-boot FluxInstance is
		// the cluster's own (the shared Flux layer).
		for _, f := range []string{"config.yaml", "agent-config.yaml", "registries.yaml", "manifests/flux-operator.yaml"} {
			if _, ok := res.Tree.Get(path.Join("bootstrap", d.Region, f)); ok {
				t.Errorf("%s: K3s file %s in a k0s region", d.Region, f)
			}
		}
		if !bytes.Contains(fileOf(t, res, path.Join("bootstrap", d.Region, "manifests/flux-instance.yaml")), []byte("clusters/"+d.Region+"/CLUSTER_NAME")) {
			t.Errorf("%s: first-boot FluxInstance does not sync the cluster's folder", d.Region)
		}
	}
}

// TestK0sMirrors: a region with registry mirrors gets containerd hosts.toml
// files with the same <mirror>/<upstream> layout as K3s's rewrite.
func TestK0sMirrors(t *testing.T) {
	res := planExample(t, "offshore-k0s")
	h := string(fileOf(t, res, "bootstrap/north-sea/containerd.d/certs.d/docker.io/hosts.toml"))
	for _, want := range []string{`server = "https://registry-1.docker.io"`, `[host."https://registry.north-sea.acme-energy.example/v2/docker.io"]`, "override_path = true", `capabilities = ["pull", "resolve"]`} {
		if !strings.Contains(h, want) {
			t.Errorf("hosts.toml lacks %q:\n%s", want, h)
		}
	}
	if c := string(fileOf(t, res, "bootstrap/north-sea/containerd.d/cri-registry.toml")); !strings.Contains(c, `config_path = "/etc/k0s/containerd.d/certs.d"`) {
		t.Errorf("cri-registry.toml:\n%s", c)
	}
	if _, ok := res.Tree.Get("bootstrap/gulf-of-mexico/containerd.d/cri-registry.toml"); ok {
		t.Error("a region without mirrors got a containerd drop-in")
	}
}

// TestK0sBudget: on the offshore hardware a k0s node's budget holds the
// k0s footprints (each with its source), no system-upgrade-controller and
// no K3s line, and leaves the margin plan shows.
func TestK0sBudget(t *testing.T) {
	res := planExample(t, "offshore-k0s")
	d, _ := res.Region("north-sea")
	var names []string
	for _, l := range d.Budget.Lines {
		names = append(names, l.Component)
		if l.Source == "" {
			t.Errorf("%s has no source", l.Component)
		}
		if strings.Contains(l.Component, "K3s") || strings.Contains(l.Component, "system-upgrade") {
			t.Errorf("k0s budget has %s", l.Component)
		}
	}
	want := []string{"Operating system and system daemons", "k0s controller+worker (kine/SQLite)", "CoreDNS (k0s)", "kube-router (k0s default network provider)", "Flux Operator", "Flux source-controller", "Flux kustomize-controller", "app sensor-gateway (1 replica(s))", "app log-shipper (1 replica(s))"}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Errorf("budget lines:\n%v\nwant\n%v", names, want)
	}
	if d.Budget.TotalMi != 1382 || d.Budget.MarginMi != 666 || d.Budget.MarginPercent != 32 {
		t.Errorf("total %d, margin %d (%d%%)", d.Budget.TotalMi, d.Budget.MarginMi, d.Budget.MarginPercent)
	}
	for _, k := range []string{"k0s-controller-worker-sqlite", "k0s-controller-worker-etcd", "k0s-worker"} {
		if !strings.Contains(Footprints[k].Source, "docs/system-requirements.md") {
			t.Errorf("%s: source %q", k, Footprints[k].Source)
		}
	}
}

// TestK0sUpgradesNotGenerated: k0s regions get no K3s Plan and no
// system-upgrade-controller; in a fleet with K3s regions too, the shared
// base keeps it and the k0s region's overlay deletes every object of it
// (built with krusty); in an all-k0s fleet the base has none.
func TestK0sUpgradesNotGenerated(t *testing.T) {
	mixed := planCase(t, "offshore-mixed")
	fsys := rsMemFS(t, mixed)
	for _, d := range mixed.Decisions {
		var suc, plans int
		for _, r := range rsBuild(t, fsys, path.Join("infrastructure/regions", d.Region)) {
			if r.GetNamespace() == SUCNamespace || r.GetName() == SUCNamespace || r.GetName() == "plans.upgrade.cattle.io" || strings.HasPrefix(r.GetName(), "system-upgrade") {
				suc++
			}
			if r.GetKind() == "Plan" {
				plans++
			}
		}
		if d.K0s() && (suc != 0 || plans != 0) {
			t.Errorf("mixed %s (k0s): %d system-upgrade-controller objects, %d Plans", d.Region, suc, plans)
		}
		if !d.K0s() && (suc < 10 || plans != 2) {
			t.Errorf("mixed %s (k3s): %d system-upgrade-controller objects, %d Plans", d.Region, suc, plans)
		}
		_, hasPlans := mixed.Tree.Get(path.Join("infrastructure/regions", d.Region, UpgradePlansFile))
		if hasPlans == d.K0s() {
			t.Errorf("mixed %s: %s present %v", d.Region, UpgradePlansFile, hasPlans)
		}
	}
	all := planExample(t, "offshore-k0s")
	for _, f := range all.Tree.Files {
		if strings.Contains(f.Path, "system-upgrade") || strings.HasSuffix(f.Path, UpgradePlansFile) {
			t.Errorf("all-k0s fleet has %s", f.Path)
		}
	}
}

// TestK0sRefusals: what k0s cannot take is refused naming the field and
// its line, and a k0s node too small for the budget says so.
func TestK0sRefusals(t *testing.T) {
	base := exampleText(t, "offshore-k0s")
	for _, c := range []struct {
		name, old, new, field string
		line                  string // the text on the line the error names
		also                  string
	}{
		{"unknown distribution", "  distribution: k0s\n", "  distribution: k8s\n", "spec.distribution", "distribution: k8s", `"k8s" is not one of: k3s, k0s, microk8s`},
		{"unknown region distribution", "      clusterPrefix: gom-rig\n", "      clusterPrefix: gom-rig\n      distribution: kOs\n", "spec.regions[1].distribution", "distribution: kOs", "is not one of"},
		{"k0s channel", "  k0s: {version: v1.36.3+k0s.2}\n", "  k0s: {version: v1.36}\n", "spec.k0s.version", "k0s: {version: v1.36}", "not an exact k0s release"},
		{"bootstrap layout", "  distribution: k0s\n", "  distribution: k0s\n  flux: {mode: bootstrap}\n", "spec.distribution", "distribution: k0s", "spec.flux.mode bootstrap is not offered"},
		{"region window", "      clusterPrefix: gom-rig\n", "      clusterPrefix: gom-rig\n      maintenanceWindow: {days: [sat], start: \"01:00\", end: \"02:00\"}\n", "spec.regions[1].maintenanceWindow", "maintenanceWindow: {days: [sat]", "does not generate k0s upgrades"},
		{"too small for k0s", "    memory: 2Gi\n", "    memory: 1Gi\n", "spec.hardware.memory", "memory: 1Gi", "nothing fits in region \"north-sea\": k0s (k0s controller+worker (kine/SQLite))"},
		{"etcd on one node", "  k0s: {version: v1.36.3+k0s.2}\n", "  k0s: {version: v1.36.3+k0s.2}\n  k3s: {datastore: etcd}\n", "spec.k3s.datastore", "k3s: {datastore: etcd}", "etcd needs at least 3 nodes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if strings.Count(base, c.old) != 1 {
				t.Fatalf("test bug: %q", c.old)
			}
			text := strings.Replace(base, c.old, c.new, 1)
			_, err := planSpec(t, text)
			if err == nil {
				t.Fatal("accepted")
			}
			line := 0
			for i, l := range strings.Split(text, "\n") {
				if strings.Contains(l, c.line) {
					line = i + 1
					break
				}
			}
			want := "fleet.yaml:" + itoa(line) + ": " + c.field + ": "
			if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), c.also) {
				t.Errorf("got %v\nwant %q ... %q", err, want, c.also)
			}
		})
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// TestMicroK8sAnswer: spec.distribution microk8s gets the same refusal,
// with the figures for the hardware, every time; on the offshore hardware
// (2Gi, eMMC, satellite) it names the memory against MicroK8s's documented
// recommendation, dqlite on eMMC and the snap over the satellite link; on
// a factory's 8Gi NVMe nodes the memory and storage are no objection and
// the refusal is fleetgen's (no MicroK8s bootstrap).
func TestMicroK8sAnswer(t *testing.T) {
	off := strings.Replace(exampleText(t, "offshore-platforms"), "  connectivity: satellite\n", "  connectivity: satellite\n  distribution: microk8s\n", 1)
	_, err := planSpec(t, off)
	_, err2 := planSpec(t, off)
	if err == nil || err2 == nil || err.Error() != err2.Error() {
		t.Fatalf("not a deterministic refusal: %v / %v", err, err2)
	}
	var fe *spec.FieldError
	if !errors.As(err, &fe) || fe.Field != "spec.distribution" || fe.Line == 0 || strings.Contains(err.Error(), "\n") {
		t.Fatalf("want one line naming spec.distribution and its line: %v", err)
	}
	for _, want := range []string{
		`region "north-sea" (1 × arm64, 2Gi RAM, emmc, satellite)`,
		"a node has 2048Mi, 50% of the 4G (4096Mi) MicroK8s recommends",
		"OS 256Mi + MicroK8s 514Mi + Flux 192Mi + apps 80Mi = 1042Mi",
		"dqlite", "on emmc", "canonical/microk8s#2280",
		"snapd refreshes the microk8s snap over the satellite link",
		"fleetgen generates no MicroK8s bootstrap",
		"https://microk8s.io/docs/getting-started",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the answer lacks %q:\n%v", want, err)
		}
	}
	factory := strings.Replace(exampleText(t, "smart-factory"), "spec:\n", "spec:\n  distribution: microk8s\n", 1)
	_, err = planSpec(t, factory)
	if err == nil {
		t.Fatal("microk8s accepted on the factory")
	}
	for _, want := range []string{"at least the 4G MicroK8s recommends", "no storage objection", "fleetgen generates no MicroK8s bootstrap"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("factory answer lacks %q:\n%v", want, err)
		}
	}
}

// TestDistributionAbsentChangesNothing: a fleet that does not name a
// distribution is K3s, and its plan is byte-identical to one that says
// distribution: k3s.
func TestDistributionAbsentChangesNothing(t *testing.T) {
	text := exampleText(t, "offshore-platforms")
	a, err := planSpec(t, text)
	if err != nil {
		t.Fatal(err)
	}
	b, err := planSpec(t, strings.Replace(text, "  connectivity: satellite\n", "  connectivity: satellite\n  distribution: k3s\n", 1))
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range a.Tree.Files {
		if f.Path == "fleet.yaml" {
			continue
		}
		if b.Tree.Files[i].Path != f.Path || !bytes.Equal(b.Tree.Files[i].Content, f.Content) {
			t.Errorf("%s differs with distribution: k3s written out", f.Path)
		}
	}
	for _, d := range a.Decisions {
		if d.Distribution != "k3s" {
			t.Errorf("%s: distribution %q", d.Region, d.Distribution)
		}
	}
}

// TestK0sDesignFacts: design check expects the distribution the plan
// builds: k0s fleet-wide, or a region's own.
func TestK0sDesignFacts(t *testing.T) {
	if f := DesignFacts(planExample(t, "offshore-k0s")); f.Distribution != "k0s" {
		t.Errorf("offshore-k0s: %q", f.Distribution)
	}
	f := DesignFacts(planCase(t, "offshore-mixed"))
	if f.Distribution != "k3s" {
		t.Errorf("offshore-mixed: %q", f.Distribution)
	}
	for _, r := range f.Regions {
		if want := map[bool]string{true: "k0s", false: ""}[r.Name == "campos-basin"]; r.Distribution != want {
			t.Errorf("offshore-mixed %s: %q, want %q", r.Name, r.Distribution, want)
		}
	}
}
