// Package bootstrap owns bootstrap tokens and berth's join tokens.
//
// A bootstrap token is `<id>.<secret>` (6 and 16 characters of [a-z0-9]),
// kept as a Secret `bootstrap-token-<id>` of type
// `bootstrap.kubernetes.io/token` in kube-system, exactly as upstream: the
// Secret's keys token-id, token-secret, expiration (RFC 3339),
// description, usage-bootstrap-authentication and auth-extra-groups.
// Authenticator accepts such tokens while their Secret says so, as user
// system:bootstrap:<id> in group system:bootstrappers plus the extra
// groups; the bootstraptoken controller deletes expired Secrets.
//
// A join token is what `berth token create` prints and `berth agent
// --token` takes: the bootstrap token together with the hash of the
// cluster CA's public key, so that a joining machine can trust the server
// before it holds any certificate:
//
//	berth1.sha256:<64 hex digits>.<id>.<secret>
//
// where the hex digits are the SHA-256 of the CA certificate's DER
// SubjectPublicKeyInfo (what kubeadm's --discovery-token-ca-cert-hash and
// k3s's K10 tokens pin). ParseJoinToken splits one; CAHash computes the hash.
package bootstrap
