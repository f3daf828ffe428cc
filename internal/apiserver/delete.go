package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/store"
)

// deleteOptions reads DeleteOptions from the body (if any) and the query.
func (s *Server) deleteOptions(r *http.Request, req *request) (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if len(body) > 0 {
		// Clients send DeleteOptions as meta.k8s.io/v1 or in the
		// resource's own group version; all are the same type.
		gvk := req.res.groupVersion().WithKind("DeleteOptions")
		if _, _, err := s.jsonSerializer.Decode(body, &gvk, opts); err != nil {
			if _, _, perr := s.protoSerializer.Decode(body, &gvk, opts); perr != nil {
				return nil, badRequest("decoding DeleteOptions: %v", err)
			}
		}
	} else if err := metav1.Convert_url_Values_To_v1_DeleteOptions(&req.query, opts, nil); err != nil {
		// As upstream: options come from the body, or else from the query.
		return nil, badRequest("%v", err)
	}
	for _, v := range opts.DryRun {
		if v != metav1.DryRunAll {
			return nil, badRequest("dryRun: unsupported value %q, supported values: \"All\"", v)
		}
	}
	if opts.PropagationPolicy != nil && opts.OrphanDependents != nil {
		return nil, invalidDeleteOptions("propagationPolicy", "orphanDependents and deletionPropagation cannot be both set")
	}
	if p := opts.PropagationPolicy; p != nil {
		switch *p {
		case metav1.DeletePropagationBackground, metav1.DeletePropagationForeground, metav1.DeletePropagationOrphan:
		default:
			return nil, invalidDeleteOptions("propagationPolicy", fmt.Sprintf("Unsupported value: %q", *p))
		}
	}
	if g := opts.GracePeriodSeconds; g != nil && *g < 0 {
		zero := int64(0)
		opts.GracePeriodSeconds = &zero
	}
	return opts, nil
}

func invalidDeleteOptions(field, msg string) error {
	return apierrors.NewBadRequest(fmt.Sprintf("DeleteOptions.%s: %s", field, msg))
}

func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request, req *request) error {
	res, in := req.res, req.info
	if in.Subresource != "" {
		return methodNotSupported(res, "delete")
	}
	opts, err := s.deleteOptions(r, req)
	if err != nil {
		return err
	}
	obj, err := s.delete(r.Context(), req, res, in.Namespace, in.Name, opts)
	if err != nil {
		return err
	}
	return s.writeOne(w, req, http.StatusOK, obj, nil)
}

// delete deletes one object, or starts its graceful or finalized deletion,
// and returns its last state.
func (s *Server) delete(ctx context.Context, req *request, res *resource, namespace, name string, opts *metav1.DeleteOptions) (runtime.Object, error) {
	key := res.key(namespace, name)
	dry := len(opts.DryRun) > 0
	for attempt := 0; ; attempt++ {
		obj, kv, err := s.getStored(ctx, res, namespace, name)
		if err != nil {
			return nil, err
		}
		if attrs := s.admissionFor(req, res, admission.Delete, namespace, name, nil, obj, dry); attrs != nil {
			attrs.Options = opts
			if err := s.admit(ctx, req, attrs); err != nil {
				return nil, err
			}
		}
		acc, _ := meta.Accessor(obj)
		if p := opts.Preconditions; p != nil {
			if p.UID != nil && *p.UID != acc.GetUID() {
				return nil, apierrors.NewConflict(res.GroupResource(), name,
					fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, acc.GetUID()))
			}
			if p.ResourceVersion != nil && *p.ResourceVersion != acc.GetResourceVersion() {
				return nil, apierrors.NewConflict(res.GroupResource(), name,
					fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, acc.GetResourceVersion()))
			}
		}
		pending, changed := s.markDeleting(res, obj, acc, opts)
		if pending {
			if !changed || dry {
				return obj, nil
			}
			value, err := s.encodeForStore(res, obj)
			if err != nil {
				return nil, err
			}
			rev, err := s.store.Update(ctx, key, value, kv.ModRevision)
			if errors.Is(err, store.ErrConflict) && attempt < 20 {
				continue
			}
			if err != nil {
				return nil, storeErr(res, name, err)
			}
			acc.SetResourceVersion(strconv.FormatInt(rev, 10))
			return obj, nil
		}
		if dry {
			return obj, nil
		}
		_, err = s.store.Delete(ctx, key, kv.ModRevision)
		if errors.Is(err, store.ErrConflict) && attempt < 20 {
			continue
		}
		if err != nil {
			return nil, storeErr(res, name, err)
		}
		s.afterWrite(ctx, res, nil, obj)
		return obj, nil
	}
}

// markDeleting decides whether obj must wait before it goes (finalizers,
// a graceful pod, a namespace to empty) and if so marks it. pending says
// it must wait; changed says obj was modified and must be written.
func (s *Server) markDeleting(res *resource, obj runtime.Object, acc metav1.Object, opts *metav1.DeleteOptions) (pending, changed bool) {
	finalizers := acc.GetFinalizers()
	switch {
	case opts.PropagationPolicy != nil && *opts.PropagationPolicy == metav1.DeletePropagationOrphan,
		opts.OrphanDependents != nil && *opts.OrphanDependents:
		finalizers = addFinalizer(finalizers, metav1.FinalizerOrphanDependents)
	case opts.PropagationPolicy != nil && *opts.PropagationPolicy == metav1.DeletePropagationForeground,
		opts.OrphanDependents != nil && !*opts.OrphanDependents:
		finalizers = addFinalizer(finalizers, metav1.FinalizerDeleteDependents)
	}
	grace := s.gracePeriod(obj, opts)
	ns, isNamespace := obj.(*corev1.Namespace)
	if isNamespace && len(ns.Spec.Finalizers) > 0 {
		if ns.Status.Phase != corev1.NamespaceTerminating {
			ns.Status.Phase = corev1.NamespaceTerminating
			changed = true
		}
	} else if len(finalizers) == 0 && grace == 0 {
		// A pod already being deleted gracefully goes now when asked with grace 0.
		return false, false
	}
	if !slices.Equal(finalizers, acc.GetFinalizers()) {
		acc.SetFinalizers(finalizers)
		changed = true
	}
	now := s.now()
	if ts := acc.GetDeletionTimestamp(); ts == nil {
		t := metav1.NewTime(now.Add(time.Duration(grace) * time.Second).Truncate(time.Second))
		acc.SetDeletionTimestamp(&t)
		acc.SetDeletionGracePeriodSeconds(&grace)
		changed = true
	} else if cur := acc.GetDeletionGracePeriodSeconds(); cur != nil && grace < *cur {
		// A shorter grace period than the one in progress takes effect.
		t := metav1.NewTime(now.Add(time.Duration(grace) * time.Second).Truncate(time.Second))
		if t.Before(ts) {
			acc.SetDeletionTimestamp(&t)
		}
		acc.SetDeletionGracePeriodSeconds(&grace)
		changed = true
	}
	return true, changed
}

func addFinalizer(list []string, f string) []string {
	if slices.Contains(list, f) {
		return list
	}
	return append(slices.Clone(list), f)
}

// gracePeriod is how long deletion waits: only pods running on a node get
// one, as upstream (the node's agent finishes the deletion).
func (s *Server) gracePeriod(obj runtime.Object, opts *metav1.DeleteOptions) int64 {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0
	}
	if opts.GracePeriodSeconds != nil {
		return *opts.GracePeriodSeconds
	}
	if pod.DeletionGracePeriodSeconds != nil {
		return *pod.DeletionGracePeriodSeconds
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return *pod.Spec.TerminationGracePeriodSeconds
	}
	return corev1.DefaultTerminationGracePeriodSeconds
}

func (s *Server) handleDeleteCollection(w http.ResponseWriter, r *http.Request, req *request) error {
	res, in := req.res, req.info
	opts, err := s.deleteOptions(r, req)
	if err != nil {
		return err
	}
	sel, err := s.selectors(req)
	if err != nil {
		return err
	}
	rev, _, err := s.store.Revision(r.Context())
	if err != nil {
		return err
	}
	items, _, err := s.cache.snapshot(r.Context(), res.storageResource(), res.listPrefix(in.Namespace), rev)
	if err != nil {
		return err
	}
	var deleted []runtime.Object
	for _, o := range items {
		if !sel.matches(o) {
			continue
		}
		acc, _ := meta.Accessor(o.obj)
		obj, err := s.delete(r.Context(), req, res, acc.GetNamespace(), acc.GetName(), opts)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		deleted = append(deleted, obj)
	}
	list := res.newList()
	if err := meta.SetList(list, deleted); err != nil {
		return err
	}
	list.GetObjectKind().SetGroupVersionKind(res.listGVK)
	s.writeObject(w, req, http.StatusOK, list)
	return nil
}
