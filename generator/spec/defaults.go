package spec

// Defaults, in one place. Each is documented in the README's spec reference.
const (
	DefaultLanguage             = "es"
	DefaultBranch               = "main"
	DefaultFluxMode             = "operator"
	DefaultDeliveryMode         = "git"
	DefaultDeliveryUnit         = "cluster"
	DefaultCosignSecret         = "cosign-pub"
	DefaultFluxVersion          = "2.9.x"
	DefaultFluxRegistry         = "ghcr.io/fluxcd"
	DefaultOperatorChartVersion = "0.58.1"
	DefaultK3sVersion           = "v1.37.1+k3s1"
	DefaultDistribution         = "k3s"
	DefaultEngine               = "flux"
	DefaultK0sVersion           = "v1.36.3+k0s.2"
	DefaultDatastore            = "auto"
	DefaultConnectivity         = "intermittent"
	DefaultArch                 = "amd64"
	DefaultMemory               = "4Gi"
	DefaultCPUs                 = 2
	DefaultStorage              = "ssd"
	DefaultNodes                = 1
	DefaultAppCPU               = "10m"
	DefaultAppMemory            = "32Mi"
	DefaultAppReplicas          = 1
	DefaultAppRunAsUser         = 65532
)

// Default fills every empty optional field. It is idempotent.
func (l *Loaded) Default() {
	s := &l.Spec
	def(&s.Language, DefaultLanguage)
	def(&s.Git.Branch, DefaultBranch)
	def(&s.Flux.Mode, DefaultFluxMode)
	def(&s.Delivery.Mode, DefaultDeliveryMode)
	if s.Delivery.Mode == "oci" {
		def(&s.Delivery.Unit, DefaultDeliveryUnit)
		if v := s.Delivery.Verify; v != nil {
			def(&v.Provider, "cosign")
			if len(v.PublicKeys) > 0 {
				def(&v.SecretName, DefaultCosignSecret)
			}
		}
	}
	def(&s.Flux.Version, DefaultFluxVersion)
	def(&s.Flux.Registry, DefaultFluxRegistry)
	def(&s.Flux.OperatorChartVersion, DefaultOperatorChartVersion)
	def(&s.K3s.Version, DefaultK3sVersion)
	def(&s.K3s.Datastore, DefaultDatastore)
	def(&s.Distribution, DefaultDistribution)
	def(&s.Engine, DefaultEngine)
	def(&s.K0s.Version, DefaultK0sVersion)
	defaultWindows(s)
	def(&s.Connectivity, DefaultConnectivity)
	def(&s.Hardware.Arch, DefaultArch)
	def(&s.Hardware.Memory, DefaultMemory)
	def(&s.Hardware.Storage, DefaultStorage)
	if s.Hardware.CPUs == 0 {
		s.Hardware.CPUs = DefaultCPUs
	}
	if s.Hardware.Nodes == 0 {
		s.Hardware.Nodes = DefaultNodes
	}
	def(&s.Context.DeviceType, s.Context.Hardware)
	def(&s.Context.Problem, s.Context.MainChallenge)
	for i := range s.Apps {
		a := &s.Apps[i]
		def(&a.CPU, DefaultAppCPU)
		if a.Chart != nil || a.Kustomize != nil {
			continue // its own manifests shape its pods; memory is required
		}
		def(&a.Memory, DefaultAppMemory)
		if a.Replicas == 0 {
			a.Replicas = DefaultAppReplicas
		}
		if a.RunAsUser == 0 {
			a.RunAsUser = DefaultAppRunAsUser
		}
	}
	for i := range s.Regions {
		r := &s.Regions[i]
		def(&r.ClusterPrefix, r.Name)
		def(&r.Connectivity, s.Connectivity)
		def(&r.Distribution, s.Distribution)
		def(&r.Engine, s.Engine)
		def(&r.Bandwidth, s.Bandwidth)
	}
}

// OCI reports whether the clusters sync OCI artifacts (spec.delivery.mode oci).
func (s *FleetSpec) OCI() bool { return s.Delivery.Mode == "oci" }

// RegionHardware is the region's node: its overrides over the fleet default.
func (s *FleetSpec) RegionHardware(r *Region) Hardware {
	h := s.Hardware
	if o := r.Hardware; o != nil {
		def2(&h.Arch, o.Arch)
		def2(&h.Memory, o.Memory)
		def2(&h.Storage, o.Storage)
		if o.CPUs != 0 {
			h.CPUs = o.CPUs
		}
		if o.Nodes != 0 {
			h.Nodes = o.Nodes
		}
	}
	return h
}

// RegionRecipients are the age recipients of a region's secrets: the
// fleet-wide ones (operators) plus the region's own (its clusters' key).
func (s *FleetSpec) RegionRecipients(r *Region) []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range append(append([]string(nil), s.Secrets.AgeRecipients...), r.AgeRecipients...) {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

func def(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func def2(p *string, v string) {
	if v != "" {
		*p = v
	}
}
