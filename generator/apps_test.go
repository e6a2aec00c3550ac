package generator

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/yaml"

	"github.com/fleetgen/fleetgen/examples"
	"github.com/fleetgen/fleetgen/generator/spec"
)

// buildRegionApps renders apps/regions/<region> the way kustomize-controller
// builds it.
func buildRegionApps(t *testing.T, res *Result, region string) resmap.ResMap {
	t.Helper()
	tree := map[string]string{}
	for _, f := range res.Tree.Files {
		if strings.HasPrefix(f.Path, "apps/") {
			tree[f.Path] = string(f.Content)
		}
	}
	tree["kustomization.yaml"] = "resources: [apps/regions/" + region + "]\n"
	return krustyBuild(t, tree)
}

// mountedFile returns the content of the file the container of app sees
// at p, from the ConfigMap it mounts there, and that ConfigMap.
func mountedFile(t *testing.T, m resmap.ResMap, app, p string) (string, map[string]any) {
	t.Helper()
	dep := findObject(t, m, "Deployment", app)
	podSpec := dig(dep, "spec", "template", "spec")
	c := dig(podSpec, "containers").([]any)[0]
	mounts, _ := dig(c, "volumeMounts").([]any)
	for _, mt := range mounts {
		if dig(mt, "mountPath") != p {
			continue
		}
		vols, _ := dig(podSpec, "volumes").([]any)
		for _, v := range vols {
			if dig(v, "name") != dig(mt, "name") {
				continue
			}
			cmName, _ := dig(v, "configMap", "name").(string)
			if cmName == "" {
				t.Fatalf("%s: %s is mounted from %v, not a ConfigMap", app, p, v)
			}
			cm := findObject(t, m, "ConfigMap", cmName)
			key, _ := dig(mt, "subPath").(string)
			s, _ := dig(cm, "data", key).(string)
			return s, cm
		}
	}
	return "", nil
}

// TestExampleAppsListenWhereTheyAreProbed: every example app must pass its
// own TCP probes, or `wait: true` fails the apps Kustomization. mosquitto
// 2.x without a configured listener binds localhost only; fluent-bit's
// HTTP server, the probed port, is off by default (both images read the
// config file mounted here).
func TestExampleAppsListenWhereTheyAreProbed(t *testing.T) {
	seen := map[string]bool{}
	for _, name := range examples.Names() {
		res := planExample(t, name)
		m := buildRegionApps(t, res, res.Decisions[0].Region)
		for _, a := range res.Spec.Spec.Apps {
			switch {
			case strings.Contains(a.Image, "eclipse-mosquitto:2."):
				seen["mosquitto"] = true
				conf, cm := mountedFile(t, m, a.Name, "/mosquitto/config/mosquitto.conf")
				if !regexp.MustCompile(`(?m)^listener\s+` + strconv.Itoa(a.Port) + `\s*$`).MatchString(conf) {
					t.Errorf("%s/%s: mosquitto.conf has no `listener %d` on every interface; mosquitto 2.x then listens on localhost only and the probe on port %d fails:\n%s", name, a.Name, a.Port, a.Port, conf)
				}
				if !regexp.MustCompile(`(?m)^(allow_anonymous|password_file|plugin)\s`).MatchString(conf) {
					t.Errorf("%s/%s: mosquitto.conf configures no authentication; with a listener, mosquitto 2.x refuses every client", name, a.Name)
				}
				checkLiteral(t, name, a.Name, cm)
			case strings.Contains(a.Image, "fluent-bit:"):
				seen["fluent-bit"] = true
				conf, cm := mountedFile(t, m, a.Name, "/fluent-bit/etc/fluent-bit.conf")
				on := regexp.MustCompile(`(?mi)^\s*HTTP_Server\s+On\s*$`).MatchString(conf)
				port := regexp.MustCompile(`(?mi)^\s*HTTP_Port\s+` + strconv.Itoa(a.Port) + `\s*$`).MatchString(conf)
				if !on || !port {
					t.Errorf("%s/%s: fluent-bit's HTTP server is not on port %d (on %v, port %v); the TCP probes fail:\n%s", name, a.Name, a.Port, on, port, conf)
				}
				checkLiteral(t, name, a.Name, cm)
			}
		}
	}
	if !seen["mosquitto"] || !seen["fluent-bit"] {
		t.Fatalf("the examples no longer run mosquitto and fluent-bit (%v): update this test", seen)
	}
}

// checkLiteral: a ConfigMap carrying ${...} of its own must be kept from
// Flux's postBuild substitution (which would blank unset variables).
func checkLiteral(t *testing.T, example, app string, cm map[string]any) {
	t.Helper()
	if cm == nil {
		return
	}
	if dig(cm, "metadata", "annotations", SubstituteAnnotation) != "disabled" {
		t.Errorf("%s/%s: ConfigMap %v without %s: disabled; Flux would substitute its ${...}", example, app, dig(cm, "metadata", "name"), SubstituteAnnotation)
	}
}

// TestAppFilesAreValidated: file names become ConfigMap keys and mount
// paths; bad ones are refused at load time with the field.
func TestAppFilesAreValidated(t *testing.T) {
	base := `apiVersion: fleetgen.dev/v1alpha1
kind: Fleet
metadata: {name: f}
spec:
  context: {environment: e, hardware: h, mainChallenge: c}
  git: {url: "https://git.example.com/f.git"}
  hardware: {arch: arm64, memory: 4Gi, cpus: 4, storage: ssd, nodes: 1}
  apps:
    - name: a
      image: docker.io/library/a:1
      files: FILES
  regions: [{name: r, clusterCount: 1}]
`
	for files, want := range map[string]string{
		`[{path: relative.conf, content: x}]`:                            "must be the absolute path of a file",
		`[{path: /etc/a/, content: x}]`:                                  "must be the absolute path of a file",
		`[{path: "/etc/a b.conf", content: x}]`:                          "must be the absolute path of a file",
		`[{path: /etc/a.conf, content: ""}]`:                             "content: is required",
		`[{path: /a/x.conf, content: x}, {path: /b/x.conf, content: y}]`: `has the name "x.conf"`,
		`[{path: "/etc/a:b", content: x}]`:                               "letters, digits",
	} {
		_, err := spec.Parse([]byte(strings.Replace(base, "FILES", files, 1)), "fleet.yaml")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("files %s: error %v, want %q", files, err, want)
		}
	}
	l, err := spec.Parse([]byte(strings.Replace(base, "FILES", `[{path: /etc/a/app.conf, content: "x ${Y}\n"}]`, 1)), "fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Plan(l)
	if err != nil {
		t.Fatal(err)
	}
	m := buildRegionApps(t, res, "r")
	conf, _ := mountedFile(t, m, "a", "/etc/a/app.conf")
	if conf != "x ${Y}\n" {
		t.Errorf("mounted content %q", conf)
	}
	rep, err := res.Check()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(rep.Errors, rep.Warnings...) {
		t.Errorf("validate: %s (a file's own ${Y} is not Flux's)", f.String())
	}
}

// TestExposedAppsAreReachableFromTheSite: an app with expose is reachable
// from the listed networks as built for a cluster: a NodePort Service that
// keeps the client's address (externalTrafficPolicy Local, so that the
// NetworkPolicy's ipBlock sees it), and a NetworkPolicy in the app's
// namespace that selects its pods and admits those networks to its port.
// An app without expose stays closed to them.
func TestExposedAppsAreReachableFromTheSite(t *testing.T) {
	res := planExample(t, "offshore-platforms")
	region := res.Decisions[0].Region
	apps := buildRegionApps(t, res, region)
	tree := map[string]string{"kustomization.yaml": "resources: [infrastructure/regions/" + region + "]\n"}
	for _, f := range res.Tree.Files {
		if strings.HasPrefix(f.Path, "infrastructure/") {
			tree[f.Path] = string(f.Content)
		}
	}
	infra := krustyBuild(t, tree)
	exposed := 0
	for _, a := range res.Spec.Spec.Apps {
		svc := findObject(t, apps, "Service", a.Name)
		admitted := map[string]bool{}
		for _, r := range infra.Resources() {
			if r.GetKind() != "NetworkPolicy" || r.GetNamespace() != a.Name {
				continue
			}
			np := findObjectNS(t, infra, "NetworkPolicy", r.GetName(), a.Name)
			if dig(np, "spec", "podSelector", "matchLabels", "app.kubernetes.io/name") != a.Name {
				continue
			}
			for _, rule := range dig(np, "spec", "ingress").([]any) {
				portOK := false
				for _, pt := range dig(rule, "ports").([]any) {
					portOK = portOK || dig(pt, "port") == float64(a.Port) || dig(pt, "port") == int64(a.Port)
				}
				for _, from := range dig(rule, "from").([]any) {
					if c, ok := dig(from, "ipBlock", "cidr").(string); ok && portOK {
						admitted[c] = true
					}
				}
			}
		}
		if a.Expose == nil {
			if dig(svc, "spec", "type") == "NodePort" || len(admitted) > 0 {
				t.Errorf("%s: not exposed, yet NodePort %v or site networks admitted %v", a.Name, dig(svc, "spec", "type"), admitted)
			}
			continue
		}
		exposed++
		if dig(svc, "spec", "type") != "NodePort" || dig(svc, "spec", "externalTrafficPolicy") != "Local" {
			t.Errorf("%s: Service type %v, externalTrafficPolicy %v; want NodePort, Local", a.Name, dig(svc, "spec", "type"), dig(svc, "spec", "externalTrafficPolicy"))
		}
		if np := dig(dig(svc, "spec", "ports").([]any)[0], "nodePort"); np != float64(a.Expose.NodePort) && np != int64(a.Expose.NodePort) {
			t.Errorf("%s: nodePort %v, want %d", a.Name, np, a.Expose.NodePort)
		}
		for _, c := range a.Expose.From {
			if !admitted[c] {
				t.Errorf("%s: no NetworkPolicy admits %s to port %d (admitted: %v)", a.Name, c, a.Port, admitted)
			}
		}
	}
	if exposed == 0 {
		t.Fatal("offshore-platforms exposes no app; the test needs one")
	}
	for _, bad := range []string{`{nodePort: 80, from: [10.0.0.0/8]}`, `{nodePort: 31000, from: []}`, `{nodePort: 31000, from: [10.0.0.0]}`} {
		src, _ := examples.FS.ReadFile("offshore-platforms/fleet.yaml")
		text := strings.Replace(string(src), "expose: {nodePort: 31883, from: [10.40.0.0/16]}", "expose: "+bad, 1)
		if _, err := spec.Parse([]byte(text), "fleet.yaml"); err == nil || !strings.Contains(err.Error(), "expose") {
			t.Errorf("expose %s: error %v, want one about expose", bad, err)
		}
	}
}

func findObjectNS(t *testing.T, m resmap.ResMap, kind, name, ns string) map[string]any {
	t.Helper()
	for _, r := range m.Resources() {
		if r.GetKind() == kind && r.GetName() == name && r.GetNamespace() == ns {
			b, err := r.AsYAML()
			if err != nil {
				t.Fatal(err)
			}
			var out map[string]any
			if err := yaml.Unmarshal(b, &out); err != nil {
				t.Fatal(err)
			}
			return out
		}
	}
	t.Fatalf("no %s %s/%s", kind, ns, name)
	return nil
}
