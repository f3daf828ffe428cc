// Package node is the Node authorizer, as upstream's: it decides requests
// of node users (group system:nodes, name system:node:<name>) by what
// the node runs.
//
// A node may read a Secret, ConfigMap, PersistentVolumeClaim or
// PersistentVolume, and create a ServiceAccount token, only when a pod
// bound to it references that object (volumes, projected sources, env,
// envFrom, imagePullSecrets, the pod's ServiceAccount; a PersistentVolume
// through the claim bound to it; Secrets named by such a volume); it may
// use only its own Lease in kube-node-lease. Upstream keeps these
// relationships in a graph fed by informers; this package walks the API
// server's current objects (auth.Objects) per request instead, which
// gives the same answers. The rest of what a node may do (its Node, pods,
// events, CSRs, reviews...) is upstream's static node rule set, allowed
// here as upstream's authorizer does; NodeRestriction admission
// (internal/admission/noderestriction) narrows those writes to the
// node's own objects. Everything else has no opinion, for RBAC to decide.
package node
