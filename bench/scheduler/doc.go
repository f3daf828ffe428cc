// Package scheduler benchmarks berth's scheduler end to end through the
// API: an in-process API server (apiservertest: HTTPS, client
// certificates, a bolt store), the real scheduler on shared informers,
// registered nodes, and a client that creates pods as fast as the server
// takes them and watches for their binding.
//
// The package has only benchmarks; `go test` without -bench runs nothing.
package scheduler
