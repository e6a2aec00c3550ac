package generator

import (
	"bytes"
	"errors"
	"io/fs"
	"path"

	"go.yaml.in/yaml/v3"

	"github.com/fleetgen/fleetgen/generator/spec"
)

// refuseK3sDowngrade stops a run whose spec.k3s.version is older than the
// version a region's Plans in the repository already pin: system-upgrade-
// controller refuses downgrades (EDGE-FACTS), and the datastore may
// already be migrated. Nothing is written.
func refuseK3sDowngrade(res *Result, dir string, inScope func(string) bool) error {
	l := res.Spec
	want, ok := spec.ParseK3sRelease(l.Spec.K3s.Version)
	if !ok {
		return nil // refused by validation already
	}
	for _, r := range l.Spec.Regions {
		p := path.Join("infrastructure/regions", r.Name, UpgradePlansFile)
		if !inScope(p) {
			continue
		}
		old, err := readWorktree(dir, p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return err
		}
		for _, v := range pinnedVersions(old) {
			have, ok := spec.ParseK3sRelease(v)
			if ok && want.Compare(have) < 0 {
				return l.Errorf("spec.k3s.version", "%s is older than %s, which %s already pins: K3s upgrades go forward only (system-upgrade-controller refuses a downgrade, and the datastore may already be migrated); keep %s or a newer release, and reinstall a node to go back",
					l.Spec.K3s.Version, v, p, v)
			}
		}
	}
	return nil
}

// pinnedVersions are the spec.version values of the Plans in a file.
func pinnedVersions(b []byte) []string {
	var out []string
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var doc struct {
			Kind string `yaml:"kind"`
			Spec struct {
				Version string `yaml:"version"`
			} `yaml:"spec"`
		}
		if err := dec.Decode(&doc); err != nil {
			return out // io.EOF, or a hand edit that is not YAML: the merge reports it
		}
		if doc.Kind == "Plan" && doc.Spec.Version != "" {
			out = append(out, doc.Spec.Version)
		}
	}
}
