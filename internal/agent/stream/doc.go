// Package stream is the node's streaming server: what kubelet serves on its
// port (10250) for `kubectl logs`, `exec`, `attach`, `port-forward` and
// `cp`, which reach it through the API server.
//
// The server speaks HTTPS with the node's serving certificate, requires a
// client certificate verified against the cluster CA, and serves only the
// API server's identity (Config.AllowedUsers, default CN=system:apiserver);
// users are authenticated and authorized by the API server before it
// proxies to the node. Paths, as kubelet's:
//
//	GET  /containerLogs/{namespace}/{pod}/{container}   follow, previous, tailLines, sinceSeconds, sinceTime, timestamps, limitBytes
//	POST /exec/{namespace}/{pod}/{container}            command (repeated), input, output, error, tty
//	POST /attach/{namespace}/{pod}/{container}          input, output, error, tty
//	POST /portForward/{namespace}/{pod}
//
// (GET is accepted too, as WebSocket clients use it.)
//
// Logs are read from the CRI log files the berth shim writes
// (`<RFC3339Nano> <stdout|stderr> <F|P> <content>`); Config.LogPaths names
// the current instance's file and the previous instance's (which the pod
// worker keeps per restart, as kubelet does). tailLines counts records from
// the end of the current file and timestamps prefix each line, as kubelet
// does; a followed log survives the shim's rotation (the file renamed to
// .1 and a new one started) and ends when the container stops running.
//
// Exec and attach speak the remote command protocols kubectl uses: over
// SPDY/3.1 v5, v4, v3 and v2.channel.k8s.io (streams named by their
// streamType header; v4 and later report the outcome as a metav1.Status
// with a NonZeroExitCode reason and ExitCode cause), and over WebSocket
// v5.channel.k8s.io (kubectl 1.30+), v4 and the base64 variants (channels
// 0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize). Port forwarding speaks
// SPDY portforward.k8s.io (a data and an error stream per connection,
// paired by requestID), the same tunneled through a WebSocket
// (SPDY/3.1+portforward.k8s.io, what kubectl 1.31+ sends), and kubelet's
// WebSocket v4.channel.k8s.io form with ports in the query.
//
// The protocol plumbing is k8s.io/streaming (SPDY connections and the
// WebSocket channel framing, the same code kubelet uses), which imports
// neither k8s.io/apiserver nor k8s.io/kubernetes; the servers above it are
// ours. Containers are reached only through Config's functions, which the
// pod worker backs with the runtime (Exec, Attach) and the pod's pinned
// network namespace (DialPod; DialInNetns dials a pinned namespace's
// loopback).
package stream
