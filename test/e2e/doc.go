// Package e2e holds berth's end-to-end tests. They build the berth binary
// once, start it as a separate process on a temporary data directory and a
// free loopback port, and drive it only from the outside: with the kubectl
// binaries installed on the machine and with client-go, exactly as users do.
//
// Tests skip, with the reason, when the go toolchain or kubectl is missing.
// Behaviour the server does not offer yet (OpenAPI, server-side apply) is
// detected from the server's answers, so the affected steps skip today and
// turn strict on their own once it lands.
package e2e
