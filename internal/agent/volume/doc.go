// Package volume owns the volumes of the pods on a node: it makes them on
// the host, keeps API data volumes up to date, gives the pod worker the
// mounts of each container, and removes them when the pod is gone.
//
// Layout, as the kubelet's: <data-dir>/agent/pods/<uid>/volumes/<kind>/<name>
// with kind kubernetes.io~empty-dir, ~configmap, ~secret, ~downward-api or
// ~projected; subPath binds under <data-dir>/agent/pods/<uid>/volume-subpaths.
// hostPath volumes and claims bound to local or hostPath PersistentVolumes
// are used in place.
//
// Data flow: the worker calls Setup before creating a pod's containers,
// Mounts for each container (mapping to internal/agent/runtime's Mount),
// Refresh periodically while the pod runs, and Teardown after its sandbox
// is gone; Pods lists the pods with volumes on disk, for tearing down
// those of pods that disappeared while the agent was away. ConfigMaps, Secrets, claims and volumes are read, and
// ServiceAccount tokens requested (TokenRequest bound to the pod), with the
// node's client; the Node authorizer lets a node read exactly what its
// pods reference.
//
// Data volumes (configMap, secret, downwardAPI, projected) are written by
// an atomic writer with the kubelet's "..data" symlink swap, so a reader
// sees one version or the next, never a mix; they are always mounted
// read-only. A pod's fsGroup is applied to them and to emptyDirs (group
// ownership, group read/write, setgid directories; fsGroupChangePolicy
// OnRootMismatch skips the walk when the root already matches).
//
// Memory emptyDirs are tmpfs mounts sized by sizeLimit or the node's
// allocatable memory; they and subPath binds need root.
package volume
