package statefulset

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestParentAndOrdinal(t *testing.T) {
	tests := []struct {
		name, pod, parent string
		ord               int
	}{
		{name: "plain", pod: "web-3", parent: "web", ord: 3},
		{name: "dashes in the set name", pod: "my-web-12", parent: "my-web", ord: 12},
		{name: "no ordinal", pod: "web-abc", ord: -1},
		{name: "no dash", pod: "web3", ord: -1},
		{name: "ordinal overflows int32", pod: "web-99999999999", ord: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent, ord := parentAndOrdinal(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: tt.pod}})
			if parent != tt.parent || ord != tt.ord {
				t.Errorf("parentAndOrdinal(%q) = %q, %d; want %q, %d", tt.pod, parent, ord, tt.parent, tt.ord)
			}
		})
	}
}

func TestNewPod(t *testing.T) {
	set := testSet(3).claim("data").s
	set.Spec.Template.Spec.Volumes = []corev1.Volume{
		{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	p := newPod(set, 2, "web-abc")
	if p.Name != "web-2" || p.Namespace != "ns" || p.Spec.Hostname != "web-2" || p.Spec.Subdomain != "svc" {
		t.Errorf("identity: name %s/%s hostname %q subdomain %q", p.Namespace, p.Name, p.Spec.Hostname, p.Spec.Subdomain)
	}
	wantLabels := map[string]string{"app": "web", appsv1.StatefulSetPodNameLabel: "web-2", appsv1.PodIndexLabel: "2", revisionLabel: "web-abc"}
	if diff := cmp.Diff(wantLabels, p.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	wantVolumes := []corev1.Volume{
		{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-web-2"}}},
		{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	if diff := cmp.Diff(wantVolumes, p.Spec.Volumes); diff != "" {
		t.Errorf("volumes (-want +got):\n%s", diff)
	}
	if ref := metav1.GetControllerOf(p); ref == nil || ref.UID != set.UID || ref.Kind != "StatefulSet" {
		t.Errorf("controller reference %+v", ref)
	}
	if !identityMatches(set, p) || !storageMatches(set, p) {
		t.Error("a new pod does not match its own identity or storage")
	}
	if set.Spec.Template.Labels[revisionLabel] != "" {
		t.Error("newPod modified the set's template")
	}
}

func TestClaimOwners(t *testing.T) {
	const (
		retain = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
		del    = appsv1.DeletePersistentVolumeClaimRetentionPolicyType
	)
	setRef := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "web", UID: "set-uid"}
	podRef := func(ord int) metav1.OwnerReference {
		p := pod(ord, "new").p
		return metav1.OwnerReference{APIVersion: "v1", Kind: "Pod", Name: p.Name, UID: p.UID}
	}
	other := metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "x", UID: "other"}
	tests := []struct {
		name            string
		deleted, scaled appsv1.PersistentVolumeClaimRetentionPolicyType
		ord             int // of the pod; the set has 2 replicas
		have, want      []metav1.OwnerReference
		changed         bool
	}{
		{name: "retain retain", deleted: retain, scaled: retain, ord: 1},
		{name: "retain retain drops ours, keeps others", deleted: retain, scaled: retain, ord: 3,
			have: []metav1.OwnerReference{setRef, podRef(3), other}, want: []metav1.OwnerReference{other}, changed: true},
		{name: "whenDeleted Delete: the set", deleted: del, scaled: retain, ord: 1,
			want: []metav1.OwnerReference{setRef}, changed: true},
		{name: "whenDeleted Delete: the set, even scaled away", deleted: del, scaled: retain, ord: 3,
			want: []metav1.OwnerReference{setRef}, changed: true},
		{name: "whenScaled Delete, in range: nobody", deleted: retain, scaled: del, ord: 1,
			have: []metav1.OwnerReference{podRef(1)}, changed: true},
		{name: "whenScaled Delete, scaled away: the pod", deleted: retain, scaled: del, ord: 3,
			want: []metav1.OwnerReference{podRef(3)}, changed: true},
		{name: "both Delete, in range: the set", deleted: del, scaled: del, ord: 0,
			have: []metav1.OwnerReference{setRef}, want: []metav1.OwnerReference{setRef}},
		{name: "both Delete, scaled away: the pod instead of the set", deleted: del, scaled: del, ord: 2,
			have: []metav1.OwnerReference{setRef}, want: []metav1.OwnerReference{podRef(2)}, changed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := testSet(2).retention(tt.deleted, tt.scaled).s
			claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", OwnerReferences: tt.have}}
			got, changed := claimOwners(set, pod(tt.ord, "new").p, claim)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("refs (-want +got):\n%s", diff)
			}
			if changed != tt.changed {
				t.Errorf("changed = %v, want %v", changed, tt.changed)
			}
		})
	}
}

func TestComputeStatus(t *testing.T) {
	const ok = time.Hour
	tests := []struct {
		name   string
		set    setBuilder
		pods   []*corev1.Pod
		rolled int32
		want   appsv1.StatefulSetStatus
	}{
		{name: "mid rollout", set: testSet(3).minReady(10),
			pods: pods(pod(0, "old").ready(ok), pod(1, "new").ready(time.Second), pod(2, "new")),
			want: appsv1.StatefulSetStatus{Replicas: 3, ReadyReplicas: 2, AvailableReplicas: 1, CurrentReplicas: 1, UpdatedReplicas: 2,
				CurrentRevision: "old", UpdateRevision: "new"}},
		{name: "terminating pods are replicas but neither current nor updated", set: testSet(2),
			pods: pods(pod(0, "old").ready(ok), pod(1, "old").running().deleting()),
			want: appsv1.StatefulSetStatus{Replicas: 2, ReadyReplicas: 1, AvailableReplicas: 1, CurrentReplicas: 1,
				CurrentRevision: "old", UpdateRevision: "new"}},
		{name: "a deletion for the update lowers current", set: testSet(2),
			pods: pods(pod(0, "old").ready(ok), pod(1, "old").ready(ok)), rolled: 1,
			want: appsv1.StatefulSetStatus{Replicas: 2, ReadyReplicas: 2, AvailableReplicas: 2, CurrentReplicas: 1,
				CurrentRevision: "old", UpdateRevision: "new"}},
		{name: "a complete rolling update makes the update current", set: testSet(2),
			pods: pods(pod(0, "new").ready(ok), pod(1, "new").ready(ok)),
			want: appsv1.StatefulSetStatus{Replicas: 2, ReadyReplicas: 2, AvailableReplicas: 2, CurrentReplicas: 2, UpdatedReplicas: 2,
				CurrentRevision: "new", UpdateRevision: "new"}},
		{name: "OnDelete never completes by itself", set: testSet(1).onDelete(),
			pods: pods(pod(0, "new").ready(ok)),
			want: appsv1.StatefulSetStatus{Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, UpdatedReplicas: 1,
				CurrentRevision: "old", UpdateRevision: "new"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := tt.set.s
			set.Generation = 4
			tt.want.ObservedGeneration = 4
			tt.want.CollisionCount = new(int32(1))
			got := computeStatus(set, tt.set.revs(), tt.pods, 1, tt.rolled, now)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
		})
	}
}
