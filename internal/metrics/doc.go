// Package metrics is berth's resource metrics pipeline, the part
// metrics-server plays upstream.
//
// Nodes serve their current resource usage at /metrics/resource in the
// kubelet's Prometheus text format (node and container cumulative CPU
// seconds and memory working set, each with a timestamp); WriteText
// renders it and ParseText reads it. A Collector, in the API server
// process, scrapes every Ready node over TLS verified against the cluster
// CA every Interval, keeps each node's last two scrapes and answers with
// the usage between them: CPU as the rate of the cumulative counter over
// the window, memory as the latest working set. The API server serves
// those answers as metrics.k8s.io/v1beta1 NodeMetrics and PodMetrics.
package metrics
