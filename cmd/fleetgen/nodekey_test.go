package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetgen/fleetgen/examples"
	"github.com/fleetgen/fleetgen/generator/spec"
)

// `plan` says which age key the nodes of each region hold: the region's own
// recipient, never one of the operators' fleet-wide keys.
func TestPlanSaysWhichKeyEachNodeHolds(t *testing.T) {
	for _, name := range examples.Names() {
		file := filepath.Join("../../examples", name, "fleet.yaml")
		l, err := spec.LoadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var plan struct {
			Regions []struct{ Name, NodeKey string }
		}
		if err := json.Unmarshal([]byte(mustFleetgen(t, "plan", "--spec", file, "-o", "json")), &plan); err != nil {
			t.Fatal(err)
		}
		text := mustFleetgen(t, "plan", "--spec", file)
		for i, r := range plan.Regions {
			reg := l.Spec.Regions[i]
			where := name + "/" + r.Name
			if !strings.Contains(text, "nodes hold: "+r.NodeKey) {
				t.Errorf("%s: text plan does not say %q", where, r.NodeKey)
			}
			for _, k := range l.Spec.Secrets.AgeRecipients {
				if strings.Contains(r.NodeKey, k) {
					t.Errorf("%s: nodes hold the fleet-wide key %s", where, k)
				}
			}
			if len(l.Spec.RegionRecipients(&reg)) == 0 {
				if !strings.HasPrefix(r.NodeKey, "no age key") {
					t.Errorf("%s: nothing is encrypted, but plan says %q", where, r.NodeKey)
				}
				continue
			}
			if len(reg.AgeRecipients) == 0 || !strings.Contains(r.NodeKey, "region's own age key ("+reg.AgeRecipients[0]) {
				t.Errorf("%s: nodeKey %q does not name the region's own key %v", where, r.NodeKey, reg.AgeRecipients)
			}
		}
	}
}
