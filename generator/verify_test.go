package generator

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"

	"github.com/fleetgen/fleetgen/generator/sign"
	"github.com/fleetgen/fleetgen/generator/spec"
)

// ociRepositorySchema is source-controller's OCIRepository CRD schema from
// /work/shared/schemas (kubeconform's, additionalProperties false: what
// `kubeconform -strict` checks).
func validateOCIRepository(t *testing.T, obj map[string]any) {
	t.Helper()
	p := filepath.Join("..", "..", "shared", "schemas", "crds", "ocirepository-source-v1.json")
	if s := os.Getenv("SCHEMAS"); s != "" {
		p = filepath.Join(s, "crds", "ocirepository-source-v1.json")
	}
	f, err := os.Open(p)
	if err != nil {
		t.Skipf("no OCIRepository schema (set SCHEMAS): %v", err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("ocirepository.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("ocirepository.json")
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(obj)
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(v); err != nil {
		t.Errorf("OCIRepository does not match source-controller's schema: %v\n%s", err, js)
	}
}

// TestSignedFleetVerifiesInBothLayouts: with spec.delivery.verify, every
// cluster's OCIRepository (rendered by the Flux Operator from the
// FluxInstance's patches, or written in gotk-sync.yaml) carries
// spec.verify naming the key Secret; that Secret is in the cluster's
// folder (Flux keeps it, rotations included) and among the first-boot
// manifests (K3s applies it before the first pull must verify), holds
// every public key of the spec as a *.pub entry, and nothing private.
func TestSignedFleetVerifiesInBothLayouts(t *testing.T) {
	for _, name := range []string{"cargo-signed", "farm-lab-oci-signed"} {
		t.Run(name, func(t *testing.T) {
			res := planCase(t, name)
			v := res.Spec.Spec.Delivery.Verify
			for _, c := range res.Spec.Clusters {
				dir := ClusterPath(c.Region, c.Name)
				var src map[string]any
				if res.Spec.Spec.Flux.Mode == "bootstrap" {
					m := krustyBuild(t, map[string]string{
						"kustomization.yaml": "resources: [gotk-sync.yaml]\n",
						"gotk-sync.yaml":     string(fileOf(t, res, dir+"/flux-system/gotk-sync.yaml")),
					})
					src = findObject(t, m, "OCIRepository", FluxNamespace)
				} else {
					var fi FluxInstance
					if err := yaml.Unmarshal(fileOf(t, res, dir+"/flux-instance.yaml"), &fi); err != nil {
						t.Fatal(err)
					}
					src = findObject(t, operatorSync(t, fi), "OCIRepository", FluxNamespace)
				}
				if dig(src, "spec", "verify", "provider") != "cosign" || dig(src, "spec", "verify", "secretRef", "name") != v.SecretName {
					t.Errorf("%s: verify %v, want cosign with Secret %s", dir, dig(src, "spec", "verify"), v.SecretName)
				}
				validateOCIRepository(t, src)
				k := string(fileOf(t, res, dir+"/kustomization.yaml"))
				if !strings.Contains(k, "cosign-keys.yaml") {
					t.Errorf("%s/kustomization.yaml does not apply cosign-keys.yaml:\n%s", dir, k)
				}
				checkKeySecret(t, fileOf(t, res, dir+"/cosign-keys.yaml"), v)
			}
			for _, r := range res.Spec.Spec.Regions {
				checkKeySecret(t, fileOf(t, res, "bootstrap/"+r.Name+"/manifests/cosign-keys.yaml"), v)
				ps := string(fileOf(t, res, "bootstrap/"+r.Name+"/provision.sh"))
				if !strings.Contains(ps, `install -m 0600 "$HERE/manifests/cosign-keys.yaml" "$MANIFESTS/cosign-keys.yaml"`) {
					t.Errorf("bootstrap/%s/provision.sh does not install the key Secret at first boot", r.Name)
				}
			}
		})
	}
}

func checkKeySecret(t *testing.T, b []byte, v *spec.Verify) {
	t.Helper()
	var sec struct {
		Kind       string
		Metadata   struct{ Name, Namespace string }
		StringData map[string]string `json:"stringData"`
		Data       map[string]string
	}
	if err := yaml.Unmarshal(b, &sec); err != nil {
		t.Fatal(err)
	}
	if sec.Kind != "Secret" || sec.Metadata.Name != v.SecretName || sec.Metadata.Namespace != FluxNamespace || len(sec.Data) != 0 {
		t.Errorf("key Secret %+v", sec)
	}
	if len(sec.StringData) != len(v.PublicKeys) {
		t.Errorf("%d keys in the Secret, %d in the spec", len(sec.StringData), len(v.PublicKeys))
	}
	for k, pem := range sec.StringData {
		if !strings.HasSuffix(k, ".pub") {
			t.Errorf("key %q: source-controller reads only *.pub entries", k)
		}
		if _, err := sign.ParsePublicKey([]byte(pem)); err != nil || strings.Contains(pem, "PRIVATE") {
			t.Errorf("%s: %v", k, err)
		}
	}
}

// TestKeylessVerifyIsPatchedOntoTheOperatorSource: keyless verification
// (matchOIDCIdentity, the CI's OIDC identity) reaches the OCIRepository
// the operator renders, without a key Secret.
func TestKeylessVerifyIsPatchedOntoTheOperatorSource(t *testing.T) {
	l, err := spec.LoadFile(filepath.Join("testdata", "cases", "cargo-signed", "fleet.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	l.Spec.Delivery.Verify = &spec.Verify{Provider: "cosign", MatchOIDCIdentity: []spec.OIDCIdentity{{
		Issuer: `^https://token\.actions\.githubusercontent\.com$`, Subject: `^https://github\.com/example-shipping/cargo-fleet/\.github/workflows/fleet\.yaml@refs/heads/main$`,
	}}}
	res, err := Plan(l)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Spec.Clusters {
		dir := ClusterPath(c.Region, c.Name)
		if _, ok := res.Tree.Get(dir + "/cosign-keys.yaml"); ok {
			t.Errorf("%s: a key Secret for keyless verification", dir)
		}
		var fi FluxInstance
		if err := yaml.Unmarshal(fileOf(t, res, dir+"/flux-instance.yaml"), &fi); err != nil {
			t.Fatal(err)
		}
		src := findObject(t, operatorSync(t, fi), "OCIRepository", FluxNamespace)
		ids, _ := dig(src, "spec", "verify", "matchOIDCIdentity").([]any)
		if len(ids) != 1 || dig(ids[0], "subject") != l.Spec.Delivery.Verify.MatchOIDCIdentity[0].Subject || dig(src, "spec", "verify", "secretRef") != nil {
			t.Errorf("%s: verify %v", dir, dig(src, "spec", "verify"))
		}
		validateOCIRepository(t, src)
	}
}
