package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/fleetgen/fleetgen/examples"
	"github.com/fleetgen/fleetgen/generator"
	"github.com/fleetgen/fleetgen/generator/spec"
)

// The README's main command: generate with the built-in example.
func TestGenerateDefaultThenAgainIsANoOp(t *testing.T) {
	needGit(t)
	out := filepath.Join(t.TempDir(), "edge-fleet")
	first := mustFleetgen(t, append([]string{"generate", "--out", out}, testAuthor...)...)
	if !strings.Contains(first, "created") || !strings.Contains(first, "committed") {
		t.Fatalf("first run: %q", first)
	}
	head := git(t, out, "rev-parse", "HEAD")
	if s := git(t, out, "status", "--porcelain", "--untracked-files=all"); s != "" {
		t.Fatalf("worktree not clean after generate:\n%s", s)
	}
	git(t, out, "fsck", "--strict")
	if a := git(t, out, "log", "-1", "--format=%an <%ae>"); a != "Fleet Tester <tester@example.com>" {
		t.Errorf("author = %q", a)
	}

	second := mustFleetgen(t, append([]string{"generate", "--out", out}, testAuthor...)...)
	if !strings.Contains(second, "up to date") {
		t.Errorf("second run should say it is up to date: %q", second)
	}
	if h := git(t, out, "rev-parse", "HEAD"); h != head {
		t.Errorf("second run moved HEAD from %s to %s", head, h)
	}
	// fleetgen's commit and, as its parent, the generated tree it records
	// (the base of later three-way merges), with the same tree.
	if n := git(t, out, "rev-list", "--count", "HEAD"); n != "2" {
		t.Errorf("%s commits, want 2", n)
	}
	if base := generatedBase(t, out); git(t, out, "rev-parse", base+"^{tree}") != git(t, out, "rev-parse", "HEAD^{tree}") {
		t.Errorf("the generated tree %s differs from HEAD's tree after a first generate", base)
	}
}

// The committed repository, read back with go-git, holds exactly the plan.
func TestCommittedRepositoryReadsBackWithGoGit(t *testing.T) {
	out := filepath.Join(t.TempDir(), "repo")
	mustFleetgen(t, append([]string{"generate", "--spec", "../../examples/truck-fleet/fleet.yaml", "--out", out}, testAuthor...)...)
	l, err := spec.LoadFile("../../examples/truck-fleet/fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := generator.Plan(l)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := gogit.PlainOpen(out)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	if ref.Name().String() != "refs/heads/main" {
		t.Errorf("HEAD is %s, want refs/heads/main", ref.Name())
	}
	commit, err := repo.CommitObject(ref.Hash())
	if err != nil {
		t.Fatal(err)
	}
	files, err := commit.Files()
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	err = files.ForEach(func(f *object.File) error {
		seen++
		want, ok := plan.Tree.Get(f.Name)
		if !ok {
			t.Errorf("%s committed but not planned", f.Name)
			return nil
		}
		got, err := f.Contents()
		if err != nil {
			return err
		}
		if got != string(want.Content) {
			t.Errorf("%s: committed content differs from the plan", f.Name)
		}
		if exec := f.Mode.String() == "0100755"; exec != (want.Mode == 0o755) {
			t.Errorf("%s: mode %s, planned %o", f.Name, f.Mode, want.Mode)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(plan.Tree.Files) {
		t.Errorf("%d files committed, %d planned", seen, len(plan.Tree.Files))
	}
}

// Every example generates and validates through the CLI.
func TestEveryExampleGeneratesAndValidates(t *testing.T) {
	for _, name := range examples.Names() {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), name)
			mustFleetgen(t, append([]string{"generate", "--spec", filepath.Join("../../examples", name, "fleet.yaml"), "--out", out, "-q"}, testAuthor...)...)
			got := mustFleetgen(t, "validate", out)
			if !strings.Contains(got, "kustomizations built") {
				t.Errorf("validate: %q", got)
			}
		})
	}
}

func TestValidateFailsOnPlaintextSecretAndBrokenKustomization(t *testing.T) {
	out := filepath.Join(t.TempDir(), "repo")
	mustFleetgen(t, append([]string{"generate", "--out", out, "-q"}, testAuthor...)...)
	writeFile(t, filepath.Join(out, "apps/regions/north-sea/db-password.yaml"), "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: sensor-gateway\nstringData:\n  password: hunter2\n")
	_, stderr, code := fleetgen(t, "validate", out)
	if code == 0 || !strings.Contains(stderr, "apps/regions/north-sea/db-password.yaml") {
		t.Errorf("validate with a plaintext Secret: exit %d, stderr %q", code, stderr)
	}
	os.Remove(filepath.Join(out, "apps/regions/north-sea/db-password.yaml"))
	k := filepath.Join(out, "infrastructure/regions/gulf-of-mexico/kustomization.yaml")
	writeFile(t, k, readFile(t, k)+"- missing.yaml\n")
	_, stderr, code = fleetgen(t, "validate", out)
	if code == 0 || !strings.Contains(stderr, "infrastructure/regions/gulf-of-mexico") {
		t.Errorf("validate with a missing resource: exit %d, stderr %q", code, stderr)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	out := filepath.Join(t.TempDir(), "repo")
	got := mustFleetgen(t, "generate", "--out", out, "--dry-run")
	if !strings.Contains(got, "dry run") || !strings.Contains(got, "create") {
		t.Errorf("dry run output: %q", got)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("dry run created %s", out)
	}
}

func TestPromptCommandFillsEveryValue(t *testing.T) {
	l, err := spec.Load(examples.FS, "offshore-platforms/fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := l.Spec.Context
	for _, lang := range []string{"es", "en"} {
		pro := mustFleetgen(t, "prompt", "--lang", lang)
		for _, v := range []string{c.Environment, c.Hardware, c.MainChallenge, c.Scale} {
			if !strings.Contains(pro, v) {
				t.Errorf("pro/%s lacks %q", lang, v)
			}
		}
		basic := mustFleetgen(t, "prompt", "--tier", "basic", "--lang", lang)
		if !strings.Contains(basic, c.DeviceType) || !strings.Contains(basic, c.Problem) {
			t.Errorf("basic/%s lacks the device type or problem:\n%s", lang, basic)
		}
	}
	es := mustFleetgen(t, "prompt")
	for _, heading := range []string{"Rol (Role)", "Contexto (Context)", "Tarea (Task)", "Restricciones (Constraints)", "Advertencia (Warning)"} {
		if !strings.Contains(es, heading) {
			t.Errorf("Spanish Pro prompt lacks %q", heading)
		}
	}
}

func TestPromptWithScaffoldNamesThePlanDecisions(t *testing.T) {
	l, err := spec.Load(examples.FS, "offshore-platforms/fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res, err := generator.Plan(l)
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"es", "en"} {
		got := mustFleetgen(t, "prompt", "--with-scaffold", "--lang", lang)
		for _, d := range res.Decisions {
			for _, want := range []string{d.Region, d.Connectivity.Name, d.Connectivity.GitInterval, d.FluxSize, strings.Join(d.FluxComponents, ", ")} {
				if !strings.Contains(got, want) {
					t.Errorf("%s: with-scaffold prompt lacks %q (region %s)", lang, want, d.Region)
				}
			}
		}
		for _, want := range []string{"SQLite (kine)", "K3s v1.37", "Flux 2.9.x", "CIS", "SOPS", "restricted"} {
			if !strings.Contains(got, want) {
				t.Errorf("%s: with-scaffold prompt lacks %q", lang, want)
			}
		}
		if len(got) > 8000 {
			t.Errorf("%s: with-scaffold prompt is %d bytes; keep it short enough to paste (8000)", lang, len(got))
		}
		t.Logf("with-scaffold prompt (%s): %d bytes", lang, len(got))
	}
}

func TestInitThenGenerate(t *testing.T) {
	dir := t.TempDir()
	mustFleetgen(t, "init", filepath.Join(dir, "spec"), "--example", "truck-fleet")
	for _, f := range []string{"fleet.yaml", "trucks.csv"} {
		if _, err := os.Stat(filepath.Join(dir, "spec", f)); err != nil {
			t.Fatal(err)
		}
	}
	mustFleetgen(t, append([]string{"generate", "--spec", filepath.Join(dir, "spec", "fleet.yaml"), "--out", filepath.Join(dir, "repo"), "-q"}, testAuthor...)...)
	if _, err := os.Stat(filepath.Join(dir, "repo", "clusters/eu-west/truck-0003/cluster-vars.yaml")); err != nil {
		t.Errorf("inventory cluster missing: %v", err)
	}
	// fleet.yaml's first line points editors at the schema beside it, in the
	// spec folder and in the repository: the same bytes `fleetgen schema` prints.
	schema := mustFleetgen(t, "schema")
	for _, d := range []string{"spec", "repo"} {
		y, _ := os.ReadFile(filepath.Join(dir, d, "fleet.yaml"))
		if !strings.HasPrefix(string(y), "# yaml-language-server: $schema=fleet.schema.json\n") {
			t.Errorf("%s/fleet.yaml does not point at the schema: %.80q", d, y)
		}
		b, err := os.ReadFile(filepath.Join(dir, d, "fleet.schema.json"))
		if err != nil || string(b) != schema {
			t.Errorf("%s/fleet.schema.json is not `fleetgen schema`'s output (%v)", d, err)
		}
	}
	// init never overwrites, the schema included.
	os.Remove(filepath.Join(dir, "spec", "fleet.yaml"))
	os.Remove(filepath.Join(dir, "spec", "trucks.csv"))
	if _, errs, code := fleetgen(t, "init", filepath.Join(dir, "spec"), "--example", "truck-fleet"); code == 0 || !strings.Contains(errs, "fleet.schema.json already exists") {
		t.Errorf("init over an existing fleet.schema.json: exit %d, %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "spec", "fleet.yaml")); err == nil {
		t.Errorf("init wrote fleet.yaml before refusing")
	}
}

func TestPlanCommandShowsTheBudget(t *testing.T) {
	got := mustFleetgen(t, "plan")
	for _, want := range []string{"datastore: sqlite", "source-controller, kustomize-controller", "K3s server (SQLite/kine)", "margin", "2048Mi"} {
		if !strings.Contains(got, want) {
			t.Errorf("plan lacks %q:\n%s", want, got)
		}
	}
	js := mustFleetgen(t, "plan", "--output", "json")
	if !strings.Contains(js, `"datastore": "sqlite"`) || !strings.Contains(js, `"marginMi"`) {
		t.Errorf("plan json: %s", js)
	}
}

func TestVersionAndCompletion(t *testing.T) {
	if got := mustFleetgen(t, "version"); !strings.HasPrefix(got, "fleetgen ") {
		t.Errorf("version: %q", got)
	}
	if got := mustFleetgen(t, "completion", "bash"); !strings.Contains(got, "fleetgen") {
		t.Errorf("bash completion looks empty")
	}
}
