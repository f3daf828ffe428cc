// Package deployment runs the Deployment controller: for every apps/v1
// Deployment it keeps one ReplicaSet per pod template, named
// <deployment>-<pod-template-hash> and controlled by the Deployment, and
// moves replicas from the old ReplicaSets to the new one following the
// strategy (RollingUpdate within maxSurge and maxUnavailable, or Recreate).
//
// A sync reads the Deployment and its ReplicaSets from the cache (adopting
// matching orphans, releasing controlled ones that no longer match), finds or
// creates the ReplicaSet whose template equals the Deployment's (ignoring the
// pod-template-hash label) and gives it the next revision, decides the
// replica counts with the pure planning functions in rollout.go, writes the
// changed ReplicaSets, deletes old empty ReplicaSets beyond
// revisionHistoryLimit and writes the status and the Available and
// Progressing conditions computed in status.go. A paused Deployment, or one
// whose replicas changed, is only scaled, proportionally across its active
// ReplicaSets. The ReplicaSet controller turns ReplicaSets into pods.
//
// The controller owns ReplicaSets' controller ownerReferences to
// Deployments, the deployment.kubernetes.io annotations on both kinds and
// Deployment status; nothing else.
package deployment
