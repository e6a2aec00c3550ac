package spec

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
)

// Ring is one stage of a staged rollout (spec.rings). Rings are ordered:
// a change reaches the first ring first, and `fleetgen promote` moves it
// from one ring to the next. Every ring syncs its own git branch,
// RingBranchPrefix + name.
type Ring struct {
	// Name is a DNS-1123 label, e.g. canary, early, stable.
	Name string `yaml:"name"`
	// Share is the percentage (0-100) of each region's clusters in this
	// ring, among those not listed by name in regions[].rings; the shares
	// of all rings add up to 100.
	Share int `yaml:"share"`
}

// RingBranchPrefix starts the name of every ring's branch.
const RingBranchPrefix = "fleet/ring/"

// MaxRings keeps the number of branches and plan lines small.
const MaxRings = 10

// ringBuckets is the resolution of the hash: a cluster falls in one of
// 10,000 buckets, and shares (percent) cover them cumulatively.
const ringBuckets = 10_000

// RingBranch is the branch a ring's clusters sync.
func RingBranch(ring string) string { return RingBranchPrefix + ring }

// HasRings reports whether the fleet is rolled out in rings.
func (s *FleetSpec) HasRings() bool { return len(s.Rings) > 0 }

// RingIndex is the position of ring in spec.rings, or -1.
func (s *FleetSpec) RingIndex(ring string) int {
	for i, r := range s.Rings {
		if r.Name == ring {
			return i
		}
	}
	return -1
}

// RingNames lists the rings in rollout order.
func (s *FleetSpec) RingNames() []string {
	out := make([]string, len(s.Rings))
	for i, r := range s.Rings {
		out[i] = r.Name
	}
	return out
}

// ringBucket is where a cluster's name falls in [0, ringBuckets): a hash of
// the name alone, so that adding or removing another cluster never moves it.
func ringBucket(cluster string) int {
	h := sha256.Sum256([]byte("fleetgen/ring\x00" + cluster))
	return int(binary.BigEndian.Uint64(h[:8]) % ringBuckets)
}

// HashRing is the ring a cluster belongs to by hash: the ring whose
// cumulative share covers the cluster's bucket. It depends only on the
// cluster's name and the shares.
func HashRing(rings []Ring, cluster string) string {
	if len(rings) == 0 {
		return ""
	}
	b, cum := ringBucket(cluster), 0
	for _, r := range rings {
		cum += r.Share * ringBuckets / 100
		if b < cum {
			return r.Name
		}
	}
	return rings[len(rings)-1].Name
}

// ClusterRing is the ring of a cluster of region r: the one that lists it
// in regions[].rings, else its hash ring; "" without rings.
func (s *FleetSpec) ClusterRing(r *Region, cluster string) string {
	if len(s.Rings) == 0 {
		return ""
	}
	for ring, names := range r.Rings {
		for _, n := range names {
			if n == cluster {
				return ring
			}
		}
	}
	return HashRing(s.Rings, cluster)
}

// RingSizes counts the clusters of a region per ring, in ring order.
func (l *Loaded) RingSizes(region string) []int {
	s := &l.Spec
	r, ok := l.Region(region)
	if !ok || !s.HasRings() {
		return nil
	}
	sizes := make([]int, len(s.Rings))
	for _, c := range l.RegionClusters(region) {
		sizes[s.RingIndex(s.ClusterRing(r, c.Name))]++
	}
	return sizes
}

// rings checks spec.rings and every regions[].rings that can be checked
// before the clusters are known.
func (v *validator) rings(s *FleetSpec) {
	known := map[string]bool{}
	if len(s.Rings) > MaxRings {
		v.add("spec.rings", "%d rings is more than the limit of %d", len(s.Rings), MaxRings)
	}
	sum, sharesOK := 0, true
	for i, r := range s.Rings {
		p := fmt.Sprintf("spec.rings[%d]", i)
		if v.dnsLabel(p+".name", r.Name) && len(RingBranch(r.Name)) > 200 {
			v.add(p+".name", "%q is too long for a branch name", r.Name)
		}
		if known[r.Name] {
			v.add(p+".name", "ring %q is defined twice", r.Name)
		}
		known[r.Name] = true
		if r.Share < 0 || r.Share > 100 {
			v.add(p+".share", "%d is not a percentage (0-100)", r.Share)
			sharesOK = false
		}
		sum += r.Share
	}
	if len(s.Rings) > 0 && sharesOK && sum != 100 {
		v.add("spec.rings", "the shares add up to %d, not 100 (each is a percentage of every region's clusters)", sum)
	}
	if len(s.Rings) > 0 && (s.Git.Branch == "fleet" || strings.HasPrefix(s.Git.Branch, "fleet/")) {
		v.add("spec.git.branch", "%q collides with the ring branches %s<ring>: choose another branch", s.Git.Branch, RingBranchPrefix)
	}
	if len(s.Rings) > 0 && s.OCI() && s.Delivery.Unit == "region" {
		v.add("spec.delivery.unit", "region: one artifact would hold clusters of several rings; with spec.rings use unit cluster (each cluster's artifact is built from its ring's branch)")
	}
	for i := range s.Regions {
		r := &s.Regions[i]
		if len(r.Rings) == 0 {
			continue
		}
		p := fmt.Sprintf("spec.regions[%d].rings", i)
		if len(s.Rings) == 0 {
			v.add(p, "names clusters of rings, but spec.rings defines none")
			continue
		}
		listed := map[string]string{}
		for _, ring := range sortedKeys(r.Rings) {
			f := p + "." + ring
			if !known[ring] {
				v.add(f, "ring %q is not defined in spec.rings (%s)", short(ring), strings.Join(s.RingNames(), ", "))
				continue
			}
			for j, c := range r.Rings[ring] {
				cf := fmt.Sprintf("%s[%d]", f, j)
				if !v.dnsLabel(cf, c) {
					continue
				}
				if prev, ok := listed[c]; ok {
					v.add(cf, "cluster %q is already listed in ring %q", c, prev)
					continue
				}
				listed[c] = ring
			}
		}
	}
}

// checkRingMembers refuses a cluster named in regions[].rings that is not
// a cluster of that region, once every cluster is known (after the
// inventory).
func (l *Loaded) checkRingMembers() error {
	var errs Errors
	for i := range l.Spec.Regions {
		r := &l.Spec.Regions[i]
		if len(r.Rings) == 0 {
			continue
		}
		in := map[string]bool{}
		for _, c := range l.RegionClusters(r.Name) {
			in[c.Name] = true
		}
		for _, ring := range sortedKeys(r.Rings) {
			for j, c := range r.Rings[ring] {
				if in[c] {
					continue
				}
				field := fmt.Sprintf("spec.regions[%d].rings.%s[%d]", i, ring, j)
				msg := fmt.Sprintf("cluster %q is not a cluster of region %q", c, r.Name)
				if other, ok := l.clusterAt[c]; ok {
					msg += fmt.Sprintf(" (it is in region %q)", other)
				}
				errs = append(errs, &FieldError{File: l.File, Line: l.line(field), Field: field, Msg: msg})
			}
		}
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
		return errs
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
