// Package probe runs a container's liveness, readiness and startup probes
// the way kubelet does, and reports what they decide through callbacks.
//
// A Manager watches one container instance (one container ID). The pod
// worker creates it when the container starts, with the container's start
// time, and cancels its Run when the container stops; a restarted container
// gets a new Manager. Each configured probe has its own loop on the injected
// clock:
//
//   - The first probe runs at once, then every periodSeconds. While less than
//     initialDelaySeconds have passed since the container started, a probe is
//     skipped and the previous result kept.
//   - A probe that takes longer than timeoutSeconds fails.
//   - A result replaces the current one only after successThreshold
//     consecutive successes or failureThreshold consecutive failures.
//   - Until the startup probe has succeeded, liveness and readiness are not
//     probed and the container is neither started nor ready. The startup
//     probe stops once it has succeeded.
//   - Liveness and startup failure past the threshold call Config.OnRestart
//     (kubelet's "Container c failed liveness probe, will be restarted", with
//     the probe's terminationGracePeriodSeconds if set, else the pod's) and
//     stop that probe: the restarted container has a new Manager.
//   - Every failed probe calls Config.OnEvent with kubelet's Unhealthy event
//     ("Liveness probe failed: <output>"); a probe that succeeds with a
//     warning (an HTTP redirect not followed) gives "... probe warning: ...".
//
// Readiness as reported by Config.OnReady is kubelet's: started, and the
// readiness probe succeeding (or none configured). Liveness starts out
// successful, readiness failed, startup not yet succeeded.
//
// Probe handlers: exec through the injected ExecFunc (the worker backs it
// with runtime.Exec), httpGet (success 200-399, redirects followed only to
// the same host, at most 10, a redirect to another host ends as a success
// with a warning), tcpSocket, and grpc (grpc.health.v1.Health/Check through
// google.golang.org/grpc, which the module already depends on through the
// etcd client, so the real client library is used rather than a hand-made
// HTTP/2 call). Hosts default to the pod's IP; ports may name a container
// port.
package probe
