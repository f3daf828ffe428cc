package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

var evictionGVK = policyv1.SchemeGroupVersion.WithKind("Eviction")

// pdbRetries bounds retries of a PodDisruptionBudget write that conflicts.
const pdbRetries = 5

// handleEviction serves POST pods/{name}/eviction, as upstream's
// EvictionREST: a pod that a PodDisruptionBudget protects is deleted only
// if the budget allows a disruption, which the eviction then uses up; a
// pod that is not running, or that no budget covers, is simply deleted.
func (s *Server) handleEviction(w http.ResponseWriter, r *http.Request, req *request, body []byte, dry bool) error {
	in := req.info
	obj, err := s.decodeBody(r, req, body, evictionGVK, &policyv1.Eviction{})
	if err != nil {
		return err
	}
	ev := obj.(*policyv1.Eviction)
	if ev.Name != "" && ev.Name != in.Name {
		return badRequest("name in URL does not match name in Eviction object")
	}
	if err := s.admitSubresource(r.Context(), req, ev, evictionGVK, dry); err != nil {
		return err
	}
	opts := ev.DeleteOptions
	if opts == nil {
		opts = &metav1.DeleteOptions{}
	}
	if dry {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	podObj, _, err := s.getStored(r.Context(), req.res, in.Namespace, in.Name)
	if err != nil {
		return err
	}
	pod := podObj.(*corev1.Pod)
	if pod.DeletionTimestamp == nil && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed && pod.Status.Phase != corev1.PodPending {
		if err := s.useDisruption(r.Context(), pod, dry); err != nil {
			return err
		}
	}
	if !dry && pod.DeletionTimestamp == nil {
		if err := s.markDisruptionTarget(r.Context(), req.res, pod); err != nil {
			return err
		}
	}
	if _, err := s.delete(r.Context(), nil, req.res, in.Namespace, in.Name, opts); err != nil {
		return err
	}
	s.writeObject(w, req, http.StatusCreated, &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Code: http.StatusCreated,
	})
	return nil
}

// useDisruption records pod's eviction in the budget that covers it, or
// refuses with 429 when the budget allows no more disruptions.
func (s *Server) useDisruption(ctx context.Context, pod *corev1.Pod, dry bool) error {
	pdbRes := s.lookup(policyv1.SchemeGroupVersion, "poddisruptionbudgets")
	for attempt := 0; ; attempt++ {
		rev, _, err := s.store.Revision(ctx)
		if err != nil {
			return err
		}
		items, _, err := s.cache.snapshot(ctx, pdbRes, pdbRes.listPrefix(pod.Namespace), rev)
		if err != nil {
			return err
		}
		var matching []*policyv1.PodDisruptionBudget
		for _, o := range items {
			pdb := o.obj.(*policyv1.PodDisruptionBudget)
			// A nil selector matches nothing, an empty one every pod (policy/v1).
			sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
			if err != nil || !sel.Matches(labels.Set(pod.Labels)) {
				continue
			}
			matching = append(matching, pdb)
		}
		switch len(matching) {
		case 0:
			return nil
		case 1:
		default:
			return apierrors.NewInternalError(errors.New("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."))
		}
		pdb := matching[0]
		if unhealthyMayGo(pod, pdb) {
			return nil
		}
		if pdb.Status.ObservedGeneration < pdb.Generation || pdb.Status.DisruptionsAllowed <= 0 {
			msg := "Cannot evict pod as it would violate the pod's disruption budget."
			if pdb.Status.ObservedGeneration < pdb.Generation {
				msg = "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget has not been observed yet."
			}
			err := apierrors.NewTooManyRequests(msg, 10)
			err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
				Type:    policyv1.DisruptionBudgetCause,
				Message: fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently", pdb.Name, pdb.Status.DesiredHealthy, pdb.Status.CurrentHealthy),
			})
			return err
		}
		if dry {
			return nil
		}
		req := &request{res: pdbRes, info: requestInfo{Subresource: "status"}, user: systemUser}
		_, _, err = s.update(ctx, req, pdbRes, pdb.Namespace, pdb.Name, pdb.ResourceVersion, false, false, func(old runtime.Object) (runtime.Object, error) {
			cur := old.(*policyv1.PodDisruptionBudget)
			cur.Status.DisruptionsAllowed--
			if cur.Status.DisruptedPods == nil {
				cur.Status.DisruptedPods = map[string]metav1.Time{}
			}
			cur.Status.DisruptedPods[pod.Name] = metav1.NewTime(s.now().Truncate(time.Second))
			return cur, nil
		})
		if apierrors.IsConflict(err) && attempt < pdbRetries {
			continue
		}
		return err
	}
}

// unhealthyMayGo reports whether pod, running but not ready, may be
// evicted without using the budget: always under the AlwaysAllow policy,
// and under IfHealthyBudget (the default) while the budget is met.
func unhealthyMayGo(pod *corev1.Pod, pdb *policyv1.PodDisruptionBudget) bool {
	if pod.Status.Phase != corev1.PodRunning || podReady(pod) {
		return false
	}
	if p := pdb.Spec.UnhealthyPodEvictionPolicy; p != nil && *p == policyv1.AlwaysAllow {
		return true
	}
	return pdb.Status.ObservedGeneration >= pdb.Generation && pdb.Status.CurrentHealthy >= pdb.Status.DesiredHealthy
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// markDisruptionTarget records on the pod why it is about to go, as
// upstream's eviction does: the DisruptionTarget condition with reason
// EvictionByEvictionAPI.
func (s *Server) markDisruptionTarget(ctx context.Context, pods *resource, pod *corev1.Pod) error {
	req := &request{res: pods, info: requestInfo{Subresource: "status"}, user: systemUser}
	_, _, err := s.update(ctx, req, pods, pod.Namespace, pod.Name, "", false, false, func(old runtime.Object) (runtime.Object, error) {
		cur := old.(*corev1.Pod)
		cond := corev1.PodCondition{
			Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "EvictionByEvictionAPI",
			Message: "Eviction API: evicting", LastTransitionTime: metav1.NewTime(s.now().Truncate(time.Second)),
		}
		for i, c := range cur.Status.Conditions {
			if c.Type == corev1.DisruptionTarget {
				if c.Status == corev1.ConditionTrue && c.Reason == cond.Reason {
					return nil, errNoChange
				}
				cur.Status.Conditions[i] = cond
				return cur, nil
			}
		}
		cur.Status.Conditions = append(cur.Status.Conditions, cond)
		return cur, nil
	})
	return err
}
