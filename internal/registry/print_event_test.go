package registry

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func microAgo(d time.Duration) metav1.MicroTime { return metav1.NewMicroTime(testNow.Add(-d)) }

func eventGolden() map[schema.GroupKind][]runtime.Object {
	pod := corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-1", FieldPath: "spec.containers{nginx}"}
	return map[schema.GroupKind][]runtime.Object{
		{Kind: "Event"}: {
			// A repeated event as the kubelet records it.
			&corev1.Event{
				ObjectMeta: om("web-1.17c8a", 10*time.Minute), InvolvedObject: pod,
				Type: corev1.EventTypeWarning, Reason: "BackOff", Message: "Back-off restarting failed container nginx\n",
				Source:         corev1.EventSource{Component: "kubelet", Host: "node-1"},
				FirstTimestamp: ago(10 * time.Minute), LastTimestamp: ago(20 * time.Second), Count: 14,
			},
			// A series recorded through the events.k8s.io API.
			&corev1.Event{
				ObjectMeta: om("web.17c8b", time.Hour), InvolvedObject: corev1.ObjectReference{Kind: "Deployment", Name: "web"},
				Type: corev1.EventTypeNormal, Reason: "ScalingReplicaSet", Message: "Scaled up replica set web-7d4b9c5f6 to 3",
				ReportingController: "deployment-controller", ReportingInstance: "server-1",
				EventTime: microAgo(time.Hour), Series: &corev1.EventSeries{Count: 4, LastObservedTime: microAgo(5 * time.Minute)},
			},
			// A singleton without a count, about a cluster-scoped kind without a name.
			&corev1.Event{
				ObjectMeta: om("node.17c8c", 3*time.Minute), InvolvedObject: corev1.ObjectReference{Kind: "Node"},
				Type: corev1.EventTypeNormal, Reason: "Starting", Message: "  Starting berth agent.  ",
				ReportingController: "berth-agent", EventTime: microAgo(3 * time.Minute),
			},
		},
		{Group: "events.k8s.io", Kind: "Event"}: {
			&eventsv1.Event{
				ObjectMeta: om("web-1.17c8d", 2*time.Hour), Regarding: pod,
				Type: corev1.EventTypeNormal, Reason: "Pulled", Note: "Container image \"nginx:1.25\" already present on machine",
				ReportingController: "kubelet", ReportingInstance: "node-1", Action: "Pulling", EventTime: microAgo(2 * time.Hour),
			},
			&eventsv1.Event{
				ObjectMeta: om("web-1.17c8e", time.Hour), Regarding: pod,
				Type: corev1.EventTypeWarning, Reason: "Unhealthy", Note: "Readiness probe failed",
				DeprecatedSource: corev1.EventSource{Component: "kubelet"}, ReportingController: "kubelet", ReportingInstance: "node-2",
				DeprecatedFirstTimestamp: ago(time.Hour), DeprecatedLastTimestamp: ago(2 * time.Minute), DeprecatedCount: 30,
			},
			&eventsv1.Event{
				ObjectMeta: om("web-1.17c8f", time.Hour), Regarding: pod,
				Type: corev1.EventTypeWarning, Reason: "Unhealthy", Note: "Liveness probe failed",
				ReportingController: "kubelet", EventTime: microAgo(time.Hour),
				Series: &eventsv1.EventSeries{Count: 7, LastObservedTime: microAgo(time.Minute)},
			},
		},
	}
}
