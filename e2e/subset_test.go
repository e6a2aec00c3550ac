package e2e

import "testing"

// subsetDiff is what says a Plan on the API server differs from the
// generated one: it must report a changed, a missing and a reordered field,
// and ignore fields the server adds.
func TestSubsetDiff(t *testing.T) {
	want := map[string]any{"version": "v1", "window": map[string]any{"days": []any{"sat", "sun"}, "startTime": "02:00"}, "concurrency": float64(1)}
	same := map[string]any{"version": "v1", "window": map[string]any{"days": []any{"sat", "sun"}, "startTime": "02:00"}, "concurrency": float64(1), "added": true}
	if d := subsetDiff("spec", want, same); len(d) != 0 {
		t.Errorf("a server default reported as a difference: %v", d)
	}
	for name, got := range map[string]map[string]any{
		"changed":   {"version": "v2", "window": map[string]any{"days": []any{"sat", "sun"}, "startTime": "02:00"}, "concurrency": float64(1)},
		"missing":   {"version": "v1", "window": map[string]any{"days": []any{"sat", "sun"}}, "concurrency": float64(1)},
		"reordered": {"version": "v1", "window": map[string]any{"days": []any{"sun", "sat"}, "startTime": "02:00"}, "concurrency": float64(1)},
		"shorter":   {"version": "v1", "window": map[string]any{"days": []any{"sat"}, "startTime": "02:00"}, "concurrency": float64(1)},
	} {
		if d := subsetDiff("spec", want, got); len(d) == 0 {
			t.Errorf("%s: no difference reported", name)
		}
	}
}
