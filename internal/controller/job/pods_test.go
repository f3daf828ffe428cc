package job

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNewPod(t *testing.T) {
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "ns", UID: "u1"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "pi"}, Annotations: map[string]string{"a": "b"}},
			Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "c", Image: "perl"}},
			},
		}},
	}
	ref := metav1.OwnerReference{APIVersion: "batch/v1", Kind: "Job", Name: "pi", UID: "u1", Controller: new(true), BlockOwnerDeletion: new(true)}
	labels := map[string]string{
		"app": "pi", "batch.kubernetes.io/controller-uid": "u1", "controller-uid": "u1",
		"batch.kubernetes.io/job-name": "pi", "job-name": "pi",
	}
	indexEnv := corev1.EnvVar{Name: "JOB_COMPLETION_INDEX", ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']"},
	}}
	tests := []struct {
		name  string
		index int
		want  *corev1.Pod
	}{{
		name:  "non-indexed",
		index: -1,
		want: &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "pi-", Namespace: "ns", Labels: labels, Annotations: map[string]string{"a": "b"}, OwnerReferences: []metav1.OwnerReference{ref}},
			Spec:       job.Spec.Template.Spec,
		},
	}, {
		name:  "indexed",
		index: 2,
		want: &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				GenerateName: "pi-2-", Namespace: "ns",
				Labels:          withEntry(labels, "batch.kubernetes.io/job-completion-index", "2"),
				Annotations:     map[string]string{"a": "b", "batch.kubernetes.io/job-completion-index": "2"},
				OwnerReferences: []metav1.OwnerReference{ref},
			},
			Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Hostname:      "pi-2",
				Containers:    []corev1.Container{{Name: "c", Image: "perl", Env: []corev1.EnvVar{indexEnv}}},
			},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := job.DeepCopy()
			if diff := cmp.Diff(tc.want, newPod(job, tc.index)); diff != "" {
				t.Errorf("pod (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, job); diff != "" {
				t.Errorf("newPod modified the job (-before +after):\n%s", diff)
			}
		})
	}
}

func withEntry(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for mk, mv := range m {
		out[mk] = mv
	}
	return out
}
