package plugins

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"

	"berth.dev/berth/internal/scheduler/framework"
)

func indexer[T runtime.Object](t *testing.T, objs ...T) cache.Indexer {
	t.Helper()
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, o := range objs {
		if err := idx.Add(o); err != nil {
			t.Fatal(err)
		}
	}
	return idx
}

func claim(name, class, volume string) *v1.PersistentVolumeClaim {
	return &v1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-claim-" + name)},
		Spec: v1.PersistentVolumeClaimSpec{StorageClassName: &class, VolumeName: volume, AccessModes: []v1.PersistentVolumeAccessMode{v1.ReadWriteOnce},
			Resources: v1.VolumeResourceRequirements{Requests: v1.ResourceList{v1.ResourceStorage: resource.MustParse("1Gi")}}}}
}

// localPV is a volume of class on the nodes with hostname host.
func localPV(name, class, size, host string) *v1.PersistentVolume {
	return &v1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.PersistentVolumeSpec{
		StorageClassName: class, AccessModes: []v1.PersistentVolumeAccessMode{v1.ReadWriteOnce},
		Capacity: v1.ResourceList{v1.ResourceStorage: resource.MustParse(size)},
		NodeAffinity: &v1.VolumeNodeAffinity{Required: &v1.NodeSelector{NodeSelectorTerms: []v1.NodeSelectorTerm{{
			MatchExpressions: []v1.NodeSelectorRequirement{{Key: v1.LabelHostname, Operator: v1.NodeSelectorOpIn, Values: []string{host}}}}}}}},
		Status: v1.PersistentVolumeStatus{Phase: v1.VolumeAvailable}}
}

func (b *podBuilder) claims(names ...string) *podBuilder {
	for _, n := range names {
		b.p.Spec.Volumes = append(b.p.Spec.Volumes, v1.Volume{Name: n, VolumeSource: v1.VolumeSource{
			PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: n}}})
	}
	return b
}

func TestVolumeBinding(t *testing.T) {
	wffc, immediate := storagev1.VolumeBindingWaitForFirstConsumer, storagev1.VolumeBindingImmediate
	classes := []*storagev1.StorageClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "local"}, Provisioner: "berth.dev/local-path", VolumeBindingMode: &wffc,
			AllowedTopologies: []v1.TopologySelectorTerm{{MatchLabelExpressions: []v1.TopologySelectorLabelRequirement{{Key: v1.LabelTopologyZone, Values: []string{"a"}}}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "static"}, Provisioner: noProvisioner, VolumeBindingMode: &wffc},
		{ObjectMeta: metav1.ObjectMeta{Name: "fast"}, Provisioner: "x", VolumeBindingMode: &immediate},
	}
	selected := claim("selected", "local", "")
	selected.Annotations = map[string]string{AnnSelectedNode: "b1"}
	deleting := claim("deleting", "local", "")
	deleting.DeletionTimestamp = &metav1.Time{}
	claims := []*v1.PersistentVolumeClaim{claim("bound", "static", "pv-a1"), claim("local", "local", ""), claim("static", "static", ""),
		claim("big", "static", ""), claim("immediate", "fast", ""), selected, deleting, claim("dangling", "static", "missing")}
	big := claim("big", "static", "")
	big.Spec.Resources.Requests[v1.ResourceStorage] = resource.MustParse("10Gi")
	claims[3] = big
	pvs := []*v1.PersistentVolume{localPV("pv-a1", "static", "1Gi", "a1"), localPV("pv-b1", "static", "5Gi", "b1"), localPV("pv-b1-small", "static", "1Gi", "b1")}
	pl := &VolumeBinding{
		Claims:         corelisters.NewPersistentVolumeClaimLister(indexer(t, claims...)),
		Volumes:        corelisters.NewPersistentVolumeLister(indexer(t, pvs...)),
		StorageClasses: storagelisters.NewStorageClassLister(indexer(t, classes...)),
	}
	nodes := []*v1.Node{zoneNode("a1", "a"), zoneNode("b1", "b")}
	conflict, noPV := unresolvable(ReasonVolumeNodeConflict), unresolvable(ReasonVolumeBindConflict)
	tests := []struct {
		name string
		pod  *v1.Pod
		// want is by node; preFilter is set when PreFilter rejects.
		want      map[string]outcome
		preFilter string
	}{
		{name: "no claims", pod: newPod("p").obj(), want: map[string]outcome{"a1": ok(), "b1": ok()}},
		{name: "bound volume's node affinity", pod: newPod("p").claims("bound").obj(), want: map[string]outcome{"a1": ok(), "b1": conflict}},
		{name: "provisioning limited by allowed topologies", pod: newPod("p").claims("local").obj(), want: map[string]outcome{"a1": ok(), "b1": noPV}},
		{name: "static volumes on the node", pod: newPod("p").claims("static").obj(), want: map[string]outcome{"a1": ok(), "b1": ok()}},
		{name: "bound and delayed claims together", pod: newPod("p").claims("static", "bound").obj(), want: map[string]outcome{"a1": ok(), "b1": conflict}},
		{name: "no volume large enough", pod: newPod("p").claims("big").obj(), want: map[string]outcome{"a1": noPV, "b1": noPV}},
		{name: "claim selected for another node", pod: newPod("p").claims("selected").obj(), want: map[string]outcome{"a1": noPV, "b1": noPV}},
		{name: "unbound immediate claim", pod: newPod("p").claims("immediate").obj(), preFilter: ReasonUnboundImmediateClaims},
		{name: "missing claim", pod: newPod("p").claims("nope").obj(), preFilter: `persistentvolumeclaim "nope" not found`},
		{name: "claim being deleted", pod: newPod("p").claims("deleting").obj(), preFilter: `persistentvolumeclaim "deleting" is being deleted`},
		{name: "claim bound to a missing volume", pod: newPod("p").claims("dangling").obj(),
			preFilter: `persistentvolumeclaim "dangling" bound to non-existent persistentvolume "missing"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			state := framework.NewCycleState()
			if st := pl.PreFilter(t.Context(), state, tc.pod, nil); !st.IsSuccess() || tc.preFilter != "" {
				if diff := cmp.Diff(unresolvable(tc.preFilter), outcomeOf(st)); diff != "" {
					t.Errorf("PreFilter (-want +got):\n%s", diff)
				}
				return
			}
			got := map[string]outcome{}
			for _, n := range nodes {
				got[n.Name] = outcomeOf(pl.Filter(t.Context(), state, tc.pod, framework.NewNodeInfo(n)))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Filter (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVolumeBindingDecide(t *testing.T) {
	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	classes := []*storagev1.StorageClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "local"}, Provisioner: "berth.dev/local-path", VolumeBindingMode: &wffc},
		{ObjectMeta: metav1.ObjectMeta{Name: "static"}, Provisioner: noProvisioner, VolumeBindingMode: &wffc},
	}
	pl := &VolumeBinding{
		Claims:         corelisters.NewPersistentVolumeClaimLister(indexer(t, claim("local", "local", ""), claim("static", "static", ""))),
		Volumes:        corelisters.NewPersistentVolumeLister(indexer(t, localPV("large", "static", "5Gi", "n1"), localPV("small", "static", "2Gi", "n1"))),
		StorageClasses: storagelisters.NewStorageClassLister(indexer(t, classes...)),
	}
	d, err := pl.Decide(newPod("p").claims("local", "static").obj(), newNode("n1").obj())
	if err != nil {
		t.Fatal(err)
	}
	type view struct {
		Bind      map[string]string
		Provision []string
	}
	got := view{Bind: map[string]string{}}
	for c, pv := range d.Bind {
		got.Bind[c.Name] = pv.Name
	}
	for _, c := range d.Provision {
		got.Provision = append(got.Provision, c.Name)
	}
	want := view{Bind: map[string]string{"static": "small"}, Provision: []string{"local"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Decide (-want +got):\n%s", diff)
	}
	if _, err := pl.Decide(newPod("p").claims("static").obj(), newNode("n2").obj()); err == nil {
		t.Error("Decide on a node without volumes succeeded")
	}
}

func TestVolumeBindingPicksVolume(t *testing.T) {
	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	class := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "static"}, Provisioner: noProvisioner, VolumeBindingMode: &wffc}
	gold := localPV("gold", "static", "5Gi", "n1")
	gold.Labels = map[string]string{"tier": "gold"}
	pending := localPV("pending", "static", "1Gi", "n1")
	pending.Status.Phase = v1.VolumePending
	reserved := localPV("reserved", "static", "8Gi", "n1")
	reserved.Spec.ClaimRef = &v1.ObjectReference{Namespace: "default", Name: "mine"}
	taken := localPV("taken", "static", "1Gi", "n1")
	taken.Spec.ClaimRef = &v1.ObjectReference{Namespace: "default", Name: "other"}
	selective := claim("selective", "static", "")
	selective.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "gold"}}
	pl := &VolumeBinding{
		Claims: corelisters.NewPersistentVolumeClaimLister(indexer(t, claim("plain", "static", ""), claim("mine", "static", ""), selective)),
		Volumes: corelisters.NewPersistentVolumeLister(indexer(t, localPV("small", "static", "2Gi", "n1"), gold, pending, reserved, taken,
			localPV("elsewhere", "static", "1Gi", "n2"))),
		StorageClasses: storagelisters.NewStorageClassLister(indexer(t, class)),
	}
	for claimName, want := range map[string]string{"plain": "small", "mine": "reserved", "selective": "gold"} {
		d, err := pl.Decide(newPod("p").claims(claimName).obj(), newNode("n1").obj())
		if err != nil {
			t.Fatalf("Decide for %s: %v", claimName, err)
		}
		var got string
		for _, pv := range d.Bind {
			got = pv.Name
		}
		if got != want {
			t.Errorf("claim %s got volume %q, want %q", claimName, got, want)
		}
	}
}
