package spec_test

import (
	"strings"
	"testing"

	"github.com/fleetgen/fleetgen/generator/spec"
)

func TestParseRemoteBase(t *testing.T) {
	sha := strings.Repeat("0123456789", 4)
	for _, c := range []struct {
		url  string
		want spec.RemoteBase
		err  string
	}{
		{"https://github.com/org/repo//deploy/base?ref=v1.2.0", spec.RemoteBase{RepoURL: "https://github.com/org/repo", Path: "./deploy/base", Tag: "v1.2.0"}, ""},
		{"https://github.com/org/repo.git?ref=" + sha, spec.RemoteBase{RepoURL: "https://github.com/org/repo.git", Path: "./", Commit: sha}, ""},
		{"ssh://git@git.example.com/org/mono//api/base?ref=api/v0.21.2", spec.RemoteBase{RepoURL: "ssh://git@git.example.com/org/mono", Path: "./api/base", Tag: "api/v0.21.2"}, ""},
		{"https://github.com/org/repo//base?ref=1.2.0-rc.1", spec.RemoteBase{RepoURL: "https://github.com/org/repo", Path: "./base", Tag: "1.2.0-rc.1"}, ""},
		{"https://github.com/org/repo//base?ref=main", spec.RemoteBase{}, "floating"},
		{"https://github.com/org/repo//base?ref=v1", spec.RemoteBase{}, "floating"},
		{"https://github.com/org/repo//base?ref=HEAD", spec.RemoteBase{}, "floating"},
		{"https://github.com/org/repo//base?ref=" + sha[:12], spec.RemoteBase{}, "floating"},
		{"https://github.com/org/repo//base", spec.RemoteBase{}, "not pinned"},
		{"https://github.com/org/repo//base?ref=v1.0.0&timeout=2m", spec.RemoteBase{}, "only ?ref="},
		{"https://github.com/org/repo//../x?ref=v1.0.0", spec.RemoteBase{}, "plain relative path"},
		{"https://user:tok@github.com/org/repo?ref=v1.0.0", spec.RemoteBase{}, "credentials"},
		{"git@github.com:org/repo?ref=v1.0.0", spec.RemoteBase{}, "no scheme"},
		{"https://github.com?ref=v1.0.0", spec.RemoteBase{}, "no repository"},
	} {
		got, err := spec.ParseRemoteBase(c.url)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.url, err)
		case c.err == "" && got != c.want:
			t.Errorf("%s: got %+v, want %+v", c.url, got, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v, want one saying %q", c.url, err, c.err)
		}
		if err != nil && strings.Contains(err.Error(), "tok") {
			t.Errorf("%s: the error shows the token: %v", c.url, err)
		}
	}
}

func TestCheckChartRepository(t *testing.T) {
	for _, c := range []struct{ repo, err string }{
		{"https://charts.example.com", ""},
		{"https://charts.example.com/stable/", ""},
		{"oci://ghcr.io/org/charts", ""},
		{"oci://10.0.0.5:5000/charts", ""},
		{"oci://ghcr.io/org/charts/podinfo:6.7.1", "tag or digest"},
		{"oci://ghcr.io", "repository path"},
		{"s3://bucket/charts", "not a chart source"},
		{"git+https://github.com/org/charts", "not a chart source"},
		{"charts.example.com", "no scheme"},
		{"https://u:p@charts.example.com", "credentials"},
		{"https://charts.example.com?token=x", "query"},
	} {
		err := spec.CheckChartRepository(c.repo)
		if (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: %v, want %q", c.repo, err, c.err)
		}
	}
}
