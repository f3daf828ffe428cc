// Package resourcequota is the ResourceQuota admission plugin: a write
// that would raise a namespace's usage beyond one of its quotas' hard
// limits is refused with upstream's "exceeded quota" message, a pod whose
// containers leave unset a compute resource a quota limits is refused
// ("must specify ..."), and otherwise the new usage is charged into every
// matching quota's status.used at once, with a compare-and-swap write
// retried on conflict, so that parallel creates cannot both take the
// last slot. The ResourceQuota controller later recounts status.used from
// the stored objects. Dry runs are checked but not charged.
package resourcequota

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/auth"
	"berth.dev/berth/internal/quota"
)

// retries bounds the charge attempts of one request when other writers
// change the quotas under it.
const retries = 10

var quotasResource = schema.GroupResource{Resource: "resourcequotas"}

// Plugin is the ResourceQuota admission plugin.
type Plugin struct {
	objects auth.Objects
	store   admission.QuotaStore
	// Now is the time deleted pods' grace periods are measured against;
	// nil means time.Now.
	Now func() time.Time
}

var (
	_ admission.Validator      = (*Plugin)(nil)
	_ auth.ObjectsUser         = (*Plugin)(nil)
	_ admission.QuotaStoreUser = (*Plugin)(nil)
)

// Name is the upstream plugin name.
func (*Plugin) Name() string { return "ResourceQuota" }

// UseObjects gives the plugin the quotas it reads first.
func (p *Plugin) UseObjects(o auth.Objects) { p.objects = o }

// UseQuotaStore gives the plugin the store it charges quotas in.
func (p *Plugin) UseQuotaStore(s admission.QuotaStore) { p.store = s }

// handles reports whether the write may change usage: creates, and
// updates of pods, services and claims (a resize, a type change), never
// subresources, nor cluster-scoped objects.
func handles(a *admission.Attributes) bool {
	if a.Subresource != "" || a.Namespace == "" {
		return false
	}
	switch a.Operation {
	case admission.Create:
		return true
	case admission.Update:
		switch a.Resource.GroupResource() {
		case quota.Pods, quota.Services, quota.Claims:
			return true
		}
	}
	return false
}

// Validate refuses a write over quota and charges it otherwise.
func (p *Plugin) Validate(ctx context.Context, a *admission.Attributes) error {
	if !handles(a) {
		return nil
	}
	// The watch cache answers cheaply whether the namespace has quotas;
	// their status is read as stored, since the cache may lag behind the
	// controller's or another request's last write.
	objs, err := p.objects.List(quotasResource, a.Namespace, nil)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	if len(objs) == 0 {
		return nil
	}
	quotas, err := p.store.ResourceQuotas(ctx, a.Namespace)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	charged := map[string]bool{} // quotas this request has charged
	for attempt := 0; ; attempt++ {
		updates, err := p.check(a, quotas)
		if err != nil || a.DryRun {
			return err
		}
		conflict := false
		for _, q := range updates {
			err := p.store.UpdateQuotaStatus(ctx, q)
			if apierrors.IsConflict(err) {
				conflict = true
				break
			}
			if err != nil {
				return apierrors.NewInternalError(fmt.Errorf("charging quota %s: %w", q.Name, err))
			}
			charged[q.Name] = true
		}
		if !conflict {
			return nil
		}
		if attempt == retries {
			return apierrors.NewInternalError(fmt.Errorf("resource quota evaluation timed out"))
		}
		// Another writer changed a quota: decide again on the stored ones
		// not yet charged. A refusal now leaves the charges made until the
		// controller's next count, as upstream's.
		stored, err := p.store.ResourceQuotas(ctx, a.Namespace)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		quotas = nil
		for _, q := range stored {
			if !charged[q.Name] {
				quotas = append(quotas, q)
			}
		}
	}
}

// check decides a against quotas: a refusal, or the copies of the quotas
// whose status.used the write raises, with the new usage.
func (p *Plugin) check(a *admission.Attributes, quotas []*corev1.ResourceQuota) ([]*corev1.ResourceQuota, error) {
	gr := a.Resource.GroupResource()
	var interesting []*corev1.ResourceQuota
	for _, q := range quotas {
		match, err := quota.Matches(gr, a.Object, q.Status.Hard, quota.Selectors(q))
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		if !match {
			continue
		}
		restricted := quota.MatchingResources(gr, quota.Names(q.Status.Hard))
		if err := quota.Constraints(gr, a.Object, restricted); err != nil {
			return nil, forbidden(a, fmt.Errorf("failed quota: %s: %w", q.Name, err))
		}
		for _, n := range restricted {
			if _, ok := q.Status.Used[n]; !ok {
				return nil, forbidden(a, fmt.Errorf("status unknown for quota: %s, resources: %s", q.Name, joinNames(restricted)))
			}
		}
		interesting = append(interesting, q)
	}
	if len(interesting) == 0 {
		return nil, nil
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	delta, err := quota.Usage(gr, a.Object, now())
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	if a.Operation == admission.Update && a.OldObject != nil {
		// A real update (not a create-on-update) pays only what it adds.
		if m, err := meta.Accessor(a.OldObject); err == nil && m.GetResourceVersion() != "" {
			prev, err := quota.Usage(gr, a.OldObject, now())
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			delta = quota.SubtractNonNegative(delta, prev)
		}
	}
	delta = quota.RemoveZeros(delta)
	if len(delta) == 0 {
		return nil, nil
	}
	var charged []*corev1.ResourceQuota
	for _, q := range interesting {
		requested := quota.Mask(delta, quota.Names(q.Status.Hard))
		if len(requested) == 0 {
			continue
		}
		used := quota.Add(q.Status.Used, requested)
		if ok, exceeded := quota.LessThanOrEqual(quota.Mask(used, quota.Names(requested)), q.Status.Hard); !ok {
			return nil, forbidden(a, fmt.Errorf("exceeded quota: %s, requested: %s, used: %s, limited: %s", q.Name,
				quota.Format(quota.Mask(requested, exceeded)), quota.Format(quota.Mask(q.Status.Used, exceeded)), quota.Format(quota.Mask(q.Status.Hard, exceeded))))
		}
		c := q.DeepCopy()
		c.Status.Used = used
		charged = append(charged, c)
	}
	return charged, nil
}

func forbidden(a *admission.Attributes, err error) error {
	return apierrors.NewForbidden(a.Resource.GroupResource(), a.Name, err)
}

func joinNames(names []corev1.ResourceName) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ","
		}
		out += string(n)
	}
	return out
}
