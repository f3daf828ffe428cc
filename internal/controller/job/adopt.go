package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// strays returns the pods among mine (those the Job controls) that no
// longer match its selector: those the Job releases.
func strays(job *batchv1.Job, mine []*corev1.Pod) []*corev1.Pod {
	sel, ok := selector(job)
	if !ok {
		return nil
	}
	var out []*corev1.Pod
	for _, p := range mine {
		if !sel.Matches(labels.Set(p.Labels)) {
			out = append(out, p)
		}
	}
	return out
}

// selector returns the Job's pod selector; false for a missing, empty or
// invalid one, which neither adopts nor releases.
func selector(job *batchv1.Job) (labels.Selector, bool) {
	if job.Spec.Selector == nil {
		return nil, false
	}
	sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil || sel.Empty() {
		return nil, false
	}
	return sel, true
}

// orphans returns the pods among all that no controller owns, are not
// being deleted and match the Job's selector: those the Job adopts.
func orphans(job *batchv1.Job, all []*corev1.Pod) []*corev1.Pod {
	sel, ok := selector(job)
	if !ok {
		return nil
	}
	var out []*corev1.Pod
	for _, p := range all {
		if p.DeletionTimestamp == nil && metav1.GetControllerOfNoCopy(p) == nil && sel.Matches(labels.Set(p.Labels)) {
			out = append(out, p)
		}
	}
	return out
}

// adopt makes the Job the controller of the orphan pods and returns them
// as adopted. As upstream, it first reads the Job from the server: a Job
// deleted, or replaced by one of the same name, adopts nothing. Each
// patch is conditional on the pod's UID and resourceVersion, so a pod
// changed meanwhile is left for the next sync.
func (c *Controller) adopt(ctx context.Context, job *batchv1.Job, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	fresh, err := c.client.BatchV1().Jobs(job.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading job before adopting: %w", err)
	}
	if fresh.UID != job.UID || fresh.DeletionTimestamp != nil {
		return nil, nil
	}
	ref := *metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job"))
	var adopted []*corev1.Pod
	var errs []error
	for _, p := range pods {
		refs := append(slices.Clone(p.OwnerReferences), ref)
		patch, err := json.Marshal([]map[string]any{
			{"op": "test", "path": "/metadata/uid", "value": p.UID},
			{"op": "test", "path": "/metadata/resourceVersion", "value": p.ResourceVersion},
			{"op": "add", "path": "/metadata/ownerReferences", "value": refs},
		})
		if err != nil {
			return nil, err
		}
		got, err := c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.JSONPatchType, patch, metav1.PatchOptions{})
		switch {
		case err == nil:
			adopted = append(adopted, got)
		case apierrors.IsNotFound(err):
		default:
			errs = append(errs, fmt.Errorf("adopting pod %s: %w", p.Name, err))
		}
	}
	return adopted, errors.Join(errs...)
}

// release removes the Job's controller reference from pods that no
// longer match its selector, as upstream does; a pod changed or gone
// meanwhile is left alone.
func (c *Controller) release(ctx context.Context, job *batchv1.Job, pods []*corev1.Pod) error {
	var errs []error
	for _, p := range pods {
		refs := slices.DeleteFunc(slices.Clone(p.OwnerReferences), func(r metav1.OwnerReference) bool { return r.UID == job.UID })
		patch, err := json.Marshal([]map[string]any{
			{"op": "test", "path": "/metadata/uid", "value": p.UID},
			{"op": "test", "path": "/metadata/resourceVersion", "value": p.ResourceVersion},
			{"op": "replace", "path": "/metadata/ownerReferences", "value": refs},
		})
		if err != nil {
			return err
		}
		_, err = c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.JSONPatchType, patch, metav1.PatchOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("releasing pod %s: %w", p.Name, err))
		}
	}
	return errors.Join(errs...)
}
