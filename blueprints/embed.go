// Package blueprints holds the files of the fleet repository that a person
// is meant to read as they are: K3s hardening files copied verbatim, and
// text/template blueprints for prose (READMEs) and the provisioning script.
// Kubernetes objects are not here (the generator builds them as typed
// values), except upstream release manifests copied verbatim (upgrade/:
// system-upgrade-controller and its Plan CRD; argocd/: Argo CD's core
// install, see argocd/README.md).
package blueprints

import "embed"

//go:embed bootstrap ci repo upgrade argocd/*.yaml
var FS embed.FS
