package main

import (
	"testing"
)

// upgradeBadCases: maintenance windows and K3s versions (issue 13 parts 3
// and 4). Each window case is checked at the fleet and at a region level.
func upgradeBadCases(t *testing.T) []badCase {
	base := biSpec
	L := func(s, sub string) string { return biAt("fleet.yaml", biLineOf(s, sub)) }
	var cases []badCase
	fleetWindow := func(w string) string {
		return biEdit(t, base, "  connectivity: intermittent\n", "  connectivity: intermittent\n  maintenanceWindow:\n"+w)
	}
	regionWindow := func(w string) string {
		return biEdit(t, base, "      clusterCount: 2\n", "      clusterCount: 2\n      maintenanceWindow:\n"+indent("    ", w))
	}
	good := map[string]string{"days": "    days: [sat, sun]\n", "start": "    start: \"02:00\"\n", "end": "    end: \"04:00\"\n", "timeZone": "    timeZone: Europe/Oslo\n"}
	window := func(field, line string) string {
		w := ""
		for _, k := range []string{"days", "start", "end", "timeZone"} {
			if k == field {
				w += line
			} else {
				w += good[k]
			}
		}
		return w
	}
	for _, c := range []struct {
		name, field, line, marker, also string
	}{
		{"bad-time-zone", "timeZone", "    timeZone: Europe/Olso\n", "Europe/Olso", "IANA time zone"},
		{"local-time-zone", "timeZone", "    timeZone: Local\n", "timeZone: Local", "the machine's own zone"},
		{"empty-days", "days", "    days: []\n", "days: []", "is empty"},
		{"unknown-day", "days", "    days: [sat, sunday]\n", "days: [sat, sunday]", "is not one of"},
		{"bad-start", "start", "    start: \"2am\"\n", `start: "2am"`, "is not a time of day"},
		{"hour-25", "end", "    end: \"25:00\"\n", `end: "25:00"`, "is not a time of day"},
		{"no-hours", "end", "    end: \"02:00\"\n", `end: "02:00"`, "no hours"},
		{"across-midnight", "end", "    end: \"01:00\"\n", `end: "01:00"`, "cannot cross midnight"},
	} {
		s := fleetWindow(window(c.field, c.line))
		field := "spec.maintenanceWindow." + c.field
		if c.field == "days" && c.name == "unknown-day" {
			field += "[1]"
		}
		cases = append(cases, badCase{name: "window/fleet/" + c.name, setup: biSpecCase(s, nil), field: field, loc: L(s, c.marker), also: []string{c.also}})
		s = regionWindow(window(c.field, c.line))
		field = "spec.regions[1].maintenanceWindow." + c.field
		if c.field == "days" && c.name == "unknown-day" {
			field += "[1]"
		}
		cases = append(cases, badCase{name: "window/region/" + c.name, setup: biSpecCase(s, nil), field: field, loc: L(s, c.marker), also: []string{c.also}})
	}
	s := fleetWindow(good["days"] + good["start"] + good["timeZone"])
	cases = append(cases, badCase{name: "window/no-end", setup: biSpecCase(s, nil), field: "spec.maintenanceWindow.end", loc: L(s, "maintenanceWindow:"), also: []string{"is required"}})

	// A K3s version that is not a release string.
	for _, v := range []string{"v1.37", "stable", "v1.37.1", "1.37.1+k3s1", "v1.37.1-k3s1"} {
		s := biEdit(t, base, "  connectivity: intermittent\n", "  connectivity: intermittent\n  k3s: {version: \""+v+"\"}\n")
		cases = append(cases, badCase{name: "k3s-version/" + v, setup: biSpecCase(s, nil), field: "spec.k3s.version", loc: L(s, "k3s: {version"), also: []string{"not an exact K3s release"}})
	}

	// A downgrade relative to what the repository's Plans pin.
	newer := biEdit(t, base, "  connectivity: intermittent\n", "  connectivity: intermittent\n  k3s: {version: v1.37.2+k3s1}\n")
	older := biEdit(t, base, "  connectivity: intermittent\n", "  connectivity: intermittent\n  k3s: {version: v1.37.1+k3s2}\n")
	cases = append(cases, badCase{name: "regen/k3s-downgrade", setup: func(t *testing.T, dir string) []string {
		repo := biGenerated(t, dir, "repo", newer, nil)
		biWriteFiles(t, repo, map[string]string{"fleet.yaml": older})
		biGit(t, repo, "commit", "-q", "-am", "go back one patch release")
		return []string{"regen", "--dir", repo}
	}, field: "spec.k3s.version", loc: L(older, "k3s: {version"), also: []string{"v1.37.1+k3s2 is older than v1.37.2+k3s1", "infrastructure/regions/north/k3s-upgrade.yaml"}})
	cases = append(cases, badCase{name: "regen/k3s-downgrade-one-region", setup: func(t *testing.T, dir string) []string {
		repo := biGenerated(t, dir, "repo", newer, nil)
		biWriteFiles(t, repo, map[string]string{"fleet.yaml": older})
		biGit(t, repo, "commit", "-q", "-am", "go back one patch release")
		return []string{"regen", "--dir", repo, "--region", "south"}
	}, field: "spec.k3s.version", loc: L(older, "k3s: {version"), also: []string{"infrastructure/regions/south/k3s-upgrade.yaml"}})
	return cases
}

func indent(prefix, s string) string {
	out := ""
	for _, line := range splitLines(s) {
		out += prefix + line
	}
	return out
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		if i < len(s) {
			i++
		}
		out = append(out, s[:i])
		s = s[i:]
	}
	return out
}
