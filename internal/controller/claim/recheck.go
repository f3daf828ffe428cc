package claim

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// Recheck returns a CanAdopt for owner, of kind, that reads owner live
// with get and refuses adoption when the read fails or shows owner
// replaced (another UID) or being deleted, as upstream's
// RecheckDeletionTimestamp.
func Recheck[O metav1.Object](owner metav1.Object, kind string, get func(context.Context, string, metav1.GetOptions) (O, error)) func(context.Context) error {
	return func(ctx context.Context) error {
		live, err := get(ctx, owner.GetName(), metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("rechecking %s before adopting: %w", kind, err)
		}
		if live.GetUID() != owner.GetUID() || live.GetDeletionTimestamp() != nil {
			return fmt.Errorf("%s %s/%s was replaced or is being deleted; not adopting", kind, owner.GetNamespace(), owner.GetName())
		}
		return nil
	}
}

// PodPatcher returns a Patcher that writes pod patches through pods.
func PodPatcher(pods corev1client.PodsGetter) Patcher[*corev1.Pod] {
	return func(ctx context.Context, p *corev1.Pod, patch []byte) (*corev1.Pod, error) {
		return pods.Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	}
}
