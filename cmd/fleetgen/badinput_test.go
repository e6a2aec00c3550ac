package main

// The bad-input catalogue: every way a user can get fleet.yaml, the
// inventory or the command line wrong. Each case runs the real command line
// through run() in a fresh folder and checks the four promises fleetgen
// makes about a refusal:
//
//  1. the exit code is non-zero;
//  2. stderr is ONE message, starting with "fleetgen: ", that names the
//     field (or flag) and, when the problem is in a file, file:line;
//  3. nothing was written: every file under the case's folder (inputs,
//     existing repositories including .git) is byte-for-byte unchanged, the
//     output folder was not created, and HEAD of every repository is
//     unchanged;
//  4. no secret (token, password, age secret key) appears in the output.
//
// A case that shows a product bug keeps asserting the correct behaviour and
// carries a bug note: it is skipped (with the note) while it fails.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
)

// biSpec is a valid fleet.yaml; cases break one thing in it. Its line
// numbers are found with lineOf, never hard-coded.
const biSpec = `apiVersion: fleetgen.dev/v1alpha1
kind: Fleet
metadata:
  name: bad-fleet
spec:
  context:
    environment: test lab
    hardware: small boxes
    mainChallenge: bad input
  git:
    url: https://git.example.com/o/fleet.git
  hardware:
    arch: amd64
    memory: 4Gi
    storage: ssd
  connectivity: intermittent
  apps:
    - name: web
      image: docker.io/library/nginx:1.27
      port: 8080
  regions:
    - name: north
      clusters: [n-0001, n-0002]
    - name: south
      clusterCount: 2
`

// biInvSpec is a valid fleet.yaml whose clusters come from clusters.csv.
const biInvSpec = `apiVersion: fleetgen.dev/v1alpha1
kind: Fleet
metadata:
  name: inv-fleet
spec:
  context:
    environment: test lab
    hardware: small boxes
    mainChallenge: bad input
  git:
    url: https://git.example.com/o/fleet.git
  apps:
    - name: web
      image: docker.io/library/nginx:1.27
  inventory: clusters.csv
  regions:
    - name: north
    - name: south
`

const biInvCSV = `name,region,label:site,DEPOT
t-0001,north,a,A
t-0002,south,b,B
`

// Strings that must never reach stdout or stderr, whatever the case.
var biNeverEcho = []string{"ghp_", "hunter2", "AGE-SECRET-KEY-"}

// edit replaces the one occurrence of old in s; a missing or repeated old
// is a mistake in the test.
func biEdit(t *testing.T, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("test bug: %q occurs %d times in the spec", old, n)
	}
	return strings.Replace(s, old, new, 1)
}

// lineOf is the 1-based line of the first line of s containing sub.
func biLineOf(s, sub string) int {
	for i, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return i + 1
		}
	}
	panic(fmt.Sprintf("test bug: %q not in the spec", sub))
}

// at is the location a message must carry: "fleet.yaml:12:".
func biAt(file string, line int) string { return fmt.Sprintf("%s:%d:", file, line) }

func biWriteFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// specCase writes spec (and more files) into dir/in and returns
// `generate --spec dir/in/fleet.yaml --out dir/out`.
func biSpecCase(spec string, more map[string]string) func(t *testing.T, dir string) []string {
	return func(t *testing.T, dir string) []string {
		files := map[string]string{"fleet.yaml": spec}
		for k, v := range more {
			files[k] = v
		}
		biWriteFiles(t, filepath.Join(dir, "in"), files)
		return []string{"generate", "--spec", filepath.Join(dir, "in", "fleet.yaml"), "--out", filepath.Join(dir, "out")}
	}
}

type biResult struct {
	code           int
	stdout, stderr string
	panicked       string
}

func biRun(args ...string) (r biResult) {
	var out, errb bytes.Buffer
	defer func() {
		if p := recover(); p != nil {
			r = biResult{code: -1, stdout: out.String(), stderr: errb.String(), panicked: fmt.Sprintf("%v\n%s", p, debug.Stack())}
		}
	}()
	code := run(args, strings.NewReader(""), &out, &errb)
	return biResult{code: code, stdout: out.String(), stderr: errb.String()}
}

// generated builds a committed fleet repository at dir/name from spec (and
// more files beside it, in dir/name-spec) with a successful generate.
func biGenerated(t *testing.T, dir, name, spec string, more map[string]string) string {
	t.Helper()
	files := map[string]string{"fleet.yaml": spec}
	for k, v := range more {
		files[k] = v
	}
	specDir := filepath.Join(dir, name+"-spec")
	biWriteFiles(t, specDir, files)
	repo := filepath.Join(dir, name)
	r := biRun("generate", "--quiet", "--spec", filepath.Join(specDir, "fleet.yaml"), "--out", repo)
	if r.code != 0 || r.panicked != "" {
		t.Fatalf("setup: generate failed (%d): %s%s", r.code, r.stderr, r.panicked)
	}
	return repo
}

func biGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v in %s: %v\n%s", args, dir, err, out)
	}
	return strings.TrimSpace(string(out))
}

// snapshot records every entry under dir: mode and content hash (or link
// target), so that any write, creation or deletion shows.
func biSnapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			m[rel] = "link " + target
		case d.IsDir():
			m[rel] = fmt.Sprintf("dir %v", info.Mode())
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			m[rel] = fmt.Sprintf("file %v %s", info.Mode(), hex.EncodeToString(sum[:8]))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func biDiff(before, after map[string]string) []string {
	var d []string
	for k, v := range before {
		if w, ok := after[k]; !ok {
			d = append(d, "deleted "+k)
		} else if w != v {
			d = append(d, "changed "+k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			d = append(d, "created "+k)
		}
	}
	sort.Strings(d)
	if len(d) > 10 {
		d = append(d[:10], fmt.Sprintf("... and %d more", len(d)-10))
	}
	return d
}

// heads is HEAD of every git repository directly under dir.
func biHeads(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if st, err := os.Stat(filepath.Join(dir, e.Name(), ".git")); err == nil && st.IsDir() {
			m[e.Name()] = biGit(t, filepath.Join(dir, e.Name()), "rev-parse", "HEAD")
		}
	}
	return m
}

type badCase struct {
	name string
	// setup prepares dir and returns the command line to run.
	setup func(t *testing.T, dir string) []string
	// field must appear in the message: a field path, a flag or a column
	// ("" only for problems that have no field, such as a YAML syntax error).
	field string
	// loc is the "file:line:" the message must carry ("" when the problem is
	// not at a line of a file).
	loc     string
	also    []string // more text the message must contain
	secrets []string // must not appear in stdout or stderr
	// maxTime, when set, bounds how long the refusal may take.
	maxTime time.Duration
	// bug describes a known product bug; the case is skipped while it fails.
	bug string
}

func TestBadInput(t *testing.T) {
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("GIT_CONFIG_GLOBAL", "/dev/null")
	for _, c := range badCases(t) {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			args := c.setup(t, dir)
			before, headsBefore := biSnapshot(t, dir), biHeads(t, dir)

			start := time.Now()
			r := biRun(args...)
			took := time.Since(start)

			var problems []string
			fail := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
			if r.panicked != "" {
				fail("panicked: %s", r.panicked)
			}
			if c.maxTime > 0 && took > c.maxTime {
				fail("took %s to refuse, want under %s", took.Round(time.Millisecond), c.maxTime)
			}
			if r.code == 0 {
				fail("exit code 0, want non-zero")
			}
			msg := strings.TrimRight(r.stderr, "\n")
			first, _, _ := strings.Cut(msg, "\n")
			switch {
			case msg == "":
				fail("stderr is empty")
			case !strings.HasPrefix(first, "fleetgen: "):
				fail("first line of stderr does not start with %q: %q", "fleetgen: ", first)
			case strings.Contains(msg, "\n"):
				fail("stderr is more than one message:\n%s", msg)
			}
			if c.field != "" && !strings.Contains(first, c.field) {
				fail("message does not name the field %q: %q", c.field, first)
			}
			if c.loc != "" && !strings.Contains(first, c.loc) {
				fail("message does not give the location %q: %q", c.loc, first)
			}
			for _, s := range c.also {
				if !strings.Contains(msg, s) {
					fail("message does not contain %q: %q", s, msg)
				}
			}
			for _, s := range append(append([]string(nil), biNeverEcho...), c.secrets...) {
				if strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s) {
					fail("secret %q echoed in the output:\n%s%s", s, r.stdout, r.stderr)
				}
			}
			if d := biDiff(before, biSnapshot(t, dir)); len(d) > 0 {
				fail("something was written:\n  %s", strings.Join(d, "\n  "))
			}
			if h := biHeads(t, dir); fmt.Sprint(h) != fmt.Sprint(headsBefore) {
				fail("HEAD moved: %v -> %v", headsBefore, h)
			}

			if len(problems) == 0 {
				if c.bug != "" {
					t.Logf("passes now; the BUG note can go: %s", c.bug)
				}
				return
			}
			report := fmt.Sprintf("fleetgen %s\n  %s", strings.Join(args, " "), strings.Join(problems, "\n  "))
			if c.bug != "" {
				t.Skipf("BUG: %s\n%s", c.bug, report)
			}
			t.Error(report)
		})
	}
}

func badCases(t *testing.T) []badCase {
	base := biSpec
	e := func(old, new string) string { return biEdit(t, base, old, new) }
	L := func(s, sub string) string { return biAt("fleet.yaml", biLineOf(s, sub)) }

	var cases []badCase
	add := func(c badCase) { cases = append(cases, c) }
	// spec adds a generate case for a fleet.yaml whose problem is at the
	// line containing marker.
	spec := func(name, src, marker, field string, also ...string) {
		add(badCase{name: name, setup: biSpecCase(src, nil), field: field, loc: L(src, marker), also: also})
	}

	// ---- fleet.yaml: syntax, types, unknown fields ----------------------
	s := e("mainChallenge: bad input", "mainChallenge: bad: input")
	spec("yaml/invalid", s, "mainChallenge: bad: input", "", "invalid YAML")

	s = e("    - name: south\n      clusterCount: 2", "    - name: south\n      clusterCount: many")
	spec("type/string-for-clusterCount", s, "clusterCount: many", "spec.regions[1].clusterCount", "whole number")

	s = e("  name: bad-fleet", "  name: [bad, fleet]")
	spec("type/list-for-metadata.name", s, "name: [bad, fleet]", "metadata.name", "single value")

	s = e("      clusterCount: 2", "      clusterCont: 2")
	spec("unknown-field/did-you-mean", s, "clusterCont", "spec.regions[1].clusterCont", "unknown field", `did you mean "clusterCount"`)

	s = e("metadata:", "metdata:")
	spec("unknown-field/misspelt-top-level", s, "metdata:", "metdata", "unknown field", `did you mean "metadata"`)

	s = e("  name: bad-fleet", "  name: bad-fleet\n  name: other")
	spec("yaml/duplicate-key", s, "name: other", "metadata.name", "twice")

	s = base + "---\n" + base
	add(badCase{name: "yaml/two-documents", setup: biSpecCase(s, nil), loc: L(s, "---"), also: []string{"more than one YAML document"}})

	s = e("  context:\n    environment: test lab", "  context:\n    environment: &env test lab")
	s = biEdit(t, s, "    hardware: small boxes", "    hardware: *env")
	spec("yaml/alias", s, "hardware: *env", "spec.context.hardware", "aliases")

	// ---- empty required values --------------------------------------
	s = e("    environment: test lab", `    environment: ""`)
	spec("required/context.environment", s, "environment:", "spec.context.environment", "required")

	s = e("  name: bad-fleet", `  name: ""`)
	spec("required/metadata.name", s, `name: ""`, "metadata.name", "required")

	s = e("    url: https://git.example.com/o/fleet.git", `    url: ""`)
	spec("required/git.url", s, `url: ""`, "spec.git.url", "required")

	s = e("    - name: north\n", "    - name: \"\"\n")
	spec("required/region.name", s, `name: ""`, "spec.regions[0].name", "required")

	// ---- regions and clusters -----------------------------------------
	s = e("    - name: south", "    - name: north")
	add(badCase{name: "region/duplicate-name", setup: biSpecCase(s, nil), field: "spec.regions[1].name", loc: biAt("fleet.yaml", biLineOf(s, "clusterCount: 2")-1), also: []string{`"north" is defined twice`}})

	s = e("    - name: south\n      clusterCount: 2", "    - name: south\n      clusters: [s-0001, n-0002]")
	spec("cluster/duplicate-across-regions", s, "clusters: [s-0001, n-0002]", "spec.regions[1].clusters[1]", `"n-0002"`, `"north"`)

	s = e("    - name: south", "    - name: ../x")
	add(badCase{name: "name/path-traversal-region", setup: biSpecCase(s, nil), field: "spec.regions[1].name", loc: L(s, "name: ../x"), also: []string{"DNS-1123"}})

	s = e("clusters: [n-0001, n-0002]", "clusters: [n-0001, a/b]")
	spec("name/slash-in-cluster", s, "a/b", "spec.regions[0].clusters[1]", `"a/b"`, "DNS-1123")

	s = e("    - name: web", "    - name: /etc")
	spec("name/absolute-app", s, "name: /etc", "spec.apps[0].name", `"/etc"`, "DNS-1123")

	s = e("      clusterCount: 2", "      clusterCount: 2\n      clusterPrefix: ../up")
	add(badCase{name: "name/path-traversal-clusterPrefix", setup: biSpecCase(s, nil), field: "spec.regions[1].clusterPrefix", loc: L(s, "clusterPrefix: ../up"), also: []string{"DNS-1123"}})

	s = e("    - name: north", "    - name: North")
	spec("name/upper-case-region", s, "name: North", "spec.regions[0].name", `"North"`)

	s = e("clusters: [n-0001, n-0002]", "clusters: [n_0001, n-0002]")
	spec("name/underscore-cluster", s, "n_0001", "spec.regions[0].clusters[0]", `"n_0001"`)

	long := strings.Repeat("a", 64)
	s = e("clusters: [n-0001, n-0002]", "clusters: [n-0001, "+long+"]")
	spec("name/64-characters", s, long, "spec.regions[0].clusters[1]", "at most 63")

	s = e("      clusterCount: 2", "      clusterCount: 0")
	add(badCase{name: "region/zero-clusters", setup: biSpecCase(s, nil), field: "spec.regions[1]", loc: L(s, "- name: south"), also: []string{"no clusters"}})

	s = e("      clusterCount: 2", "      clusterCount: 2\n      clusters: [s-0001]")
	spec("region/clusters-and-clusterCount", s, "clusterCount: 2", "spec.regions[1].clusterCount", "not both")

	s = e("      clusterCount: 2", "      clusterCount: -3")
	spec("region/negative-clusterCount", s, "clusterCount: -3", "spec.regions[1].clusterCount")

	// 501 regions fit in the file but not in the limit.
	var many strings.Builder
	many.WriteString(biEdit(t, base, "  regions:\n    - name: north\n      clusters: [n-0001, n-0002]\n    - name: south\n      clusterCount: 2\n", "  regions:\n"))
	for i := 0; i < 501; i++ {
		fmt.Fprintf(&many, "    - {name: r%d, clusterCount: 1}\n", i)
	}
	spec("region/501-regions", many.String(), "  regions:", "spec.regions", "limit")

	// 20 regions of 100,000 clusters each: a 1 KB file over the cluster
	// limit, which must be refused at once, not after expanding 2,000,000
	// names (500 such regions, 20 KB, take minutes and gigabytes).
	var wide strings.Builder
	wide.WriteString(biEdit(t, base, "  regions:\n    - name: north\n      clusters: [n-0001, n-0002]\n    - name: south\n      clusterCount: 2\n", "  regions:\n"))
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&wide, "    - {name: r%d, clusterCount: 100000}\n", i)
	}
	add(badCase{name: "region/2000000-clusters", setup: biSpecCase(wide.String(), nil), field: "spec.regions", loc: L(wide.String(), "  regions:"), also: []string{"limit"},
		maxTime: time.Second})

	// 100,001 regions: a few megabytes, refused on size before parsing.
	add(badCase{name: "region/100001-regions", setup: func(t *testing.T, dir string) []string {
		var b strings.Builder
		b.WriteString(strings.TrimSuffix(base[:strings.Index(base, "  regions:")], "\n") + "\n  regions:\n")
		for i := 0; i < 100_001; i++ {
			fmt.Fprintf(&b, "    - {name: r%d, clusterCount: 1}\n", i)
		}
		return biSpecCase(b.String(), nil)(t, dir)
	}, field: "", also: []string{"fleet.yaml", "limit"}})

	// ---- size and encoding ---------------------------------------------
	add(badCase{name: "file/50MB-field", setup: func(t *testing.T, dir string) []string {
		big := strings.Repeat("x", 50<<20)
		return biSpecCase(biEdit(t, base, "environment: test lab", "environment: "+big), nil)(t, dir)
	}, also: []string{"fleet.yaml", "larger than", "limit"}})

	s = e("    hardware: small boxes", "    hardware: small \xff\xfe boxes")
	spec("file/non-utf8", s, "small \xff", "", "UTF-8")

	// ---- git URL ---------------------------------------------------------
	const tokenURL = "https://user:ghp_xxxTOKEN1234@github.com/o/r.git"
	s = e("https://git.example.com/o/fleet.git", tokenURL)
	add(badCase{name: "git/password-in-url", setup: biSpecCase(s, nil), field: "spec.git.url", loc: L(s, "url:"), also: []string{"credentials"}, secrets: []string{"xxxTOKEN1234"}})

	s = e("https://git.example.com/o/fleet.git", "https://ghp_xxxTOKEN1234@github.com/o/r.git")
	add(badCase{name: "git/token-as-user", setup: biSpecCase(s, nil), field: "spec.git.url", loc: L(s, "url:"), secrets: []string{"xxxTOKEN1234"}})

	s = e("https://git.example.com/o/fleet.git", "https://github.com/o/r.git?access_token=ghp_xxxTOKEN1234")
	add(badCase{name: "git/token-in-query", setup: biSpecCase(s, nil), field: "spec.git.url", loc: L(s, "url:"), secrets: []string{"xxxTOKEN1234"}})

	s = e("https://git.example.com/o/fleet.git", `"https://user:hunter2@github.com/o/r.git "`)
	add(badCase{name: "git/password-in-url-with-space", setup: biSpecCase(s, nil), field: "spec.git.url", loc: L(s, "url:"), secrets: []string{"hunter2"}})

	s = e("https://git.example.com/o/fleet.git", "https://user:hunter2@github.com:x/o/r.git")
	add(badCase{name: "git/password-in-unparsable-url", setup: biSpecCase(s, nil), field: "spec.git.url", loc: L(s, "url:"), secrets: []string{"hunter2"}})

	s = e("      clusterCount: 2", "      clusterCount: 2\n      gitURL: https://mirror:ghp_xxxTOKEN1234@git.site.local/o/r.git")
	add(badCase{name: "git/password-in-region-gitURL", setup: biSpecCase(s, nil), field: "spec.regions[1].gitURL", loc: L(s, "gitURL:"), secrets: []string{"xxxTOKEN1234"}})

	s = e("https://git.example.com/o/fleet.git", "github.com/o/r.git")
	spec("git/no-scheme", s, "url: github.com", "spec.git.url", "no scheme")

	s = e("      clusterCount: 2", "      clusterCount: 2\n      gitURL: ftp://git.site.local/o/r.git")
	spec("git/unsupported-scheme", s, "gitURL:", "spec.regions[1].gitURL", "ftp")

	s = e("    url: https://git.example.com/o/fleet.git", "    url: https://git.example.com/o/fleet.git\n    branch: \"bad..branch\"")
	spec("git/bad-branch", s, "branch:", "spec.git.branch")

	// ---- secrets ---------------------------------------------------------
	s = e("  connectivity: intermittent", "  connectivity: intermittent\n  secrets:\n    ageRecipients: [age1notakey]")
	spec("age/invalid-recipient", s, "ageRecipients:", "spec.secrets.ageRecipients[0]", "age")

	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	s = e("  connectivity: intermittent", "  connectivity: intermittent\n  secrets:\n    ageRecipients:\n      - "+id.String())
	add(badCase{name: "age/secret-key-as-recipient", setup: biSpecCase(s, nil), field: "spec.secrets.ageRecipients[0]", loc: L(s, "AGE-SECRET-KEY"),
		secrets: []string{id.String()[len("AGE-SECRET-KEY-1"):][:20]}})

	// ---- hardware, connectivity, registry ---------------------------------
	s = e("    memory: 4Gi", "    memory: 256Mi")
	spec("hardware/memory-below-minimum", s, "memory: 256Mi", "spec.hardware.memory", "512Mi")

	s = e("    storage: ssd", "    storage: floppy")
	spec("hardware/unknown-storage", s, "storage: floppy", "spec.hardware.storage", "floppy")

	s = e("      clusters: [n-0001, n-0002]", "      clusters: [n-0001, n-0002]\n      hardware: {arch: riscv64}")
	spec("hardware/unknown-arch", s, "arch: riscv64", "spec.regions[0].hardware.arch", "riscv64")

	s = e("    memory: 4Gi", "    memory: lots")
	spec("hardware/memory-not-a-quantity", s, "memory: lots", "spec.hardware.memory", "lots")

	s = e("  connectivity: intermittent", "  connectivity: dialup")
	add(badCase{name: "connectivity/unknown-fleet-wide", setup: biSpecCase(s, nil), field: "spec.connectivity", loc: L(s, "connectivity: dialup"), also: []string{"dialup"}})

	s = e("      clusterCount: 2", "      clusterCount: 2\n      connectivity: dialup")
	spec("connectivity/unknown-region", s, "connectivity: dialup", "spec.regions[1].connectivity", "dialup")

	s = e("      clusters: [n-0001, n-0002]", "      clusters: [n-0001, n-0002]\n      registryMirrors: [\"https://x/y\"]")
	spec("registry/mirror-not-a-host", s, "registryMirrors:", "spec.regions[0].registryMirrors[0]", "https://x/y")

	s = e("      clusterCount: 2", "      clusterCount: 2\n      connectivity: air-gapped\n      gitURL: https://git.site.local/o/fleet.git")
	add(badCase{name: "registry/air-gapped-without-mirror", setup: biSpecCase(s, nil), field: "spec.regions[1].registryMirrors", loc: L(s, "- name: south"), also: []string{"air-gapped"}})

	s = e("      clusterCount: 2", "      clusterCount: 2\n      connectivity: air-gapped\n      registryMirrors: [10.0.0.5:5000]")
	add(badCase{name: "git/air-gapped-without-gitURL", setup: biSpecCase(s, nil), field: "spec.regions[1].gitURL", loc: L(s, "- name: south"), also: []string{"air-gapped"}})

	s = e("      clusters: [n-0001, n-0002]", "      clusters: [n-0001, n-0002]\n      labels: {\"bad key!\": x}")
	spec("labels/invalid-key", s, "labels:", "spec.regions[0].labels.bad key!")

	s = e("      image: docker.io/library/nginx:1.27", "      image: \"Not An Image\"")
	spec("app/invalid-image", s, "image:", "spec.apps[0].image")

	s = e("  connectivity: intermittent", "  connectivity: intermittent\n  inventory: ../../etc/clusters.csv")
	spec("inventory/path-outside", s, "inventory:", "spec.inventory", "beside or below")

	s = e("  connectivity: intermittent", "  connectivity: intermittent\n  inventory: missing.csv")
	spec("inventory/file-missing", s, "inventory:", "spec.inventory", "missing.csv")

	// ---- plan-time refusals -----------------------------------------------
	s = e("  connectivity: intermittent", "  connectivity: intermittent\n  k3s:\n    datastore: etcd")
	add(badCase{name: "plan/etcd-with-one-node", setup: biSpecCase(s, nil), field: "spec.k3s.datastore", loc: L(s, "datastore: etcd"), also: []string{"3 nodes"}})

	s = e("    memory: 4Gi", "    memory: 1Gi")
	s = biEdit(t, s, "      port: 8080", "      port: 8080\n      memory: 900Mi")
	add(badCase{name: "plan/nothing-fits", setup: biSpecCase(s, nil), field: "spec.hardware.memory", loc: L(s, "memory: 1Gi"), also: []string{"nothing fits"}})

	// ---- inventory (CSV and YAML) via generate ---------------------------
	inv := func(name, csv string, line int, field string, also ...string) {
		add(badCase{name: name, setup: biSpecCase(biInvSpec, map[string]string{"clusters.csv": csv}), field: field, loc: biAt("clusters.csv", line), also: also})
	}
	inv("inventory/unknown-region", biInvCSV+"t-0003,west,c,C\n", 4, "region", `"west"`)
	add(badCase{name: "inventory/line-after-comment", setup: biSpecCase(biInvSpec, map[string]string{"clusters.csv": biInvCSV + "# new depots\n\nt-0003,west,c,C\n"}),
		field: "region", loc: biAt("clusters.csv", 6), also: []string{`"west"`}})
	inv("inventory/duplicate-name", biInvCSV+"t-0001,south,c,C\n", 4, "name", `"t-0001"`, "already defined")
	inv("inventory/missing-name", biInvCSV+",north,c,C\n", 4, "name", "required")
	inv("inventory/bad-characters", biInvCSV+"Truck_03,north,c,C\n", 4, "name", `"Truck_03"`)
	inv("inventory/path-traversal-name", biInvCSV+"../x,north,c,C\n", 4, "name", `"../x"`)
	inv("inventory/wrong-number-of-fields", biInvCSV+"t-0003,north\n", 4, "", "wrong number of fields")
	inv("inventory/header-wrong", strings.Replace(biInvCSV, "name,region", "cluster,region", 1), 1, "", "name,region")
	inv("inventory/bad-label-value", biInvCSV+"t-0003,north,not ok!,C\n", 4, "labels.site")
	add(badCase{name: "inventory/reserved-value-column", setup: biSpecCase(biInvSpec, map[string]string{"clusters.csv": strings.Replace(biInvCSV, "DEPOT", "CLUSTER_NAME", 1)}),
		field: "CLUSTER_NAME", loc: biAt("clusters.csv", 1), also: []string{"set by fleetgen"}})
	add(badCase{name: "inventory/non-utf8", setup: biSpecCase(biInvSpec, map[string]string{"clusters.csv": biInvCSV + "t-0003,north,c,Lyon \xff\xfe\n"}),
		loc: biAt("clusters.csv", 4), also: []string{"UTF-8"}})
	add(badCase{name: "inventory/yaml-not-a-list",
		setup: biSpecCase(strings.Replace(biInvSpec, "clusters.csv", "clusters.yaml", 1), map[string]string{"clusters.yaml": "name: t-0001\nregion: north\n"}),
		loc:   biAt("clusters.yaml", 1), also: []string{"expected a list"}})
	add(badCase{name: "inventory/yaml-unknown-field",
		setup: biSpecCase(strings.Replace(biInvSpec, "clusters.csv", "clusters.yaml", 1), map[string]string{
			"clusters.yaml": "- name: t-0001\n  region: north\n- nam: t-0002\n  region: south\n"}),
		field: "[1].nam", loc: biAt("clusters.yaml", 3), also: []string{`did you mean "name"`}})

	// ---- existing repositories -------------------------------------------
	add(badCase{name: "regen/bad-fleet.yaml-committed", setup: func(t *testing.T, dir string) []string {
		repo := biGenerated(t, dir, "repo", base, nil)
		bad := biEdit(t, base, "    storage: ssd", "    storage: floppy")
		biWriteFiles(t, repo, map[string]string{"fleet.yaml": bad})
		biGit(t, repo, "commit", "-q", "-am", "break fleet.yaml")
		return []string{"regen", "--dir", repo}
	}, field: "spec.hardware.storage", loc: L(base, "storage: ssd")})

	add(badCase{name: "regen/uncommitted-changes", setup: func(t *testing.T, dir string) []string {
		repo := biGenerated(t, dir, "repo", base, nil)
		p := filepath.Join(repo, "apps", "base", "web", "deployment.yaml")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, append(b, "# my edit\n"...), 0o644); err != nil {
			t.Fatal(err)
		}
		// A spec change too, so that regen has something it would write.
		biWriteFiles(t, repo, map[string]string{"fleet.yaml": biEdit(t, base, "clusterCount: 2", "clusterCount: 3")})
		return []string{"regen", "--dir", repo}
	}, field: "fleet.yaml", also: []string{"uncommitted"}}) // the file regen would write; the deployment edit is not its business

	add(badCase{name: "regen/not-a-fleet-repo", setup: func(t *testing.T, dir string) []string {
		d := filepath.Join(dir, "notes")
		biWriteFiles(t, d, map[string]string{"notes.txt": "hello\n"})
		return []string{"regen", "--dir", d}
	}, also: []string{"not a fleetgen repository"}})

	add(badCase{name: "regen/unknown-region", setup: func(t *testing.T, dir string) []string {
		repo := biGenerated(t, dir, "repo", base, nil)
		return []string{"regen", "--dir", repo, "--region", "nope"}
	}, field: "--region", also: []string{`"nope"`, "north, south"}})

	add(badCase{name: "regen/region-path-traversal", setup: func(t *testing.T, dir string) []string {
		repo := biGenerated(t, dir, "repo", base, nil)
		return []string{"regen", "--dir", repo, "--region", "../north"}
	}, field: "--region", also: []string{`"../north"`}})

	add(badCase{name: "generate/spec-change-over-uncommitted", setup: func(t *testing.T, dir string) []string {
		repo := biGenerated(t, dir, "repo", base, nil)
		biWriteFiles(t, repo, map[string]string{"README.md": "mine\n"})
		args := biSpecCase(biEdit(t, base, "clusterCount: 2", "clusterCount: 3"), nil)(t, dir)
		args[len(args)-1] = repo
		return args
	}, field: "README.md", also: []string{"uncommitted"}})

	// inventory add/remove on a generated repository with an inventory.
	invRepo := func(args ...string) func(t *testing.T, dir string) []string {
		return func(t *testing.T, dir string) []string {
			repo := biGenerated(t, dir, "repo", biInvSpec, map[string]string{"clusters.csv": biInvCSV})
			return append([]string{"inventory"}, append(args, "--dir", repo)...)
		}
	}
	add(badCase{name: "inventory-add/unknown-region", setup: invRepo("add", "--region", "nope", "t-0009"), field: "--region", also: []string{`"nope"`}})
	add(badCase{name: "inventory-add/bad-name", setup: invRepo("add", "--region", "north", "Bad_Name"), also: []string{`"Bad_Name"`, "DNS-1123"}})
	add(badCase{name: "inventory-add/duplicate-name", setup: invRepo("add", "--region", "south", "t-0001"), also: []string{`"t-0001"`, "already defined"}})
	add(badCase{name: "inventory-add/label-without-value", setup: invRepo("add", "--region", "north", "--label", "site", "t-0009"), field: "--label"})
	add(badCase{name: "inventory-add/region-flag-missing", setup: invRepo("add", "t-0009"), field: "region", also: []string{"required"}})
	add(badCase{name: "inventory-remove/unknown-cluster", setup: invRepo("remove", "t-0404"), also: []string{`"t-0404"`, "clusters.csv"}})
	add(badCase{name: "inventory-add/no-inventory", setup: func(t *testing.T, dir string) []string {
		repo := biGenerated(t, dir, "repo", base, nil)
		return []string{"inventory", "add", "--dir", repo, "--region", "north", "n-0009"}
	}, field: "inventory", also: []string{"has no inventory"}})

	// ---- output folder ------------------------------------------------------
	add(badCase{name: "out/is-a-file", setup: func(t *testing.T, dir string) []string {
		args := biSpecCase(base, nil)(t, dir)
		biWriteFiles(t, dir, map[string]string{"out": "not a folder\n"})
		return args
	}, field: "--out", also: []string{"is a file"}})

	add(badCase{name: "out/non-empty-not-git", setup: func(t *testing.T, dir string) []string {
		args := biSpecCase(base, nil)(t, dir)
		biWriteFiles(t, dir, map[string]string{"out/holiday.jpg": "not a fleet\n"})
		return args
	}, field: "--out", also: []string{"not empty", "not a git repository"}})

	add(badCase{name: "out/missing-flag", setup: func(t *testing.T, dir string) []string {
		return []string{"generate", "--spec", filepath.Join(dir, "fleet.yaml")}
	}, field: `"out"`, also: []string{"required"}})

	add(badCase{name: "spec/missing-file", setup: func(t *testing.T, dir string) []string {
		return []string{"generate", "--spec", filepath.Join(dir, "nope.yaml"), "--out", filepath.Join(dir, "out")}
	}, field: "nope.yaml", also: []string{"no such file"}})

	add(badCase{name: "spec/is-a-directory", setup: func(t *testing.T, dir string) []string {
		biWriteFiles(t, dir, map[string]string{"specdir/fleet.yaml": base})
		return []string{"generate", "--spec", filepath.Join(dir, "specdir"), "--out", filepath.Join(dir, "out")}
	}, field: "specdir", also: []string{"directory"}})

	add(badCase{name: "flags/sign-key-not-a-key", setup: func(t *testing.T, dir string) []string {
		args := biSpecCase(base, nil)(t, dir)
		biWriteFiles(t, dir, map[string]string{"key.asc": "-----BEGIN PGP PRIVATE KEY BLOCK-----\nhunter2\n"})
		return append(args, "--sign-key", filepath.Join(dir, "key.asc"))
	}, field: "--sign-key"})

	add(badCase{name: "flags/unknown-flag", setup: func(t *testing.T, dir string) []string {
		return []string{"generate", "--outt", filepath.Join(dir, "out")}
	}, field: "--outt", also: []string{"unknown flag"}})

	// ---- prompt, plan, init, validate -------------------------------------
	add(badCase{name: "prompt/spec-and-dir", setup: func(t *testing.T, dir string) []string {
		biWriteFiles(t, dir, map[string]string{"a/fleet.yaml": base})
		return []string{"prompt", "--spec", filepath.Join(dir, "a", "fleet.yaml"), "--dir", filepath.Join(dir, "b")}
	}, field: "dir", also: []string{"spec"}})
	add(badCase{name: "prompt/basic-with-scaffold", setup: func(t *testing.T, dir string) []string {
		return []string{"prompt", "--tier", "basic", "--with-scaffold"}
	}, field: "--with-scaffold", also: []string{"--tier pro"}})
	add(badCase{name: "prompt/unknown-tier", setup: func(t *testing.T, dir string) []string {
		return []string{"prompt", "--tier", "x"}
	}, field: "--tier", also: []string{`"x"`}})
	add(badCase{name: "prompt/unknown-lang", setup: func(t *testing.T, dir string) []string {
		return []string{"prompt", "--lang", "fr"}
	}, field: "--lang", also: []string{`"fr"`}})
	add(badCase{name: "prompt/bad-spec", setup: func(t *testing.T, dir string) []string {
		s := biEdit(t, base, "    storage: ssd", "    storage: floppy")
		biWriteFiles(t, dir, map[string]string{"fleet.yaml": s})
		return []string{"prompt", "--spec", filepath.Join(dir, "fleet.yaml")}
	}, field: "spec.hardware.storage", loc: L(base, "storage: ssd")})
	add(badCase{name: "plan/unknown-output", setup: func(t *testing.T, dir string) []string {
		return []string{"plan", "--output", "yaml"}
	}, field: "--output", also: []string{`"yaml"`}})
	add(badCase{name: "init/unknown-example", setup: func(t *testing.T, dir string) []string {
		return []string{"init", filepath.Join(dir, "new"), "--example", "nope"}
	}, field: "--example", also: []string{`"nope"`, "truck-fleet"}})
	add(badCase{name: "init/over-existing-fleet.yaml", setup: func(t *testing.T, dir string) []string {
		biWriteFiles(t, dir, map[string]string{"mine/fleet.yaml": "# my fleet\n"})
		return []string{"init", filepath.Join(dir, "mine")}
	}, field: "fleet.yaml", also: []string{"already exists"}})
	add(badCase{name: "init/over-existing-inventory", setup: func(t *testing.T, dir string) []string {
		biWriteFiles(t, dir, map[string]string{"mine/trucks.csv": "name,region\n"})
		return []string{"init", filepath.Join(dir, "mine"), "--example", "truck-fleet"}
	}, field: "trucks.csv", also: []string{"already exists"}})
	add(badCase{name: "init/dir-is-a-file", setup: func(t *testing.T, dir string) []string {
		biWriteFiles(t, dir, map[string]string{"afile": "x\n"})
		return []string{"init", filepath.Join(dir, "afile")}
	}, field: "afile"})
	add(badCase{name: "validate/file-not-folder", setup: func(t *testing.T, dir string) []string {
		biWriteFiles(t, dir, map[string]string{"fleet.yaml": base})
		return []string{"validate", filepath.Join(dir, "fleet.yaml")}
	}, field: "fleet.yaml", also: []string{"not a folder"}})
	add(badCase{name: "validate/missing-folder", setup: func(t *testing.T, dir string) []string {
		return []string{"validate", filepath.Join(dir, "nope")}
	}, field: "nope"})
	cases = append(cases, upgradeBadCases(t)...)
	cases = append(cases, appSourceBadCases(t)...)
	cases = append(cases, k0sBadCases(t)...)
	cases = append(cases, wasmBadCases(t)...)
	cases = append(cases, argoBadCases(t)...)
	return cases
}

// TestBadInputCatalogueSize keeps the catalogue from shrinking unnoticed.
func TestBadInputCatalogueSize(t *testing.T) {
	if n := len(badCases(t)); n < 35 {
		t.Fatalf("%d bad-input cases, want at least 35", n)
	}
}
