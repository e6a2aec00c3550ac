package generator

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rhysd/actionlint"
	"github.com/santhosh-tekuri/jsonschema/v6"
	yaml "go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/fleetgen/fleetgen/examples"
	"github.com/fleetgen/fleetgen/generator/gitrepo"
	"github.com/fleetgen/fleetgen/generator/spec"
	"github.com/fleetgen/fleetgen/generator/tree"
)

// ciVariant is one rendering of the CI files: every example as planned,
// plus the publish jobs (spec.delivery: oci) and a pinned release, which
// no example has yet.
type ciVariant struct {
	name           string
	github, gitlab []byte
}

func ciVariants(t *testing.T) []ciVariant {
	t.Helper()
	var out []ciVariant
	for _, name := range examples.Names() {
		res := planExample(t, name)
		gh, ok1 := res.Tree.Get(GitHubWorkflowPath)
		gl, ok2 := res.Tree.Get(GitLabFleetCIPath)
		root, ok3 := res.Tree.Get(GitLabCIPath)
		if !ok1 || !ok2 || !ok3 {
			t.Fatalf("%s: the plan lacks %s, %s or %s", name, GitHubWorkflowPath, GitLabFleetCIPath, GitLabCIPath)
		}
		if gh.Owner != tree.Generated || gl.Owner != tree.Generated {
			t.Errorf("%s: CI files are %s/%s, want generated (regen keeps their pins current)", name, gh.Owner, gl.Owner)
		}
		// .gitlab-ci.yml is the user's (seeded): it only includes the
		// generated file.
		var inc struct {
			Include []map[string]string `yaml:"include"`
		}
		if err := yaml.Unmarshal(root.Content, &inc); err != nil || root.Owner != tree.Seeded ||
			len(inc.Include) != 1 || inc.Include[0]["local"] != GitLabFleetCIPath {
			t.Errorf("%s: %s (%s) does not include %s: %v\n%s", name, GitLabCIPath, root.Owner, GitLabFleetCIPath, err, root.Content)
		}
		if err := validateGitLabCI(t, root.Content); err != nil {
			t.Errorf("%s: %s: %v", name, GitLabCIPath, err)
		}
		out = append(out, ciVariant{name, gh.Content, gl.Content})
	}
	res := planExample(t, "offshore-platforms")
	for _, v := range []struct {
		name    string
		version string
		publish bool
	}{
		{"release+publish", "v1.4.0", true},
		{"pseudo-version", "v0.0.0-20260801120000-abcdef123456", false},
		{"release+publish+keyless", "v1.4.0", true},
		{"release+publish+rings", "v1.4.0", true},
	} {
		d := NewCIData(res.Spec.Metadata.Name, &res.Spec.Spec, v.version)
		d.Publish = v.publish
		d.Keyless = strings.HasSuffix(v.name, "+keyless")
		d.Rings = strings.HasSuffix(v.name, "+rings")
		if v.publish {
			d.Repository = "ghcr.io/acme-energy/offshore-fleet"
		}
		gh, gl, err := RenderCI(d)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ciVariant{v.name, gh, gl})
	}
	return out
}

// lintWorkflow runs actionlint (as a library, without shellcheck or
// pyflakes) over a workflow's bytes.
func lintWorkflow(t *testing.T, content []byte) []*actionlint.Error {
	t.Helper()
	l, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A path that does not exist: actionlint then looks for no project
	// (and no config file) around it.
	errs, err := l.Lint("/nonexistent/"+GitHubWorkflowPath, content, nil)
	if err != nil {
		t.Fatal(err)
	}
	return errs
}

// TestKeylessSigningInTheWorkflow: a fleet whose clusters verify keyless
// signatures gets a publish job that installs cosign (pinned by commit)
// and signs, with the job's OIDC token, exactly the artifacts publish
// lists as unsigned. (Keyless signing itself needs Fulcio and Rekor on the
// internet: it is not run here, only the generated YAML is checked.)
func TestKeylessSigningInTheWorkflow(t *testing.T) {
	l, err := spec.LoadFile(filepath.Join("testdata", "cases", "cargo-signed", "fleet.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	l.Spec.Delivery.Verify = &spec.Verify{Provider: "cosign", MatchOIDCIdentity: []spec.OIDCIdentity{{Issuer: "^https://token.actions.githubusercontent.com$", Subject: "^https://github.com/example-shipping/"}}}
	res, err := Plan(l)
	if err != nil {
		t.Fatal(err)
	}
	gh := fileOf(t, res, GitHubWorkflowPath)
	for _, e := range lintWorkflow(t, gh) {
		t.Errorf("%s:%d:%d: %s [%s]", GitHubWorkflowPath, e.Line, e.Column, e.Message, e.Kind)
	}
	var wf struct {
		Jobs map[string]struct {
			Permissions map[string]string
			Steps       []struct {
				Uses, Run string
				With      map[string]string
			}
		}
	}
	if err := sigsyaml.Unmarshal(gh, &wf); err != nil {
		t.Fatal(err)
	}
	job := wf.Jobs["publish"]
	if job.Permissions["id-token"] != "write" {
		t.Errorf("publish job permissions %v: keyless signing needs id-token: write", job.Permissions)
	}
	installer, signs := false, false
	for _, st := range job.Steps {
		if st.Uses == ActionCosignInstaller.Ref() && st.With["cosign-release"] == CosignVersion {
			installer = true
		}
		if strings.Contains(st.Run, "--unsigned-refs \"$RUNNER_TEMP/unsigned.txt\"") && strings.Contains(st.Run, "cosign sign --yes < \"$RUNNER_TEMP/unsigned.txt\"") {
			signs = true
		}
	}
	if !installer || !signs {
		t.Errorf("publish job: cosign installer pinned %v, keyless sign of the unsigned artifacts %v:\n%s", installer, signs, gh)
	}
	// The key-based case signs in publish itself, no cosign in CI.
	if plain := fileOf(t, planCase(t, "cargo-signed"), GitHubWorkflowPath); bytes.Contains(plain, []byte("cosign sign")) {
		t.Error("a key-based fleet's workflow signs keyless")
	}
}

func TestGitHubWorkflowPassesActionlint(t *testing.T) {
	for _, v := range ciVariants(t) {
		for _, e := range lintWorkflow(t, v.github) {
			t.Errorf("%s: %s:%d:%d: %s [%s]", v.name, GitHubWorkflowPath, e.Line, e.Column, e.Message, e.Kind)
		}
	}
}

// The check above can fail: actionlint finds each of these mistakes in an
// otherwise generated workflow.
func TestActionlintCatchesBrokenWorkflows(t *testing.T) {
	good := ciVariants(t)[len(examples.Names())].github // the one with the publish job
	for _, c := range []struct{ name, old, new, kind string }{
		{"unknown context property", "github.ref_name ==", "github.refname ==", "expression"},
		{"job needs a missing job", "needs: check", "needs: checks", "job-needs"},
		{"unknown permission", "packages: write", "package: write", "permissions"},
		{"misspelt key", "runs-on:", "run-on:", "syntax-check"},
	} {
		bad := bytes.Replace(good, []byte(c.old), []byte(c.new), 1)
		if bytes.Equal(bad, good) {
			t.Fatalf("%s: %q not in the workflow", c.name, c.old)
		}
		errs := lintWorkflow(t, bad)
		found := false
		for _, e := range errs {
			found = found || e.Kind == c.kind
		}
		if !found {
			t.Errorf("%s: actionlint reported %v, want a %s error", c.name, errs, c.kind)
		}
	}
}

// gitlabSchema is GitLab's CI JSON schema (testdata/ci/README.md says
// where it comes from).
var gitlabSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	f, err := os.Open(filepath.Join("testdata", "ci", "gitlab-ci.schema.json"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	const url = "https://gitlab.com/.gitlab-ci.yml"
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return c.Compile(url)
})

func validateGitLabCI(t *testing.T, content []byte) error {
	t.Helper()
	sch, err := gitlabSchema()
	if err != nil {
		t.Fatalf("GitLab CI schema: %v", err)
	}
	js, err := sigsyaml.YAMLToJSON(content)
	if err != nil {
		return err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return err
	}
	return sch.Validate(doc)
}

func TestGitLabCIMatchesGitLabSchema(t *testing.T) {
	for _, v := range ciVariants(t) {
		if err := validateGitLabCI(t, v.gitlab); err != nil {
			t.Errorf("%s: %s: %v", v.name, GitLabFleetCIPath, err)
		}
	}
}

// The schema check can fail: each mistake below is refused.
func TestGitLabSchemaCatchesBrokenCI(t *testing.T) {
	good := ciVariants(t)[len(examples.Names())].gitlab
	for _, c := range []struct{ name, old, new string }{
		{"misspelt job keyword", "  script:\n    - fleetgen validate .", "  scripts:\n    - fleetgen validate ."},
		{"unknown rule outcome", "      when: never", "      when: sometimes"},
		{"needs not a list", "  needs: [check]", "  needs: check"},
		{"bad timeout type", "  timeout: 1h", "  timeout: [1h]"},
	} {
		bad := bytes.Replace(good, []byte(c.old), []byte(c.new), 1)
		if bytes.Equal(bad, good) {
			t.Fatalf("%s: %q not in the file", c.name, c.old)
		}
		if err := validateGitLabCI(t, bad); err == nil {
			t.Errorf("%s: the schema accepted it", c.name)
		}
	}
}

// ghWorkflow is the part of a workflow the tests read.
type ghWorkflow struct {
	On          map[string]any    `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Concurrency struct {
		Group string `yaml:"group"`
	} `yaml:"concurrency"`
	Env  map[string]string `yaml:"env"`
	Jobs map[string]struct {
		If          string            `yaml:"if"`
		Needs       any               `yaml:"needs"`
		Permissions map[string]string `yaml:"permissions"`
		Steps       []struct {
			Name string            `yaml:"name"`
			Uses string            `yaml:"uses"`
			Run  string            `yaml:"run"`
			Env  map[string]string `yaml:"env"`
			With map[string]string `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

type glJob struct {
	Stage        string           `yaml:"stage"`
	Needs        []string         `yaml:"needs"`
	BeforeScript []string         `yaml:"before_script"`
	Script       []string         `yaml:"script"`
	Rules        []map[string]any `yaml:"rules"`
}

func parseGitLab(t *testing.T, b []byte) (vars map[string]string, stages []string, jobs map[string]glJob) {
	t.Helper()
	var doc struct {
		Variables map[string]string `yaml:"variables"`
		Stages    []string          `yaml:"stages"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var all map[string]yaml.Node
	if err := yaml.Unmarshal(b, &all); err != nil {
		t.Fatal(err)
	}
	jobs = map[string]glJob{}
	for k, n := range all {
		if k == "variables" || k == "stages" || k == "workflow" || k == "default" {
			continue
		}
		var j glJob
		if err := n.Decode(&j); err != nil {
			t.Fatalf("job %s: %v", k, err)
		}
		jobs[k] = j
	}
	return doc.Variables, doc.Stages, jobs
}

var pinnedUses = regexp.MustCompile(`^[a-z0-9-]+/[a-z0-9-]+@[0-9a-f]{40}$`)

// What a reviewer of the generated CI checks: triggers, pins, least
// privilege, concurrency, publish only where and when it should.
func TestCIPinsPermissionsAndGates(t *testing.T) {
	for _, v := range ciVariants(t) {
		var w ghWorkflow
		if err := yaml.Unmarshal(v.github, &w); err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		for _, ev := range []string{"push", "pull_request"} {
			if _, ok := w.On[ev]; !ok {
				t.Errorf("%s: the workflow does not run on %s", v.name, ev)
			}
		}
		if len(w.Permissions) != 1 || w.Permissions["contents"] != "read" {
			t.Errorf("%s: workflow permissions %v, want only contents: read", v.name, w.Permissions)
		}
		if !strings.Contains(w.Concurrency.Group, "${{ github.ref }}") {
			t.Errorf("%s: concurrency group %q is not per ref", v.name, w.Concurrency.Group)
		}
		for k, want := range map[string]string{"KUBECONFORM_VERSION": "v0.8.0", "KUSTOMIZE_VERSION": "v5.8.2"} {
			if w.Env[k] != want {
				t.Errorf("%s: %s = %q, want %q", v.name, k, w.Env[k], want)
			}
		}
		wantVersion := map[string]string{"release+publish": "v1.4.0", "release+publish+keyless": "v1.4.0", "release+publish+rings": "v1.4.0", "pseudo-version": "v0.0.0-20260801120000-abcdef123456"}[v.name]
		if wantVersion == "" {
			wantVersion = "latest" // the examples, planned by this test binary: a development build
		}
		if w.Env["FLEETGEN_VERSION"] != wantVersion {
			t.Errorf("%s: FLEETGEN_VERSION = %q, want %q", v.name, w.Env["FLEETGEN_VERSION"], wantVersion)
		}
		if dev := bytes.Contains(v.github, []byte("development build")); dev != (wantVersion == "latest") {
			t.Errorf("%s: development-build note present = %v with FLEETGEN_VERSION %s", v.name, dev, wantVersion)
		}
		check, ok := w.Jobs["check"]
		if !ok {
			t.Fatalf("%s: no check job", v.name)
		}
		var runs []string
		for _, s := range check.Steps {
			if s.Uses != "" && !pinnedUses.MatchString(s.Uses) {
				t.Errorf("%s: %q is not pinned by a full commit", v.name, s.Uses)
			}
			runs = append(runs, s.Run)
		}
		all := strings.Join(runs, "\n")
		for _, want := range []string{
			`go install github.com/fleetgen/fleetgen/cmd/fleetgen@"$FLEETGEN_VERSION"`,
			`go install github.com/yannh/kubeconform/cmd/kubeconform@"$KUBECONFORM_VERSION"`,
			`go install sigs.k8s.io/kustomize/kustomize/v5@"$KUSTOMIZE_VERSION"`,
			"fleetgen validate .",
			`kustomize build --load-restrictor LoadRestrictionsNone "$d" >`,
			`kc "$out" bootstrap/*/manifests`,
			"kubeconform -strict",
		} {
			if !strings.Contains(all, want) {
				t.Errorf("%s: the check job does not run %q", v.name, want)
			}
		}
		if check.Permissions != nil {
			t.Errorf("%s: the check job widens permissions: %v", v.name, check.Permissions)
		}
		pub, hasPub := w.Jobs["publish"]
		// The forced variant, and every example delivered as OCI artifacts.
		wantPub := strings.HasPrefix(v.name, "release+publish")
		for _, name := range examples.Names() {
			wantPub = wantPub || (name == v.name && planExample(t, name).Spec.Spec.OCI())
		}
		if hasPub != wantPub {
			t.Errorf("%s: publish job present = %v", v.name, hasPub)
		}
		if len(w.Jobs) != map[bool]int{true: 2, false: 1}[hasPub] {
			t.Errorf("%s: jobs %v", v.name, w.Jobs)
		}
		if hasPub {
			if fmt.Sprint(pub.Needs) != "check" {
				t.Errorf("%s: publish needs %v, want check", v.name, pub.Needs)
			}
			wantIf := "github.event_name == 'push' && github.ref_name == github.event.repository.default_branch"
			if strings.HasSuffix(v.name, "+rings") {
				// A promotion pushes a ring branch: its clusters' artifacts change.
				wantIf = "github.event_name == 'push' && (github.ref_name == github.event.repository.default_branch || startsWith(github.ref_name, 'fleet/ring/'))"
				var co map[string]string
				for _, s := range pub.Steps {
					if strings.HasPrefix(s.Uses, "actions/checkout@") {
						co = s.With
					}
				}
				if co["ref"] != "${{ github.event.repository.default_branch }}" || co["fetch-depth"] != "0" {
					t.Errorf("%s: publish checks out %v, want the default branch with every branch fetched", v.name, co)
				}
			}
			if pub.If != wantIf {
				t.Errorf("%s: publish runs if %q", v.name, pub.If)
			}
			want := map[string]string{"contents": "read", "packages": "write", "id-token": "write"}
			if fmt.Sprint(pub.Permissions) != fmt.Sprint(want) {
				t.Errorf("%s: publish permissions %v, want %v", v.name, pub.Permissions, want)
			}
			var script string
			for _, s := range pub.Steps {
				if s.Uses != "" && !pinnedUses.MatchString(s.Uses) {
					t.Errorf("%s: %q is not pinned by a full commit", v.name, s.Uses)
				}
				script += s.Run
			}
			if !strings.Contains(script, `fleetgen publish --dir . --registry "$REGISTRY"`) {
				t.Errorf("%s: publish job does not run fleetgen publish", v.name)
			}
			// The token reaches docker on stdin only.
			if n := strings.Count(script, "GITHUB_TOKEN"); n != 1 || !strings.Contains(script, `--password-stdin <<<"$GITHUB_TOKEN"`) {
				t.Errorf("%s: the token is used other than on docker login's stdin:\n%s", v.name, script)
			}
		}
		for _, secretish := range []string{"set -x", "secrets.", "echo \"$GITHUB_TOKEN", "echo $GITHUB_TOKEN"} {
			if bytes.Contains(v.github, []byte(secretish)) {
				t.Errorf("%s: the workflow contains %q", v.name, secretish)
			}
		}

		vars, stages, jobs := parseGitLab(t, v.gitlab)
		if vars["FLEETGEN_VERSION"] != wantVersion || vars["KUBECONFORM_VERSION"] != "v0.8.0" || vars["KUSTOMIZE_VERSION"] != "v5.8.2" {
			t.Errorf("%s: GitLab variables %v", v.name, vars)
		}
		if vars["CRD_SCHEMA_LOCATION"] != w.Env["CRD_SCHEMA_LOCATION"] || vars["CRD_SCHEMA_LOCATION"] != CRDSchemaLocation {
			t.Errorf("%s: CRD schema locations differ: GitLab %q, GitHub %q", v.name, vars["CRD_SCHEMA_LOCATION"], w.Env["CRD_SCHEMA_LOCATION"])
		}
		glCheck, ok := jobs["check"]
		if !ok || glCheck.Stage != "check" || len(glCheck.Script) != 2 || glCheck.Script[0] != "fleetgen validate ." {
			t.Errorf("%s: GitLab check job %+v", v.name, glCheck)
		} else if glCheck.Script[1] != githubStep(t, v.github, "kustomize build + kubeconform") {
			t.Errorf("%s: the GitLab and GitHub kubeconform scripts differ", v.name)
		}
		glPub, hasGLPub := jobs["publish"]
		if hasGLPub != hasPub || len(stages) != map[bool]int{true: 2, false: 1}[hasPub] {
			t.Errorf("%s: GitLab publish job present = %v, stages %v", v.name, hasGLPub, stages)
		}
		if hasGLPub {
			wantRules := "[map[if:$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH]]"
			s := strings.Join(glPub.Script, "\n")
			if strings.HasSuffix(v.name, "+rings") {
				wantRules = "[map[if:$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH] map[if:$CI_COMMIT_BRANCH =~ /^fleet\\/ring\\//]]"
				if !strings.Contains(s, `'+refs/heads/fleet/ring/*:refs/remotes/origin/fleet/ring/*'`) || !strings.Contains(s, `git checkout -q -B "$CI_DEFAULT_BRANCH" "origin/$CI_DEFAULT_BRANCH"`) ||
					strings.Index(s, "git checkout") > strings.Index(s, "fleetgen publish") {
					t.Errorf("%s: GitLab publish does not fetch the rings and check out the default branch before publishing:\n%s", v.name, s)
				}
			}
			if fmt.Sprint(glPub.Rules) != wantRules || fmt.Sprint(glPub.Needs) != "[check]" {
				t.Errorf("%s: GitLab publish rules %v needs %v", v.name, glPub.Rules, glPub.Needs)
			}
			if !strings.Contains(s, `fleetgen publish --dir . --registry "$REGISTRY"`) || strings.Contains(s, "echo") {
				t.Errorf("%s: GitLab publish script:\n%s", v.name, s)
			}
		}
	}
}

// githubStep is the run script of the check job's step called name.
func githubStep(t *testing.T, workflow []byte, name string) string {
	t.Helper()
	var w ghWorkflow
	if err := yaml.Unmarshal(workflow, &w); err != nil {
		t.Fatal(err)
	}
	for _, s := range w.Jobs["check"].Steps {
		if s.Name == name {
			return s.Run
		}
	}
	t.Fatalf("no step %q in the check job", name)
	return ""
}

// The versions the generated CI pins are the ones this repository's own CI
// runs, and the Go it asks for is go.mod's.
func TestCIVersionsMatchThisRepository(t *testing.T) {
	run, err := os.ReadFile(filepath.Join("..", ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kubeconform/cmd/kubeconform@" + KubeconformVersion, "kustomize/kustomize/v5@" + KustomizeVersion} {
		if !bytes.Contains(run, []byte(want)) {
			t.Errorf(".ci/run does not install %s: the generated CI would pin another version than the one tested here", want)
		}
	}
	mod, err := os.ReadFile(filepath.Join("..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod); m == nil || string(m[1]) != CIGoVersion {
		t.Errorf("go.mod says go %s, the generated CI installs Go %s", m[1], CIGoVersion)
	}
	for _, a := range []PinnedAction{ActionCheckout, ActionSetupGo} {
		if !pinnedUses.MatchString(a.Ref()) || !strings.HasPrefix(a.Tag, "v") {
			t.Errorf("%+v: not a commit pin with its tag", a)
		}
	}
}

// The plan pins the version of the fleetgen that plans (the same bytes
// for the same version), and a build that cannot be installed by version
// is not pinned.
func TestPlanPinsFleetgenVersion(t *testing.T) {
	l := planExample(t, "truck-fleet").Spec
	for version, want := range map[string]string{
		"v2.0.1":              "v2.0.1",
		"v2.1.0-rc.1":         "v2.1.0-rc.1",
		"v0.0.0-20260801-abc": "v0.0.0-20260801-abc",
		"v2.0.1+dirty":        "latest",
		"dev":                 "latest",
		"(devel)":             "latest",
	} {
		res, err := planRegions(l, nil, version)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{GitHubWorkflowPath, GitLabFleetCIPath} {
			f, _ := res.Tree.Get(p)
			if !bytes.Contains(f.Content, []byte("\n  FLEETGEN_VERSION: "+want+"\n")) && !bytes.Contains(f.Content, []byte("\n  FLEETGEN_VERSION: "+want+" #")) {
				t.Errorf("fleetgen %s: %s does not pin %s", version, p, want)
			}
		}
		readme, _ := res.Tree.Get("README.md")
		if !bytes.Contains(readme.Content, []byte("| fleetgen | `"+want+"`")) {
			t.Errorf("fleetgen %s: README.md does not say fleetgen %s is pinned", version, want)
		}
	}
	// A plan limited to regions leaves the CI files alone, as it does the README.
	res, err := planRegions(l, []string{l.Spec.Regions[0].Name}, "v2.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{GitHubWorkflowPath, GitLabFleetCIPath, GitLabCIPath} {
		if _, ok := res.Tree.Get(p); ok {
			t.Errorf("a region's plan writes %s", p)
		}
	}
}

// TestCIScriptsRunWithRealTools runs the generated check job's commands
// with the real fleetgen, kustomize and kubeconform over every example's
// tree, offline (the schema locations point at SCHEMAS, the offline
// schemas), then shows that the same commands fail on a broken manifest.
// scripts/check-examples.sh runs it with FLEETGEN_CI_REAL_TOOLS=1 after
// installing the pinned tools.
func TestCIScriptsRunWithRealTools(t *testing.T) {
	if os.Getenv("FLEETGEN_CI_REAL_TOOLS") == "" {
		t.Skip("set FLEETGEN_CI_REAL_TOOLS=1 (and SCHEMAS, and fleetgen, kustomize, kubeconform on PATH); scripts/check-examples.sh does")
	}
	schemas := os.Getenv("SCHEMAS")
	if schemas == "" {
		t.Fatal("SCHEMAS is not set")
	}
	for _, tool := range []string{"fleetgen", "kustomize", "kubeconform", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not on PATH", tool)
		}
	}
	// The CRD location stands in for the CRDs catalog the generated CI
	// reads: the offline CRD schemas plus those made here from upstream
	// CRDs (testdata/schemas: Argo CD's Application and AppProject, Flux's
	// HelmRelease), in one folder.
	crds := t.TempDir()
	for _, glob := range []string{schemas + "/crds/*.json", "testdata/schemas/*.json"} {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			abs, err := filepath.Abs(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(abs, filepath.Join(crds, filepath.Base(f))); err != nil && !os.IsExist(err) {
				t.Fatal(err)
			}
		}
	}
	env := append(os.Environ(),
		"K8S_SCHEMA_LOCATION="+schemas+"/kubernetes/{{ .ResourceKind }}{{ .KindSuffix }}.json",
		"CRD_SCHEMA_LOCATION="+crds+"/{{ .ResourceKind }}{{ .KindSuffix }}.json")
	run := func(dir, script string) (string, error) {
		// GitHub's bash: `bash --noprofile --norc -eo pipefail {0}`.
		cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, name := range examples.Names() {
		res := planExample(t, name)
		dir := t.TempDir()
		kustomizations := 0
		for _, f := range res.Tree.Files {
			p := filepath.Join(dir, filepath.FromSlash(f.Path))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, f.Content, os.FileMode(f.Mode)); err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(f.Path, "/kustomization.yaml") {
				kustomizations++
			}
		}
		gh, _ := res.Tree.Get(GitHubWorkflowPath)
		validate := githubStep(t, gh.Content, "fleetgen validate")
		kc := githubStep(t, gh.Content, "kustomize build + kubeconform")
		if out, err := run(dir, validate); err != nil {
			t.Fatalf("%s: %s: %v\n%s", name, validate, err, out)
		}
		out, err := run(dir, kc)
		if err != nil {
			t.Fatalf("%s: the kubeconform step failed: %v\n%s", name, err, out)
		}
		if want := fmt.Sprintf("kustomize build: %d kustomizations\n", kustomizations); !strings.HasPrefix(out, want) && !strings.Contains(out, "\n"+want) {
			t.Errorf("%s: the kubeconform step did not build all %d kustomizations:\n%s", name, kustomizations, out)
		}
		if !regexp.MustCompile(`Summary: [1-9][0-9]* resources found in [0-9]+ files - Valid: [0-9]+, Invalid: 0, Errors: 0`).MatchString(out) {
			t.Errorf("%s: kubeconform reported problems:\n%s", name, out)
		}
		// GitLab runs the same commands (one script entry each; the
		// kubeconform one is the GitHub step's, byte for byte, checked
		// in TestCIPinsPermissionsAndGates, and not run twice).
		gl, _ := res.Tree.Get(GitLabFleetCIPath)
		_, _, jobs := parseGitLab(t, gl.Content)
		for _, s := range jobs["check"].Script {
			if s == kc {
				continue
			}
			if out, err := run(dir, s); err != nil {
				t.Fatalf("%s: GitLab script entry failed: %v\n%s", name, err, out)
			}
		}

		// A field kubernetes does not know, in a base every region builds:
		// the step must fail (and fleetgen validate does not look at it).
		ns := filepath.Join(dir, "infrastructure", "base", "namespaces.yaml")
		b, err := os.ReadFile(ns)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		bad := bytes.Replace(b, []byte("\nmetadata:\n"), []byte("\nmetadata:\n  nmae: typo\n"), 1)
		if bytes.Equal(b, bad) {
			t.Fatalf("%s: cannot break %s", name, ns)
		}
		if err := os.WriteFile(ns, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := run(dir, kc); err == nil || !strings.Contains(out, "nmae") {
			t.Errorf("%s: the kubeconform step passed a Namespace with an unknown field (err %v):\n%s", name, err, out)
		}
	}
}

// On a repository that already has a .gitlab-ci.yml of its own, fleetgen
// writes its CI without refusing and leaves that file alone; a later run
// by a newer fleetgen moves the pins and keeps a hand edit of the
// workflow (three-way merge).
func TestFleetCIOnAnExistingRepository(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not on PATH")
	}
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=T", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	theirs := "build:\n  script:\n    - make\n"
	if err := os.WriteFile(filepath.Join(dir, GitLabCIPath), []byte(theirs), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", "-A")
	git("commit", "-qm", "their CI")

	l := planExample(t, "offshore-platforms").Spec
	author := gitrepo.Author{Name: "Test", Email: "test@example.com"}
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	apply := func(version string) *ApplyReport {
		t.Helper()
		res, err := planRegions(l, nil, version)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Apply(res, ApplyOptions{Dir: dir, Message: "fleetgen " + version, Author: author, When: when, Compat: gitrepo.CompatOptions{Branch: "main"}})
		if err != nil {
			t.Fatalf("fleetgen %s: %v", version, err)
		}
		return rep
	}
	rep := apply("v1.0.0")
	actions := map[string]Action{}
	for _, c := range rep.Changes {
		actions[c.Path] = c.Action
	}
	if actions[GitLabCIPath] != KeepSeeded || actions[GitLabFleetCIPath] != Create || actions[GitHubWorkflowPath] != Create {
		t.Errorf("first run: %s %s, %s %s, %s %s", GitLabCIPath, actions[GitLabCIPath], GitLabFleetCIPath, actions[GitLabFleetCIPath], GitHubWorkflowPath, actions[GitHubWorkflowPath])
	}
	if b, _ := os.ReadFile(filepath.Join(dir, GitLabCIPath)); string(b) != theirs {
		t.Errorf("their .gitlab-ci.yml became:\n%s", b)
	}

	wf := filepath.Join(dir, filepath.FromSlash(GitHubWorkflowPath))
	b, err := os.ReadFile(wf)
	if err != nil {
		t.Fatal(err)
	}
	edited := bytes.ReplaceAll(b, []byte("runs-on: "+ciRunner), []byte("runs-on: [self-hosted, linux, arm64]"))
	if err := os.WriteFile(wf, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	git("commit", "-qam", "our runners")
	apply("v1.1.0")
	b, err = os.ReadFile(wf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("\n  FLEETGEN_VERSION: v1.1.0\n")) || !bytes.Contains(b, []byte("runs-on: [self-hosted, linux, arm64]")) || bytes.Contains(b, []byte("runs-on: "+ciRunner)) {
		t.Errorf("after regen by v1.1.0 the workflow lost the new pin or the hand edit:\n%s", b)
	}
	for _, e := range lintWorkflow(t, b) {
		t.Errorf("merged workflow: %d:%d: %s", e.Line, e.Column, e.Message)
	}
}
