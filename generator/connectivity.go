package generator

// Profile maps a region's connectivity to Flux and K3s settings. The
// mapping is written into the fleet README so operators can see why a
// satellite site polls every 30 minutes.
type Profile struct {
	Name string
	// GitInterval is how often the source is polled (GitRepository
	// interval); the fewer polls, the less uplink used.
	GitInterval string
	// GitTimeout bounds one fetch; slow links need longer.
	GitTimeout string
	// SyncInterval is the Kustomization interval: drift correction runs
	// locally, so it can be frequent without using the link.
	SyncInterval string
	// RetryInterval after a failed apply or fetch.
	RetryInterval string
	// ApplyTimeout bounds one apply with health checks.
	ApplyTimeout string
	// JitterPercent spreads every controller's intervals by +/- this much
	// (--interval-jitter-percentage), so thousands of sites do not poll the
	// git server in the same second after an outage.
	JitterPercent int
	// SparseCheckout keeps only the folders a cluster needs in the artifact
	// (GitRepository sparseCheckout). It does not shrink the transfer:
	// source-controller clones the whole tree at depth 1 for every new
	// commit and trims the checkout afterwards (fluxcd/pkg git/gogit). What
	// it saves is on the node: the artifact source-controller stores,
	// hashes and serves, and that kustomize-controller downloads, unpacks
	// and walks on every apply.
	SparseCheckout bool
	// PreloadImages: images come from tarballs on the node, not a registry.
	PreloadImages bool
	// Bandwidth of a site's link ("256kbit"): the profile's default, or
	// spec.bandwidth / spec.regions[].bandwidth. Only the load model in
	// plan uses it (time to converge after an outage).
	Bandwidth string
	// BandwidthBasis says where the default comes from.
	BandwidthBasis string
	Summary        string
}

// Profiles by name (spec.ConnectivityKinds).
var Profiles = map[string]Profile{
	"always-on": {
		Name: "always-on", Bandwidth: "10Mbit", BandwidthBasis: "planning assumption: a modest wired or fibre business line", GitInterval: "1m", GitTimeout: "60s", SyncInterval: "10m", RetryInterval: "2m", ApplyTimeout: "3m",
		JitterPercent: 5, Summary: "wired or fibre link: Flux defaults (poll every minute)",
	},
	"intermittent": {
		Name: "intermittent", Bandwidth: "2Mbit", BandwidthBasis: "planning assumption: a cellular uplink in poor coverage", GitInterval: "5m", GitTimeout: "2m", SyncInterval: "15m", RetryInterval: "5m", ApplyTimeout: "5m",
		JitterPercent: 10, SparseCheckout: true, Summary: "cellular or unreliable link: poll every 5 minutes (a poll without a new commit only lists the remote's refs), retry every 5 minutes; the cluster keeps running its last applied state while offline",
	},
	"satellite": {
		Name: "satellite", Bandwidth: "256kbit", BandwidthBasis: "planning assumption: a narrow satellite plan (VSAT or L-band terminal); set spec.bandwidth to your contract's figure", GitInterval: "30m", GitTimeout: "5m", SyncInterval: "1h", RetryInterval: "15m", ApplyTimeout: "10m",
		JitterPercent: 20, SparseCheckout: true, Summary: "expensive, slow link: poll every 30 minutes (a poll without a new commit only lists the remote's refs) with a 5-minute fetch timeout, wide jitter so sites do not all reconnect at once",
	},
	"air-gapped": {
		Name: "air-gapped", Bandwidth: "100Mbit", BandwidthBasis: "planning assumption: the site network to the region's local git mirror", GitInterval: "30m", GitTimeout: "5m", SyncInterval: "1h", RetryInterval: "15m", ApplyTimeout: "10m",
		JitterPercent: 20, SparseCheckout: true, PreloadImages: true, Summary: "no internet: Flux pulls from a git mirror on the site network, images come from the region's registry mirror or tarballs pre-loaded into /var/lib/rancher/k3s/agent/images/",
	},
}
