#!/usr/bin/env bash
# Generate every example and check the result with the real tools, as a user
# would on a fleet repository:
#   fleetgen validate  (kustomize API, Flux references, no plaintext Secret)
#   kustomize build    of every kustomization (the kustomize CLI)
#   kubeconform -strict on everything rendered and on the K3s auto-deploy
#                      manifests, with the offline schemas in ../shared/schemas
#   git fsck --strict  on the committed repository
#   the generated CI   (.github/workflows/fleet.yaml) check job's commands
# Needs kustomize and kubeconform on PATH (see .ci/run for the pinned versions).
set -euo pipefail
cd "$(dirname "$0")/.."
SCHEMAS=${SCHEMAS:-$(cd .. && pwd)/shared/schemas}
[ -d "$SCHEMAS/kubernetes" ] || { echo "no schemas at $SCHEMAS (set SCHEMAS=...)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/fleetgen" ./cmd/fleetgen
echo "kustomize $(kustomize version)"; echo "kubeconform $(kubeconform -v)"; git --version

# The third location: schemas made here from upstream CRDs that
# ../shared/schemas lacks (Flux's HelmRelease; generator/testdata/schemas/README.md).
kc() {
  kubeconform -strict -summary \
    -schema-location "$SCHEMAS/kubernetes/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
    -schema-location "$SCHEMAS/crds/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
    -schema-location "$PWD/generator/testdata/schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json" "$@"
}

# The examples, and the golden cases of generator/testdata/cases (layouts no
# example shows); SPECS="a/fleet.yaml ..." checks only those.
for spec in ${SPECS:-examples/*/fleet.yaml generator/testdata/cases/*/fleet.yaml}; do
  name=$(basename "$(dirname "$spec")")
  repo="$work/$name"
  echo "== $name"
  "$work/fleetgen" generate --spec "$spec" --out "$repo" --author-name CI --author-email ci@example.com
  "$work/fleetgen" validate "$repo"
  rendered="$work/rendered-$name"; mkdir -p "$rendered"
  # Classic bootstrap layout: gotk-components.yaml comes from
  # `flux install --export` (no network here); build with empty stand-ins.
  stubs=()
  for d in "$repo"/clusters/*/*/flux-system; do
    [ -d "$d" ] && [ ! -f "$d/gotk-components.yaml" ] && { : > "$d/gotk-components.yaml"; stubs+=("$d/gotk-components.yaml"); }
  done
  n=0
  while IFS= read -r k; do
    dir=$(dirname "$k")
    kustomize build "$dir" > "$rendered/$(echo "${dir#$repo/}" | tr / _).yaml"
    n=$((n+1))
  done < <(find "$repo" -name kustomization.yaml -not -path '*/.git/*' | sort)
  [ ${#stubs[@]} -eq 0 ] || rm -f "${stubs[@]}"
  echo "kustomize build: $n kustomizations"
  # Rendered output, plus the K3s auto-deploy manifests (not part of any kustomization).
  kc "$rendered" $(find "$repo/bootstrap" -path '*/manifests/*.yaml' | sort)
  # The command the generated README documents: the build piped into
  # `kubeconform -`. It must validate resources, not "0 resources found"
  # (as `<(kustomize build ...)` did: kubeconform skips names without .yaml).
  grep -q 'kustomize build "$dir" | kubeconform ' "$repo/README.md" || { echo "$name: README.md lost its kubeconform pipe"; exit 1; }
  for dir in "$repo"/infrastructure/regions/* "$repo"/apps/regions/*; do
    out=$(kustomize build "$dir" | kc -)
    echo "$out" | grep -Eq 'Summary: [1-9][0-9]* resources? found.* Invalid: 0, Errors: 0' \
      || { echo "${dir#$repo/}: the README's kubeconform command validated nothing: $out"; exit 1; }
  done
  echo "README kubeconform command: every region overlay validated from the pipe"
  git -C "$repo" fsck --strict
  test -z "$(git -C "$repo" status --porcelain)" || { echo "worktree not clean"; exit 1; }
done
# The CI that fleetgen writes into every fleet repository: its check job's
# commands, run as they are with these tools over every example (offline
# schemas), and shown to fail on a broken manifest.
PATH="$work:$PATH" FLEETGEN_CI_REAL_TOOLS=1 SCHEMAS="$SCHEMAS" \
  go test ./generator -run '^TestCIScriptsRunWithRealTools$' -count=1 -v | grep -E '^(--- |ok|FAIL|PASS)'
echo "all examples: validate, kustomize build, kubeconform -strict, git fsck and the generated CI's commands passed"
