package spec

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"filippo.io/age"
	"github.com/google/go-containerregistry/pkg/name"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/fleetgen/fleetgen/generator/sign"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Limits that keep a typo from producing a million files.
const (
	MaxRegions      = 500
	MaxClusters     = 100_000
	MaxTextLen      = 2000 // a context value
	MaxNodes        = 100
	MinNodeMemoryMi = 512 // below the K3s agent minimum nothing can run
)

// Enumerations, exported for help texts and the budget.
var (
	Languages     = []string{"es", "en"}
	FluxModes     = []string{"operator", "bootstrap"}
	DeliveryModes = []string{"git", "oci"}
	DeliveryUnits = []string{"cluster", "region"}
	Datastores    = []string{"auto", "sqlite", "etcd"}
	// Distributions fleetgen answers for; microk8s is answered by plan
	// (refused, with its reasons and figures), never generated.
	Distributions = []string{"k3s", "k0s", "microk8s"}
	// Engines: the GitOps engine of a cluster (spec.engine).
	Engines            = []string{"flux", "argocd"}
	Arches             = []string{"amd64", "arm64"}
	StorageKinds       = []string{"sd", "emmc", "ssd", "nvme"}
	ConnectivityKinds  = []string{"always-on", "intermittent", "satellite", "air-gapped"}
	FluxComponentNames = []string{"source-controller", "kustomize-controller", "helm-controller", "notification-controller", "image-reflector-controller", "image-automation-controller", "source-watcher"}
)

var (
	fluxVersionRe = lazyRegexp(`^2\.(x|\d+\.(x|\d+))$`)
	k3sVersionRe  = lazyRegexp(`^v1\.\d+\.\d+\+k3s\d+$`)
	k0sVersionRe  = lazyRegexp(`^v1\.\d+\.\d+\+k0s\.\d+$`)
	chartVerRe    = lazyRegexp(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`)
	configKeyRe   = lazyRegexp(`^[-._a-zA-Z0-9]+$`)
	imageRe       = lazyRegexp(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$`)
	varNameRe     = lazyRegexp(`^[_a-zA-Z][_a-zA-Z0-9]*$`)
	ociRepoRe     = lazyRegexp(`^[a-zA-Z0-9.-]+(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)+$`)
	registryRe    = lazyRegexp(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)*$`)
)

type validator struct {
	l    *Loaded
	errs Errors
	// badFleetKeys: spec.secrets.ageRecipients has an error already, so
	// the region key rule is not reported on top of it.
	badFleetKeys bool
}

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{File: v.l.File, Line: v.l.line(field), Field: field, Msg: fmt.Sprintf(format, args...)})
}

// line finds the line of field, or of its closest parent present in the file.
func (l *Loaded) line(field string) int {
	for f := field; f != ""; {
		if n, ok := l.lines[f]; ok {
			return n
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			break
		}
		f = f[:i]
	}
	return 0
}

// Validate checks every field after defaults; problems are sorted by line.
func (l *Loaded) Validate() Errors {
	v := &validator{l: l}
	f := &l.Fleet
	s := &f.Spec
	if f.APIVersion != APIVersion {
		v.add("apiVersion", "must be %q, got %q", APIVersion, f.APIVersion)
	}
	if f.Kind != Kind {
		v.add("kind", "must be %q, got %q", Kind, f.Kind)
	}
	v.dnsLabel("metadata.name", f.Metadata.Name)
	v.oneOf("spec.language", s.Language, Languages)

	v.text("spec.context.environment", s.Context.Environment, true)
	v.text("spec.context.hardware", s.Context.Hardware, true)
	v.text("spec.context.mainChallenge", s.Context.MainChallenge, true)
	v.text("spec.context.scale", s.Context.Scale, false)
	v.text("spec.context.deviceType", s.Context.DeviceType, false)
	v.text("spec.context.problem", s.Context.Problem, false)

	v.gitURL("spec.git.url", s.Git.URL)
	if err := checkBranch(s.Git.Branch); err != nil {
		v.add("spec.git.branch", "%v", err)
	}
	if s.Git.SecretName != "" {
		v.dnsSubdomain("spec.git.secretName", s.Git.SecretName)
	}
	if s.Git.VerifySecretName != "" {
		v.dnsSubdomain("spec.git.verifySecretName", s.Git.VerifySecretName)
		if s.Git.VerifySecretName == s.Git.SecretName {
			v.add("spec.git.verifySecretName", "must differ from spec.git.secretName (public keys, not pull credentials)")
		}
	}

	v.oneOf("spec.flux.mode", s.Flux.Mode, FluxModes)
	if !fluxVersionRe().MatchString(s.Flux.Version) {
		v.add("spec.flux.version", "%q is not a Flux 2 version such as 2.x, 2.9.x or 2.9.1", s.Flux.Version)
	}
	if !registryRe().MatchString(s.Flux.Registry) {
		v.add("spec.flux.registry", "%q is not a registry such as ghcr.io/fluxcd", s.Flux.Registry)
	}
	if !chartVerRe().MatchString(s.Flux.OperatorChartVersion) {
		v.add("spec.flux.operatorChartVersion", "%q is not a chart version such as 0.58.1", s.Flux.OperatorChartVersion)
	}
	seenComp := map[string]bool{}
	for i, c := range s.Flux.Components {
		field := fmt.Sprintf("spec.flux.components[%d]", i)
		v.oneOf(field, c, FluxComponentNames)
		if seenComp[c] {
			v.add(field, "%q is listed twice", c)
		}
		seenComp[c] = true
	}
	if len(s.Flux.Components) > 0 && (!seenComp["source-controller"] || !seenComp["kustomize-controller"]) {
		v.add("spec.flux.components", "must include source-controller and kustomize-controller (the minimum to sync a cluster)")
	}

	v.delivery(s)

	if !k3sVersionRe().MatchString(s.K3s.Version) {
		v.add("spec.k3s.version", "%q is not an exact K3s release such as %s: a channel (v1.37) installs whatever patch release is current, so the nodes of a fleet drift apart", s.K3s.Version, DefaultK3sVersion)
	}
	v.oneOf("spec.k3s.datastore", s.K3s.Datastore, Datastores)
	v.distributions(s)
	v.engines(s)
	v.maintenanceWindows(s)
	v.hardware("spec.hardware", s.Hardware, false)
	v.oneOf("spec.connectivity", s.Connectivity, ConnectivityKinds)
	v.bandwidth("spec.bandwidth", s.Bandwidth)
	v.badFleetKeys = !v.ageRecipients("spec.secrets.ageRecipients", s.Secrets.AgeRecipients)
	if s.Inventory != "" && !(strings.HasSuffix(s.Inventory, ".csv") || strings.HasSuffix(s.Inventory, ".yaml") || strings.HasSuffix(s.Inventory, ".yml")) {
		v.add("spec.inventory", "%q must be a .csv, .yaml or .yml file", s.Inventory)
	}

	appNames := map[string]bool{}
	nodePorts := map[int]string{}
	for i := range s.Apps {
		v.app(fmt.Sprintf("spec.apps[%d]", i), &s.Apps[i], appNames)
		if e := s.Apps[i].Expose; e != nil && e.NodePort != 0 {
			if prev, ok := nodePorts[e.NodePort]; ok {
				v.add(fmt.Sprintf("spec.apps[%d].expose.nodePort", i), "%d is already app %q's", e.NodePort, prev)
			}
			nodePorts[e.NodePort] = s.Apps[i].Name
		}
	}

	v.wasmSupport(s)

	if len(s.Regions) == 0 {
		v.add("spec.regions", "at least one region is required")
	}
	if len(s.Regions) > MaxRegions {
		v.add("spec.regions", "%d regions is more than the limit of %d", len(s.Regions), MaxRegions)
	} else {
		v.regions(s)
	}
	v.rings(s)
	sort.SliceStable(v.errs, func(i, j int) bool { return v.errs[i].Line < v.errs[j].Line })
	return v.errs
}

func (v *validator) regions(s *FleetSpec) {
	// Refuse absurd sizes before expanding any name.
	total := 0
	for i := range s.Regions {
		r := &s.Regions[i]
		if r.ClusterCount < 0 || r.ClusterCount > MaxClusters {
			v.add(fmt.Sprintf("spec.regions[%d].clusterCount", i), "%d is outside 1..%d", r.ClusterCount, MaxClusters)
			return
		}
		total += len(r.Clusters) + r.ClusterCount
	}
	if total > MaxClusters {
		v.add("spec.regions", "%d clusters is more than the limit of %d; large fleets belong in an inventory file, up to %d clusters", total, MaxClusters, MaxClusters)
		return
	}
	regionNames := map[string]bool{}
	clusterAt := map[string]string{}
	for i := range s.Regions {
		r := &s.Regions[i]
		p := fmt.Sprintf("spec.regions[%d]", i)
		nameOK := v.dnsLabel(p+".name", r.Name)
		if regionNames[r.Name] {
			v.add(p+".name", "region %q is defined twice", r.Name)
		}
		regionNames[r.Name] = true
		if len(r.Clusters) > 0 && r.ClusterCount > 0 {
			v.add(p+".clusterCount", "set either clusters (a list of names) or clusterCount, not both")
		}
		if len(r.Clusters) == 0 && r.ClusterCount == 0 && s.Inventory == "" {
			v.add(p, "region %q has no clusters: give clusters, clusterCount, or an inventory", r.Name)
		}
		if r.ClusterCount > 0 {
			// The prefix defaults to the region name: a bad name is
			// reported once, as the name.
			prefixField := p + ".clusterPrefix"
			if _, set := v.l.lines[prefixField]; !set {
				prefixField = p + ".name"
			}
			prefixOK := nameOK || prefixField != p+".name"
			if prefixOK && prefixField != p+".name" {
				prefixOK = v.dnsLabel(prefixField, r.ClusterPrefix)
			}
			if prefixOK && len(r.ClusterPrefix) > 63-1-countWidth(r.ClusterCount) {
				v.add(prefixField, "%q is too long for cluster names of at most 63 characters", r.ClusterPrefix)
				prefixOK = false
			}
			if prefixOK {
				for _, name := range countNames(r.ClusterPrefix, r.ClusterCount) {
					if prev, ok := clusterAt[name]; ok {
						v.add(p+".clusterCount", "generates cluster %q, already defined in region %q; set a distinct clusterPrefix", name, prev)
						break
					}
					clusterAt[name] = r.Name
				}
			}
		}
		for j, c := range r.Clusters {
			v.clusterName(fmt.Sprintf("%s.clusters[%d]", p, j), c, r.Name, clusterAt)
		}
		if r.Hardware != nil {
			v.hardware(p+".hardware", *r.Hardware, true)
		}
		// A region that inherits spec.connectivity was checked there.
		if _, set := v.l.lines[p+".connectivity"]; set {
			v.oneOf(p+".connectivity", r.Connectivity, ConnectivityKinds)
		}
		v.bandwidth(p+".bandwidth", r.Bandwidth)
		if r.GitURL != "" {
			v.gitURL(p+".gitURL", r.GitURL)
			if s.OCI() && r.Connectivity != "air-gapped" {
				v.add(p+".gitURL", "a git mirror is not what clusters of spec.delivery.mode: oci pull; per-region registry mirrors for OCI delivery are not supported yet")
			}
		}
		if r.Delivery != nil {
			switch {
			case !s.OCI():
				v.add(p+".delivery", "is only used with spec.delivery.mode: oci (a registry mirror for the region's artifacts); for git, gitURL is the region's mirror")
			case r.Delivery.Repository == "":
				v.add(p+".delivery.repository", "is required in a region's delivery: the OCI repository its clusters pull from, e.g. 10.20.0.5:5000/fleet")
			default:
				if err := CheckOCIRepository(r.Delivery.Repository); err != nil {
					v.add(p+".delivery.repository", "%v", err)
				}
			}
		}
		if s.OCI() && r.Connectivity == "air-gapped" && (r.Delivery == nil || r.Delivery.Repository == "") {
			field := p + ".connectivity"
			if _, set := v.l.lines[field]; !set {
				field = "spec.connectivity"
			}
			v.add(field, "region %q is air-gapped: its sites cannot reach spec.delivery.repository; give it delivery.repository, a registry on its network that publish pushes to (%s.delivery.repository)", r.Name, p)
		}
		if r.Connectivity == "air-gapped" && len(r.RegistryMirrors) == 0 {
			v.add(p+".registryMirrors", "an air-gapped region needs at least one registry mirror on its network")
		} else if r.Connectivity == "air-gapped" && r.GitURL == "" && !s.OCI() {
			v.add(p+".gitURL", "an air-gapped region needs gitURL: a git mirror its sites can reach")
		}
		v.ageRecipients(p+".ageRecipients", r.AgeRecipients)
		v.regionKey(p, r, s.Secrets.AgeRecipients)
		for j, m := range r.RegistryMirrors {
			v.host(fmt.Sprintf("%s.registryMirrors[%d]", p, j), m)
		}
		v.labels(p+".labels", r.Labels)
		v.regionValues(p, r, s.Apps)
	}
	v.l.clusterAt = clusterAt
}

// delivery checks spec.delivery, and what oci mode cannot do yet.
func (v *validator) delivery(s *FleetSpec) {
	d := &s.Delivery
	v.oneOf("spec.delivery.mode", d.Mode, DeliveryModes)
	if d.Mode != "oci" {
		for _, f := range []struct{ field, val string }{{"repository", d.Repository}, {"unit", d.Unit}, {"pullSecret", d.PullSecret}} {
			if f.val != "" {
				v.add("spec.delivery."+f.field, "is only used with spec.delivery.mode: oci (the clusters sync git now)")
			}
		}
		if d.Verify != nil {
			v.add("spec.delivery.verify", "is only used with spec.delivery.mode: oci (artifact signatures); for git, spec.git.verifySecretName checks commit signatures")
		}
		return
	}
	if d.Repository == "" {
		v.add("spec.delivery.repository", "is required with spec.delivery.mode: oci: the OCI repository the artifacts are pushed to and pulled from, e.g. ghcr.io/acme/fleet")
	} else if err := CheckOCIRepository(d.Repository); err != nil {
		v.add("spec.delivery.repository", "%v", err)
	}
	v.oneOf("spec.delivery.unit", d.Unit, DeliveryUnits)
	if d.PullSecret != "" {
		v.dnsSubdomain("spec.delivery.pullSecret", d.PullSecret)
	}
	if s.Git.VerifySecretName != "" {
		v.add("spec.git.verifySecretName", "clusters of spec.delivery.mode: oci pull artifacts, not commits, so they cannot check commit signatures: use spec.delivery.verify (cosign signatures of the artifacts) instead")
	}
	v.verify(s, d.Verify)
}

// verify checks spec.delivery.verify.
func (v *validator) verify(s *FleetSpec, vf *Verify) {
	if vf == nil {
		return
	}
	const f = "spec.delivery.verify"
	if vf.Provider != "cosign" {
		v.add(f+".provider", "%q is not offered: fleetgen signs and verifies with cosign (provider: cosign)", vf.Provider)
	}
	switch {
	case len(vf.PublicKeys) == 0 && len(vf.MatchOIDCIdentity) == 0:
		v.add(f, "give publicKeys (cosign public keys, PEM: key-based, works offline) or matchOIDCIdentity (keyless, signed in CI)")
	case len(vf.PublicKeys) > 0 && len(vf.MatchOIDCIdentity) > 0:
		v.add(f+".matchOIDCIdentity", "give publicKeys or matchOIDCIdentity, not both: source-controller verifies with the keys when a key Secret is set and ignores the identities")
	}
	if vf.SecretName != "" {
		v.dnsSubdomain(f+".secretName", vf.SecretName)
		if len(vf.PublicKeys) == 0 {
			v.add(f+".secretName", "names the Secret of publicKeys; keyless verification (matchOIDCIdentity) uses none")
		}
	}
	seen := map[string]bool{}
	for i, k := range vf.PublicKeys {
		fi := fmt.Sprintf("%s.publicKeys[%d]", f, i)
		if _, err := sign.ParsePublicKey([]byte(k)); err != nil {
			v.add(fi, "%v", err)
		} else if seen[strings.TrimSpace(k)] {
			v.add(fi, "is listed twice")
		}
		seen[strings.TrimSpace(k)] = true
	}
	for i, id := range vf.MatchOIDCIdentity {
		fi := fmt.Sprintf("%s.matchOIDCIdentity[%d]", f, i)
		for _, p := range []struct{ name, re string }{{"issuer", id.Issuer}, {"subject", id.Subject}} {
			if p.re == "" {
				v.add(fi+"."+p.name, "is required (a Go regular expression, e.g. ^https://token.actions.githubusercontent.com$)")
			} else if _, err := regexp.Compile(p.re); err != nil {
				v.add(fi+"."+p.name, "is not a Go regular expression: %v", err)
			}
		}
	}
}

// CheckOCIRepository accepts an OCI repository with an explicit registry
// host and no scheme, tag or digest (e.g. ghcr.io/acme/fleet, or
// 127.0.0.1:5000/fleet): what an OCIRepository URL is after "oci://".
func CheckOCIRepository(raw string) error {
	shown := short(raw)
	if strings.Contains(raw, "://") {
		return fmt.Errorf("%q: give the repository without a scheme (fleetgen writes the oci:// URLs), e.g. ghcr.io/acme/fleet", shown)
	}
	if strings.Contains(raw, "@") {
		return fmt.Errorf("%q must not carry a digest or credentials; registry credentials come from the docker config (publish) and spec.delivery.pullSecret (clusters)", shown)
	}
	host, rest, ok := strings.Cut(raw, "/")
	if !ok || rest == "" || !(strings.ContainsAny(host, ".:") || host == "localhost") {
		return fmt.Errorf("%q is not an OCI repository with its registry host, such as ghcr.io/acme/fleet", shown)
	}
	if strings.Contains(rest, ":") {
		return fmt.Errorf("%q must not carry a tag: each cluster's (or region's) artifact is a tag of its own, named after it", shown)
	}
	if _, err := name.NewRepository(raw, name.StrictValidation); err != nil || !ociRepoRe().MatchString(raw) {
		return fmt.Errorf("%q is not a valid OCI repository (lower-case path components of letters, digits and . _ -)", shown)
	}
	return nil
}

func (v *validator) clusterName(field, name, region string, seen map[string]string) {
	if !v.dnsLabel(field, name) {
		return
	}
	if prev, ok := seen[name]; ok {
		v.add(field, "cluster %q is already defined in region %q; cluster names are unique across the fleet", name, prev)
		return
	}
	seen[name] = region
}

func (v *validator) app(p string, a *App, seen map[string]bool) {
	if v.dnsLabel(p+".name", a.Name) {
		if seen[a.Name] {
			v.add(p+".name", "app %q is defined twice", a.Name)
		}
		seen[a.Name] = true
	}
	kinds := 0
	for _, set := range []bool{a.Image != "", a.Chart != nil, a.Kustomize != nil} {
		if set {
			kinds++
		}
	}
	switch {
	case kinds == 0:
		v.add(p, "app %q needs one of image (a container image), chart (a Helm chart) or kustomize (a remote Kustomize base)", a.Name)
	case kinds > 1:
		v.add(p, "app %q gives more than one of image, chart and kustomize: an app is one of them", a.Name)
	case a.Chart != nil:
		v.chart(p, a)
	case a.Kustomize != nil:
		v.remoteBase(p+".kustomize.url", a.Kustomize.URL)
	}
	if kinds == 1 && a.Image == "" {
		// The pods are the chart's or the base's: fleetgen does not render
		// them, so the fields that shape them do not apply.
		for _, f := range []struct {
			name string
			set  bool
		}{{"port", a.Port != 0}, {"replicas", v.l.Has(p + ".replicas")}, {"runAsUser", v.l.Has(p + ".runAsUser")},
			{"writablePaths", len(a.WritablePaths) > 0}, {"files", len(a.Files) > 0}, {"expose", a.Expose != nil}} {
			if f.set {
				v.add(p+"."+f.name, "is for image apps only: app %q is a %s, whose own manifests shape its pods (set it in the %s's values or files)", a.Name, a.Kind(), a.Kind())
			}
		}
		if a.Memory == "" {
			v.add(p+".memory", "is required for a %s app: the memory all its pods request together, for the memory budget (fleetgen does not render the %s's pods, so it cannot read it)", a.Kind(), a.Kind())
		}
	}
	v.wasmApp(p, a)
	if a.Image != "" && !imageRe().MatchString(a.Image) {
		v.add(p+".image", "%q is not an image reference such as ghcr.io/org/app:1.2.3", a.Image)
	}
	if a.Port < 0 || a.Port > 65535 {
		v.add(p+".port", "%d is not a port (1-65535)", a.Port)
	}
	if a.Replicas < 0 || a.Replicas > 100 {
		v.add(p+".replicas", "%d is outside 1..100", a.Replicas)
	}
	if a.RunAsUser < 0 {
		v.add(p+".runAsUser", "must be a non-root user id (> 0)")
	}
	v.quantity(p+".cpu", a.CPU)
	if a.Memory != "" {
		v.quantity(p+".memory", a.Memory)
	}
	for i, w := range a.WritablePaths {
		if !strings.HasPrefix(w, "/") || strings.Contains(w, "..") || strings.ContainsAny(w, " \t\n") {
			v.add(fmt.Sprintf("%s.writablePaths[%d]", p, i), "%q must be an absolute path", w)
		}
	}
	if e := a.Expose; e != nil {
		switch {
		case a.Port == 0:
			v.add(p+".expose", "needs the app's port (spec.apps[].port) to expose")
		case e.NodePort < 30000 || e.NodePort > 32767:
			v.add(p+".expose.nodePort", "%d is outside the NodePort range 30000-32767", e.NodePort)
		}
		if len(e.From) == 0 {
			v.add(p+".expose.from", "is required: the networks (CIDRs) that may connect, e.g. the site's sensor network")
		}
		for i, c := range e.From {
			if _, _, err := net.ParseCIDR(c); err != nil {
				v.add(fmt.Sprintf("%s.expose.from[%d]", p, i), "%q is not a CIDR such as 192.168.50.0/24", c)
			}
		}
	}
	names := map[string]bool{}
	for i, f := range a.Files {
		fp := fmt.Sprintf("%s.files[%d]", p, i)
		base := f.Path[strings.LastIndex(f.Path, "/")+1:]
		switch {
		case !strings.HasPrefix(f.Path, "/") || strings.Contains(f.Path, "..") || strings.ContainsAny(f.Path, " \t\n") || strings.HasSuffix(f.Path, "/"):
			v.add(fp+".path", "%q must be the absolute path of a file", f.Path)
		case !configKeyRe().MatchString(base) || len(base) > 253:
			v.add(fp+".path", "the file name %q must be letters, digits, '-', '_' or '.' (it is the ConfigMap key)", base)
		case names[base]:
			v.add(fp+".path", "another file of app %q has the name %q (files are keyed by name)", a.Name, base)
		}
		names[base] = true
		if f.Content == "" {
			v.add(fp+".content", "is required")
		}
	}
}

// hardware checks a node description; with partial (a region's override)
// only the fields it sets, so an inherited mistake is reported once.
func (v *validator) hardware(p string, h Hardware, partial bool) {
	if !partial || h.Arch != "" {
		v.oneOf(p+".arch", h.Arch, Arches)
	}
	if !partial || h.Storage != "" {
		v.oneOf(p+".storage", h.Storage, StorageKinds)
	}
	if !partial || h.Memory != "" {
		if q, ok := v.quantity(p+".memory", h.Memory); ok {
			if q.Value() < MinNodeMemoryMi<<20 {
				v.add(p+".memory", "%s is below the %dMi a K3s node needs at the very least", h.Memory, MinNodeMemoryMi)
			}
			if q.Value() > 4<<40 {
				v.add(p+".memory", "%s is not a plausible node memory", h.Memory)
			}
		}
	}
	if (!partial || h.CPUs != 0) && (h.CPUs < 1 || h.CPUs > 256) {
		v.add(p+".cpus", "%d is outside 1..256", h.CPUs)
	}
	if (!partial || h.Nodes != 0) && (h.Nodes < 1 || h.Nodes > MaxNodes) {
		v.add(p+".nodes", "%d is outside 1..%d", h.Nodes, MaxNodes)
	}
}

func (v *validator) quantity(field, s string) (resource.Quantity, bool) {
	q, err := resource.ParseQuantity(s)
	if err != nil || q.Sign() <= 0 {
		v.add(field, "%q is not a positive quantity such as 2Gi, 512Mi or 100m", s)
		return q, false
	}
	return q, true
}

func (v *validator) ageRecipients(field string, rs []string) bool {
	n := len(v.errs)
	seen := map[string]bool{}
	for i, r := range rs {
		f := fmt.Sprintf("%s[%d]", field, i)
		if strings.HasPrefix(strings.ToUpper(strings.TrimSpace(r)), "AGE-SECRET-KEY-") {
			v.add(f, "this is an age SECRET key, not a recipient: remove it from fleet.yaml (and from git history), rotate it, and list its public key (age-keygen -y) instead")
		} else if _, err := age.ParseX25519Recipient(r); err != nil {
			v.add(f, "%q is not an age public key (age1...)", short(r))
		}
		if seen[r] {
			v.add(f, "recipient listed twice")
		}
		seen[r] = true
	}
	return len(v.errs) == n
}

// regionKey enforces the node key rule: a region whose secrets are
// encrypted (spec.secrets.ageRecipients or its own ageRecipients) needs an
// age recipient of its own, because its nodes hold the private key that
// decrypts them. Without one, the nodes would need the operators'
// fleet-wide key, and one stolen node would decrypt every region's secrets.
func (v *validator) regionKey(p string, r *Region, fleet []string) {
	if v.badFleetKeys || (len(fleet) == 0 && len(r.AgeRecipients) == 0) || r.Engine == "argocd" {
		// An Argo CD region decrypts nothing: engines() refuses its keys.
		return // nothing of this region is encrypted: its nodes hold no key
	}
	own := 0
	for j, k := range r.AgeRecipients {
		if slices.Contains(fleet, k) {
			v.add(fmt.Sprintf("%s.ageRecipients[%d]", p, j), "is also in spec.secrets.ageRecipients: the region's nodes hold this key's private half, so it must be the region's own key, never the operators' fleet-wide one")
			continue
		}
		own++
	}
	if own == 0 && len(r.AgeRecipients) == 0 {
		v.add(p+".ageRecipients", "region %q decrypts SOPS secrets (spec.secrets.ageRecipients is set) but has no age recipient of its own: its nodes would have to hold the operators' fleet-wide key, and one stolen node would decrypt the whole fleet's secrets. Generate a key for the region (age-keygen -o %s.agekey, kept off git), list its public key here (age-keygen -y %s.agekey), and give the private key to the region's nodes only", r.Name, r.Name, r.Name)
	}
}

func (v *validator) host(field, h string) {
	host := h
	if hh, port, err := net.SplitHostPort(h); err == nil {
		host = hh
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			v.add(field, "%q has an invalid port", h)
			return
		}
	}
	if net.ParseIP(host) != nil {
		return
	}
	if errs := validation.IsDNS1123Subdomain(host); len(errs) > 0 || strings.ContainsAny(h, "/@ ") {
		v.add(field, "%q is not a host or host:port (no scheme, no path)", h)
	}
}

func (v *validator) labels(field string, m map[string]string) {
	for k, val := range m {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			v.add(field+"."+k, "label key %q: %s", k, errs[0])
		}
		if errs := validation.IsValidLabelValue(val); len(errs) > 0 {
			v.add(field+"."+k, "label value %q: %s", val, errs[0])
		}
	}
}

func (v *validator) gitURL(field, raw string) {
	if raw == "" {
		v.add(field, "is required (the URL Flux pulls the fleet repository from)")
		return
	}
	if err := CheckGitURL(raw); err != nil {
		v.add(field, "%v", err)
	}
}

// CheckGitURL accepts the URL forms Flux's GitRepository accepts (https,
// http, ssh) and refuses any credential in the URL: a password or token in
// a URL would be written into every cluster's manifests and into git.
func CheckGitURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's message repeats the raw URL: say what is wrong only.
		return fmt.Errorf("%q is not a URL", redact(raw))
	}
	shown := redact(raw)
	if u.RawQuery != "" || u.Fragment != "" {
		// Tokens hide in queries: show the URL without them.
		v := *u
		v.RawQuery, v.Fragment, v.User = "", "", nil
		return fmt.Errorf("%q must not have a query or fragment (tokens hide there; put credentials in the Secret named by spec.git.secretName)", v.String()+"?***")
	}
	if strings.ContainsAny(raw, " \t\n") {
		return fmt.Errorf("%q contains white space", shown)
	}
	switch u.Scheme {
	case "https", "http", "ssh":
	case "":
		return fmt.Errorf("%q has no scheme; Flux needs https://... or ssh://git@host/org/repo.git", shown)
	default:
		return fmt.Errorf("scheme %q is not supported by Flux; use https or ssh", u.Scheme)
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", shown)
	}
	if u.User != nil {
		if _, hasPw := u.User.Password(); hasPw || u.Scheme != "ssh" {
			return fmt.Errorf("%q carries credentials; put them in the Secret named by spec.git.secretName on the node, never in the URL", shown)
		}
	}
	return nil
}

// redact hides the userinfo and any query of a URL for messages.
func redact(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i] + "?***"
	}
	if i := strings.Index(raw, "://"); i >= 0 {
		rest := raw[i+3:]
		end := strings.IndexAny(rest+"/", "/")
		if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
			return raw[:i+3] + "***@" + rest[at+1:]
		}
	}
	return raw
}

func checkBranch(b string) error {
	if b == "" || strings.HasPrefix(b, "-") || strings.HasPrefix(b, "/") || strings.HasSuffix(b, "/") ||
		strings.HasSuffix(b, ".lock") || strings.Contains(b, "..") || strings.Contains(b, "//") || strings.Contains(b, "@{") ||
		strings.ContainsAny(b, " ~^:?*[\\\x7f") || len(b) > 200 {
		return fmt.Errorf("%q is not a valid git branch name", b)
	}
	for _, r := range b {
		if r < 0x20 {
			return fmt.Errorf("%q is not a valid git branch name", b)
		}
	}
	return nil
}

func (v *validator) dnsLabel(field, s string) bool {
	if s == "" {
		v.add(field, "is required")
		return false
	}
	if errs := validation.IsDNS1123Label(s); len(errs) > 0 {
		v.add(field, "%q is not a DNS-1123 label (lower-case letters, digits and '-', at most 63, starting and ending with a letter or digit); it is used as a folder and object name", short(s))
		return false
	}
	return true
}

func (v *validator) dnsSubdomain(field, s string) {
	if errs := validation.IsDNS1123Subdomain(s); len(errs) > 0 {
		v.add(field, "%q is not a valid Kubernetes object name", short(s))
	}
}

func (v *validator) oneOf(field, s string, allowed []string) {
	for _, a := range allowed {
		if s == a {
			return
		}
	}
	v.add(field, "%q is not one of: %s", short(s), strings.Join(allowed, ", "))
}

func (v *validator) text(field, s string, required bool) {
	if strings.TrimSpace(s) == "" {
		if required {
			v.add(field, "is required (it fills the prompt's placeholder)")
		}
		return
	}
	if n := len([]rune(s)); n > MaxTextLen {
		v.add(field, "is %d characters; keep it under %d", n, MaxTextLen)
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			v.add(field, "contains a control character (%U)", r)
			return
		}
	}
}

// ValidVarName reports whether s can be a Flux postBuild variable.
func ValidVarName(s string) bool { return varNameRe().MatchString(s) }

func short(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// lazyRegexp compiles expr on first use (not at start-up of every command).
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

func (v *validator) bandwidth(field, s string) {
	if s == "" {
		return
	}
	if _, err := ParseBandwidth(s); err != nil {
		v.add(field, "%v", err)
	}
}

// Bandwidth limits: below a kilobit nothing syncs; above 100 Gbit/s is a typo.
const (
	minBandwidth = 1_000
	maxBandwidth = 100_000_000_000
)

var bandwidthRe = lazyRegexp(`^([0-9]+(\.[0-9]+)?)(bit|kbit|Mbit|Gbit)$`)

// ParseBandwidth reads a link's bandwidth such as "256kbit", "2Mbit" or
// "1.5Mbit" (decimal units, bits per second, as tc and link datasheets
// write them) and returns bits per second.
func ParseBandwidth(s string) (int64, error) {
	m := bandwidthRe().FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a bandwidth such as 256kbit, 2Mbit or 1Gbit (bits per second; units bit, kbit, Mbit, Gbit)", s)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %v", s, err)
	}
	mult := map[string]float64{"bit": 1, "kbit": 1e3, "Mbit": 1e6, "Gbit": 1e9}[m[3]]
	bps := n * mult
	if bps < minBandwidth || bps > maxBandwidth {
		return 0, fmt.Errorf("%q is outside 1kbit..100Gbit", s)
	}
	return int64(bps), nil
}

// distributions checks spec.distribution, each region's, spec.k0s, and
// what k0s regions cannot have yet.
func (v *validator) distributions(s *FleetSpec) {
	v.oneOf("spec.distribution", s.Distribution, Distributions)
	anyK0s, allK0s := false, len(s.Regions) > 0
	reported := map[string]bool{}
	for i := range s.Regions {
		r := &s.Regions[i]
		field := fmt.Sprintf("spec.regions[%d].distribution", i)
		if _, set := v.l.lines[field]; set {
			v.oneOf(field, r.Distribution, Distributions)
		} else {
			field = "spec.distribution"
		}
		if r.Distribution != "k0s" {
			allK0s = false
			continue
		}
		anyK0s = true
		if s.Flux.Mode == "bootstrap" && !reported[field] {
			// Once per field: regions inheriting spec.distribution share it.
			reported[field] = true
			which := fmt.Sprintf("region %q", r.Name)
			if field == "spec.distribution" {
				which = "the regions that inherit it"
			}
			v.add(field, "k0s with spec.flux.mode bootstrap is not offered: k0s prunes what a removed manifest created, so the handover would have to release every object of flux-components.yaml; use spec.flux.mode operator (the default) for %s", which)
		}
		if r.MaintenanceWindow != nil {
			v.add(fmt.Sprintf("spec.regions[%d].maintenanceWindow", i), "region %q runs k0s: fleetgen does not generate k0s upgrades yet (k0s autopilot Plans), so no window would apply; remove it", r.Name)
		}
	}
	if anyK0s && !k0sVersionRe().MatchString(s.K0s.Version) {
		v.add("spec.k0s.version", "%q is not an exact k0s release such as %s (a tag of github.com/k0sproject/k0s)", short(s.K0s.Version), DefaultK0sVersion)
	}
	if allK0s && s.MaintenanceWindow != nil {
		v.add("spec.maintenanceWindow", "every region runs k0s: fleetgen does not generate k0s upgrades yet (k0s autopilot Plans), so no window would apply; remove it")
	}
}

// engines checks spec.engine and each region's, and refuses what fleetgen
// does not generate for Argo CD yet, naming the field: k0s, OCI delivery,
// rings, SOPS decryption, signed commits, and chart or remote-base apps.
func (v *validator) engines(s *FleetSpec) {
	v.oneOf("spec.engine", s.Engine, Engines)
	reported := map[string]bool{}
	once := func(field, format string, args ...any) {
		if !reported[field] {
			reported[field] = true
			v.add(field, format, args...)
		}
	}
	for i := range s.Regions {
		r := &s.Regions[i]
		field := fmt.Sprintf("spec.regions[%d].engine", i)
		if _, set := v.l.lines[field]; set {
			v.oneOf(field, r.Engine, Engines)
		} else {
			field = "spec.engine"
		}
		if r.Engine != "argocd" {
			continue
		}
		who := fmt.Sprintf("region %q runs Argo CD (%s)", r.Name, field)
		if r.Distribution == "k0s" {
			df := fmt.Sprintf("spec.regions[%d].distribution", i)
			if _, set := v.l.lines[df]; !set {
				df = "spec.distribution"
			}
			once(df, "%s on k0s: fleetgen installs Argo CD through K3s's auto-deploy folder only; use distribution k3s or engine flux for this region", who)
		}
		if s.OCI() {
			once("spec.delivery.mode", "oci is not offered with Argo CD yet: %s, and fleetgen's per-cluster artifacts are Flux OCI artifacts (application/vnd.cncf.flux.content.v1.tar+gzip), which Argo CD's OCI source does not read; use delivery mode git or engine flux", who)
		}
		if s.HasRings() {
			once("spec.rings", "rings are not offered with Argo CD yet: %s; its Applications would have to follow the ring branches, which fleetgen does not generate; remove spec.rings or use engine flux", who)
		}
		if s.Git.VerifySecretName != "" {
			once("spec.git.verifySecretName", "%s: commit signature verification is generated for Flux only (Argo CD verifies GnuPG signatures through AppProject signatureKeys, not generated yet); remove it or use engine flux", who)
		}
		if rs := s.RegionRecipients(r); len(rs) > 0 {
			kf := fmt.Sprintf("spec.regions[%d].ageRecipients", i)
			if len(r.AgeRecipients) == 0 {
				kf = "spec.secrets.ageRecipients"
			}
			once(kf, "%s, which does not decrypt SOPS files (no KSOPS or helm-secrets plugin is generated): its clusters could not read a secret encrypted for them. Remove the age recipients for this region (and keep its secrets out of git: provision.sh installs Secrets from local files), or use engine flux", who)
		}
		for j, a := range s.Apps {
			switch a.Kind() {
			case "chart":
				once(fmt.Sprintf("spec.apps[%d].chart", j), "%s: chart apps are rendered as Flux HelmReleases or K3s HelmCharts with Flux substitution, not for Argo CD yet; ship %q as an image app or use engine flux", who, a.Name)
			case "kustomize":
				once(fmt.Sprintf("spec.apps[%d].kustomize", j), "%s: remote Kustomize bases are rendered as Flux GitRepository and Kustomization objects, not for Argo CD yet; ship %q as an image app or use engine flux", who, a.Name)
			}
		}
	}
}
