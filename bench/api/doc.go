// Package api holds benchmarks of berth's API server as its clients see it:
// an apiserver.Server with a bolt store in a temporary directory, served
// over real HTTPS on loopback with the cluster PKI, and driven by client-go
// with protobuf (as berth's own components talk) or JSON.
//
// The package has only benchmarks; `go test` without -bench runs nothing.
// Client and server share the machine's cores, so the figures are those of
// a single-machine cluster under its own load.
package api
