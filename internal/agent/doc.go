// Package agent is berth's kubelet core: it runs the pods bound to one
// node.
//
// Agent watches the pods whose spec.nodeName is Config.NodeName and gives
// each its own worker goroutine, which calls a level-triggered sync: it
// reads the pod from the informer's cache and what the node runs for it
// from the runtime (runtime.List; every container carries labels naming its
// pod UID, container name and restart count), and does the next step
// toward the spec: create the sandbox (runtime.CreateSandbox, then
// network.Setup and the pod's /etc/hosts), run the init containers in
// order, start the sidecars (init containers with restartPolicy Always)
// and the containers, restart what exited as the restartPolicy says with
// CrashLoopBackOff, and write the pod's status through the pods/status
// subresource when it changed. Volumes (package volume) are set up before
// the sandbox (a failure leaves the pod ContainerCreating with a
// FailedMount event and is retried) and refreshed every
// VolumeRefreshPeriod; each container's environment comes from package
// env (an error is CreateContainerConfigError) and its mounts from the
// volume Manager. Every running container instance has a probe.Manager:
// readiness and startup feed the status, a liveness or startup failure
// kills the instance and the restart policy restarts it. Nothing about running containers is kept
// only in memory, so a restarted agent adopts what runs and reports its
// true state; in-memory state is limited to back-off timers.
//
// A pod with a deletionTimestamp is stopped (preStop hooks, the stop
// signal, SIGKILL once the grace period is over), its network torn down and
// its sandbox removed, and only then deleted with grace period 0 and a UID
// precondition, so its deletion ends when its containers are gone.
// Containers, sandboxes, volumes and logs (Config.DataDir/pods/<ns>_<name>_<uid>,
// as kubelet's /var/log/pods) of pods the API no longer has are removed.
//
// Lookup, Exec, Attach, LogPaths and DialPod back the node's streaming
// server (package stream); LogPaths gives the latest instance's log and
// that of the last terminated one the pod's status names (for --previous),
// kept until the pod goes.
//
// The mapping of a Pod's containers onto runtime.ContainerConfig (command
// and args with the image config, env, security context, resources, QoS),
// the pod's phase, conditions and container statuses, and back-off are pure
// functions over a snapshot (spec.go, status.go, backoff.go).
package agent
