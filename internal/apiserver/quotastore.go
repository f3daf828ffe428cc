package apiserver

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"berth.dev/berth/internal/admission"
)

// quotaStore is the admission.QuotaStore the server hands its plugins: its
// writes are the server's own (not admitted), through the update path.
type quotaStore struct{ s *Server }

var _ admission.QuotaStore = quotaStore{}

func (q quotaStore) ResourceQuotas(ctx context.Context, namespace string) ([]*corev1.ResourceQuota, error) {
	res := q.s.lookup(corev1.SchemeGroupVersion, "resourcequotas")
	rev, _, err := q.s.store.Revision(ctx)
	if err != nil {
		return nil, err
	}
	items, _, err := q.s.cache.snapshot(ctx, res, res.listPrefix(namespace), rev)
	if err != nil {
		return nil, err
	}
	out := make([]*corev1.ResourceQuota, len(items))
	for i, o := range items {
		out[i] = o.obj.(*corev1.ResourceQuota)
	}
	return out, nil
}

func (q quotaStore) UpdateQuotaStatus(ctx context.Context, rq *corev1.ResourceQuota) error {
	res := q.s.lookup(corev1.SchemeGroupVersion, "resourcequotas")
	req := &request{res: res, info: requestInfo{Subresource: "status"}, user: systemUser}
	_, _, err := q.s.update(ctx, req, res, rq.Namespace, rq.Name, rq.ResourceVersion, false, false, func(old runtime.Object) (runtime.Object, error) {
		cur := old.(*corev1.ResourceQuota)
		cur.Status = *rq.Status.DeepCopy()
		return cur, nil
	})
	return err
}
