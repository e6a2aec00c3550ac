package generator

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/fleetgen/fleetgen/generator/oci"
	"github.com/fleetgen/fleetgen/generator/spec"
	"github.com/fleetgen/fleetgen/generator/tree"
)

// DefaultCommitsPerDay is the commit rate the load model assumes when none
// is given (plan --commits-per-day).
const DefaultCommitsPerDay = 10

// Request counts of one poll and of one download, from the clients'
// code (see the README, "Load model"):
//
//   - git: source-controller (fluxcd/pkg git/gogit clone.go) first lists
//     the remote's refs (go-git Remote.List: one GET
//     info/refs?service=git-upload-pack) and stops there when the branch
//     still points at the commit it has; otherwise it clones at depth 1
//     (go-git: GET info/refs, then one POST git-upload-pack).
//   - oci: source-controller's OCIRepository reconciler HEADs the tag's
//     manifest (go-containerregistry remote.Head); each call opens a new
//     transport, which pings GET /v2/ and, on a token registry (ghcr.io,
//     Docker Hub, GitLab), GETs a token first. A changed digest then pulls
//     (remote.Image: ping, token, manifest GET) and GETs the layer blob.
const (
	gitRequestsPerPoll     = 1
	gitRequestsPerDownload = 2
	ociRequestsPerPoll     = 3
	ociRequestsPerDownload = 4
)

// sampleAbove: above this many clusters the OCI sizes come from a sample
// (each region's first and last cluster's artifact), as CheckTree samples.
const sampleAbove = fullCheckClusters

// LoadOptions are the load model's inputs beyond the spec.
type LoadOptions struct {
	// CommitsPerDay to the fleet repository's branch (default
	// DefaultCommitsPerDay). Each is assumed to touch one region (an
	// overlay or inventory edit), except in git mode where every commit is
	// a new revision for every site.
	CommitsPerDay float64
}

// LoadModel is what the fleet costs the git or OCI server and the links.
type LoadModel struct {
	// Mode is git or oci; Unit (oci) cluster or region.
	Mode string `json:"mode"`
	Unit string `json:"unit,omitempty"`
	// Server is the host the sites poll (spec.git.url's, or
	// spec.delivery.repository's registry).
	Server        string  `json:"server"`
	CommitsPerDay float64 `json:"commitsPerDay"`
	// GitPackBytes (git mode): the depth-1 pack of the rendered tree, what
	// each site downloads for every new commit.
	GitPackBytes int64 `json:"gitPackBytes,omitempty"`
	// Sampled: the sizes come from a sample. OCI: each region's first and
	// last cluster's artifact, not all of them. Git: the packs of the tree
	// with 2 and with 3 cluster folders per region, extrapolated linearly
	// to every cluster (4% under the full pack at 5,000 clusters).
	Sampled   bool         `json:"sampled"`
	Artifacts int          `json:"artifactsBuilt,omitempty"`
	Regions   []RegionLoad `json:"regions"`
	Fleet     FleetLoad    `json:"fleet"`
	// Rings (spec.rings): with rings a commit to the fleet's branch
	// reaches no site (every site polls its ring's branch, which does not
	// move); a promotion of a ring reaches that ring's sites only. The
	// figures of Regions and Fleet are then per commit once it is
	// promoted, and these are per promotion.
	Rings    []RingLoad   `json:"rings,omitempty"`
	Limits   []LimitCheck `json:"limits"`
	Warnings []string     `json:"warnings"`
}

// RegionLoad is one region's share.
type RegionLoad struct {
	Region   string `json:"region"`
	Clusters int    `json:"clusters"`
	// PollInterval is the GitRepository/OCIRepository interval.
	PollInterval string `json:"pollInterval"`
	// PollsPerMinute of all the region's sites together.
	PollsPerMinute float64 `json:"pollsPerMinute"`
	// RequestsPerMinute at the server from those polls when nothing changes.
	RequestsPerMinute float64 `json:"requestsPerMinute"`
	// SiteBytesTouching: what one site downloads for a commit that changes
	// what it applies (git: the pack; oci: manifest + layer).
	SiteBytesTouching int64 `json:"siteBytesPerTouchingCommit"`
	// SiteBytesOther: for a commit that does not (git: the pack again; oci:
	// nothing but the HEAD's response headers, counted as 0).
	SiteBytesOther int64 `json:"siteBytesPerOtherCommit"`
	// EgressPerRegionCommit: every site of the region downloads once.
	EgressPerRegionCommit int64  `json:"egressPerRegionCommit"`
	Bandwidth             string `json:"bandwidth"`
	BandwidthBasis        string `json:"bandwidthBasis"`
	// TransferSeconds of SiteBytesTouching at Bandwidth.
	TransferSeconds float64 `json:"transferSeconds"`
	// ConvergeSeconds after an outage: up to one poll interval (plus
	// jitter) before the next poll, then the transfer.
	ConvergeSeconds float64 `json:"convergeSeconds"`
	FetchTimeout    string  `json:"fetchTimeout"`
}

// FleetLoad is the sum over regions.
type FleetLoad struct {
	Clusters       int     `json:"clusters"`
	PollsPerMinute float64 `json:"pollsPerMinute"`
	// RequestsPerMinute when nothing changes; PeakRequestsPerMinute in the
	// poll interval after a commit that every site downloads.
	RequestsPerMinute     float64 `json:"requestsPerMinute"`
	PeakRequestsPerMinute float64 `json:"peakRequestsPerMinute"`
	// EgressPerFleetCommit: a commit every site downloads (git: any
	// commit; oci: one touching the bases).
	EgressPerFleetCommit int64 `json:"egressPerFleetCommit"`
	// EgressPerRegionCommit: the mean over regions of a commit touching
	// one region (git: same as EgressPerFleetCommit).
	EgressPerRegionCommit int64 `json:"egressPerRegionCommit"`
	// EgressPerDay at CommitsPerDay (each touching one region).
	EgressPerDay int64 `json:"egressPerDay"`
	// DownloadsPerDay: clones (git) or manifest GETs = pulls (oci).
	DownloadsPerDay float64 `json:"downloadsPerDay"`
}

// RingLoad is what a promotion of one ring (fleetgen promote RING, then a
// push) costs: its branch moves, so its sites, and no others, download.
type RingLoad struct {
	Ring     string `json:"ring"`
	Branch   string `json:"branch"`
	Clusters int    `json:"clusters"`
	// SiteBytesPerPromotion: the most one of the ring's sites downloads
	// for a promotion that changes what it applies (git: the whole pack,
	// for any promotion; oci: its artifact).
	SiteBytesPerPromotion int64 `json:"siteBytesPerPromotion"`
	// EgressPerPromotion: every site of the ring downloads once (git:
	// every promotion; oci: a promotion carrying a change to every site,
	// such as a Flux or K3s bump). Exact per cluster in OCI mode unless
	// Sampled (then each region's mean artifact × the ring's clusters
	// there).
	EgressPerPromotion int64 `json:"egressPerPromotion"`
	// EgressPerRegionPromotion: a promotion carrying a commit that
	// touches one region, the mean over regions (git: the same as
	// EgressPerPromotion; oci: only the ring's sites of that region).
	EgressPerRegionPromotion int64 `json:"egressPerRegionPromotion"`
	// PeakRequestsPerMinute at the server in the poll interval after the
	// promotion: the ring's sites poll and download, the others poll.
	PeakRequestsPerMinute float64 `json:"peakRequestsPerMinute"`
	// ConvergeSeconds: the slowest of the ring's regions to have the
	// promotion (one poll interval with jitter, then the download).
	ConvergeSeconds float64 `json:"convergeSeconds"`
	// Regions: the ring's clusters per region (regions without any are
	// left out).
	Regions []RingRegionLoad `json:"regions"`
}

// RingRegionLoad is a ring's part of a region.
type RingRegionLoad struct {
	Region             string `json:"region"`
	Clusters           int    `json:"clusters"`
	EgressPerPromotion int64  `json:"egressPerPromotion"`
}

// LimitCheck compares the fleet with a published limit.
type LimitCheck struct {
	Service string `json:"service"`
	// Limit as published, and its source.
	Limit  string `json:"limit"`
	Source string `json:"source"`
	// Applies: the spec's server is this service.
	Applies bool `json:"applies"`
	// Value is the fleet's figure in the limit's terms; Max the limit.
	Value float64 `json:"value"`
	// Unit of Value and Max.
	Unit     string  `json:"unit"`
	Max      float64 `json:"max"`
	Exceeded bool    `json:"exceeded"`
}

// Load computes the load model of a plan from its rendered tree.
func Load(res *Result, o LoadOptions) (*LoadModel, error) {
	if o.CommitsPerDay == 0 {
		o.CommitsPerDay = DefaultCommitsPerDay
	}
	if o.CommitsPerDay < 0 || math.IsNaN(o.CommitsPerDay) || math.IsInf(o.CommitsPerDay, 0) {
		return nil, fmt.Errorf("commits per day: %v must be a positive number", o.CommitsPerDay)
	}
	l := res.Spec
	m := &LoadModel{Mode: l.Spec.Delivery.Mode, CommitsPerDay: o.CommitsPerDay}
	siteBytes := map[string]int64{} // region -> per site, touching
	regionEgress := map[string]int64{}
	clusterBytes := map[string]int64{} // region/cluster -> its artifact (oci, not sampled)
	if l.Spec.OCI() {
		m.Unit = l.Spec.Delivery.Unit
		m.Server = strings.SplitN(l.Spec.Delivery.Repository, "/", 2)[0]
		if err := ociSizes(res, m, siteBytes, regionEgress, clusterBytes); err != nil {
			return nil, err
		}
	} else {
		m.Server = gitHost(l.Spec.Git.URL)
		n, sampled, err := gitPackEstimate(res)
		if err != nil {
			return nil, err
		}
		m.GitPackBytes, m.Sampled = n, sampled
	}
	perPoll, perDownload := gitRequestsPerPoll, gitRequestsPerDownload
	if l.Spec.OCI() {
		perPoll, perDownload = ociRequestsPerPoll, ociRequestsPerDownload
	}
	f := &m.Fleet
	var egressRegionSum int64
	for _, d := range res.Decisions {
		n := len(l.RegionClusters(d.Region))
		p := d.Connectivity
		iv, err := time.ParseDuration(p.GitInterval)
		if err != nil {
			return nil, fmt.Errorf("region %s: poll interval %q: %w", d.Region, p.GitInterval, err)
		}
		bps, err := spec.ParseBandwidth(p.Bandwidth)
		if err != nil {
			return nil, fmt.Errorf("region %s: %w", d.Region, err)
		}
		rl := RegionLoad{
			Region: d.Region, Clusters: n, PollInterval: p.GitInterval,
			PollsPerMinute: float64(n) / iv.Minutes(), Bandwidth: p.Bandwidth, BandwidthBasis: p.BandwidthBasis,
			FetchTimeout: p.GitTimeout,
		}
		rl.RequestsPerMinute = rl.PollsPerMinute * float64(perPoll)
		if l.Spec.OCI() {
			rl.SiteBytesTouching = siteBytes[d.Region]
			rl.EgressPerRegionCommit = regionEgress[d.Region]
		} else {
			rl.SiteBytesTouching, rl.SiteBytesOther = m.GitPackBytes, m.GitPackBytes
			rl.EgressPerRegionCommit = int64(n) * m.GitPackBytes
		}
		rl.TransferSeconds = float64(rl.SiteBytesTouching*8) / float64(bps)
		rl.ConvergeSeconds = iv.Seconds()*(1+float64(p.JitterPercent)/100) + rl.TransferSeconds
		if to, err := time.ParseDuration(p.GitTimeout); err == nil && rl.TransferSeconds > to.Seconds() {
			m.Warnings = append(m.Warnings, fmt.Sprintf("region %s: one download (%s) takes %s at %s, longer than the fetch timeout %s: its sites would never finish a sync (raise the bandwidth figure if it is wrong, or use spec.delivery.mode oci)",
				d.Region, FormatBytes(rl.SiteBytesTouching), FormatSeconds(rl.TransferSeconds), p.Bandwidth, p.GitTimeout))
		}
		m.Regions = append(m.Regions, rl)
		f.Clusters += n
		f.PollsPerMinute += rl.PollsPerMinute
		f.RequestsPerMinute += rl.RequestsPerMinute
		f.PeakRequestsPerMinute += rl.PollsPerMinute * float64(perPoll+perDownload)
		f.EgressPerFleetCommit += int64(n) * rl.SiteBytesTouching
		egressRegionSum += rl.EgressPerRegionCommit
	}
	if l.Spec.OCI() {
		f.EgressPerRegionCommit = egressRegionSum / int64(len(m.Regions))
		f.DownloadsPerDay = o.CommitsPerDay * float64(f.Clusters) / float64(len(m.Regions))
	} else {
		f.EgressPerRegionCommit = f.EgressPerFleetCommit
		f.DownloadsPerDay = o.CommitsPerDay * float64(f.Clusters)
	}
	f.EgressPerDay = int64(o.CommitsPerDay * float64(f.EgressPerRegionCommit))
	m.rings(l, perPoll, perDownload, clusterBytes)
	m.limits(l)
	return m, nil
}

// rings adds the per-ring figures (spec.rings): a promotion of ring R
// moves fleet/ring/R only, so R's sites download and the others poll as
// before.
func (m *LoadModel) rings(l *spec.Loaded, perPoll, perDownload int, clusterBytes map[string]int64) {
	s := &l.Spec
	if !s.HasRings() {
		return
	}
	byRegion := map[string]RegionLoad{}
	for _, r := range m.Regions {
		byRegion[r.Region] = r
	}
	for i, ring := range s.Rings {
		rl := RingLoad{Ring: ring.Name, Branch: spec.RingBranch(ring.Name), PeakRequestsPerMinute: m.Fleet.RequestsPerMinute}
		var regionSum int64
		for _, reg := range s.Regions {
			r := byRegion[reg.Name]
			n := l.RingSizes(reg.Name)[i]
			if n == 0 || r.Clusters == 0 {
				continue
			}
			var egress int64
			switch {
			case m.Mode != "oci":
				egress = int64(n) * r.SiteBytesTouching
			case m.Sampled:
				egress = int64(float64(r.EgressPerRegionCommit) * float64(n) / float64(r.Clusters))
			default:
				for _, c := range l.RegionClusters(reg.Name) {
					if s.ClusterRing(&reg, c.Name) == ring.Name {
						egress += clusterBytes[reg.Name+"/"+c.Name]
					}
				}
			}
			rl.Clusters += n
			rl.EgressPerPromotion += egress
			regionSum += egress
			rl.SiteBytesPerPromotion = max(rl.SiteBytesPerPromotion, r.SiteBytesTouching)
			rl.ConvergeSeconds = math.Max(rl.ConvergeSeconds, r.ConvergeSeconds)
			// The ring's sites of this region poll every r.PollInterval.
			rl.PeakRequestsPerMinute += r.PollsPerMinute * float64(n) / float64(r.Clusters) * float64(perDownload)
			rl.Regions = append(rl.Regions, RingRegionLoad{Region: reg.Name, Clusters: n, EgressPerPromotion: egress})
		}
		if m.Mode == "oci" {
			rl.EgressPerRegionPromotion = regionSum / int64(len(m.Regions))
		} else {
			rl.EgressPerRegionPromotion = rl.EgressPerPromotion
		}
		m.Rings = append(m.Rings, rl)
	}
}

// gitHost is the host of a git URL (https://h/..., ssh://git@h/...,
// git@h:path).
func gitHost(u string) string {
	if x, err := url.Parse(u); err == nil && x.Host != "" {
		return x.Hostname()
	}
	if i := strings.Index(u, "@"); i >= 0 {
		u = u[i+1:]
	}
	return strings.SplitN(u, ":", 2)[0]
}

// Published limits (checked late 2026 in the sources named). Figures per
// the limit's own window.
const (
	gitlabSource    = "https://about.gitlab.com/blog/2020/12/17/automation-check-in-and-rate-limit-changes-on-gitlab-dot-com/"
	bitbucketSource = "https://support.atlassian.com/bitbucket-cloud/docs/api-request-limits/"
	githubSource    = "https://github.com/orgs/community/discussions/24841"
	dockerSource    = "https://docs.docker.com/docker-hub/usage/pulls/"
)

func (m *LoadModel) limits(l *spec.Loaded) {
	f := m.Fleet
	authenticated := l.Spec.Git.SecretName != ""
	add := func(c LimitCheck) {
		c.Exceeded = c.Applies && c.Max > 0 && c.Value > c.Max
		m.Limits = append(m.Limits, c)
		if c.Exceeded {
			m.Warnings = append(m.Warnings, fmt.Sprintf("%s: the fleet would make %s %s where the published limit is %s (%s)", c.Service, formatCount(c.Value), c.Unit, c.Limit, c.Source))
		}
	}
	if m.Mode == "git" {
		// Every site authenticates with the same deploy credentials, so a
		// per-user limit is shared by the whole fleet.
		add(LimitCheck{Service: "GitLab.com (git over HTTPS)", Limit: "1,000 authenticated non-API requests per minute per user", Source: gitlabSource,
			Applies: m.Server == "gitlab.com" && authenticated, Value: f.PeakRequestsPerMinute, Max: 1000, Unit: "requests per minute (after a commit)"})
		add(LimitCheck{Service: "Bitbucket Cloud (git)", Limit: "60,000 authenticated git requests (HTTPS and SSH) per hour", Source: bitbucketSource,
			Applies: m.Server == "bitbucket.org" && authenticated, Value: f.PeakRequestsPerMinute * 60, Max: 60000, Unit: "requests per hour (after commits)"})
		add(LimitCheck{Service: "GitHub (git)", Limit: "no published figure for clones and fetches (throttled under load)", Source: githubSource,
			Applies: false, Value: f.PeakRequestsPerMinute, Max: 0, Unit: "requests per minute (after a commit)"})
		return
	}
	hub := m.Server == "docker.io" || m.Server == "registry-1.docker.io" || m.Server == "index.docker.io"
	// A pull is a manifest GET; HEADs (version checks) do not count.
	// Pulls in 6 hours: the commits of 6 hours, each pulled by one region's
	// sites; and a fleet-wide commit pulled by every site.
	pulls6h := math.Max(m.CommitsPerDay/4*float64(f.Clusters)/float64(len(m.Regions)), float64(f.Clusters))
	add(LimitCheck{Service: "Docker Hub (Personal, authenticated)", Limit: "200 pulls per 6 hours", Source: dockerSource,
		Applies: hub && l.Spec.Delivery.PullSecret != "", Value: pulls6h, Max: 200, Unit: "pulls per 6 hours"})
	add(LimitCheck{Service: "Docker Hub (unauthenticated)", Limit: "100 pulls per 6 hours per IPv4 address or IPv6 /64", Source: dockerSource,
		Applies: hub && l.Spec.Delivery.PullSecret == "", Value: math.Max(m.CommitsPerDay/4, 1), Max: 100, Unit: "pulls per 6 hours per site"})
}

// ociSizes builds the artifacts (or a sample) from the rendered tree,
// exactly as publish builds them from the commit.
func ociSizes(res *Result, m *LoadModel, siteBytes, regionEgress, clusterBytes map[string]int64) error {
	l := res.Spec
	var files []oci.File
	for _, f := range res.Tree.Files {
		for _, p := range oci.RepoPrefixes() {
			if strings.HasPrefix(f.Path, p+"/") {
				files = append(files, oci.File{Path: f.Path, Executable: f.Mode == tree.ModeScript, Content: f.Content})
				break
			}
		}
	}
	units := oci.Units(l, files)
	m.Sampled = l.Spec.Delivery.Unit == "cluster" && len(l.Clusters) > sampleAbove
	byRegion := map[string][]oci.Unit{}
	for _, u := range units {
		byRegion[u.Region] = append(byRegion[u.Region], u)
	}
	builder := oci.NewBuilder()
	for region, us := range byRegion {
		sample := us
		if m.Sampled && len(us) > 2 {
			sample = []oci.Unit{us[0], us[len(us)-1]}
		}
		var sum, maxB int64
		for _, u := range sample {
			a, err := builder.Build(u, l.Metadata.Name, l.Spec.Git.URL)
			if err != nil {
				return err
			}
			m.Artifacts++
			b := ArtifactBytes(a)
			for _, c := range u.Clusters {
				clusterBytes[region+"/"+c] = b
			}
			sum += b
			maxB = max(maxB, b)
		}
		siteBytes[region] = maxB
		mean := sum / int64(len(sample))
		n := int64(len(l.RegionClusters(region)))
		regionEgress[region] = n * mean
	}
	return nil
}

// ArtifactBytes is what a site downloads when its artifact changed: the
// manifest and the layer (the config blob is not fetched).
func ArtifactBytes(a *oci.Artifact) int64 { return a.ManifestSize + int64(len(a.Layer)) }

// gitPackEstimate is GitPackSize of the whole tree, or above sampleAbove
// clusters an extrapolation: packing 25,000 files with go-git's delta
// search takes about 10 s, while the cluster folders of a region differ
// only in names and values, so each one adds about the same bytes.
func gitPackEstimate(res *Result) (int64, bool, error) {
	l := res.Spec
	if len(l.Clusters) <= sampleAbove {
		n, err := GitPackSize(&res.Tree)
		return n, false, err
	}
	keep := func(k int) *tree.Tree {
		folders := map[string]bool{}
		kept := 0
		for _, r := range l.Spec.Regions {
			for i, c := range l.RegionClusters(r.Name) {
				if i < k {
					folders[ClusterPath(r.Name, c.Name)+"/"] = true
					kept++
				}
			}
		}
		t := &tree.Tree{}
		for _, f := range res.Tree.Files {
			if strings.HasPrefix(f.Path, "clusters/") {
				parts := strings.SplitN(f.Path, "/", 4)
				if len(parts) == 4 && !folders[parts[0]+"/"+parts[1]+"/"+parts[2]+"/"] {
					continue
				}
			}
			t.Files = append(t.Files, f)
		}
		return t
	}
	count := func(k int) int {
		n := 0
		for _, r := range l.Spec.Regions {
			n += min(k, len(l.RegionClusters(r.Name)))
		}
		return n
	}
	p2, err := GitPackSize(keep(sampleLo))
	if err != nil {
		return 0, false, err
	}
	p3, err := GitPackSize(keep(sampleHi))
	if err != nil {
		return 0, false, err
	}
	c2, c3 := count(sampleLo), count(sampleHi)
	if c3 == c2 {
		return p2, true, nil
	}
	per := float64(p3-p2) / float64(c3-c2)
	return p2 + int64(per*float64(len(l.Clusters)-c2)), true, nil
}

// GitPackSize is the size of the pack a depth-1 clone of t receives: the
// commit, every tree and every blob, deltified with go-git's packfile
// encoder (window 10, git's default). A real server's pack differs by a
// few percent (its delta search orders objects by name as well).
func GitPackSize(t *tree.Tree) (int64, error) {
	st := memory.NewStorage()
	var hashes []plumbing.Hash
	stored := map[plumbing.Hash]bool{}
	put := func(typ plumbing.ObjectType, content []byte) (plumbing.Hash, error) {
		if h := plumbing.ComputeHash(typ, content); stored[h] {
			return h, nil
		}
		o := st.NewEncodedObject()
		o.SetType(typ)
		o.SetSize(int64(len(content)))
		w, err := o.Writer()
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if _, err := w.Write(content); err != nil {
			return plumbing.ZeroHash, err
		}
		w.Close()
		h, err := st.SetEncodedObject(o)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		stored[h] = true
		hashes = append(hashes, h)
		return h, nil
	}
	dirs := map[string][]treeEntry{}
	for _, f := range t.Files {
		h, err := put(plumbing.BlobObject, f.Content)
		if err != nil {
			return 0, err
		}
		mode := filemode.Regular
		if f.Mode == tree.ModeScript {
			mode = filemode.Executable
		}
		dir, name := path.Split(f.Path)
		dirs[strings.TrimSuffix(dir, "/")] = append(dirs[strings.TrimSuffix(dir, "/")], treeEntry{name, mode, h})
	}
	// Every parent folder exists, deepest first.
	for d := range dirs {
		for p := d; p != ""; {
			p = path.Dir(p)
			if p == "." {
				p = ""
			}
			if _, ok := dirs[p]; !ok {
				dirs[p] = nil
			}
			if p == "" {
				break
			}
		}
	}
	names := make([]string, 0, len(dirs))
	for d := range dirs {
		names = append(names, d)
	}
	sort.Slice(names, func(i, j int) bool {
		if a, b := strings.Count(names[i], "/"), strings.Count(names[j], "/"); a != b {
			return a > b
		}
		return names[i] > names[j]
	})
	var root plumbing.Hash
	for _, d := range names {
		if d == "" {
			continue
		}
		if err := writeTree(d, dirs, put, func(h plumbing.Hash) {
			parent := path.Dir(d)
			if parent == "." {
				parent = ""
			}
			dirs[parent] = append(dirs[parent], treeEntry{path.Base(d), filemode.Dir, h})
		}); err != nil {
			return 0, err
		}
	}
	if err := writeTree("", dirs, put, func(h plumbing.Hash) { root = h }); err != nil {
		return 0, err
	}
	c := &object.Commit{
		Author:    object.Signature{Name: "fleetgen", Email: "fleetgen@localhost", When: time.Unix(0, 0).UTC()},
		Committer: object.Signature{Name: "fleetgen", Email: "fleetgen@localhost", When: time.Unix(0, 0).UTC()},
		Message:   "fleetgen generate\n", TreeHash: root,
	}
	co := st.NewEncodedObject()
	if err := c.Encode(co); err != nil {
		return 0, err
	}
	ch, err := st.SetEncodedObject(co)
	if err != nil {
		return 0, err
	}
	hashes = append(hashes, ch)
	var cw countWriter
	if _, err := packfile.NewEncoder(&cw, st, false).Encode(hashes, 10); err != nil {
		return 0, err
	}
	return cw.n, nil
}

type treeEntry struct {
	name string
	mode filemode.FileMode
	hash plumbing.Hash
}

// writeTree stores folder d's tree object (entries in git's order: a
// folder sorts as its name followed by "/").
func writeTree(d string, dirs map[string][]treeEntry, put func(plumbing.ObjectType, []byte) (plumbing.Hash, error), done func(plumbing.Hash)) error {
	es := dirs[d]
	key := func(e treeEntry) string {
		if e.mode == filemode.Dir {
			return e.name + "/"
		}
		return e.name
	}
	sort.Slice(es, func(i, j int) bool { return key(es[i]) < key(es[j]) })
	var b bytes.Buffer
	for _, e := range es {
		fmt.Fprintf(&b, "%o %s\x00", uint32(e.mode), e.name)
		b.Write(e.hash[:])
	}
	h, err := put(plumbing.TreeObject, b.Bytes())
	if err != nil {
		return err
	}
	done(h)
	return nil
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)

// FormatBytes writes n as B, KB, MB or GB (decimal).
func FormatBytes(n int64) string {
	switch f := float64(n); {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1e6:
		return fmt.Sprintf("%.1f KB", f/1e3)
	case n < 1e9:
		return fmt.Sprintf("%.1f MB", f/1e6)
	default:
		return fmt.Sprintf("%.1f GB", f/1e9)
	}
}

// FormatSeconds writes s as seconds, minutes or hours.
func FormatSeconds(s float64) string {
	switch {
	case s < 1:
		return fmt.Sprintf("%.2fs", s)
	case s < 120:
		return fmt.Sprintf("%.0fs", s)
	case s < 7200:
		return fmt.Sprintf("%.1fm", s/60)
	default:
		return fmt.Sprintf("%.1fh", s/3600)
	}
}

func formatCount(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// The git pack's sample: the tree with sampleLo and with sampleHi cluster
// folders per region.
var sampleLo, sampleHi = 4, 8
