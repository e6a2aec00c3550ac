package generator

import (
	"encoding/json"
	"net/url"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/fleetgen/fleetgen/examples"
	"github.com/fleetgen/fleetgen/generator/spec"
)

// These tests hold the generated prose to what the generated objects and
// the tools they name really do.

// shellWords splits a command line the way sh does for plain words and
// quoted strings (no expansion).
func shellWords(s string) []string {
	var out []string
	var cur strings.Builder
	in := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// commands returns every command line in text that starts with prefix:
// continuation lines joined, cut at the end of inline code, a pipe or a
// redirection.
func commands(text, prefix string) []string {
	text = strings.ReplaceAll(text, "\\\n", " ")
	var out []string
	for {
		i := strings.Index(text, prefix)
		if i < 0 {
			return out
		}
		line := text[i:]
		if j := strings.IndexAny(line, "`\n|>"); j >= 0 {
			line = line[:j]
		}
		out = append(out, line)
		text = text[i+len(prefix):]
	}
}

// TestGitSecretCommandsFitTheURLScheme runs the flux CLI's own argument
// checks (fluxcd/flux2 cmd/flux/create_secret_git.go) over every
// `flux create secret git` command fleetgen writes: a name, --url, and
// for http(s) --username with --password, or --bearer-token, not both.
func TestGitSecretCommandsFitTheURLScheme(t *testing.T) {
	seen := 0
	for _, name := range examples.Names() {
		res := planExample(t, name)
		for _, f := range res.Tree.Files {
			if !strings.HasSuffix(f.Path, ".md") {
				continue // provision.sh's messages are the node engineer's (see the report)
			}
			for _, cmd := range commands(string(f.Content), "flux create secret git") {
				seen++
				flags := map[string]string{}
				var args []string
				for _, w := range shellWords(cmd)[4:] {
					if strings.HasPrefix(w, "-") {
						k, v, _ := strings.Cut(w, "=")
						flags[k] = v
					} else {
						args = append(args, w)
					}
				}
				if len(args) != 1 {
					t.Errorf("%s: %q: want one argument, the secret name; got %q", f.Path, cmd, args)
				}
				u, err := url.Parse(flags["--url"])
				if err != nil || flags["--url"] == "" {
					t.Errorf("%s: %q: url is required (%v)", f.Path, cmd, err)
					continue
				}
				switch u.Scheme {
				case "ssh":
				case "http", "https":
					basic := flags["--username"] != "" && flags["--password"] != ""
					if !basic && flags["--bearer-token"] == "" {
						t.Errorf("%s: %q: flux refuses it: for Git over HTTP/S the username and password, or a bearer token is required", f.Path, cmd)
					}
					if basic && flags["--bearer-token"] != "" {
						t.Errorf("%s: %q: user credentials and bearer token cannot be used together", f.Path, cmd)
					}
				default:
					t.Errorf("%s: %q: git URL scheme %q not supported by flux", f.Path, cmd, u.Scheme)
				}
				if args[0] != res.Spec.Spec.Git.SecretName {
					t.Errorf("%s: %q makes Secret %q, the GitRepository names %q", f.Path, cmd, args[0], res.Spec.Spec.Git.SecretName)
				}
			}
		}
	}
	if seen == 0 {
		t.Fatal("no flux create secret git command in any example")
	}
}

// gitSecretRef is the Secret a cluster's flux-system GitRepository pulls
// with, as it runs on the cluster ("" for none).
func gitSecretRef(t *testing.T, res *Result, region, cluster string) string {
	t.Helper()
	dir := ClusterPath(region, cluster)
	if res.Spec.Spec.Flux.Mode == "bootstrap" {
		m := krustyBuild(t, map[string]string{
			"kustomization.yaml": "resources: [gotk-sync.yaml]\n",
			"gotk-sync.yaml":     string(fileOf(t, res, dir+"/flux-system/gotk-sync.yaml")),
		})
		kind := "GitRepository"
		if res.Spec.Spec.OCI() {
			kind = "OCIRepository"
		}
		s, _ := dig(findObject(t, m, kind, FluxNamespace), "spec", "secretRef", "name").(string)
		return s
	}
	var fi FluxInstance
	if err := yaml.Unmarshal(fileOf(t, res, dir+"/flux-instance.yaml"), &fi); err != nil {
		t.Fatal(err)
	}
	return fi.Spec.Sync.PullSecret
}

// TestGitSecretDocsMatchTheGitRepository: the bootstrap README asks for a
// git pull Secret exactly when the GitRepository references one, by the
// same name (flux bootstrap always writes secretRef: {name: flux-system}).
func TestGitSecretDocsMatchTheGitRepository(t *testing.T) {
	for _, name := range examples.Names() {
		res := planExample(t, name)
		for _, d := range res.Decisions {
			if d.ArgoCD() {
				continue // TestArgoGitSecretDocs
			}
			ref := gitSecretRef(t, res, d.Region, res.Spec.RegionClusters(d.Region)[0].Name)
			readme := string(fileOf(t, res, path.Join("bootstrap", d.Region, "README.md")))
			asks := strings.Contains(readme, "FLEETGEN_GIT_SECRET_FILE")
			switch {
			case ref == "" && asks:
				t.Errorf("%s/%s: the README has the operator make a git Secret (FLEETGEN_GIT_SECRET_FILE), the GitRepository has no secretRef", name, d.Region)
			case ref != "" && !asks:
				t.Errorf("%s/%s: the GitRepository pulls with Secret %q, the README never says how to make it", name, d.Region, ref)
			case ref != "" && !res.Spec.Spec.OCI() && !strings.Contains(readme, "flux create secret git "+ref+" "):
				t.Errorf("%s/%s: the README's command does not make Secret %q", name, d.Region, ref)
			case ref != "" && res.Spec.Spec.OCI() && !strings.Contains(readme, "flux create secret oci "+ref+" --namespace=flux-system --url="+strings.Split(res.Spec.Spec.Delivery.Repository, "/")[0]+" "):
				t.Errorf("%s/%s: the README's command does not make Secret %q", name, d.Region, ref)
			}
		}
	}
	// farm-lab's repository is private (a token): like flux bootstrap, its
	// gotk-sync GitRepository references the flux-system Secret.
	res := planExample(t, "farm-lab")
	if got := gitSecretRef(t, res, "valle-central", "granja-0001"); got != "flux-system" {
		t.Errorf("farm-lab gotk-sync GitRepository secretRef %q, want flux-system", got)
	}
}

// TestSecretsDocsMatchSops: the READMEs describe SOPS only where
// .sops.yaml and decryption exist, and say what to do where they do not.
func TestSecretsDocsMatchSops(t *testing.T) {
	for _, c := range syncCases() {
		res := planOf(t, loadExample(t, c.name, c.edits...))
		readme := string(fileOf(t, res, "README.md"))
		hasSops := false
		for _, f := range res.Tree.Files {
			hasSops = hasSops || f.Path == ".sops.yaml"
		}
		mentions := strings.Contains(readme, "`.sops.yaml` lists the recipients")
		if hasSops != mentions {
			t.Errorf("%s%v: .sops.yaml planned %v, README describes it %v", c.name, c.edits, hasSops, mentions)
		}
		if !hasSops && !strings.Contains(readme, "SOPS is not set up") {
			t.Errorf("%s: no .sops.yaml, and the README does not say so", c.name)
		}
		// The prompt's "what the repository contains" says the same.
		prompt := string(fileOf(t, res, "docs/design/prompt.en.md"))
		if claims := strings.Contains(prompt, "Secrets: SOPS with age"); claims != hasSops {
			t.Errorf("%s%v: prompt.en.md claims SOPS %v, .sops.yaml planned %v", c.name, c.edits, claims, hasSops)
		}
		for _, d := range res.Decisions {
			if d.ArgoCD() {
				continue // no SOPS for Argo CD regions (refused by fleet.yaml)
			}
			cl := res.Spec.RegionClusters(d.Region)[0].Name
			decrypts := dig(clusterSyncKustomization(t, res, d.Region, cl), "spec", "decryption") != nil
			breadme := string(fileOf(t, res, path.Join("bootstrap", d.Region, "README.md")))
			if asks := strings.Contains(breadme, "FLEETGEN_AGE_KEY_FILE"); asks != decrypts {
				t.Errorf("%s%v/%s: README asks for the age key %v, Flux decrypts %v", c.name, c.edits, d.Region, asks, decrypts)
			}
		}
	}
}

// TestKubeconformCommandsReadTheirInput: kubeconform skips file arguments
// whose name has no .yaml/.yml/.json suffix, so `<(kustomize build …)`
// validates nothing ("0 resources found"); the documented commands pipe the
// build into `kubeconform … -` or name folders and YAML files.
func TestKubeconformCommandsReadTheirInput(t *testing.T) {
	texts := map[string]string{}
	top, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	texts["README.md (fleetgen)"] = string(top)
	for _, name := range examples.Names() {
		for _, f := range planExample(t, name).Tree.Files {
			if strings.HasSuffix(f.Path, ".md") {
				texts[name+"/"+f.Path] = string(f.Content)
			}
		}
	}
	seen := 0
	for where, text := range texts {
		joined := strings.ReplaceAll(text, "\\\n", " ")
		for _, line := range strings.Split(joined, "\n") {
			i := strings.Index(line, "kubeconform -")
			if i < 0 {
				continue
			}
			seen++
			if strings.Contains(line, "<(") {
				t.Errorf("%s: %q: kubeconform skips a process substitution (no .yaml name)", where, strings.TrimSpace(line))
			}
			words := shellWords(line[i:])
			var inputs []string
			for j := 1; j < len(words); j++ {
				if words[j] == "-schema-location" || words[j] == "-output" {
					j++
					continue
				}
				if !strings.HasPrefix(words[j], "-") || words[j] == "-" {
					inputs = append(inputs, words[j])
				}
			}
			if len(inputs) == 0 {
				t.Errorf("%s: %q: no input", where, strings.TrimSpace(line))
			}
			for _, in := range inputs {
				switch {
				case in == "-":
					if !strings.Contains(line[:i], "| ") {
						t.Errorf("%s: %q reads standard input, but nothing is piped into it", where, strings.TrimSpace(line))
					}
				case regexp.MustCompile(`\.(ya?ml|json)$`).MatchString(in), !strings.Contains(path.Base(in), "."):
					// a YAML file, or a folder kubeconform walks
				default:
					t.Errorf("%s: %q: kubeconform skips input %q", where, strings.TrimSpace(line), in)
				}
			}
		}
	}
	if seen == 0 {
		t.Fatal("no kubeconform command found")
	}
}

// TestRevocationRotatesTheDataKey: `sops updatekeys` re-wraps the same
// data key; only `sops rotate` makes a new one, and values a lost node
// decrypted must change at their source.
func TestRevocationRotatesTheDataKey(t *testing.T) {
	for _, name := range examples.Names() {
		for _, f := range planExample(t, name).Tree.Files {
			s := string(f.Content)
			if !strings.Contains(s, "**Revocation**") {
				continue
			}
			for _, want := range []string{"sops updatekeys", "sops rotate", "secret values themselves"} {
				if !strings.Contains(s, want) {
					t.Errorf("%s/%s: the revocation advice lacks %q", name, f.Path, want)
				}
			}
		}
	}
}

// TestSparseCheckoutSaysWhatItSaves: source-controller clones the whole
// tree at depth 1; sparse checkout trims only the artifact.
func TestSparseCheckoutSaysWhatItSaves(t *testing.T) {
	for _, name := range examples.Names() {
		res := planExample(t, name)
		b, err := json.Marshal(res.Decisions)
		if err != nil {
			t.Fatal(err)
		}
		texts := map[string]string{"plan -o json": string(b), "README.md": string(fileOf(t, res, "README.md"))}
		for where, s := range texts {
			if strings.Contains(s, "fetch only this cluster") || strings.Contains(s, "fetches only") {
				t.Errorf("%s %s: claims sparse checkout fetches less", name, where)
			}
		}
		for _, d := range res.Decisions {
			if d.Connectivity.SparseCheckout && !strings.Contains(d.Connectivity.Summary, "whole repository") {
				t.Errorf("%s/%s: summary %q does not say each commit is fetched whole", name, d.Region, d.Connectivity.Summary)
			}
		}
	}
}

// TestTextSlips: counts that match their lists, English output in English,
// and no Flux Operator where the classic layout runs without it.
func TestTextSlips(t *testing.T) {
	numbers := map[string]int{"one": 1, "two": 2, "three": 3, "four": 4}
	countRe := regexp.MustCompile(`It reads (\w+) (?:optional )?files`)
	for _, name := range examples.Names() {
		res := planExample(t, name)
		for _, f := range res.Tree.Files {
			s := string(f.Content)
			if m := countRe.FindStringSubmatchIndex(s); m != nil {
				if n, ok := numbers[s[m[2]:m[3]]]; ok {
					rest := s[m[1]:]
					if j := strings.Index(rest, "\n\n"); j >= 0 {
						rest = rest[j+2:]
					}
					if end := strings.Index(rest, "\n\n"); end >= 0 {
						rest = rest[:end]
					}
					if got := strings.Count("\n"+rest, "\n- "); got != n {
						t.Errorf("%s/%s: says %q, then lists %d", name, f.Path, s[m[0]:m[1]], got)
					}
				}
			}
			english := strings.HasSuffix(f.Path, ".en.md") || (res.Spec.Spec.Language == "en" && strings.HasSuffix(f.Path, ".md") && !strings.HasSuffix(f.Path, ".es.md"))
			english = english || f.Path == "README.md" || strings.HasPrefix(f.Path, "bootstrap/")
			if english && strings.Contains(s, "embebido") {
				t.Errorf("%s/%s: Spanish in English output (embebido)", name, f.Path)
			}
			// provision.sh is the node engineer's; its header is listed in
			// the report rather than checked here.
			// fleet.schema.json documents every option of fleet.yaml.
			if res.Spec.Spec.Flux.Mode == "bootstrap" && path.Base(f.Path) != "provision.sh" && f.Path != spec.SchemaFile && strings.Contains(s, "Flux Operator") {
				t.Errorf("%s/%s: mentions the Flux Operator, which the bootstrap layout does not use", name, f.Path)
			}
		}
		b, _ := json.Marshal(res.Decisions)
		if res.Spec.Spec.Flux.Mode == "bootstrap" && strings.Contains(string(b), "Flux Operator") {
			t.Errorf("%s: plan mentions the Flux Operator, which the bootstrap layout does not use", name)
		}
	}
}

// TestNoFalseReachabilityClaim: servicelb is disabled and namespaces
// admit only their own pods, so the plan may not claim that apps are
// reached on the site network through their Services; the README says how
// they are reached.
func TestNoFalseReachabilityClaim(t *testing.T) {
	for _, name := range examples.Names() {
		res := planExample(t, name)
		b, _ := json.Marshal(res.Decisions)
		if strings.Contains(string(b), "reached on the site network through their Services") {
			t.Errorf("%s: the plan claims apps are reached on the site network through their Services", name)
		}
		if !strings.Contains(string(fileOf(t, res, "README.md")), "## Reaching an app from the site network") {
			t.Errorf("%s: README does not say how an app is reached from the site network", name)
		}
		// The security advice must not say "no inbound port" alone where
		// apps are exposed.
		for _, f := range res.Tree.Files {
			if s := string(f.Content); strings.Contains(s, "**Zero trust on the network**") {
				for _, a := range res.Spec.Spec.Apps {
					if a.Expose != nil && !strings.Contains(s, "`"+a.Name+"` on port "+strconv.Itoa(a.Expose.NodePort)) {
						t.Errorf("%s/%s: the network advice does not name exposed app %s's port", name, f.Path, a.Name)
					}
				}
			}
		}
	}
}
