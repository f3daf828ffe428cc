// Package runtime runs a node's containers with an OCI runtime: runc by
// default, crun when a RuntimeClass names it.
//
// It owns three things on disk, all under Config.RunDir:
//
//   - sandboxes/<id>/: a pod's pinned namespaces. CreateSandbox makes the
//     network, IPC and UTS namespaces once, on a locked OS thread that then
//     returns to its own, and bind-mounts them onto files (as CRI-O's pinns
//     does), so no process is spent holding them; the UTS hostname is the
//     pod's. Beside them are the
//     pod's /etc/hosts, /etc/hostname, /etc/resolv.conf and /dev/shm, which
//     every container of the pod bind-mounts. The pod's cgroup,
//     <CgroupParent>/pod<UID>, gets the pod's limits and holds its
//     containers' cgroups.
//   - containers/<id>/: an OCI bundle (config.json built by Spec from a plain
//     ContainerConfig, not from Kubernetes types), the container's metadata,
//     and the files its shim writes: the exit status and the start time.
//   - oci/<handler>/: the OCI runtime's own state directory (its --root).
//
// Each container is supervised by a shim (RunShim, the berth binary
// re-executed as "berth shim"): a process in its own session, which
// outlives the agent, that runs "runc create", owns the container's stdio,
// writes the CRI log file, waits for the exit and records it, with the OOM
// kill read from the container's memory cgroup. The agent can die and restart; List finds every
// container again from the runtime's state and these files.
//
// Streams: the shim serves an attach socket in the container's directory
// (a small framed protocol: stdin, stdin EOF, resize in; stdout, stderr
// out), which Attach speaks; every client sees the output from when it
// attached, the log has all of it. Exec runs "runc exec --process" as a
// child of the caller, with the container's process settings, and relays
// its stdio or, for a terminal, a terminal of its own that the runtime
// relays to the process's.
//
// Runtime methods are safe for concurrent use on distinct containers; calls on
// one container must be ordered by the caller (the agent's pod worker).
// The package needs Linux and root.
package runtime
