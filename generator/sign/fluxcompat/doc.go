// Package fluxcompat is a separate Go module whose only purpose is its
// test: it verifies the signatures `fleetgen publish --cosign-key` writes
// with cosign's own verifier, configured exactly as source-controller's
// internal/oci/cosign does for `spec.verify: {provider: cosign,
// secretRef}` (a public key: Offline, IgnoreTlog, signature.LoadVerifier,
// then cosign.VerifyImageSignatures). It lives in its own module so that
// fleetgen itself does not depend on cosign and its Sigstore clients.
//
//	cd generator/sign/fluxcompat && go test ./...
package fluxcompat
