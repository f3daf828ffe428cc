package job

import (
	"maps"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Legacy labels upstream still puts on Job pods next to the
// batch.kubernetes.io ones.
const (
	legacyControllerUIDLabel = "controller-uid"
	legacyJobNameLabel       = "job-name"
)

// envCompletionIndex is the variable through which containers of an
// Indexed Job read their index, from the pod annotation.
const envCompletionIndex = "JOB_COMPLETION_INDEX"

// newPod returns a pod for job from its template, controlled by it. For an
// Indexed Job, index is the completion index (-1 otherwise): it goes into
// the annotation and label, the hostname and JOB_COMPLETION_INDEX.
func newPod(job *batchv1.Job, index int) *corev1.Pod {
	tmpl := job.Spec.Template.DeepCopy()
	uid := string(job.UID)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: job.Name + "-",
			Namespace:    job.Namespace,
			Labels:       maps.Clone(tmpl.Labels),
			Annotations:  maps.Clone(tmpl.Annotations),
			Finalizers:   tmpl.Finalizers,
			OwnerReferences: []metav1.OwnerReference{
				*metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job")),
			},
		},
		Spec: tmpl.Spec,
	}
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[batchv1.ControllerUidLabel] = uid
	pod.Labels[legacyControllerUIDLabel] = uid
	pod.Labels[batchv1.JobNameLabel] = job.Name
	pod.Labels[legacyJobNameLabel] = job.Name
	if index < 0 {
		return pod
	}
	i := strconv.Itoa(index)
	pod.GenerateName = job.Name + "-" + i + "-"
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[batchv1.JobCompletionIndexAnnotation] = i
	pod.Labels[batchv1.JobCompletionIndexAnnotation] = i
	if pod.Spec.Hostname == "" {
		pod.Spec.Hostname = job.Name + "-" + i
	}
	env := corev1.EnvVar{Name: envCompletionIndex, ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['" + batchv1.JobCompletionIndexAnnotation + "']"},
	}}
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for j := range cs {
			if !hasEnv(cs[j].Env, envCompletionIndex) {
				cs[j].Env = append(cs[j].Env, env)
			}
		}
	}
	return pod
}

// recordIndexFailures writes an index's failures so far into its new
// pod, as upstream does for Jobs with backoffLimitPerIndex, so that they
// are still counted once the failed pods are gone.
func recordIndexFailures(pod *corev1.Pod, n indexFailures) {
	pod.Annotations[batchv1.JobIndexFailureCountAnnotation] = strconv.Itoa(n.counted)
	if n.ignored > 0 {
		pod.Annotations[batchv1.JobIndexIgnoredFailureCountAnnotation] = strconv.Itoa(n.ignored)
	}
}

func hasEnv(env []corev1.EnvVar, name string) bool {
	for _, e := range env {
		if e.Name == name {
			return true
		}
	}
	return false
}
