package scheduler

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func cpuPod(name, node, cpu string) *v1.Pod {
	p := testPod(name, 0)
	p.Spec.NodeName = node
	p.Spec.Containers[0].Resources.Requests = v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu)}
	return p
}

// cacheView is what a snapshot says: requested millicpu per node.
func cacheView(c *cache) map[string]int64 {
	out := map[string]int64{}
	for _, n := range c.Snapshot().Nodes {
		out[n.Name()] = n.Requested.MilliCPU
	}
	return out
}

func TestCacheAssumeConfirmForget(t *testing.T) {
	c := newCache()
	c.SetNode(&v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}})
	c.SetNode(&v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n2"}})
	before := c.Snapshot()

	if err := c.Assume(cpuPod("a", "n1", "1")); err != nil {
		t.Fatal(err)
	}
	if err := c.Assume(cpuPod("a", "n1", "1")); err == nil {
		t.Error("assuming a pod twice succeeded")
	}
	if err := c.Assume(cpuPod("b", "n2", "500m")); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int64{"n1": 1000, "n2": 500}, cacheView(c)); diff != "" {
		t.Errorf("after assume (-want +got):\n%s", diff)
	}
	// An earlier snapshot is not changed by later edits.
	if got := before.Nodes[0].Requested.MilliCPU; got != 0 {
		t.Errorf("old snapshot changed: %d", got)
	}

	c.SetPod(cpuPod("a", "n1", "1")) // the informer confirms a
	c.Forget("uid-a")                // so forgetting it is a no-op
	c.Forget("uid-b")                // b's binding failed
	if diff := cmp.Diff(map[string]int64{"n1": 1000, "n2": 0}, cacheView(c)); diff != "" {
		t.Errorf("after confirm and forget (-want +got):\n%s", diff)
	}
	if !c.Has("uid-a") || c.Has("uid-b") {
		t.Errorf("Has(a), Has(b) = %v, %v; want true, false", c.Has("uid-a"), c.Has("uid-b"))
	}

	// A deleted node disappears from snapshots; its pods are kept for
	// when it returns, until they are deleted.
	c.DeleteNode("n1")
	if diff := cmp.Diff(map[string]int64{"n2": 0}, cacheView(c)); diff != "" {
		t.Errorf("after node delete (-want +got):\n%s", diff)
	}
	c.SetNode(&v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}})
	if diff := cmp.Diff(map[string]int64{"n1": 1000, "n2": 0}, cacheView(c)); diff != "" {
		t.Errorf("after node return (-want +got):\n%s", diff)
	}
	if !c.DeletePod("uid-a") || c.DeletePod("uid-a") {
		t.Error("DeletePod(uid-a) twice did not report true, then false")
	}
	if diff := cmp.Diff(map[string]int64{"n1": 0, "n2": 0}, cacheView(c)); diff != "" {
		t.Errorf("after pod delete (-want +got):\n%s", diff)
	}
}
