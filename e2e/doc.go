// Package e2e holds fleetgen's end-to-end test: the repository fleetgen
// generates for each example is served over smart HTTP git on loopback, each
// example's bootstrap/<region>/provision.sh provisions one cluster of every
// region into a scratch root, and the real Kubernetes and Flux pieces take it
// from there: a kube-apiserver on kine/SQLite (K3s's storage) per cluster,
// Flux's source-controller and kustomize-controller, and the Flux Operator.
//
// The tools are built once, pinned, from the Go module proxy by
// scripts/e2e-tools.sh into $FLEETGEN_E2E_CACHE (default
// ~/.cache/fleetgen-e2e). Without them the test skips, except under CI=true,
// where it fails.
//
//	scripts/e2e-tools.sh && go test -v -timeout 30m ./e2e
//
// Besides the examples it plays the golden case farm-lab-rings
// (generator/testdata/cases): a canary and a stable cluster, a commit to
// main that reaches neither, `fleetgen promote canary` and `fleetgen push`
// that bring it to the canary only, then `promote stable`. On every cluster
// it checks the K3s upgrade Plans (system-upgrade-controller) on the API
// server against fleet.yaml.
//
// There is no kubelet, no kube-controller-manager and no container runtime:
// a stand-in marks Deployments available (a status patch), and K3s's
// helm-controller is stood in for by installing the Flux Operator's CRDs and
// running the operator as a local process.
package e2e
