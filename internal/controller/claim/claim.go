// Package claim decides which objects a controller owns, as upstream's
// ControllerRefManager: it keeps the objects the controller controls and
// its selector matches, adopts matching orphans and releases controlled
// objects that no longer match, writing ownerReferences with strategic
// merge patches guarded by the object's UID. It is shared by the
// StatefulSet and DaemonSet controllers (pods) and the history package
// (ControllerRevisions).
package claim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// Patcher applies a strategic merge patch to obj and returns the result.
type Patcher[T metav1.Object] func(ctx context.Context, obj T, patch []byte) (T, error)

// Claimer claims objects of one type for one owner.
type Claimer[T metav1.Object] struct {
	// Owner is the controller; Kind its kind.
	Owner metav1.Object
	Kind  schema.GroupVersionKind
	// Match reports whether the owner wants obj (its selector, and for
	// StatefulSets its name).
	Match func(obj T) bool
	// CanAdopt, if not nil, is called once before the first adoption, to
	// confirm with a live read that the owner still exists and is not
	// being deleted; an error stops adoptions.
	CanAdopt func(ctx context.Context) error
	// Patch writes the ownerReferences patch.
	Patch Patcher[T]
}

// Claim returns the objects of all the owner controls after adopting and
// releasing. An owner being deleted adopts and releases nothing; objects
// being deleted are not adopted. Objects not written are returned as
// given (callers must not modify cached ones). Objects that vanish are
// skipped; other errors of single objects are joined, and the objects claimed so far are returned with them.
func (c Claimer[T]) Claim(ctx context.Context, all []T) ([]T, error) {
	var (
		out      []T
		errs     []error
		checked  bool
		adoptErr error
	)
	deleting := c.Owner.GetDeletionTimestamp() != nil
	for _, obj := range all {
		matches := c.Match(obj)
		if ref := metav1.GetControllerOfNoCopy(obj); ref != nil {
			switch {
			case ref.UID != c.Owner.GetUID():
			case matches:
				out = append(out, obj)
			case !deleting:
				if _, err := c.patch(ctx, obj, map[string]any{"$patch": "delete", "uid": c.Owner.GetUID()}); err != nil && !apierrors.IsNotFound(err) {
					errs = append(errs, fmt.Errorf("releasing %s: %w", obj.GetName(), err))
				}
			}
			continue
		}
		if !matches || deleting || obj.GetDeletionTimestamp() != nil {
			continue
		}
		if !checked && c.CanAdopt != nil {
			adoptErr = c.CanAdopt(ctx)
		}
		checked = true
		if adoptErr != nil {
			errs = append(errs, adoptErr)
			continue
		}
		adopted, err := c.patch(ctx, obj, metav1.NewControllerRef(c.Owner, c.Kind))
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("adopting %s: %w", obj.GetName(), err))
			continue
		}
		out = append(out, adopted)
	}
	return out, errors.Join(errs...)
}

// ownerPatch is a strategic merge patch of ownerReferences, guarded by
// the object's UID so that it cannot touch a recreated object.
type ownerPatch struct {
	Metadata struct {
		OwnerReferences []any     `json:"ownerReferences"`
		UID             types.UID `json:"uid"`
	} `json:"metadata"`
}

func (c Claimer[T]) patch(ctx context.Context, obj T, ref any) (T, error) {
	var p ownerPatch
	p.Metadata.OwnerReferences = []any{ref}
	p.Metadata.UID = obj.GetUID()
	body, err := json.Marshal(p)
	if err != nil {
		var zero T
		return zero, err
	}
	return c.Patch(ctx, obj, body)
}
