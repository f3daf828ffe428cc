// Package podautoscaler is the HorizontalPodAutoscaler controller: it owns
// the status of autoscaling/v2 HorizontalPodAutoscalers and writes the
// scale subresource of their targets.
//
// Every SyncPeriod, and whenever an HPA changes, a worker reads the
// target's scale (any kind, through the scale client), lists its pods by
// the scale's selector, reads their usage from the resource metrics API
// (metrics.k8s.io PodMetrics) and computes the replicas each Resource
// metric asks for as upstream's replica calculator does (replicas.go,
// pure): ceil(current × usage/target), within a 10% tolerance, with
// missing and unready pods counted against the direction of the change.
// The highest proposal is then stabilized over the behavior's windows and
// limited by its scaling policies (behavior.go, pure; the recent
// recommendations and scale events it needs are kept in memory per HPA,
// as upstream), clamped to minReplicas and maxReplicas, written to the
// scale subresource, and reported in the HPA's status (currentReplicas,
// desiredReplicas, currentMetrics, lastScaleTime and the AbleToScale,
// ScalingActive and ScalingLimited conditions) and in Events.
//
// Resource and ContainerResource metrics are served (Utilization and
// AverageValue of any resource PodMetrics report); Pods, Object and
// External metrics make the HPA report InvalidMetricSourceType. HPAs whose
// selectors overlap are not detected (upstream's AmbiguousSelector).
package podautoscaler
