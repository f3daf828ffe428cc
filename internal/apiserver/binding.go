package apiserver

import (
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var bindingGVK = corev1.SchemeGroupVersion.WithKind("Binding")

// handleBinding serves POST pods/{name}/binding: it assigns the pod to a
// node, as upstream's BindingREST. A pod already assigned or being deleted
// is a 409 Conflict.
func (s *Server) handleBinding(w http.ResponseWriter, r *http.Request, req *request, body []byte, dry bool) error {
	res, in := req.res, req.info
	obj, err := s.decodeBody(r, req, body, bindingGVK, &corev1.Binding{})
	if err != nil {
		return err
	}
	b := obj.(*corev1.Binding)
	if b.Name != "" && b.Name != in.Name {
		return badRequest("the name of the object (%s) does not match the name on the URL (%s)", b.Name, in.Name)
	}
	var errs field.ErrorList
	if b.Target.Kind != "" && b.Target.Kind != "Node" {
		errs = append(errs, field.NotSupported(field.NewPath("target", "kind"), b.Target.Kind, []string{"Node", "<empty>"}))
	}
	if b.Target.Name == "" {
		errs = append(errs, field.Required(field.NewPath("target", "name"), ""))
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(schema.GroupKind{Kind: "Binding"}, in.Name, errs)
	}
	if err := s.admitSubresource(r.Context(), req, b, bindingGVK, dry); err != nil {
		return err
	}
	req.checked = true
	_, _, err = s.update(r.Context(), req, res, in.Namespace, in.Name, "", false, dry, func(old runtime.Object) (runtime.Object, error) {
		if old == nil {
			return nil, notFound(res, in.Name)
		}
		pod := old.(*corev1.Pod)
		if b.UID != "" && b.UID != pod.UID {
			return nil, apierrors.NewConflict(res.GroupResource(), in.Name,
				fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", b.UID, pod.UID))
		}
		if pod.DeletionTimestamp != nil {
			return nil, apierrors.NewConflict(res.GroupResource(), in.Name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", pod.Name))
		}
		if len(pod.Spec.SchedulingGates) > 0 {
			return nil, apierrors.NewConflict(res.GroupResource(), in.Name, fmt.Errorf("pod %v has non-empty .spec.schedulingGates", pod.Name))
		}
		if pod.Spec.NodeName != "" {
			return nil, apierrors.NewConflict(res.GroupResource(), in.Name, fmt.Errorf("pod %v is already assigned to node %q", pod.Name, pod.Spec.NodeName))
		}
		pod.Spec.NodeName = b.Target.Name
		for k, v := range b.Annotations {
			if pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			pod.Annotations[k] = v
		}
		setPodCondition(&pod.Status, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}, s.now())
		return pod, nil
	})
	if err != nil {
		return err
	}
	s.writeObject(w, req, http.StatusCreated, &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Code: http.StatusCreated,
	})
	return nil
}

// setPodCondition sets a condition, moving its transition time only when
// its status changes.
func setPodCondition(st *corev1.PodStatus, c corev1.PodCondition, now time.Time) {
	c.LastProbeTime = metav1.Time{}
	for i := range st.Conditions {
		if st.Conditions[i].Type != c.Type {
			continue
		}
		if st.Conditions[i].Status == c.Status {
			c.LastTransitionTime = st.Conditions[i].LastTransitionTime
		} else {
			c.LastTransitionTime = metav1.NewTime(now.Truncate(time.Second))
		}
		st.Conditions[i] = c
		return
	}
	c.LastTransitionTime = metav1.NewTime(now.Truncate(time.Second))
	st.Conditions = append(st.Conditions, c)
}
