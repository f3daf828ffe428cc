package job

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestOrphans(t *testing.T) {
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "j", UID: "uid-j"},
		Spec:       batchv1.JobSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}},
	}
	p := func(name string, labels map[string]string, edit func(*corev1.Pod)) *corev1.Pod {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
		if edit != nil {
			edit(pod)
		}
		return pod
	}
	match := map[string]string{"app": "x", "other": "y"}
	pods := []*corev1.Pod{
		p("orphan", match, nil),
		p("other-labels", map[string]string{"app": "z"}, nil),
		p("owned", match, func(pod *corev1.Pod) {
			pod.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "rs", UID: "uid-rs", Controller: new(true)}}
		}),
		p("non-controller owner", match, func(pod *corev1.Pod) {
			pod.OwnerReferences = []metav1.OwnerReference{{Kind: "ConfigMap", Name: "cm", UID: "uid-cm"}}
		}),
		p("deleting", match, func(pod *corev1.Pod) { pod.DeletionTimestamp = &metav1.Time{} }),
	}
	var got []string
	for _, o := range orphans(job, pods) {
		got = append(got, o.Name)
	}
	if diff := cmp.Diff([]string{"orphan", "non-controller owner"}, got); diff != "" {
		t.Errorf("orphans (-want +got):\n%s", diff)
	}
	job.Spec.Selector = &metav1.LabelSelector{}
	if o := orphans(job, pods); len(o) != 0 {
		t.Errorf("an empty selector adopts %d pods", len(o))
	}
}

func TestStrays(t *testing.T) {
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "j", UID: "uid-j"},
		Spec:       batchv1.JobSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}},
	}
	mine := []*corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Name: "matching", Labels: map[string]string{"app": "x"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "relabelled", Labels: map[string]string{"app": "y"}}},
	}
	var got []string
	for _, p := range strays(job, mine) {
		got = append(got, p.Name)
	}
	if diff := cmp.Diff([]string{"relabelled"}, got); diff != "" {
		t.Errorf("strays (-want +got):\n%s", diff)
	}
}
