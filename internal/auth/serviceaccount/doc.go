// Package serviceaccount issues and verifies ServiceAccount tokens, as
// upstream Kubernetes does.
//
// Bound tokens come from the TokenRequest API (serviceaccounts/token):
// RS256 JWTs signed with the cluster's service-account key
// (pki.ServiceAccountKey), with iss (the configured issuer, by default
// DefaultIssuer), sub system:serviceaccount:<ns>:<name>, aud, exp, iat,
// nbf, jti and the private `kubernetes.io` claim naming the
// ServiceAccount and the Pod, Secret or Node the token is bound to.
// Legacy tokens (iss LegacyIssuer, no audience, no expiry) are written
// into `kubernetes.io/service-account-token` Secrets by the
// serviceaccounttoken controller and are valid while the Secret holds them.
//
// Issuer signs; Authenticator verifies, looking the named objects up in the
// API server's watch cache (auth.Objects) on every request, so a token
// stops working as soon as its ServiceAccount or bound object is gone or
// replaced. The issuer's OpenID discovery documents (OpenIDConfiguration,
// JWKS) let other parties verify tokens without the API.
//
// The JWS code here accepts RS256 only: `none`, HMAC and every other
// algorithm are refused before a key is used.
package serviceaccount
