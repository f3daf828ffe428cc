package plugins

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/cache"
)

func TestVolumeBinding(t *testing.T) {
	wffc, immediate := storagev1.VolumeBindingWaitForFirstConsumer, storagev1.VolumeBindingImmediate
	claimOf := func(name, class, volume string) *v1.PersistentVolumeClaim {
		return &v1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
			Spec: v1.PersistentVolumeClaimSpec{StorageClassName: &class, VolumeName: volume}}
	}
	deleting := claimOf("deleting", "later", "")
	deleting.DeletionTimestamp = &metav1.Time{}
	claims := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, c := range []*v1.PersistentVolumeClaim{claimOf("bound", "later", "local-n1"), claimOf("free", "", "anywhere"), claimOf("later", "later", ""), claimOf("now", "now", ""), deleting} {
		if err := claims.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	volumes := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, v := range []*v1.PersistentVolume{
		{ObjectMeta: metav1.ObjectMeta{Name: "local-n1"}, Spec: v1.PersistentVolumeSpec{NodeAffinity: &v1.VolumeNodeAffinity{Required: &v1.NodeSelector{
			NodeSelectorTerms: []v1.NodeSelectorTerm{{MatchExpressions: []v1.NodeSelectorRequirement{{Key: v1.LabelHostname, Operator: v1.NodeSelectorOpIn, Values: []string{"n1"}}}}},
		}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "anywhere"}},
	} {
		if err := volumes.Add(v); err != nil {
			t.Fatal(err)
		}
	}
	classes := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, c := range []*storagev1.StorageClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "later"}, VolumeBindingMode: &wffc},
		{ObjectMeta: metav1.ObjectMeta{Name: "now"}, VolumeBindingMode: &immediate},
	} {
		if err := classes.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	pl := &VolumeBinding{
		Claims:  corelisters.NewPersistentVolumeClaimLister(claims),
		Volumes: corelisters.NewPersistentVolumeLister(volumes),
		Classes: storagelisters.NewStorageClassLister(classes),
	}
	withClaims := func(names ...string) *v1.Pod {
		p := newPod("p").obj()
		for _, n := range names {
			p.Spec.Volumes = append(p.Spec.Volumes, v1.Volume{Name: n, VolumeSource: v1.VolumeSource{PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: n}}})
		}
		return p
	}
	n1 := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{v1.LabelHostname: "n1"}}}
	n2 := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n2", Labels: map[string]string{v1.LabelHostname: "n2"}}}
	runFilterCases(t, pl, []filterCase{
		{name: "no claims", pod: withClaims(), node: n2, want: ok()},
		{name: "bound volume on the node", pod: withClaims("bound", "free"), node: n1, want: ok()},
		{name: "bound volume elsewhere", pod: withClaims("bound"), node: n2, want: unresolvable(ErrVolumeNodeConflict)},
		{name: "delayed claim fits anywhere", pod: withClaims("later"), node: n2, want: ok()},
		{name: "unbound immediate claim", pod: withClaims("now"), node: n1, want: unresolvable(ErrUnboundImmediatePVCs)},
		{name: "missing claim", pod: withClaims("gone"), node: n1, want: unresolvable(`persistentvolumeclaim "gone" not found`)},
		{name: "claim being deleted", pod: withClaims("deleting"), node: n1, want: unresolvable(`persistentvolumeclaim "deleting" is being deleted`)},
	})
}
