package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"go.yaml.in/yaml/v3"
)

// ageKey is an age key pair written as age-keygen writes it.
type ageKey struct {
	recipient string
	file      string
}

func newAgeKey(t *testing.T, path string) ageKey {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	content := fmt.Sprintf("# created: %s\n# public key: %s\n%s\n", time.Now().UTC().Format(time.RFC3339), id.Recipient(), id)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return ageKey{recipient: id.Recipient().String(), file: path}
}

// signingKey is an OpenPGP key that signs the fleet's commits (fleetgen's
// --sign-key, and the git CLI through gpg), and its public half that the
// clusters verify commits with.
type signingKey struct {
	privateFile, publicFile string
	fingerprint             string
	gnupgHome               string
}

func newSigningKey(t *testing.T, dir string) *signingKey {
	t.Helper()
	e, err := openpgp.NewEntity("fleet e2e", "commit signing", "signer@fleetgen.test", nil)
	if err != nil {
		t.Fatal(err)
	}
	var priv, pub bytes.Buffer
	w, _ := armor.Encode(&priv, openpgp.PrivateKeyType, nil)
	if err := e.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	w, _ = armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	k := &signingKey{
		privateFile: filepath.Join(dir, "signing.key.asc"),
		publicFile:  filepath.Join(dir, "signing.pub.asc"),
		fingerprint: fmt.Sprintf("%X", e.PrimaryKey.Fingerprint),
		gnupgHome:   filepath.Join(dir, "gnupg"),
	}
	if err := os.WriteFile(k.privateFile, priv.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(k.publicFile, pub.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	// The operator's hand commits are signed by the git CLI through gpg.
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Fatalf("e2e: this example verifies commit signatures; the hand commits need gpg (apt-get install gnupg): %v", err)
	}
	if err := os.MkdirAll(k.gnupgHome, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("gpg", "--batch", "--import", k.privateFile)
	cmd.Env = append(os.Environ(), "GNUPGHOME="+k.gnupgHome)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gpg --import: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		cmd := exec.Command("gpgconf", "--kill", "gpg-agent")
		cmd.Env = append(os.Environ(), "GNUPGHOME="+k.gnupgHome)
		cmd.Run()
	})
	return k
}

// gitEnv is what the git CLI needs to sign commits with the key.
func (k *signingKey) gitEnv() []string {
	if k == nil {
		return nil
	}
	return []string{"GNUPGHOME=" + k.gnupgHome,
		"GIT_CONFIG_COUNT=2",
		"GIT_CONFIG_KEY_0=commit.gpgsign", "GIT_CONFIG_VALUE_0=true",
		"GIT_CONFIG_KEY_1=user.signingkey", "GIT_CONFIG_VALUE_1=" + k.fingerprint}
}

// specEdit is the test copy's changes to an example's fleet.yaml.
type specEdit struct {
	gitURL          string            // spec.git.url and every region's gitURL
	ociRepository   string            // spec.delivery.repository (OCI delivery)
	fleetRecipient  string            // spec.secrets.ageRecipients (if the spec has secrets)
	regionRecipient map[string]string // each region's ageRecipients (if the spec has secrets)
}

// yamlMap returns the value node of key in a mapping node (nil if absent).
func yamlMap(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// yamlSet sets key in a mapping node to value (a scalar string or a node).
func yamlSet(n *yaml.Node, key string, value any) {
	var v *yaml.Node
	switch x := value.(type) {
	case *yaml.Node:
		v = x
	case string:
		v = &yaml.Node{Kind: yaml.ScalarNode, Value: x}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			n.Content[i+1] = v
			return
		}
	}
	n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
}

func seqOf(values ...string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode}
	for _, v := range values {
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: v})
	}
	return n
}

// loadSpec parses fleet.yaml keeping its comments.
func loadSpec(t *testing.T, path string) (*yaml.Node, *yaml.Node) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &doc, yamlMap(doc.Content[0], "spec")
}

func saveSpec(t *testing.T, path string, doc *yaml.Node) {
	t.Helper()
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// regionNames lists spec.regions[].name.
func regionNames(spec *yaml.Node) []string {
	var out []string
	if rs := yamlMap(spec, "regions"); rs != nil {
		for _, r := range rs.Content {
			out = append(out, yamlMap(r, "name").Value)
		}
	}
	return out
}

// editSpec rewrites the test copy of an example: the clusters pull from
// the loopback git server, and the SOPS recipients are the test's keys
// (every region gets one of its own: the nodes of a region hold only it).
func editSpec(t *testing.T, path string, e specEdit) {
	t.Helper()
	doc, spec := loadSpec(t, path)
	yamlSet(yamlMap(spec, "git"), "url", e.gitURL)
	if e.ociRepository != "" {
		yamlSet(yamlMap(spec, "delivery"), "repository", e.ociRepository)
	}
	secrets := yamlMap(spec, "secrets")
	if secrets != nil && yamlMap(secrets, "ageRecipients") != nil {
		yamlSet(secrets, "ageRecipients", seqOf(e.fleetRecipient))
	} else {
		secrets = nil
	}
	for _, r := range yamlMap(spec, "regions").Content {
		if yamlMap(r, "gitURL") != nil {
			yamlSet(r, "gitURL", e.gitURL)
		}
		if secrets != nil {
			yamlSet(r, "ageRecipients", seqOf(e.regionRecipient[yamlMap(r, "name").Value]))
		}
	}
	saveSpec(t, path, doc)
}

// bumpFirstAppMemory is the spec change of the regen step: the first app's
// memory grows by 16Mi. It returns the app and its new memory.
func bumpFirstAppMemory(t *testing.T, path string) (string, string) {
	t.Helper()
	doc, spec := loadSpec(t, path)
	app := yamlMap(spec, "apps").Content[0]
	mem := yamlMap(app, "memory").Value
	var mi int
	switch {
	case strings.HasSuffix(mem, "Mi"):
		mi, _ = strconv.Atoi(strings.TrimSuffix(mem, "Mi"))
	case strings.HasSuffix(mem, "Gi"):
		gi, _ := strconv.Atoi(strings.TrimSuffix(mem, "Gi"))
		mi = gi * 1024
	default:
		t.Fatalf("bumpFirstAppMemory: memory %q is neither Mi nor Gi", mem)
	}
	newMem := fmt.Sprintf("%dMi", mi+16)
	yamlSet(app, "memory", newMem)
	saveSpec(t, path, doc)
	return yamlMap(app, "name").Value, newMem
}

// specHasSecrets and friends read the spec for what the test must provide.
func specGit(t *testing.T, path string) (secretName, verifySecretName string) {
	_, spec := loadSpec(t, path)
	g := yamlMap(spec, "git")
	if n := yamlMap(g, "secretName"); n != nil {
		secretName = n.Value
	}
	if n := yamlMap(g, "verifySecretName"); n != nil {
		verifySecretName = n.Value
	}
	return
}

// firstApp is the name of the spec's first app (its namespace too).
func firstApp(t *testing.T, path string) string {
	_, spec := loadSpec(t, path)
	return yamlMap(yamlMap(spec, "apps").Content[0], "name").Value
}

// firstCluster is the first cluster folder of a region in the generated repo.
func firstCluster(t *testing.T, repo, region string) string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(repo, "clusters", region))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		t.Fatalf("no cluster folder under clusters/%s", region)
	}
	return names[0]
}

// addResource adds a file to the resources of a kustomization.yaml (a hand edit).
func addResource(t *testing.T, kustomization, resource string) {
	t.Helper()
	b, err := os.ReadFile(kustomization)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	res := yamlMap(doc.Content[0], "resources")
	if res == nil {
		res = &yaml.Node{Kind: yaml.SequenceNode}
		yamlSet(doc.Content[0], "resources", res)
	}
	res.Content = append(res.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: resource})
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		t.Fatal(err)
	}
	// Keep the generated header comment lines as they were (yaml.v3 keeps
	// them as the document's head comment).
	if err := os.WriteFile(kustomization, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// sopsRuleFor reports whether the repository's .sops.yaml has a creation
// rule for path (relative to the repository), as sops would pick it.
func sopsRuleFor(t *testing.T, repo, rel string) bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, ".sops.yaml"))
	if os.IsNotExist(err) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		CreationRules []struct {
			PathRegex string `yaml:"path_regex"`
			Age       any    `yaml:"age"`
		} `yaml:"creation_rules"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf(".sops.yaml: %v", err)
	}
	for _, r := range cfg.CreationRules {
		if r.PathRegex == "" {
			return r.Age != nil
		}
		if ok, _ := regexp.MatchString(r.PathRegex, rel); ok {
			return r.Age != nil
		}
	}
	return false
}

// sopsEncrypt writes a Secret and encrypts it in place with the sops CLI,
// from the repository root so .sops.yaml picks the recipients.
func sopsEncrypt(t *testing.T, tl *tools, repo, rel, namespace, name string, data map[string]string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\ntype: Opaque\nstringData:\n", name, namespace)
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %s: %q\n", k, data[k])
	}
	path := filepath.Join(repo, rel)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tl.sops, "--encrypt", "--in-place", rel)
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sops --encrypt %s: %v\n%s", rel, err, out)
	}
	enc, _ := os.ReadFile(path)
	for _, v := range data {
		if bytes.Contains(enc, []byte(v)) {
			t.Fatalf("sops left the plaintext in %s", rel)
		}
	}
	if !bytes.Contains(enc, []byte("ENC[AES256_GCM")) {
		t.Fatalf("%s is not SOPS-encrypted:\n%s", rel, enc)
	}
}
