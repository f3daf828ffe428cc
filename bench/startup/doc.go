// Package startup benchmarks the berth binary itself: the time from
// starting `berth server` to its first successful /readyz, with an empty
// and with an existing data directory, and its resident memory once idle.
//
// The benchmark builds ./cmd/berth once, runs it on a free loopback port
// with --disable-agent, and stops it with SIGTERM (SIGKILL after a
// deadline). The package has only benchmarks; `go test` without -bench
// runs nothing.
package startup
