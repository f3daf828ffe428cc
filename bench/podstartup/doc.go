// Package podstartup benchmarks pods on `berth server`'s own node agent:
// the time from a pod's create request to the moment a watch sees it
// Running, for 1, 10 and 50 pods created at once from a local image, and
// the resident memory of the server and its container shims with 10 pods
// running.
//
// The benchmarks build ./cmd/berth once per benchmark, import the busybox
// test image into a new data directory, and run the server with its agent
// on loopback (--https-port 0, --kubelet-port 0, --cluster-cidr
// 10.47.0.0/16). They need root, runc, the CNI plugins and a static
// busybox, and skip without them. What the agent leaves on the host is
// removed when a benchmark ends. The package has only benchmarks; `go
// test` without -bench runs nothing.
package podstartup
