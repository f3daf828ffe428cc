package admission

import (
	"context"

	corev1 "k8s.io/api/core/v1"
)

// QuotaStore reads and writes ResourceQuotas for the ResourceQuota plugin,
// which charges admitted objects into their status.used before they are
// stored.
type QuotaStore interface {
	// ResourceQuotas returns namespace's ResourceQuotas as stored now.
	ResourceQuotas(ctx context.Context, namespace string) ([]*corev1.ResourceQuota, error)
	// UpdateQuotaStatus replaces the stored quota's status with q's if q's
	// resourceVersion is still the stored one, and otherwise returns a
	// Conflict API error.
	UpdateQuotaStatus(ctx context.Context, q *corev1.ResourceQuota) error
}

// QuotaStoreUser is implemented by plugins that write quotas: the API
// server hands them its QuotaStore when it is built.
type QuotaStoreUser interface {
	UseQuotaStore(QuotaStore)
}
