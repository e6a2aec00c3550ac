package spec_test

import (
	"strings"
	"testing"

	"github.com/fleetgen/fleetgen/generator/spec"
)

// deliverySpec is a valid fleet.yaml in oci delivery mode; cases replace
// DELIVERY (the spec.delivery block) and EXTRA (fields after it).
const deliverySpec = `apiVersion: fleetgen.dev/v1alpha1
kind: Fleet
metadata: {name: f}
spec:
  context: {environment: e, hardware: h, mainChallenge: c}
  git:
    url: https://example.com/r.git
EXTRA
  delivery:
DELIVERY
  regions:
    - {name: r1, clusterCount: 2}
REGION
`

func parseDelivery(delivery, extra, region string) (*spec.Loaded, error) {
	src := strings.NewReplacer("DELIVERY", delivery, "EXTRA\n", extra, "REGION\n", region).Replace(deliverySpec)
	return spec.Parse([]byte(src), "fleet.yaml")
}

func TestDeliveryDefaults(t *testing.T) {
	l, err := parseDelivery("    mode: oci\n    repository: ghcr.io/acme/fleet", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if d := l.Spec.Delivery; d.Mode != "oci" || d.Unit != "cluster" || !l.Spec.OCI() {
		t.Errorf("delivery %+v, want mode oci, unit cluster", d)
	}
	l, err = parseDelivery("    {}", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if d := l.Spec.Delivery; d.Mode != "git" || d.Unit != "" || l.Spec.OCI() {
		t.Errorf("empty delivery %+v, want mode git and nothing else", d)
	}
}

const (
	oci = "    mode: oci\n    repository: ghcr.io/acme/fleet\n"
	// pubFlow is a cosign public key as a YAML double-quoted scalar.
	pubFlow = `"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEW9I7o5aa0/yYX5pwYoqSRWIcDv/I\n/piyR5sEfsi7XpwpJyy+cU2pZkQnGcIMyaxijp3I/fa8wviHnTDQ1v4zYw==\n-----END PUBLIC KEY-----\n"`
)

// TestAirGappedRegionWithAMirror: in oci mode an air-gapped region is
// accepted once it has a registry of its own (no git mirror needed: its
// sites pull artifacts, not git).
func TestAirGappedRegionWithAMirror(t *testing.T) {
	src := strings.NewReplacer("DELIVERY", oci, "EXTRA\n", "", "    - {name: r1, clusterCount: 2}\nREGION\n",
		"    - name: r1\n      clusterCount: 2\n      connectivity: air-gapped\n      registryMirrors: [10.0.0.1:5000]\n      delivery: {repository: 10.0.0.1:5000/fleet}\n").Replace(deliverySpec)
	l, err := spec.Parse([]byte(src), "fleet.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	if got := l.Spec.RegionRepository(&l.Spec.Regions[0]); got != "10.0.0.1:5000/fleet" {
		t.Errorf("region repository %s", got)
	}
}

// TestDeliveryVerifyDefaults: a key-based verify names the default
// Secret; keyless names none.
func TestDeliveryVerifyDefaults(t *testing.T) {
	l, err := parseDelivery(oci+"    verify: {publicKeys: ["+pubFlow+"]}", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if v := l.Spec.Delivery.Verify; v.Provider != "cosign" || v.SecretName != "cosign-pub" || v.Keyless() {
		t.Errorf("verify %+v", v)
	}
	l, err = parseDelivery(oci+"    verify: {matchOIDCIdentity: [{issuer: '^https://token.actions.githubusercontent.com$', subject: '^https://github.com/acme/fleet/'}]}", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if v := l.Spec.Delivery.Verify; v.SecretName != "" || !v.Keyless() {
		t.Errorf("keyless verify %+v", v)
	}
}

// Every refusal names the field and its line in fleet.yaml.
func TestDeliveryRefusals(t *testing.T) {
	for _, c := range []struct {
		name, delivery, extra, region string
		want                          string // "fleet.yaml:LINE: field: ..." prefix
		msg                           string
	}{
		{name: "unknown mode", delivery: "    mode: s3", want: "fleet.yaml:9: spec.delivery.mode", msg: `"s3" is not one of: git, oci`},
		{name: "oci without repository", delivery: "    mode: oci", want: "fleet.yaml:8: spec.delivery.repository", msg: "is required with spec.delivery.mode: oci"},
		{name: "repository with scheme", delivery: "    mode: oci\n    repository: oci://ghcr.io/acme/fleet", want: "fleet.yaml:10: spec.delivery.repository", msg: "without a scheme"},
		{name: "repository with tag", delivery: "    mode: oci\n    repository: ghcr.io/acme/fleet:latest", want: "fleet.yaml:10: spec.delivery.repository", msg: "must not carry a tag"},
		{name: "repository without registry host", delivery: "    mode: oci\n    repository: acme/fleet", want: "fleet.yaml:10: spec.delivery.repository", msg: "with its registry host"},
		{name: "repository upper case", delivery: "    mode: oci\n    repository: ghcr.io/Acme/fleet", want: "fleet.yaml:10: spec.delivery.repository", msg: "not a valid OCI repository"},
		{name: "repository with credentials", delivery: "    mode: oci\n    repository: user:pw@ghcr.io/acme/fleet", want: "fleet.yaml:10: spec.delivery.repository", msg: "credentials"},
		{name: "bad unit", delivery: "    mode: oci\n    repository: ghcr.io/acme/fleet\n    unit: site", want: "fleet.yaml:11: spec.delivery.unit", msg: `"site" is not one of: cluster, region`},
		{name: "bad pull secret", delivery: "    mode: oci\n    repository: ghcr.io/acme/fleet\n    pullSecret: Bad_Name", want: "fleet.yaml:11: spec.delivery.pullSecret", msg: "not a valid Kubernetes object name"},
		{name: "repository in git mode", delivery: "    repository: ghcr.io/acme/fleet", want: "fleet.yaml:9: spec.delivery.repository", msg: "only used with spec.delivery.mode: oci"},
		{name: "commit verification in oci mode", delivery: "    mode: oci\n    repository: ghcr.io/acme/fleet", extra: "    verifySecretName: fleet-keys\n",
			want: "fleet.yaml:8: spec.git.verifySecretName", msg: "use spec.delivery.verify"},
		{name: "region delivery in git mode", delivery: "    {}", region: "      delivery: {repository: 10.0.0.5:5000/fleet}\n", want: "fleet.yaml:13: spec.regions[0].delivery", msg: "only used with spec.delivery.mode: oci"},
		{name: "region delivery bad repository", delivery: oci, region: "      delivery: {repository: oci://10.0.0.5:5000/fleet}\n", want: "fleet.yaml:15: spec.regions[0].delivery.repository", msg: "without a scheme"},
		{name: "region delivery empty", delivery: oci, region: "      delivery: {}\n", want: "fleet.yaml:15: spec.regions[0].delivery.repository", msg: "is required"},
		{name: "verify in git mode", delivery: "    verify: {matchOIDCIdentity: [{issuer: a, subject: b}]}", want: "fleet.yaml:9: spec.delivery.verify", msg: "only used with spec.delivery.mode: oci"},
		{name: "verify with nothing", delivery: oci + "    verify: {provider: cosign}", want: "fleet.yaml:11: spec.delivery.verify", msg: "give publicKeys"},
		{name: "verify notation", delivery: oci + "    verify:\n      provider: notation\n      publicKeys: [" + pubFlow + "]", want: "fleet.yaml:12: spec.delivery.verify.provider", msg: "fleetgen signs and verifies with cosign"},
		{name: "verify keys and keyless", delivery: oci + "    verify:\n      publicKeys: [" + pubFlow + "]\n      matchOIDCIdentity: [{issuer: a, subject: b}]", want: "fleet.yaml:13: spec.delivery.verify.matchOIDCIdentity", msg: "not both"},
		{name: "verify private key", delivery: oci + "    verify:\n      publicKeys: [\"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\\nAA==\\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\\n\"]", want: "fleet.yaml:12: spec.delivery.verify.publicKeys[0]", msg: "not a PEM public key"},
		{name: "verify key twice", delivery: oci + "    verify:\n      publicKeys: [" + pubFlow + ", " + pubFlow + "]", want: "fleet.yaml:12: spec.delivery.verify.publicKeys[1]", msg: "listed twice"},
		{name: "verify bad regexp", delivery: oci + "    verify:\n      matchOIDCIdentity: [{issuer: \"(\", subject: b}]", want: "fleet.yaml:12: spec.delivery.verify.matchOIDCIdentity[0].issuer", msg: "not a Go regular expression"},
		{name: "verify secret name keyless", delivery: oci + "    verify:\n      secretName: k\n      matchOIDCIdentity: [{issuer: a, subject: b}]", want: "fleet.yaml:12: spec.delivery.verify.secretName", msg: "keyless verification"},
		{name: "air-gapped region in oci mode", delivery: "    mode: oci\n    repository: ghcr.io/acme/fleet",
			region: "      connectivity: air-gapped\n      registryMirrors: [10.0.0.1:5000]\n      gitURL: https://git.lan/r.git\n", want: "fleet.yaml:14: spec.regions[0].connectivity", msg: "air-gapped"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := strings.NewReplacer("DELIVERY", c.delivery, "EXTRA\n", c.extra).Replace(deliverySpec)
			if c.region != "" {
				src = strings.Replace(src, "    - {name: r1, clusterCount: 2}\nREGION\n", "    - name: r1\n      clusterCount: 2\n"+c.region, 1)
			} else {
				src = strings.Replace(src, "REGION\n", "", 1)
			}
			_, err := spec.Parse([]byte(src), "fleet.yaml")
			if err == nil {
				t.Fatalf("accepted:\n%s", src)
			}
			found := false
			for _, line := range strings.Split(err.Error(), "\n") {
				if strings.HasPrefix(line, c.want+": ") && strings.Contains(line, c.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("error\n%v\nhas no line starting %q containing %q\nspec:\n%s", err, c.want, c.msg, src)
			}
		})
	}
}

func TestCheckOCIRepositoryAccepts(t *testing.T) {
	for _, r := range []string{"ghcr.io/acme/fleet", "127.0.0.1:5000/fleet", "localhost:5000/a/b", "registry.gitlab.com/group/project/fleet", "docker.io/acme/fleet-artifacts"} {
		if err := spec.CheckOCIRepository(r); err != nil {
			t.Errorf("%s: %v", r, err)
		}
	}
}
