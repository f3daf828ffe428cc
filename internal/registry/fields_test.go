package registry

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestFields(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: om("web-1", time.Hour),
		Spec: corev1.PodSpec{
			NodeName: "node-1", RestartPolicy: corev1.RestartPolicyAlways, SchedulerName: "default-scheduler",
			ServiceAccountName: "web", HostNetwork: true,
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: "10.42.0.9", PodIPs: []corev1.PodIP{{IP: "10.42.0.9"}, {IP: "fd42::9"}},
			NominatedNodeName: "node-2",
		},
	}
	ref := corev1.ObjectReference{
		Kind: "Pod", Namespace: "default", Name: "web-1", UID: "u-1", APIVersion: "v1", ResourceVersion: "42", FieldPath: "spec.containers{nginx}",
	}
	tests := []struct {
		name string
		gk   schema.GroupKind
		obj  runtime.Object
		want fields.Set
	}{{
		name: "pod",
		gk:   schema.GroupKind{Kind: "Pod"},
		obj:  pod,
		want: fields.Set{
			"spec.nodeName": "node-1", "spec.restartPolicy": "Always", "spec.schedulerName": "default-scheduler",
			"spec.serviceAccountName": "web", "spec.hostNetwork": "true", "status.phase": "Running",
			"status.podIP": "10.42.0.9", "status.podIPs": "", "status.nominatedNodeName": "node-2",
		},
	}, {
		name: "pending pod",
		gk:   schema.GroupKind{Kind: "Pod"},
		obj:  &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending}},
		want: fields.Set{
			"spec.nodeName": "", "spec.restartPolicy": "", "spec.schedulerName": "", "spec.serviceAccountName": "",
			"spec.hostNetwork": "false", "status.phase": "Pending", "status.podIP": "", "status.podIPs": "", "status.nominatedNodeName": "",
		},
	}, {
		name: "core event, source from the component",
		gk:   schema.GroupKind{Kind: "Event"},
		obj: &corev1.Event{
			InvolvedObject: ref, Reason: "Pulled", Type: "Normal", ReportingController: "kubelet",
			Source: corev1.EventSource{Component: "kubelet-old", Host: "node-1"},
		},
		want: fields.Set{
			"involvedObject.kind": "Pod", "involvedObject.namespace": "default", "involvedObject.name": "web-1",
			"involvedObject.uid": "u-1", "involvedObject.apiVersion": "v1", "involvedObject.resourceVersion": "42",
			"involvedObject.fieldPath": "spec.containers{nginx}", "reason": "Pulled", "reportingComponent": "kubelet",
			"source": "kubelet-old", "type": "Normal",
		},
	}, {
		name: "core event, source from the reporting controller",
		gk:   schema.GroupKind{Kind: "Event"},
		obj:  &corev1.Event{InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: "n"}, Reason: "Starting", Type: "Normal", ReportingController: "berth-agent"},
		want: fields.Set{
			"involvedObject.kind": "Node", "involvedObject.namespace": "", "involvedObject.name": "n",
			"involvedObject.uid": "", "involvedObject.apiVersion": "", "involvedObject.resourceVersion": "",
			"involvedObject.fieldPath": "", "reason": "Starting", "reportingComponent": "berth-agent",
			"source": "berth-agent", "type": "Normal",
		},
	}, {
		name: "events.k8s.io event",
		gk:   schema.GroupKind{Group: "events.k8s.io", Kind: "Event"},
		obj:  &eventsv1.Event{Regarding: ref, Reason: "Unhealthy", Type: "Warning", ReportingController: "kubelet"},
		want: fields.Set{
			"regarding.kind": "Pod", "regarding.namespace": "default", "regarding.name": "web-1",
			"regarding.uid": "u-1", "regarding.apiVersion": "v1", "regarding.resourceVersion": "42",
			"regarding.fieldPath": "spec.containers{nginx}", "reason": "Unhealthy", "reportingController": "kubelet",
			"type": "Warning",
		},
	}, {
		name: "node",
		gk:   schema.GroupKind{Kind: "Node"},
		obj:  &corev1.Node{Spec: corev1.NodeSpec{Unschedulable: true}},
		want: fields.Set{"spec.unschedulable": "true"},
	}, {
		name: "namespace",
		gk:   schema.GroupKind{Kind: "Namespace"},
		obj:  &corev1.Namespace{Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}},
		want: fields.Set{"status.phase": "Terminating"},
	}, {
		name: "secret",
		gk:   schema.GroupKind{Kind: "Secret"},
		obj:  &corev1.Secret{Type: corev1.SecretTypeDockerConfigJson},
		want: fields.Set{"type": "kubernetes.io/dockerconfigjson"},
	}, {
		name: "service",
		gk:   schema.GroupKind{Kind: "Service"},
		obj:  &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: "10.43.0.5"}},
		want: fields.Set{"spec.clusterIP": "10.43.0.5", "spec.type": "NodePort"},
	}, {
		name: "replication controller",
		gk:   schema.GroupKind{Kind: "ReplicationController"},
		obj:  &corev1.ReplicationController{Status: corev1.ReplicationControllerStatus{Replicas: 3}},
		want: fields.Set{"status.replicas": "3"},
	}, {
		name: "replica set",
		gk:   schema.GroupKind{Group: "apps", Kind: "ReplicaSet"},
		obj:  &appsv1.ReplicaSet{Status: appsv1.ReplicaSetStatus{Replicas: 0}},
		want: fields.Set{"status.replicas": "0"},
	}, {
		name: "job",
		gk:   schema.GroupKind{Group: "batch", Kind: "Job"},
		obj:  &batchv1.Job{Status: batchv1.JobStatus{Succeeded: 2}},
		want: fields.Set{"status.successful": "2"},
	}}
	printers := kindPrintersAt(fixedClock)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := printers[tt.gk].Fields
			if f == nil {
				t.Fatalf("%v has no selectable fields", tt.gk)
			}
			if diff := cmp.Diff(tt.want, f(tt.obj)); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
			if got := f(&corev1.ConfigMap{}); got != nil {
				t.Errorf("fields of another kind's object = %v, want nil", got)
			}
		})
	}
}

func TestFieldsMatchSelectors(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{NodeName: "node-1"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	set := podFields(pod)
	tests := []struct {
		selector string
		want     bool
	}{
		{"spec.nodeName=node-1", true},
		{"spec.nodeName=node-1,status.phase!=Running", false},
		{"status.phase!=Succeeded,status.phase!=Failed", true},
		{"spec.hostNetwork=false", true},
		{"status.podIPs=10.42.0.1", false},
	}
	for _, tt := range tests {
		sel, err := fields.ParseSelector(tt.selector)
		if err != nil {
			t.Fatal(err)
		}
		if got := sel.Matches(set); got != tt.want {
			t.Errorf("%q matches = %v, want %v", tt.selector, got, tt.want)
		}
	}
}
