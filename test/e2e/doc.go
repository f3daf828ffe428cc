// Package e2e holds berth's end-to-end tests. They build the berth binary
// once, start it as a separate process on a temporary data directory and a
// free loopback port, and drive it only from the outside: with the kubectl
// binaries installed on the machine and with client-go, exactly as users do.
//
// Tests skip, with the reason, when the go toolchain or kubectl (or one of
// the versioned kubectl.1.27 … kubectl.1.33 beside it) is missing, and all
// of them skip with -short.
package e2e
