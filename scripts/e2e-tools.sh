#!/usr/bin/env bash
# Builds the pinned tools of the end-to-end test (e2e/) from the Go module
# proxy into a cache folder keyed by version, so later runs start in seconds:
#   $FLEETGEN_E2E_CACHE/bin/<tool>-<version>
# Usage: scripts/e2e-tools.sh [tool...]   (default: every tool)
# Tools: kube-apiserver kine source-controller kustomize-controller
#        flux-operator sops age, and (only when named) argocd
# argocd needs, besides the proxy, the argo-cd repository at its tag for the
# nested gitops-engine module the proxy does not serve: ARGOCD_MIRROR (a git
# dir) or a clone of ARGOCD_GIT; it is not built by default for that reason.
# Facts behind each recipe: /work/shared/design/E2E-FACTS.md (wrapper
# modules for the replace directives, proxy gaps, flux-operator's FIPS mode).
set -euo pipefail
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
CACHE=${FLEETGEN_E2E_CACHE:-$HOME/.cache/fleetgen-e2e}
BIN=$CACHE/bin
SRC=$CACHE/src
mkdir -p "$BIN" "$SRC"

KUBERNETES_VERSION=v1.36.3
KINE_VERSION=v0.17.5
FLUX_CONTROLLERS_VERSION=v1.9.6
FLUX_OPERATOR_VERSION=v0.58.1
SOPS_VERSION=v3.13.2
AGE_VERSION=v1.3.1
# Argo CD: the release fleetgen vendors (generator/argocd.go ArgoVersion).
ARGOCD_VERSION=v3.5.1
# Its gitops-engine, a nested module replaced by ./gitops-engine, is not
# served by the proxy at the pseudo-version go.mod requires: it comes from
# the argo-cd repository at the same tag (a git clone or mirror).
ARGOCD_GIT=${ARGOCD_GIT:-https://github.com/argoproj/argo-cd.git}

log() { printf '%s e2e-tools: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# have NAME: the cached binary exists (a build writes it last, atomically).
have() { [ -x "$BIN/$1" ]; }

# install_bin DIR NAME: moves DIR/NAME.tmp to BIN/NAME.
install_bin() { mv -f "$1" "$BIN/$2"; }

build_kube_apiserver() {
	local name=kube-apiserver-$KUBERNETES_VERSION
	have "$name" && return 0
	log "building $name (about 8 minutes on 2 cores)"
	local start=$SECONDS dir=$SRC/$name
	rm -rf "$dir" && mkdir -p "$dir"
	# k8s.io/kubernetes replaces its staging modules with ./staging/...; a
	# wrapper module replaces each with its published v0.x.y instead.
	local staging=v0.${KUBERNETES_VERSION#v1.}
	local gomod
	gomod=$(cd "$dir" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
	{
		echo "module fleetgen.e2e/kube-apiserver"
		echo
		echo "go 1.26.0"
		echo
		echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
		echo
		echo "replace ("
		# k8s.io/sample-cli-plugin is not served by the proxy; nothing here needs it.
		sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod" |
			grep -v '^k8s.io/sample-cli-plugin$' |
			while read -r m; do printf '\t%s => %s %s\n' "$m" "$m" "$staging"; done
		echo ")"
	} >"$dir/go.mod"
	# The version stamp the Kubernetes build scripts set (/version answers it).
	local minor=${KUBERNETES_VERSION#v1.}
	minor=${minor%%.*}
	local ldflags="-X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
	(cd "$dir" &&
		go get "k8s.io/kubernetes/cmd/kube-apiserver@$KUBERNETES_VERSION" &&
		CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$dir/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
	install_bin "$dir/kube-apiserver.tmp" "$name"
	log "built $name in $((SECONDS - start))s"
}

build_kine() {
	local name=kine-$KINE_VERSION
	have "$name" && return 0
	log "building $name (cgo, SQLite; about 2 minutes)"
	local start=$SECONDS dir=$SRC/$name
	rm -rf "$dir" && mkdir -p "$dir"
	CGO_ENABLED=1 GOBIN="$dir" go install "github.com/k3s-io/kine@$KINE_VERSION"
	install_bin "$dir/kine" "$name"
	log "built $name in $((SECONDS - start))s"
}

# build_flux_controller NAME: source-controller or kustomize-controller from a
# wrapper module that copies the controller's non-local replace directives.
build_flux_controller() {
	local ctl=$1 name=$1-$FLUX_CONTROLLERS_VERSION
	have "$name" && return 0
	log "building $name (about 4 minutes)"
	local start=$SECONDS dir=$SRC/$name v=$FLUX_CONTROLLERS_VERSION
	rm -rf "$dir" && mkdir -p "$dir"
	{
		echo "module fleetgen.e2e/$ctl"
		echo
		echo "go 1.26.0"
		echo
		echo "require ("
		printf '\tgithub.com/fluxcd/%s %s\n' "$ctl" "$v"
		printf '\tgithub.com/fluxcd/%s/api %s\n' "$ctl" "$v"
		echo ")"
		echo
		echo "replace github.com/opencontainers/go-digest => github.com/opencontainers/go-digest v1.0.1-0.20220411205349-bde1400a84be"
		case $ctl in
		source-controller)
			# v1.9.6 wants github.com/fluxcd/pkg/artifact v0.18.3, which the
			# proxy here does not serve; v0.18.0 builds.
			echo "replace github.com/fluxcd/pkg/artifact => github.com/fluxcd/pkg/artifact v0.18.0"
			;;
		kustomize-controller)
			echo "replace ("
			printf '\tsigs.k8s.io/kustomize/api => sigs.k8s.io/kustomize/api v0.21.1\n'
			printf '\tsigs.k8s.io/kustomize/kyaml => sigs.k8s.io/kustomize/kyaml v0.21.1\n'
			echo ")"
			echo "replace gopkg.in/yaml.v3 => gopkg.in/yaml.v3 v3.0.1"
			;;
		esac
	} >"$dir/go.mod"
	(cd "$dir" &&
		go get "github.com/fluxcd/$ctl@$v" &&
		CGO_ENABLED=0 go build -trimpath -o "$dir/$ctl.tmp" "github.com/fluxcd/$ctl")
	install_bin "$dir/$ctl.tmp" "$name"
	log "built $name in $((SECONDS - start))s"
}

# flux-operator: built from its module source, which also holds the Flux
# distribution manifests (config/data) the operator reads instead of a registry.
# The test uses $SRC/flux-operator-<version>/config/data.
build_flux_operator() {
	local name=flux-operator-$FLUX_OPERATOR_VERSION
	have "$name" && [ -d "$SRC/$name/config/data/flux" ] && return 0
	log "building $name (about 4 minutes)"
	local start=$SECONDS dir=$SRC/$name
	local moddir
	moddir=$(go mod download -json "github.com/controlplaneio-fluxcd/flux-operator@$FLUX_OPERATOR_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	rm -rf "$dir" && cp -r "$moddir" "$dir" && chmod -R u+w "$dir"
	# The module zip has no UI build; the operator embeds web/dist.
	mkdir -p "$dir/web/dist"
	[ -f "$dir/web/dist/index.html" ] || echo '<!doctype html><title>flux-operator</title>' >"$dir/web/dist/index.html"
	# Its go.mod requires a pseudo-version of authn/kubernetes the proxy does
	# not serve; this one is.
	(cd "$dir" &&
		go mod edit -require=github.com/google/go-containerregistry/pkg/authn/kubernetes@v0.0.0-20260224031529-85f2bf5f7303 &&
		go mod tidy &&
		CGO_ENABLED=0 go build -trimpath -o "$dir/flux-operator.tmp" ./cmd/operator)
	install_bin "$dir/flux-operator.tmp" "$name"
	log "built $name in $((SECONDS - start))s"
}

build_sops() {
	local name=sops-$SOPS_VERSION
	have "$name" && return 0
	log "building $name"
	local start=$SECONDS dir=$SRC/$name
	rm -rf "$dir" && mkdir -p "$dir"
	CGO_ENABLED=0 GOBIN="$dir" go install "github.com/getsops/sops/v3/cmd/sops@$SOPS_VERSION"
	install_bin "$dir/sops" "$name"
	log "built $name in $((SECONDS - start))s"
}

build_age() {
	local name=age-keygen-$AGE_VERSION
	have "$name" && return 0
	log "building age $AGE_VERSION"
	local start=$SECONDS dir=$SRC/age-$AGE_VERSION
	rm -rf "$dir" && mkdir -p "$dir"
	CGO_ENABLED=0 GOBIN="$dir" go install "filippo.io/age/cmd/age-keygen@$AGE_VERSION"
	install_bin "$dir/age-keygen" "$name"
	log "built age-keygen $AGE_VERSION in $((SECONDS - start))s"
}

# build_argocd: application-controller, repo-server and git-ask-pass as one
# binary (the name it runs under picks the command, as upstream's cmd/main.go
# does), without the API server and so without the UI bundle the module zip
# lacks. `go install` refuses the module (replace directives): build in the
# downloaded source, with gitops-engine taken from the tag's tree.
build_argocd() {
	local name=argocd-$ARGOCD_VERSION
	have "$name" && return 0
	log "building $name (application-controller, repo-server; about 15 minutes on 2 cores)"
	local start=$SECONDS dir=$SRC/$name
	local mod
	mod=$(cd "$SRC" && go mod download -json "github.com/argoproj/argo-cd/v3@$ARGOCD_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	rm -rf "$dir" && cp -r "$mod" "$dir" && chmod -R u+w "$dir"
	if [ -d "${ARGOCD_MIRROR:-}" ]; then
		git --git-dir="$ARGOCD_MIRROR" archive "$ARGOCD_VERSION" gitops-engine | tar x -C "$dir"
	else
		local tmp
		tmp=$(mktemp -d)
		git clone -q --depth 1 --branch "$ARGOCD_VERSION" --filter=blob:none --sparse "$ARGOCD_GIT" "$tmp/argo-cd"
		git -C "$tmp/argo-cd" sparse-checkout set gitops-engine
		cp -r "$tmp/argo-cd/gitops-engine" "$dir/" && rm -rf "$tmp"
	fi
	mkdir -p "$dir/hack/fleetgen-e2e"
	cat >"$dir/hack/fleetgen-e2e/main.go" <<'GO'
// Command fleetgen-e2e-argocd is Argo CD's multi-call binary limited to what
// a core install runs: no API server, so no UI bundle is needed.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	appcontroller "github.com/argoproj/argo-cd/v3/cmd/argocd-application-controller/commands"
	gitaskpass "github.com/argoproj/argo-cd/v3/cmd/argocd-git-ask-pass/commands"
	reposerver "github.com/argoproj/argo-cd/v3/cmd/argocd-repo-server/commands"
	"github.com/spf13/cobra"
)

func main() {
	var cmd *cobra.Command
	name := filepath.Base(os.Args[0])
	if v := os.Getenv("ARGOCD_BINARY_NAME"); v != "" {
		name = v // how repo-server runs git's askpass helper (util/askpass)
	}
	switch name {
	case "argocd-application-controller":
		cmd = appcontroller.NewCommand()
	case "argocd-repo-server":
		cmd = reposerver.NewCommand()
	case "argocd-git-ask-pass":
		cmd = gitaskpass.NewCommand()
	default:
		fmt.Fprintln(os.Stderr, "run as argocd-application-controller, argocd-repo-server or argocd-git-ask-pass")
		os.Exit(2)
	}
	if err := cmd.Execute(); err != nil {
		os.Exit(1)
	}
}
GO
	(cd "$dir" && go build -trimpath -o "$dir/$name.tmp" ./hack/fleetgen-e2e)
	install_bin "$dir/$name.tmp" "$name"
	log "built $name in $((SECONDS - start))s (redis-server comes from Debian: apt-get install redis-server)"
}

tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(kube-apiserver kine source-controller kustomize-controller flux-operator sops age)
total=$SECONDS
for t in "${tools[@]}"; do
	case $t in
	kube-apiserver) build_kube_apiserver ;;
	kine) build_kine ;;
	source-controller | kustomize-controller) build_flux_controller "$t" ;;
	flux-operator) build_flux_operator ;;
	sops) build_sops ;;
	age) build_age ;;
	argocd) build_argocd ;;
	*) echo "e2e-tools: unknown tool $t" >&2; exit 2 ;;
	esac
done
log "tools ready in $BIN ($((SECONDS - total))s)"
