// Package pki owns berth's cluster certificate authority and the key material
// made from it: the API server's serving certificate, the admin client
// certificate and the ServiceAccount token signing key.
//
// Everything lives as PEM files in one directory (mode 0700):
//
//	ca.crt, ca.key                   cluster CA (ECDSA P-256, 10 years)
//	apiserver.crt, apiserver.key     serving certificate for the API server
//	admin.crt, admin.key             client certificate CN=berth-admin, O=system:masters
//	sa.key, sa.pub                   ServiceAccount token signing key (RSA 2048, RS256)
//
// Ensure creates what is missing on first start and loads what exists on
// later starts. The CA is never replaced once written; leaf certificates are
// re-issued only when they no longer serve (missing, expiring, signed by
// another CA, or lacking a name the server now needs). Every file is written
// atomically (temporary file, fsync, rename, fsync of the directory), private
// keys with mode 0600, so a crash leaves either the old or the new file.
//
// A loaded PKI is immutable; its methods are safe for concurrent use.
package pki
