package generator

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"text/template"

	"github.com/fleetgen/fleetgen/blueprints"
	"github.com/fleetgen/fleetgen/generator/spec"
)

// The fleet repository's own CI. The GitHub Actions workflow and GitLab's
// fleet jobs are generated: fleetgen regen keeps their pins in step with
// the fleetgen that wrote the repository (hand edits are merged
// three-way). GitLab reads only .gitlab-ci.yml, which many repositories
// already have: it is seeded (written once, a few lines that include the
// generated file), so that a fleetgen run never refuses over a
// .gitlab-ci.yml of the user's, and never rewrites it.
const (
	GitHubWorkflowPath = ".github/workflows/fleet.yaml"
	GitLabCIPath       = ".gitlab-ci.yml"
	GitLabFleetCIPath  = ".gitlab/ci/fleet.yml"
)

// gitlabCI is the seeded .gitlab-ci.yml.
const gitlabCI = `# Written once by fleetgen; yours to edit (fleetgen never rewrites it).
# The fleet's checks live in ` + GitLabFleetCIPath + `, which fleetgen regenerates
# with current pins. Add your own jobs below. If this repository already had
# a .gitlab-ci.yml, fleetgen left it as it was: add this include to it.
include:
  - local: ` + GitLabFleetCIPath + `
`

// Pinned tool versions of the generated CI. KubeconformVersion and
// KustomizeVersion are the ones this repository's own CI runs (.ci/run);
// CIGoVersion is go.mod's go directive (fleetgen's minimum Go). The tests
// hold them together.
const (
	KubeconformVersion = "v0.8.0"
	KustomizeVersion   = "v5.8.2"
	CIGoVersion        = "1.26.8"
	ciRunner           = "ubuntu-24.04"
)

// CRDSchemaLocation is where the generated CI's kubeconform finds the
// Flux, Flux Operator and K3s HelmChart schemas: the datreeio CRDs-catalog
// (as Flux's examples point kubeconform at), at a fixed commit so that a
// catalog change cannot turn a green fleet red overnight.
const CRDSchemaLocation = "https://raw.githubusercontent.com/datreeio/CRDs-catalog/" + crdCatalogCommit + "/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"

// crdCatalogCommit: datreeio/CRDs-catalog main of 2026-08-20. It has
// fluxinstance_v1, kustomization_v1, gitrepository_v1, ocirepository_v1
// and helm.cattle.io helmchart_v1.
const crdCatalogCommit = "7b1e26ef9deea49293714d204c1a2270aab1178f"

// PinnedAction is a GitHub action pinned by the full commit of a release
// tag (a tag can be moved; a commit cannot).
type PinnedAction struct {
	Repo, Tag, Commit string
}

// Ref is what a workflow's `uses:` says.
func (a PinnedAction) Ref() string { return a.Repo + "@" + a.Commit }

// The actions of the generated workflow, with the commits their tags named
// on the day they were pinned (read from the action repositories).
var (
	ActionCheckout = PinnedAction{Repo: "actions/checkout", Tag: "v7.0.1", Commit: "3d3c42e5aac5ba805825da76410c181273ba90b1"}
	ActionSetupGo  = PinnedAction{Repo: "actions/setup-go", Tag: "v7.0.0", Commit: "b7ad1dad31e06c5925ef5d2fc7ad053ef454303e"}
	// ActionCosignInstaller installs cosign for keyless signing
	// (spec.delivery.verify.matchOIDCIdentity); its default cosign
	// release at that tag is CosignVersion.
	ActionCosignInstaller = PinnedAction{Repo: "sigstore/cosign-installer", Tag: "v4.1.2", Commit: "6f9f17788090df1f26f669e9d70d6ae9567deba6"}
)

// CosignVersion is the cosign release the generated workflow signs with.
const CosignVersion = "v3.0.6"

// CIData is what the CI blueprints are rendered from.
type CIData struct {
	Fleet string
	// Module is fleetgen's module path (go install Module/cmd/fleetgen@FleetgenVersion).
	Module string
	// FleetgenVersion is pinned when fleetgen knows its own release or
	// pseudo-version (FleetgenPinned); a development build writes "latest"
	// with a comment asking for a pin.
	FleetgenVersion    string
	FleetgenPinned     bool
	KubeconformVersion string
	KustomizeVersion   string
	GoVersion          string
	GoImage            string
	Runner             string
	CRDSchemaLocation  string
	Checkout, SetupGo  PinnedAction
	// Publish renders the jobs that run `fleetgen publish` on the default
	// branch: only for a fleet delivered as an OCI artifact.
	Publish bool
	// Repository is spec.delivery.repository: where the clusters pull from,
	// and so where publish pushes unless FLEET_OCI_REGISTRY says otherwise.
	Repository string
	// Keyless: the clusters verify keyless signatures
	// (spec.delivery.verify.matchOIDCIdentity), so the publish job signs
	// what is unsigned with cosign's keyless flow (the job's OIDC token).
	Keyless         bool
	CosignInstaller PinnedAction
	CosignVersion   string
	// Rings (spec.rings with publish): a promotion pushes a ring branch
	// (fleet/ring/<ring>), and publish builds each cluster's artifact from
	// its ring's branch head, so the publish job also runs on a push of a
	// ring branch, checks out the default branch (ring membership is its
	// fleet.yaml's) and fetches every ring branch.
	Rings bool
}

// NewCIData is the CI of the fleet s, written by fleetgen version
// toolVersion.
func NewCIData(fleet string, s *spec.FleetSpec, toolVersion string) CIData {
	d := CIData{
		Fleet: fleet, Module: ModulePath,
		FleetgenVersion: toolVersion, FleetgenPinned: InstallableVersion(toolVersion),
		KubeconformVersion: KubeconformVersion, KustomizeVersion: KustomizeVersion,
		GoVersion: CIGoVersion, GoImage: "golang:" + CIGoVersion, Runner: ciRunner,
		CRDSchemaLocation: CRDSchemaLocation,
		Checkout:          ActionCheckout, SetupGo: ActionSetupGo,
		Publish: publishesOCI(s), Repository: s.Delivery.Repository,
		Keyless: publishesOCI(s) && s.Delivery.Verify.Keyless(), CosignInstaller: ActionCosignInstaller, CosignVersion: CosignVersion,
		Rings: publishesOCI(s) && s.HasRings(),
	}
	if !d.FleetgenPinned {
		d.FleetgenVersion = "latest"
	}
	return d
}

// publishesOCI: the fleet is delivered as OCI artifacts built by
// `fleetgen publish` (spec.delivery.mode: oci).
func publishesOCI(s *spec.FleetSpec) bool { return s.OCI() }

// RenderCI renders the GitHub workflow and the generated GitLab CI file
// (GitLabFleetCIPath).
func RenderCI(d CIData) (github, gitlab []byte, err error) {
	if github, err = renderCI("github-workflow.yaml.tmpl", d); err != nil {
		return nil, nil, err
	}
	if gitlab, err = renderCI("gitlab-fleet-ci.yml.tmpl", d); err != nil {
		return nil, nil, err
	}
	return github, gitlab, nil
}

// ci adds the CI files to the plan.
func (p *planner) ci() error {
	gh, gl, err := RenderCI(NewCIData(p.l.Metadata.Name, &p.l.Spec, p.version))
	if err != nil {
		return err
	}
	p.gen(GitHubWorkflowPath, gh)
	p.gen(GitLabFleetCIPath, gl)
	p.seed(GitLabCIPath, []byte(gitlabCI))
	return nil
}

// ciTemplates use [[ ]] as delimiters: the files are full of GitHub's
// ${{ }} and kubeconform's {{ }}, which stay literal.
var ciTemplates = sync.OnceValue(func() *template.Template {
	t := template.New("").Delims("[[", "]]")
	t.Funcs(template.FuncMap{
		"include": func(name string, data any) (string, error) {
			var b bytes.Buffer
			err := t.ExecuteTemplate(&b, name, data)
			return b.String(), err
		},
		"indent": indentRest,
	})
	return template.Must(t.ParseFS(blueprints.FS, "ci/*.tmpl"))
})

func renderCI(name string, data any) ([]byte, error) {
	var b bytes.Buffer
	if err := ciTemplates().ExecuteTemplate(&b, name, data); err != nil {
		return nil, fmt.Errorf("blueprint ci/%s: %w", name, err)
	}
	out := b.Bytes()
	if !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, '\n')
	}
	return out, nil
}

// indentRest indents every line but the first by n spaces (the first
// line is placed by the template); empty lines stay empty.
func indentRest(n int, s string) string {
	pad := strings.Repeat(" ", n)
	lines := strings.Split(s, "\n")
	for i := 1; i < len(lines); i++ {
		if lines[i] != "" {
			lines[i] = pad + lines[i]
		}
	}
	return strings.Join(lines, "\n")
}
