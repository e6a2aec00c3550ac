package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/fleetgen/fleetgen/generator/spec"
)

// ringNames lists spec.rings[].name in rollout order (nil without rings).
func ringNames(sp *yaml.Node) []string {
	var out []string
	if rs := yamlMap(sp, "rings"); rs != nil {
		for _, r := range rs.Content {
			out = append(out, yamlMap(r, "name").Value)
		}
	}
	return out
}

func ringBranch(ring string) string { return spec.RingBranch(ring) }

// firstClusterOfRing is the first cluster of region that
// bootstrap/<region>/rings.txt puts in ring (the region's first cluster,
// and its ring, when none is).
func firstClusterOfRing(t *testing.T, repo, region, ring string) (cluster, itsRing string) {
	t.Helper()
	f, err := os.Open(filepath.Join(repo, "bootstrap", region, "rings.txt"))
	if err != nil {
		t.Fatalf("a fleet with rings: %v", err)
	}
	defer f.Close()
	first, firstRing := "", ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c, r, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("bootstrap/%s/rings.txt: %q is not <cluster> <ring>", region, line)
		}
		r = strings.TrimSpace(r)
		if first == "" {
			first, firstRing = c, r
		}
		if r == ring {
			return c, r
		}
	}
	if first == "" {
		t.Fatalf("bootstrap/%s/rings.txt lists no cluster", region)
	}
	return first, firstRing
}

// checkSites fails unless the sites include the first ring and a later one:
// the test shows a promotion reaching one ring and not the others.
func checkSites(t *testing.T, sites []*site, rings []string) {
	t.Helper()
	first, later := false, false
	for _, s := range sites {
		if s.ring == rings[0] {
			first = true
		} else if s.ring != "" {
			later = true
		}
	}
	if !first || !later || len(rings) < 2 {
		t.Fatalf("rings %v: the sites must include a cluster of %s and one of a later ring; sites: %v", rings, rings[0], siteNames(sites))
	}
}

func siteNames(sites []*site) []string {
	var out []string
	for _, s := range sites {
		out = append(out, s.region+"/"+s.cluster+" ("+s.ring+")")
	}
	return out
}

// reconcileHandled asks for a reconcile of the cluster's source and of its
// Kustomizations, as `flux reconcile ks --with-source` does, and waits
// until each controller has handled that request
// (status.lastHandledReconcileAt): after it, what the cluster applies is
// what the server's branch says, not what a poll interval has yet to see.
func reconcileHandled(t *testing.T, c *cluster) {
	t.Helper()
	ctx := context.Background()
	targets := [][3]string{{"source.toolkit.fluxcd.io/v1", c.source(), "flux-system"}}
	for _, k := range kustomizations {
		targets = append(targets, [3]string{"kustomize.toolkit.fluxcd.io/v1", "Kustomization", k})
	}
	for _, tg := range targets {
		token := time.Now().UTC().Format(time.RFC3339Nano)
		if err := c.kube.mergePatch(ctx, tg[0], tg[1], "flux-system", tg[2], "", obj{"metadata": obj{"annotations": obj{"reconcile.fluxcd.io/requestedAt": token}}}); err != nil {
			t.Fatalf("%s: request a reconcile of %s %s: %v", c.name, tg[1], tg[2], err)
		}
		deadline := time.Now().Add(3 * time.Minute)
		for {
			o, err := c.kube.get(ctx, tg[0], tg[1], "flux-system", tg[2])
			if err == nil && str(o, "status", "lastHandledReconcileAt") == token {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s %s did not handle the reconcile request %s: %v\n%s", c.name, tg[1], tg[2], token, err, c.logTails(20))
			}
			time.Sleep(time.Second)
		}
	}
}

// checkHeld checks that a cluster still runs what it ran (want applied by
// every Kustomization, the app's memory not newMem) after its source and
// Kustomizations reconciled against the server: a commit to the fleet's
// branch does not reach a ring that was not promoted to it.
func checkHeld(t *testing.T, s *site, want, app, newMem string) map[string]string {
	t.Helper()
	reconcileHandled(t, s.c)
	ctx := context.Background()
	applied := map[string]string{}
	for _, name := range kustomizations {
		k, err := s.c.kube.get(ctx, "kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", name)
		if err != nil {
			t.Fatal(err)
		}
		applied[name] = str(k, "status", "lastAppliedRevision")
		if !sameRevision(applied[name], want) {
			t.Errorf("%s (ring %s): Kustomization %s applied %s, want it still at %s", s.c.name, s.ring, name, applied[name], want)
		}
	}
	g, err := s.c.kube.get(ctx, "source.toolkit.fluxcd.io/v1", s.c.source(), "flux-system", "flux-system")
	if err != nil {
		t.Fatal(err)
	}
	if got := str(g, "status", "artifact", "revision"); !sameRevision(got, want) {
		t.Errorf("%s (ring %s): its source has %s, want %s", s.c.name, s.ring, got, want)
	}
	d, err := s.c.kube.get(ctx, "apps/v1", "Deployment", app, app)
	if err != nil {
		t.Fatalf("%s: %v", s.c.name, err)
	}
	cs, _ := field(d, "spec", "template", "spec", "containers").([]any)
	if len(cs) > 0 && str(cs[0].(obj), "resources", "limits", "memory") == newMem {
		t.Errorf("%s (ring %s): Deployment %s already has the memory %s of a commit its ring was not promoted to", s.c.name, s.ring, app, newMem)
	}
	if d := str(d, "metadata", "annotations", "e2e.fleetgen.dev/hand-edit"); d != "" {
		t.Errorf("%s (ring %s): Deployment %s already has the hand edit of a commit its ring was not promoted to", s.c.name, s.ring, app)
	}
	if !t.Failed() {
		t.Logf("%s (ring %s): still at %s after reconciling with the server", s.c.name, s.ring, want)
	}
	return applied
}

// playRings is the operator's day of a fleet with rings, after the new
// revision (hand edit, spec change, K3s upgrade, regen) was pushed to the
// fleet's branch from clone: no cluster gets it; promoting the first ring
// (fleetgen promote, fleetgen push) brings it to that ring's clusters while
// the others keep what they run; promoting the later rings brings it to
// theirs.
func (e *env) playRings(t *testing.T, example, clone string, signArgs []string, sites []*site, rings []string, want1 func(*site) string, app, newMem string, note func(*site, map[string]string)) {
	before := map[*site]string{}
	for _, s := range sites {
		before[s] = want1(s)
	}
	// What a site's ring runs on the server now.
	ringHead := func(s *site) string {
		return ringBranch(s.ring) + "@sha1:" + e.git.head(t, example+".git", ringBranch(s.ring))
	}
	t.Run("main-not-promoted", func(t *testing.T) {
		for _, s := range sites {
			t.Run(s.region+"/"+s.cluster, func(t *testing.T) {
				t.Parallel()
				if got := ringHead(s); got != before[s] {
					t.Fatalf("the push of main moved %s on the server: %s, was %s", ringBranch(s.ring), got, before[s])
				}
				note(s, checkHeld(t, s, before[s], app, newMem))
			})
		}
	})
	if t.Failed() {
		return
	}
	promote := func(ring string) {
		out := run(t, "", nil, e.fleetgen, append([]string{"promote", "--dir", clone, ring}, signArgs...)...)
		t.Logf("fleetgen promote %s: %s", ring, strings.TrimSpace(out))
		out = run(t, "", nil, e.fleetgen, "push", "--dir", clone)
		t.Logf("fleetgen push: %s", strings.TrimSpace(out))
	}
	rev2 := gitCmd(t, clone, "rev-parse", "HEAD")
	synced := func(t *testing.T, s *site) {
		want := ringHead(s)
		if want == before[s] {
			t.Fatalf("%s: %s did not move on the server after its promotion", s.c.name, ringBranch(s.ring))
		}
		if tree, main := gitCmd(t, clone, "rev-parse", want[strings.LastIndex(want, ":")+1:]+"^{tree}"), gitCmd(t, clone, "rev-parse", rev2+"^{tree}"); tree != main {
			t.Fatalf("%s: %s's head has tree %s, want the promoted revision's %s", s.c.name, ringBranch(s.ring), tree, main)
		}
		ctx := context.Background()
		if err := s.c.kube.requestReconcile(ctx, "source.toolkit.fluxcd.io/v1", s.c.source(), "flux-system", "flux-system"); err != nil {
			t.Fatal(err)
		}
		note(s, waitSynced(t, s.c, want, 4*time.Minute))
		checkAfterRegen(t, s, app, newMem)
		checkSopsSecrets(t, s)
		checkUpgradePlans(t, s, clone, want[strings.LastIndex(want, ":")+1:])
	}

	promote(rings[0])
	t.Run("promoted-"+rings[0], func(t *testing.T) {
		for _, s := range sites {
			t.Run(s.region+"/"+s.cluster, func(t *testing.T) {
				t.Parallel()
				if s.ring == rings[0] {
					synced(t, s)
					return
				}
				if got := ringHead(s); got != before[s] {
					t.Fatalf("promoting %s moved %s on the server: %s, was %s", rings[0], ringBranch(s.ring), got, before[s])
				}
				checkHeld(t, s, before[s], app, newMem)
				checkUpgradePlans(t, s, clone, before[s][strings.LastIndex(before[s], ":")+1:])
			})
		}
	})
	if t.Failed() {
		return
	}
	for _, r := range rings[1:] {
		promote(r)
	}
	t.Run("promoted-all", func(t *testing.T) {
		for _, s := range sites {
			if s.ring == rings[0] {
				continue
			}
			t.Run(s.region+"/"+s.cluster, func(t *testing.T) {
				t.Parallel()
				synced(t, s)
			})
		}
	})
}

// bumpK3sVersion is the K3s upgrade of the regen step: spec.k3s.version
// (fleetgen's default when unset) becomes the next K3s build of the same
// Kubernetes release (v1.37.1+k3s1 -> v1.37.1+k3s2). It returns it.
func bumpK3sVersion(t *testing.T, path string) string {
	t.Helper()
	doc, sp := loadSpec(t, path)
	k3s := yamlMap(sp, "k3s")
	if k3s == nil {
		k3s = &yaml.Node{Kind: yaml.MappingNode}
		yamlSet(sp, "k3s", k3s)
	}
	cur := spec.DefaultK3sVersion
	if v := yamlMap(k3s, "version"); v != nil && v.Value != "" {
		cur = v.Value
	}
	i := strings.LastIndex(cur, "+k3s")
	if i < 0 {
		t.Fatalf("bumpK3sVersion: %q is not vX.Y.Z+k3sN", cur)
	}
	n, err := strconv.Atoi(cur[i+len("+k3s"):])
	if err != nil {
		t.Fatalf("bumpK3sVersion: %q is not vX.Y.Z+k3sN", cur)
	}
	next := fmt.Sprintf("%s+k3s%d", cur[:i], n+1)
	yamlSet(k3s, "version", next)
	saveSpec(t, path, doc)
	return next
}
