package history

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"reflect"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"

	"berth.dev/berth/internal/controller/claim"
)

// maxPrefix bounds the owner-name part of a revision name, as upstream,
// so that the name stays a valid object name.
const maxPrefix = 223

// Patch returns the revision data that restores template.
func Patch(template *corev1.PodTemplateSpec) ([]byte, error) {
	raw, err := json.Marshal(template)
	if err != nil {
		return nil, fmt.Errorf("encoding pod template: %w", err)
	}
	var tmpl map[string]any
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		return nil, fmt.Errorf("decoding pod template: %w", err)
	}
	tmpl["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": tmpl}})
}

// Template returns the pod template recorded in cr.
func Template(cr *appsv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
	var data struct {
		Spec struct {
			Template corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(cr.Data.Raw, &data); err != nil {
		return nil, fmt.Errorf("decoding ControllerRevision %s: %w", cr.Name, err)
	}
	return &data.Spec.Template, nil
}

// Hash returns upstream's hash of revision data salted with the owner's
// collision count (nil counts as absent).
func Hash(data []byte, collisionCount *int32) string {
	h := fnv.New32()
	h.Write(data)
	if collisionCount != nil {
		h.Write([]byte(strconv.FormatInt(int64(*collisionCount), 10)))
	}
	return rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}

// Name returns the name of the revision of owner with hash.
func Name(owner, hash string) string {
	if len(owner) > maxPrefix {
		owner = owner[:maxPrefix]
	}
	return owner + "-" + hash
}

// New returns the revision (not yet created) of owner, of kind gvk,
// recording template: labelled with the template's labels and hashLabel
// set to its hash, annotated with annotations, controlled by owner.
func New(owner metav1.Object, gvk schema.GroupVersionKind, template *corev1.PodTemplateSpec, annotations map[string]string,
	revision int64, collisionCount *int32, hashLabel string) (*appsv1.ControllerRevision, error) {
	data, err := Patch(template)
	if err != nil {
		return nil, err
	}
	hash := Hash(data, collisionCount)
	lbls := maps.Clone(template.Labels)
	if lbls == nil {
		lbls = map[string]string{}
	}
	lbls[hashLabel] = hash
	return &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name:            Name(owner.GetName(), hash),
			Namespace:       owner.GetNamespace(),
			Labels:          lbls,
			Annotations:     maps.Clone(annotations),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(owner, gvk)},
		},
		Data:     runtime.RawExtension{Raw: data},
		Revision: revision,
	}, nil
}

// Equal reports whether a and b record the same data, compared as JSON
// values (the server may re-encode what it stores).
func Equal(a, b *appsv1.ControllerRevision) bool {
	if a == nil || b == nil {
		return a == b
	}
	var va, vb any
	if json.Unmarshal(a.Data.Raw, &va) != nil || json.Unmarshal(b.Data.Raw, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// Sort sorts revs by revision number, then creation time, then name.
func Sort(revs []*appsv1.ControllerRevision) {
	slices.SortStableFunc(revs, func(a, b *appsv1.ControllerRevision) int {
		if a.Revision != b.Revision {
			return compare(a.Revision, b.Revision)
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			if a.CreationTimestamp.Before(&b.CreationTimestamp) {
				return -1
			}
			return 1
		}
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
}

func compare(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Next returns the revision number after the highest in revs (1 when
// there is none).
func Next(revs []*appsv1.ControllerRevision) int64 {
	var highest int64
	for _, r := range revs {
		highest = max(highest, r.Revision)
	}
	return highest + 1
}

// Store reads ControllerRevisions from the informer cache and writes
// them through the API. It is safe for concurrent use.
type Store struct {
	Client kubernetes.Interface
	Lister appslisters.ControllerRevisionLister
	// HashLabel is the label holding a revision's hash.
	HashLabel string
}

// Claim returns the revisions owner (of kind gvk) controls, adopting
// orphans sel matches and releasing controlled revisions it no longer
// matches (see package claim). The results come from the cache or from
// the writes; callers must not modify them.
func (s Store) Claim(ctx context.Context, owner metav1.Object, gvk schema.GroupVersionKind, sel labels.Selector) ([]*appsv1.ControllerRevision, error) {
	all, err := s.Lister.ControllerRevisions(owner.GetNamespace()).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	c := claim.Claimer[*appsv1.ControllerRevision]{
		Owner: owner,
		Kind:  gvk,
		Match: func(cr *appsv1.ControllerRevision) bool { return sel.Matches(labels.Set(cr.Labels)) },
		Patch: func(ctx context.Context, cr *appsv1.ControllerRevision, patch []byte) (*appsv1.ControllerRevision, error) {
			return s.Client.AppsV1().ControllerRevisions(cr.Namespace).Patch(ctx, cr.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
		},
	}
	return c.Claim(ctx, all)
}

// Create creates cr, built by New with *collisionCount. When a different
// revision already has its name, the count is raised and the name and hash
// label recomputed until the create succeeds or finds an equal revision of
// the same owner, which it returns; the caller records the count in its
// owner's status.
func (s Store) Create(ctx context.Context, cr *appsv1.ControllerRevision, collisionCount *int32) (*appsv1.ControllerRevision, error) {
	owner := metav1.GetControllerOfNoCopy(cr)
	if owner == nil {
		return nil, fmt.Errorf("ControllerRevision %s has no controller", cr.Name)
	}
	for {
		cp := cr.DeepCopy()
		hash := Hash(cp.Data.Raw, collisionCount)
		cp.Name = Name(owner.Name, hash)
		cp.Labels[s.HashLabel] = hash
		created, err := s.Client.AppsV1().ControllerRevisions(cp.Namespace).Create(ctx, cp, metav1.CreateOptions{})
		if !apierrors.IsAlreadyExists(err) {
			if err != nil {
				return nil, fmt.Errorf("creating ControllerRevision %s: %w", cp.Name, err)
			}
			return created, nil
		}
		existing, err := s.Client.AppsV1().ControllerRevisions(cp.Namespace).Get(ctx, cp.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("reading ControllerRevision %s: %w", cp.Name, err)
		}
		if ref := metav1.GetControllerOfNoCopy(existing); ref != nil && ref.UID == owner.UID && Equal(existing, cp) {
			return existing, nil
		}
		*collisionCount++
	}
}

// SetRevision gives cr the revision number rev.
func (s Store) SetRevision(ctx context.Context, cr *appsv1.ControllerRevision, rev int64) (*appsv1.ControllerRevision, error) {
	if cr.Revision == rev {
		return cr, nil
	}
	cp := cr.DeepCopy()
	cp.Revision = rev
	updated, err := s.Client.AppsV1().ControllerRevisions(cp.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("setting ControllerRevision %s to revision %d: %w", cr.Name, rev, err)
	}
	return updated, nil
}

// Delete deletes cr if it is still the object read.
func (s Store) Delete(ctx context.Context, cr *appsv1.ControllerRevision) error {
	err := s.Client.AppsV1().ControllerRevisions(cr.Namespace).Delete(ctx, cr.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cr.UID}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting ControllerRevision %s: %w", cr.Name, err)
	}
	return nil
}

// Prune returns the revisions of revs (sorted by Sort) to delete so that
// at most limit remain besides the live ones: the oldest not live first.
// A negative limit keeps everything.
func Prune(revs []*appsv1.ControllerRevision, live map[string]bool, limit int32) []*appsv1.ControllerRevision {
	var old []*appsv1.ControllerRevision
	for _, r := range revs {
		if !live[r.Name] {
			old = append(old, r)
		}
	}
	if limit < 0 || len(old) <= int(limit) {
		return nil
	}
	return old[:len(old)-int(limit)]
}
