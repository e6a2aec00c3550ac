package generator

import (
	"fmt"
	"path"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/fleetgen/fleetgen/blueprints"
	"github.com/fleetgen/fleetgen/generator/spec"
)

// K3s upgrades with rancher/system-upgrade-controller (SUC): the controller
// is installed on every cluster from git (infrastructure/base), and each
// region's overlay carries a server Plan and an agent Plan pinned to
// spec.k3s.version, with the region's maintenance window.

// Pinned system-upgrade-controller release and the images its manifests and
// the Plans use (docker.io; an air-gapped region's mirror serves them).
const (
	SUCVersion       = "v0.20.1"
	SUCImage         = "rancher/system-upgrade-controller:" + SUCVersion
	SUCKubectlImage  = "rancher/kubectl:v1.30.3" // SYSTEM_UPGRADE_JOB_KUBECTL_IMAGE in SUC v0.20.1's manifest: cordon and drain
	K3sUpgradeImage  = "rancher/k3s-upgrade"
	SUCNamespace     = "system-upgrade"
	SUCAccount       = "system-upgrade"
	ServerPlanName   = "server-plan"
	AgentPlanName    = "agent-plan"
	UpgradePlansFile = "k3s-upgrade.yaml"
	// UpgradeOptOutLabel set to "disabled" on a node keeps both Plans off it.
	UpgradeOptOutLabel = "fleetgen.dev/k3s-upgrade"
	controlPlaneLabel  = "node-role.kubernetes.io/control-plane"
	sucBaseDir         = "infrastructure/base/system-upgrade"
)

// K3sUpgradeImageFor is the k3s-upgrade image of a K3s release: SUC uses the
// version as the tag, with "+" (not allowed in a tag) replaced by "-".
func K3sUpgradeImageFor(version string) string {
	return K3sUpgradeImage + ":" + strings.ReplaceAll(version, "+", "-")
}

// UpgradeImages are the images a cluster pulls to upgrade K3s: what an
// air-gapped region's mirror must hold.
func UpgradeImages(version string) []string {
	return []string{K3sUpgradeImageFor(version), SUCImage, SUCKubectlImage}
}

// UpgradePlan is upgrade.cattle.io/v1 Plan, with the fields fleetgen sets (names
// and JSON tags as in rancher/system-upgrade-controller
// pkg/apis/upgrade.cattle.io/v1/types.go at v0.20.1).
type UpgradePlan struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              PlanSpec `json:"spec"`
}

type PlanSpec struct {
	Concurrency           int64                 `json:"concurrency,omitempty"`
	JobActiveDeadlineSecs *int64                `json:"jobActiveDeadlineSecs,omitempty"`
	NodeSelector          *metav1.LabelSelector `json:"nodeSelector,omitempty"`
	ServiceAccountName    string                `json:"serviceAccountName,omitempty"`
	Version               string                `json:"version,omitempty"`
	Window                *TimeWindowSpec       `json:"window,omitempty"`
	Prepare               *ContainerSpec        `json:"prepare,omitempty"`
	Upgrade               *ContainerSpec        `json:"upgrade"`
	Cordon                bool                  `json:"cordon,omitempty"`
	Drain                 *DrainSpec            `json:"drain,omitempty"`
}

type ContainerSpec struct {
	Image string   `json:"image"`
	Args  []string `json:"args,omitempty"`
}

type DrainSpec struct {
	Timeout                  *intstr.IntOrString `json:"timeout,omitempty"`
	DeleteEmptydirData       *bool               `json:"deleteEmptydirData,omitempty"`
	IgnoreDaemonSets         *bool               `json:"ignoreDaemonSets,omitempty"`
	Force                    bool                `json:"force,omitempty"`
	SkipWaitForDeleteTimeout int                 `json:"skipWaitForDeleteTimeout,omitempty"`
}

// TimeWindowSpec is Plan.spec.window; SUC parses it with kured's
// timewindow.New(days, startTime, endTime, timeZone).
type TimeWindowSpec struct {
	Days      []string `json:"days,omitempty"`
	StartTime string   `json:"startTime,omitempty"`
	EndTime   string   `json:"endTime,omitempty"`
	TimeZone  string   `json:"timeZone,omitempty"`
}

// UpgradeDecision is how a region's clusters upgrade K3s, for `plan` and
// the bootstrap README.
type UpgradeDecision struct {
	Version string   `json:"version"` // the pinned K3s release
	Window  string   `json:"window"`  // the maintenance window, as shown
	Drain   string   `json:"drain"`   // what happens to the pods of a node being upgraded
	Images  []string `json:"images"`  // what the upgrade pulls (air-gapped: the mirror must hold them)
	// JobDeadlineSecs bounds one node's upgrade Job (0: SUC's default, 900 s).
	JobDeadlineSecs int64 `json:"jobDeadlineSeconds,omitempty"`
}

// decideUpgrade fills d.Upgrade and says why.
func decideUpgrade(s *spec.FleetSpec, r *spec.Region, d *Decisions) {
	u := UpgradeDecision{Version: s.K3s.Version, Window: s.RegionWindow(r).String(), Images: UpgradeImages(s.K3s.Version)}
	if d.Hardware.Nodes == 1 {
		u.Drain = "single node: cordoned, not drained (draining the only node would evict every pod to nowhere; K3s keeps the containers running while its service restarts on the new binary)"
	} else {
		u.Drain = fmt.Sprintf("%d nodes: each node is drained in turn (one at a time), its pods move to the others; the agent Plan waits for the server Plan", d.Hardware.Nodes)
	}
	switch r.Connectivity {
	case "intermittent":
		u.JobDeadlineSecs = 3600
	case "satellite":
		u.JobDeadlineSecs = 7200
	}
	d.Upgrade = u
	deadline := ""
	if u.JobDeadlineSecs > 0 {
		deadline = fmt.Sprintf("; a node's upgrade Job may take %d min (pulling the k3s-upgrade image over the %s link)", u.JobDeadlineSecs/60, r.Connectivity)
	}
	d.Reasons = append(d.Reasons, fmt.Sprintf("K3s upgrades: system-upgrade-controller %s Plans pin %s (no channel), one node at a time, window: %s; %s%s",
		SUCVersion, u.Version, u.Window, u.Drain, deadline))
}

// systemUpgradeController writes the controller and its CRD into the
// infrastructure base: every cluster installs it from git.
func (p *planner) systemUpgradeController() error {
	for _, f := range []struct{ blueprint, name string }{
		{"upgrade/plan-crd.yaml", "plan-crd.yaml"},
		{"upgrade/system-upgrade-controller.yaml", "system-upgrade-controller.yaml"},
	} {
		b, err := blueprints.FS.ReadFile(f.blueprint)
		if err != nil {
			return err
		}
		p.gen(path.Join(sucBaseDir, f.name), b)
	}
	k := kustomization("plan-crd.yaml", "system-upgrade-controller.yaml")
	p.gen(path.Join(sucBaseDir, "kustomization.yaml"), marshal(
		"system-upgrade-controller "+SUCVersion+" (pinned), which runs the K3s upgrade Plans of each region\n(infrastructure/regions/<region>/"+UpgradePlansFile+").", k))
	return nil
}

// k3sUpgradePlans writes the region's server and agent Plans.
func (p *planner) k3sUpgradePlans(r *spec.Region, d *Decisions) {
	server, agent := upgradePlans(&p.l.Spec, r, d)
	p.gen(path.Join("infrastructure/regions", r.Name, UpgradePlansFile), marshal(
		fmt.Sprintf("K3s upgrades of region %s (system-upgrade-controller): %s on every node, servers first, one node at a time.\nMaintenance window: %s.\n%s.",
			r.Name, d.Upgrade.Version, d.Upgrade.Window, upperFirst(d.Upgrade.Drain)), server, agent))
}

func upgradePlans(s *spec.FleetSpec, r *spec.Region, d *Decisions) (server, agent *UpgradePlan) {
	var window *TimeWindowSpec
	if w := s.RegionWindow(r); w != nil {
		window = &TimeWindowSpec{Days: append([]string(nil), w.Days...), StartTime: w.Start, EndTime: w.End, TimeZone: w.TimeZone}
	}
	var deadline *int64
	if d.Upgrade.JobDeadlineSecs > 0 {
		v := d.Upgrade.JobDeadlineSecs
		deadline = &v
	}
	optOut := metav1.LabelSelectorRequirement{Key: UpgradeOptOutLabel, Operator: metav1.LabelSelectorOpNotIn, Values: []string{"disabled"}}
	base := func(name string, role metav1.LabelSelectorRequirement) *UpgradePlan {
		pl := &UpgradePlan{TypeMeta: typeMeta("upgrade.cattle.io/v1", "Plan"), ObjectMeta: objectMeta(name, SUCNamespace)}
		pl.Spec = PlanSpec{
			Concurrency:           1,
			Cordon:                true,
			JobActiveDeadlineSecs: deadline,
			NodeSelector:          &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{role, optOut}},
			ServiceAccountName:    SUCAccount,
			Version:               s.K3s.Version,
			Window:                window,
			Upgrade:               &ContainerSpec{Image: K3sUpgradeImage},
		}
		return pl
	}
	server = base(ServerPlanName, metav1.LabelSelectorRequirement{Key: controlPlaneLabel, Operator: metav1.LabelSelectorOpIn, Values: []string{"true"}})
	agent = base(AgentPlanName, metav1.LabelSelectorRequirement{Key: controlPlaneLabel, Operator: metav1.LabelSelectorOpDoesNotExist})
	// The agents wait until the server Plan is complete on every server.
	agent.Spec.Prepare = &ContainerSpec{Image: K3sUpgradeImage, Args: []string{"prepare", ServerPlanName}}
	// Agents exist only in clusters of several nodes, where the others can
	// take their pods; servers are drained only where there is another node.
	agent.Spec.Drain = drainSpec()
	if d.Hardware.Nodes > 1 {
		server.Spec.Drain = drainSpec()
	}
	return server, agent
}

// drainSpec is kubectl drain --force --ignore-daemonsets
// --delete-emptydir-data --timeout 10m, giving each pod 60 s to go.
// emptyDir data (the apps' writable paths) does not follow a pod to
// another node in any case; without the flag the drain would refuse and
// the upgrade stall.
func drainSpec() *DrainSpec {
	t := true
	timeout := intstr.FromString("10m")
	return &DrainSpec{Force: true, IgnoreDaemonSets: &t, DeleteEmptydirData: &t, Timeout: &timeout, SkipWaitForDeleteTimeout: 60}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// DrainSentence is Drain as a sentence of its own (the bootstrap README).
func (u UpgradeDecision) DrainSentence() string { return upperFirst(u.Drain) }
